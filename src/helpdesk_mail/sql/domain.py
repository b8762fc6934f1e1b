"""`SqlDomain`: the `Domain` protocol on the SQL storage's own tables, for a helpdesk that
keeps its tickets here (a new helpdesk, the demo).

Like `SqlBookkeeping` it works on a connection the caller owns and never commits.
`apply` follows `helpdesk_mail.actions` exactly. A ticket is changed only under its row
lock (`SELECT ... FOR UPDATE` on PostgreSQL; SQLite's `BEGIN IMMEDIATE` of `SqlStorage`
already serialises writers), so `RequireTicket` compares the status and version that the
rest of the transaction writes against. Reads are light and take a fixed number of
queries whatever the size of the ticket: `ticket()` two, `comments()` two,
`users()` one (per 500 addresses), attachments without their bytes.

Internal: not part of the public API (docs/architecture.md, "The public surface").
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from ..actions import (
    Action,
    AddComment,
    AddSubscribers,
    CloseTicket,
    CommitOutcome,
    CreateTicket,
    CreateUser,
    Discard,
    RemoveSubscriber,
    ReopenTicket,
    RequireTicket,
    RequireUser,
    StaleCommit,
    SuppressRecipients,
)
from ..addresses import normalize_email
from ..model import (
    Attachment,
    Comment,
    CustomField,
    KBArticle,
    Role,
    Ticket,
    TicketStatus,
    User,
    Visibility,
)
from ..ports import Clock
from .books import check_dialect, prebuilt, upsert
from .passwords import hash_generated_password, hash_password, verify_password
from .schema import (
    attachments,
    comments,
    digest,
    files,
    kb_articles,
    message_ids,
    subscribers,
    tickets,
    unsubscribed,
    users,
)

__all__ = ["SqlDomain", "state_objects"]

_CHUNK = 500
"""Addresses per query in `users()` (SQLite allows 999 parameters in old versions)."""
_SEARCH_WORDS = 32
"""At most this many words of a KB search go into the SQL filter (the longest ones)."""


def _words(text: str) -> set[str]:
    return set(re.findall(r"\w+", text.lower()))


# The reads, built once: SQLAlchemy then only binds the values (building a statement costs
# more than SQLite takes to run it).
_TICKET_ID: sa.BindParameter[int] = sa.bindparam("ticket_id", type_=sa.Integer)
_READ_USER = sa.select(users).where(users.c.email == sa.bindparam("email"))
_READ_USERS = sa.select(users).where(users.c.email.in_(sa.bindparam("emails", expanding=True)))
_FILE_COLUMNS = ("id", "filename", "content_type", "size", "inline", "content_id", "url")
# the ticket and its own files (not its comments'), a row a file (one row when it has none)
_READ_TICKET_AND_FILES = (
    sa.select(tickets, *(attachments.c[name].label(f"file_{name}") for name in _FILE_COLUMNS))
    .select_from(
        tickets.outerjoin(
            attachments,
            sa.and_(attachments.c.ticket_id == tickets.c.id, attachments.c.comment_id.is_(None)),
        )
    )
    .where(tickets.c.id == _TICKET_ID)
    .order_by(attachments.c.id)
)
_PEOPLE_AND_IDS = sa.union_all(
    sa.select(
        sa.literal_column("0", sa.Integer).label("kind"),
        subscribers.c.email.label("value"),
        subscribers.c.position.label("seq"),
    ).where(subscribers.c.ticket_id == _TICKET_ID),
    sa.select(
        sa.literal_column("1", sa.Integer).label("kind"),
        message_ids.c.message_id.label("value"),
        message_ids.c.id.label("seq"),
    ).where(message_ids.c.ticket_id == _TICKET_ID),
    sa.select(
        sa.literal_column("2", sa.Integer).label("kind"),
        unsubscribed.c.email.label("value"),
        unsubscribed.c.position.label("seq"),
    ).where(unsubscribed.c.ticket_id == _TICKET_ID),
).subquery()
_READ_PEOPLE_AND_IDS = sa.select(_PEOPLE_AND_IDS.c.kind, _PEOPLE_AND_IDS.c.value).order_by(
    _PEOPLE_AND_IDS.c.kind, _PEOPLE_AND_IDS.c.seq
)
_READ_COMMENTS = (
    sa.select(comments).where(comments.c.ticket_id == _TICKET_ID).order_by(comments.c.id)
)
_READ_COMMENT_FILES = (
    sa.select(attachments)
    .where(attachments.c.ticket_id == _TICKET_ID, attachments.c.comment_id.is_not(None))
    .order_by(attachments.c.id)
)
_READ_MESSAGE_ID = sa.select(message_ids.c.ticket_id).where(
    message_ids.c.message_id_sha256 == sa.bindparam("digest")
)
_LOCK = sa.select(tickets.c.status, tickets.c.version).where(tickets.c.id == _TICKET_ID)
# ... and the frequent writes
_CREATE_TICKET = sa.insert(tickets).returning(tickets.c.id)
_ADD_COMMENT = sa.insert(comments).returning(comments.c.id)
_BUMP = (
    sa.update(tickets)
    .where(tickets.c.id == sa.bindparam("b_ticket_id"))
    .values(version=tickets.c.version + 1)
)
_LOCK_FOR_UPDATE = _LOCK.with_for_update()

_SEARCHES: dict[int, sa.Select[Any]] = {}


def _search_statement(words: int) -> tuple[sa.Select[Any], int]:
    """The KB search for up to `words` words and its number of word slots (1, 2, 4 ... 32).

    A few fixed shapes, each built once: SQLAlchemy compiles (and caches) a statement per
    shape, and a search whose shape followed its number of words was compiled afresh
    nearly every time.
    """
    slots = 1
    while slots < words:
        slots *= 2
    statement = _SEARCHES.get(slots)
    if statement is None:
        haystack = sa.func.lower(kb_articles.c.title + " " + kb_articles.c.body)
        statement = _SEARCHES[slots] = sa.select(kb_articles).where(
            sa.or_(*(haystack.contains(sa.bindparam(f"w{i}"), escape="/") for i in range(slots)))
        )
    return statement, slots


def _like_escape(word: str) -> str:
    """`word` for a LIKE with ESCAPE '/' (as SQLAlchemy's `autoescape=True` does it)."""
    return word.replace("/", "//").replace("%", "/%").replace("_", "/_")


class SqlDomain:
    """The host's data (`Domain`) in the `hdm_` domain tables, on a caller-owned connection.

    Tickets and comments that `apply` creates are dated by `clock` (the wall clock, UTC,
    when None). New users' passwords are stored as `password_hasher` makes them; by default
    scrypt in Django's format (see `helpdesk_mail.sql.passwords`): `hash_password` for the
    passwords of `add_user`, `hash_generated_password` for the generated ones of users made
    from mail (`CreateUser`).
    """

    def __init__(
        self,
        connection: sa.Connection,
        clock: Clock | None = None,
        password_hasher: Callable[[str], str] | None = None,
    ) -> None:
        check_dialect(connection)
        self.connection = connection
        self.clock = clock
        self.password_hasher = password_hasher or hash_password
        self._generated_hasher = password_hasher or hash_generated_password
        self._postgres = connection.dialect.name == "postgresql"

    def _run(self, statement: sa.Executable, *args: Any) -> sa.CursorResult[Any]:
        return self.connection.execute(statement, *args)

    def now(self) -> datetime:
        """The time new tickets and comments are dated by (`clock`, else the wall clock)."""
        return self.clock.now() if self.clock is not None else datetime.now(UTC)

    # --- DomainReader ---

    def user(self, email: str) -> User | None:
        """The user with this (normalised) address, or None."""
        row = self._run(_READ_USER, {"email": normalize_email(email)}).first()
        return None if row is None else _user(row)

    def users(self, emails: Iterable[str]) -> Mapping[str, User]:
        """The users among these addresses, by address: one query (per 500 addresses)."""
        wanted = list(dict.fromkeys(normalize_email(e) for e in emails))
        found: dict[str, User] = {}
        for start in range(0, len(wanted), _CHUNK):
            chunk = wanted[start : start + _CHUNK]
            for row in self._run(_READ_USERS, {"emails": chunk}):
                user = _user(row)
                found[user.email] = user
        return found

    def staff(self) -> Iterable[User]:
        """All technicians and administrators, by address."""
        rows = self._run(
            sa.select(users)
            .where(users.c.role.in_([Role.TECHNICIAN.value, Role.ADMIN.value]))
            .order_by(users.c.email)
        )
        return [_user(r) for r in rows]

    def check_password(self, email: str, password: str) -> bool:
        """Whether `password` is the password of the user with this address."""
        row = self._run(
            sa.select(users.c.password_hash).where(users.c.email == normalize_email(email))
        ).first()
        return row is not None and verify_password(row.password_hash, password)

    def ticket(self, ticket_id: int) -> Ticket | None:
        """The ticket (attachments without bytes, Message-IDs oldest first), or None.

        Two queries: the ticket with its files (a row a file), then its subscribers,
        Message-IDs and unsubscribed addresses together.
        """
        key = {"ticket_id": ticket_id}
        rows = self._run(_READ_TICKET_AND_FILES, key).all()
        if not rows:
            return None
        found = [_attachment(r, "file_") for r in rows if r.file_id is not None]
        listed: tuple[list[str], list[str], list[str]] = ([], [], [])
        for item in self._run(_READ_PEOPLE_AND_IDS, key):
            listed[item.kind].append(item.value)
        return _ticket(rows[0], listed[0], listed[1], found, listed[2])

    def ticket_ids(self, last: int | None = None) -> list[int]:
        """The ids of the tickets, ascending (only the `last` ones when given): for listings,
        not part of the `DomainReader` protocol."""
        query = sa.select(tickets.c.id).order_by(tickets.c.id.desc())
        if last is not None:
            query = query.limit(max(0, last))
        return sorted(int(i) for i in self._run(query).scalars())

    def ticket_for_message_id(self, message_id: str) -> int | None:
        """The ticket that stored this Message-ID first, or None."""
        found = self._run(_READ_MESSAGE_ID, {"digest": digest(message_id.strip())}).first()
        return None if found is None else int(found.ticket_id)

    def comments(self, ticket_id: int) -> Sequence[Comment]:
        """The ticket's log, oldest first: two queries (the comments, then all their files)."""
        key = {"ticket_id": ticket_id}
        rows = list(self._run(_READ_COMMENTS, key))
        if not rows:
            return ()
        by_comment: dict[int, list[Attachment]] = {}
        for a in self._run(_READ_COMMENT_FILES, key):
            by_comment.setdefault(int(a.comment_id), []).append(_attachment(a))
        return tuple(_comment(r, by_comment.get(int(r.id), ())) for r in rows)

    def attachment_content(self, attachment: Attachment) -> bytes:
        """The bytes of a stored file (`b""` for one this storage does not know)."""
        if attachment.content:
            return attachment.content
        if attachment.id is None or not attachment.id.isdigit():
            return b""
        row = self._run(
            sa.select(files.c.content).where(files.c.attachment_id == int(attachment.id))
        ).first()
        return b"" if row is None else bytes(row.content)

    def kb_article(self, article_id: int) -> KBArticle | None:
        """The knowledge-base article with this id, or None."""
        row = self._run(sa.select(kb_articles).where(kb_articles.c.id == article_id)).first()
        return None if row is None else _article(row)

    def search_kb(self, text: str, limit: int) -> Sequence[KBArticle]:
        """Up to `limit` articles sharing the most words (of four letters or more) with `text`.

        The articles containing one of the (at most 32 longest) words are read with LIKE
        and ranked here, by the number of words shared, then by id.
        """
        words = {w for w in _words(text) if len(w) >= 4}
        if not words or limit <= 0:
            return ()
        probe = sorted(words, key=lambda w: (-len(w), w))[:_SEARCH_WORDS]
        statement, slots = _search_statement(len(probe))
        # the unused slots repeat the last word: the OR of the LIKEs is the same
        padded = probe + [probe[-1]] * (slots - len(probe))
        rows = self._run(statement, {f"w{i}": _like_escape(w) for i, w in enumerate(padded)})
        scored = []
        for row in rows:
            article = _article(row)
            overlap = len(words & _words(f"{article.title} {article.body}"))
            if overlap:
                scored.append((-overlap, article.id, article))
        return tuple(a for _, _, a in sorted(scored, key=lambda s: s[:2])[:limit])

    # --- Domain: applying actions, as helpdesk_mail.actions documents them ---

    def apply(self, actions: Sequence[Action]) -> CommitOutcome:
        """Apply `actions` in order (each as its class documents); the caller's transaction
        makes it all or nothing. Raises `StaleCommit` when a precondition fails and
        `KeyError` for an action on a ticket that does not exist."""
        ticket_id: int | None = None
        comment_id: int | None = None
        created: list[str] = []
        now = self.now()

        def target(tid: int | None) -> int:
            resolved = tid if tid is not None else ticket_id
            if resolved is None or self._lock(resolved) is None:
                raise KeyError(f"no ticket {resolved}")
            return resolved

        for action in actions:
            match action:
                case RequireTicket():
                    current = self._lock(action.ticket_id)
                    if current is None or current.status != TicketStatus(action.status).value:
                        raise StaleCommit(f"ticket {action.ticket_id} is not {action.status}")
                    if action.version is not None and current.version != action.version:
                        raise StaleCommit(f"ticket {action.ticket_id} changed")
                case RequireUser():
                    query = sa.select(users.c.role).where(
                        users.c.email == normalize_email(action.email)
                    )
                    row = self._run(query.with_for_update() if self._postgres else query).first()
                    role = Role(row.role) if row is not None else None
                    if role != action.role:
                        raise StaleCommit(f"user {action.email} changed")
                case CreateUser():
                    if self._create_user(action):
                        created.append(normalize_email(action.email))
                case CreateTicket():
                    ticket_id = self._create_ticket(action, now)
                case AddComment():
                    ticket_id = target(action.ticket_id)
                    comment_id = self._add_comment(ticket_id, action, now)
                case AddSubscribers():
                    ticket_id = target(action.ticket_id)
                    if self._subscribe(ticket_id, action.emails):
                        self._bump(ticket_id)
                case RemoveSubscriber():
                    ticket_id = target(action.ticket_id)
                    if self._unsubscribe(ticket_id, normalize_email(action.email)):
                        self._bump(ticket_id)
                case CloseTicket():
                    ticket_id = target(action.ticket_id)
                    self._set_status(ticket_id, TicketStatus.CLOSED)
                case ReopenTicket():
                    ticket_id = target(action.ticket_id)
                    self._set_status(ticket_id, TicketStatus.OPEN)
                case SuppressRecipients():
                    raise TypeError("SuppressRecipients is bookkeeping: Domain.apply never gets it")
                case Discard():
                    pass
        return CommitOutcome(
            ticket_id=ticket_id, comment_id=comment_id, created_users=tuple(created)
        )

    def _lock(self, ticket_id: int) -> sa.Row[Any] | None:
        """The ticket's status and version, its row locked until the transaction ends."""
        lock = _LOCK_FOR_UPDATE if self._postgres else _LOCK
        return self._run(lock, {"ticket_id": ticket_id}).first()

    def _bump(self, ticket_id: int) -> None:
        self._run(_BUMP, {"b_ticket_id": ticket_id})

    def _set_status(self, ticket_id: int, status: TicketStatus) -> None:
        self._run(
            sa.update(tickets)
            .where(tickets.c.id == ticket_id, tickets.c.status != status.value)
            .values(status=status.value, version=tickets.c.version + 1)
        )

    def _create_user(self, action: CreateUser) -> bool:
        email = normalize_email(action.email)
        values = _user_values(User(email=email, name=action.name, role=action.role))
        values.update(email=email, password_hash=self._generated_hasher(action.password))
        statement = prebuilt(
            self.connection,
            "create_user",
            lambda insert: insert(users).on_conflict_do_nothing().returning(users.c.email),
        )
        return self._run(statement, values).first() is not None

    def _create_ticket(self, action: CreateTicket, now: datetime) -> int:
        new_id = self._run(
            _CREATE_TICKET,
            {
                "subject": action.subject,
                "submitter": normalize_email(action.submitter),
                "status": TicketStatus.OPEN.value,
                "category": action.category,
                "via": action.via,
                "created_at": now,
                "body_text": action.body_text,
                "body_html": action.body_html,
                "version": 1,
            },
        ).scalar_one()
        ticket_id = int(new_id)
        self._subscribe(ticket_id, action.subscribers, new_ticket=True)
        self._store_files(ticket_id, None, action.attachments)
        self._add_message_id(ticket_id, action.message_id)
        return ticket_id

    def _add_comment(self, ticket_id: int, action: AddComment, now: datetime) -> int:
        new_id = self._run(
            _ADD_COMMENT,
            {
                "ticket_id": ticket_id,
                "author": normalize_email(action.author),
                "body_text": action.body_text,
                "body_html": action.body_html,
                "techs_only": action.techs_only,
                "via": "email",
                "created_at": now,
                "full_text": action.full_text,
            },
        ).scalar_one()
        comment_id = int(new_id)
        self._store_files(ticket_id, comment_id, action.attachments)
        self._add_message_id(ticket_id, action.message_id)
        self._bump(ticket_id)
        return comment_id

    def _subscribe(self, ticket_id: int, emails: Iterable[str], new_ticket: bool = False) -> bool:
        """Append the addresses the ticket does not have yet, in order; whether any was."""
        rows = (
            []
            if new_ticket  # a ticket created in this transaction has none yet
            else self._run(
                sa.select(subscribers.c.email, subscribers.c.position).where(
                    subscribers.c.ticket_id == ticket_id
                )
            ).all()
        )
        have = {r.email for r in rows}
        position = max((r.position for r in rows), default=-1)
        new = [e for e in dict.fromkeys(normalize_email(e) for e in emails) if e not in have]
        if not new:
            return False
        self._run(
            sa.insert(subscribers),
            [
                {"ticket_id": ticket_id, "email": e, "position": position + 1 + i}
                for i, e in enumerate(new)
            ],
        )
        return True

    def _unsubscribe(self, ticket_id: int, email: str) -> bool:
        """`RemoveSubscriber`: a subscriber or the submitter leaves the subscribers and is
        recorded as unsubscribed; whether anything changed."""
        gone = self._run(
            sa.delete(subscribers).where(
                subscribers.c.ticket_id == ticket_id, subscribers.c.email == email
            )
        ).rowcount
        submitter = self._run(
            sa.select(tickets.c.submitter).where(tickets.c.id == ticket_id)
        ).scalar_one()
        if not gone and email != submitter:
            return False
        return self._mark_unsubscribed(ticket_id, (email,)) or bool(gone)

    def _mark_unsubscribed(self, ticket_id: int, emails: Iterable[str]) -> bool:
        """Append the addresses not yet recorded as unsubscribed, in order; whether any was."""
        rows = self._run(
            sa.select(unsubscribed.c.email, unsubscribed.c.position).where(
                unsubscribed.c.ticket_id == ticket_id
            )
        ).all()
        have = {r.email for r in rows}
        position = max((r.position for r in rows), default=-1)
        new = [e for e in dict.fromkeys(emails) if e not in have]
        if new:
            self._run(
                sa.insert(unsubscribed),
                [
                    {"ticket_id": ticket_id, "email": e, "position": position + 1 + i}
                    for i, e in enumerate(new)
                ],
            )
        return bool(new)

    def _add_message_id(self, ticket_id: int, message_id: str | None) -> None:
        """Store `message_id` for the ticket unless some ticket stored it first."""
        text = (message_id or "").strip()
        if not text:
            return
        statement = prebuilt(
            self.connection,
            "add_message_id",
            lambda insert: insert(message_ids).on_conflict_do_nothing(),
        )
        values = {"ticket_id": ticket_id, "message_id": text, "message_id_sha256": digest(text)}
        self._run(statement, values)

    def _store_files(
        self, ticket_id: int, comment_id: int | None, found: Iterable[Attachment]
    ) -> None:
        for a in found:
            new_id = self._run(
                sa.insert(attachments)
                .values(
                    ticket_id=ticket_id,
                    comment_id=comment_id,
                    filename=a.filename,
                    content_type=a.content_type,
                    size=a.size or len(a.content),
                    inline=a.inline,
                    content_id=a.content_id,
                    url=a.url,
                )
                .returning(attachments.c.id)
            ).scalar_one()
            self._run(sa.insert(files).values(attachment_id=int(new_id), content=a.content))

    # --- setting up (tests, the demo, imports) ---

    def add_user(self, user: User, password: str = "") -> User:
        """Add or replace a user (a replaced user keeps its password unless one is given)."""
        values = _user_values(user)
        if password:
            values["password_hash"] = self.password_hasher(password)
        insert = upsert(self.connection, users).values(
            email=user.email, **{"password_hash": "", **values}
        )
        self._run(insert.on_conflict_do_update(index_elements=[users.c.email], set_=values))
        return user

    def add_ticket(self, ticket: Ticket, comments_: Iterable[Comment] = ()) -> Ticket:
        """Add or replace a ticket (and append its comments); returns it as stored.

        A replaced ticket's version goes up by one (a new one keeps `ticket.version`, or
        1); its subscribers become `ticket.subscribers`, its Message-IDs gain the new ones
        (a Message-ID another ticket stored first stays that ticket's), and the files of
        `ticket.attachments` that are not stored yet are added.
        """
        previous = self._lock(ticket.id)
        values: dict[str, Any] = {
            "subject": ticket.subject,
            "submitter": ticket.submitter,
            "status": ticket.status.value,
            "category": ticket.category,
            "priority": ticket.priority,
            "assignee": ticket.assignee,
            "via": ticket.via,
            "created_at": ticket.created_at,
            "due_date": ticket.due_date,
            "time_spent_minutes": ticket.time_spent_minutes,
            "body_text": ticket.body_text,
            "body_html": ticket.body_html,
            "custom_fields": json.dumps(
                [
                    {"id": f.id, "name": f.name, "value": f.value, "visibility": f.visibility}
                    for f in ticket.custom_fields
                ],
                ensure_ascii=False,
            ),
        }
        if previous is None:
            self._run(
                sa.insert(tickets).values(id=ticket.id, version=ticket.version or 1, **values)
            )
            self._advance_sequence(tickets)
        else:
            self._run(
                sa.update(tickets)
                .where(tickets.c.id == ticket.id)
                .values(version=previous.version + 1, **values)
            )
            self._run(sa.delete(subscribers).where(subscribers.c.ticket_id == ticket.id))
            self._run(sa.delete(unsubscribed).where(unsubscribed.c.ticket_id == ticket.id))
        self._subscribe(ticket.id, ticket.subscribers)
        self._mark_unsubscribed(ticket.id, ticket.unsubscribed)
        for message_id in ticket.message_ids:
            self._add_message_id(ticket.id, message_id)
        self._store_files(ticket.id, None, self._new_files(ticket.attachments))
        explicit = False
        for c in comments_:
            values_c: dict[str, Any] = {
                "ticket_id": ticket.id,
                "author": c.author,
                "body_text": c.body_text,
                "body_html": c.body_html,
                "techs_only": c.techs_only,
                "via": c.via,
                "created_at": c.created_at,
                "full_text": "",
            }
            if c.id is not None:
                values_c["id"] = c.id
                explicit = True
            new_id = self._run(
                sa.insert(comments).values(**values_c).returning(comments.c.id)
            ).scalar_one()
            self._store_files(ticket.id, int(new_id), self._new_files(c.attachments))
        if explicit:
            self._advance_sequence(comments)
        stored = self.ticket(ticket.id)
        assert stored is not None
        return stored

    def _new_files(self, found: Iterable[Attachment]) -> list[Attachment]:
        """The attachments to store: those with bytes or without an id of ours."""
        return [a for a in found if a.content or a.id is None or not a.id.isdigit()]

    def _advance_sequence(self, table: sa.Table) -> None:
        """After rows with explicit ids, make PostgreSQL's sequence continue after them."""
        if self._postgres:
            self._run(
                sa.text(
                    f"SELECT setval(pg_get_serial_sequence('{table.name}', 'id'), "  # noqa: S608
                    f"(SELECT max(id) FROM {table.name}))"
                )
            )

    def add_kb_article(self, article: KBArticle) -> KBArticle:
        """Add or replace a knowledge-base article."""
        values = {
            "title": article.title,
            "category": article.category,
            "url": article.url,
            "body": article.body,
        }
        insert = upsert(self.connection, kb_articles).values(id=article.id, **values)
        self._run(insert.on_conflict_do_update(index_elements=[kb_articles.c.id], set_=values))
        self._advance_sequence(kb_articles)
        return article

    def load_state(self, state: Mapping[str, Any]) -> None:
        """Load a JSON-like snapshot in the format of `InMemoryStorage.load_state`."""
        found_users, found_tickets, found_articles = state_objects(state)
        for user in found_users:
            self.add_user(user)
        for ticket in found_tickets:
            self.add_ticket(ticket)
        for article in found_articles:
            self.add_kb_article(article)


def state_objects(
    state: Mapping[str, Any],
) -> tuple[list[User], list[Ticket], list[KBArticle]]:
    """The users, tickets and KB articles of a `load_state` snapshot:
    `{"users": [...], "tickets": [...], "kb_articles": [...]}` (the format of
    `helpdesk-mail inspect --state`; unknown keys are ignored, missing ones take defaults)."""
    found_users = [
        User(
            email=u["email"],
            name=u.get("name", ""),
            role=Role(u.get("role", "user")),
            first_name=u.get("first_name", ""),
            last_name=u.get("last_name", ""),
            username=u.get("username", ""),
            company=u.get("company", ""),
            department=u.get("department", ""),
            location=u.get("location", ""),
            categories=frozenset(u.get("categories", ())),
        )
        for u in state.get("users", ())
    ]
    found_tickets = [
        Ticket(
            id=int(t["id"]),
            subject=t.get("subject", ""),
            submitter=t.get("submitter", ""),
            status=TicketStatus(t.get("status", "open")),
            category=t.get("category"),
            priority=t.get("priority", "normal"),
            assignee=t.get("assignee"),
            subscribers=tuple(t.get("subscribers", ())),
            message_ids=tuple(t.get("message_ids", ())),
            body_text=t.get("body", ""),
        )
        for t in state.get("tickets", ())
    ]
    found_articles = [
        KBArticle(
            id=int(a["id"]),
            title=a.get("title", ""),
            category=a.get("category"),
            url=a.get("url", ""),
            body=a.get("body", ""),
        )
        for a in state.get("kb_articles", ())
    ]
    return found_users, found_tickets, found_articles


# --- rows to model values -------------------------------------------------------------


def _user_values(user: User) -> dict[str, Any]:
    return {
        "name": user.name,
        "role": user.role.value,
        "first_name": user.first_name,
        "last_name": user.last_name,
        "username": user.username,
        "company": user.company,
        "department": user.department,
        "location": user.location,
        "categories": json.dumps(sorted(user.categories), ensure_ascii=False),
    }


def _user(row: sa.Row[Any]) -> User:
    return User(
        email=row.email,
        name=row.name,
        role=Role(row.role),
        first_name=row.first_name,
        last_name=row.last_name,
        username=row.username,
        company=row.company,
        department=row.department,
        location=row.location,
        categories=frozenset(json.loads(row.categories)),
    )


def _attachment(row: sa.Row[Any], prefix: str = "") -> Attachment:
    """A file of a row; `prefix` begins its columns' names (`file_` in
    `_READ_TICKET_AND_FILES`, which reads the ticket and its files together)."""
    column = row._mapping
    return Attachment(
        filename=column[f"{prefix}filename"],
        content_type=column[f"{prefix}content_type"],
        size=int(column[f"{prefix}size"]),
        inline=bool(column[f"{prefix}inline"]),
        content_id=column[f"{prefix}content_id"],
        url=column[f"{prefix}url"],
        id=str(column[f"{prefix}id"]),
    )


def _ticket(
    row: sa.Row[Any],
    people: list[str],
    ids: list[str],
    found: list[Attachment],
    gone: list[str],
) -> Ticket:
    return Ticket(
        id=int(row.id),
        subject=row.subject,
        submitter=row.submitter,
        status=TicketStatus(row.status),
        category=row.category,
        priority=row.priority,
        assignee=row.assignee,
        subscribers=tuple(people),
        unsubscribed=tuple(gone),
        custom_fields=tuple(
            CustomField(f["id"], f["name"], f["value"], Visibility(f["visibility"]))
            for f in json.loads(row.custom_fields)
        ),
        via=row.via,
        created_at=row.created_at,
        due_date=row.due_date,
        time_spent_minutes=int(row.time_spent_minutes),
        body_text=row.body_text,
        body_html=row.body_html,
        attachments=tuple(found),
        message_ids=tuple(ids),
        version=int(row.version),
    )


def _comment(row: sa.Row[Any], found: Iterable[Attachment]) -> Comment:
    return Comment(
        id=int(row.id),
        ticket_id=int(row.ticket_id),
        author=row.author,
        body_text=row.body_text,
        body_html=row.body_html,
        techs_only=bool(row.techs_only),
        attachments=tuple(found),
        via=row.via,
        created_at=row.created_at,
    )


def _article(row: sa.Row[Any]) -> KBArticle:
    return KBArticle(
        id=int(row.id), title=row.title, category=row.category, url=row.url, body=row.body
    )
