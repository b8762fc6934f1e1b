"""SPF record syntax (RFC 7208 sections 4.5, 4.6, 5, 6 and 7.1): parse, never evaluate.

Rules this module owns:

- A record is the TXT string that starts with ``v=spf1`` (any case) followed by a
  space or its end; TXT character-strings are joined with nothing between them
  (the resolver does that).
- Only printable ASCII and the space are allowed in a record; terms are separated
  by one or more spaces and nothing else (a TAB, CR or LF is a syntax error).
- The whole record is checked before anything is evaluated: a syntax error
  anywhere is a ``permerror``, even after a mechanism that would match.
- ``name=value`` with ``name = ALPHA *(ALPHA / DIGIT / "-" / "_" / ".")`` is a
  modifier; ``redirect`` and ``exp`` at most once each, both with a non-empty
  domain-spec; unknown modifiers are ignored but their value must be a valid
  macro-string.
- Everything else is a directive: ``[+-~?]`` and one of ``all include a mx ptr
  ip4 ip6 exists`` (any case), with exactly the arguments the ABNF allows.
- A domain-spec ends in a macro or in ``.toplabel[.]`` where the top label is not
  all digits and neither starts nor ends with a dash.
- Macros: ``%{`` letter, optional non-zero digits, optional ``r``, delimiters from
  ``.-+,/_=``, ``}``; or ``%%``, ``%_``, ``%-``. Letters ``slodiphv`` everywhere,
  ``c``, ``r`` and ``t`` only in explanation text. Any other ``%`` is an error.

Internal: not part of the public API (docs/architecture.md, "The public surface").
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from enum import StrEnum

__all__ = [
    "DOMAIN_MACRO_LETTERS",
    "EXPLANATION_MACRO_LETTERS",
    "Macro",
    "MacroToken",
    "Mechanism",
    "Qualifier",
    "SpfRecord",
    "SpfSyntaxError",
    "is_spf_record",
    "parse_domain_spec",
    "parse_macro_string",
    "parse_record",
]


class SpfSyntaxError(ValueError):
    """An SPF record, domain-spec or macro-string breaks the RFC 7208 grammar."""


class Qualifier(StrEnum):
    """The qualifier of a directive and the result it gives when it matches."""

    PASS = "+"  # noqa: S105 (an SPF qualifier, not a password)
    FAIL = "-"
    SOFTFAIL = "~"
    NEUTRAL = "?"


DOMAIN_MACRO_LETTERS = frozenset("slodiphv")
"""Macro letters allowed in domain-specs (mechanism targets, redirect=, exp=)."""
EXPLANATION_MACRO_LETTERS = DOMAIN_MACRO_LETTERS | frozenset("crt")
"""Macro letters allowed in the explanation text an exp= modifier points at."""

_MECHANISMS = ("all", "include", "a", "mx", "ptr", "ip4", "ip6", "exists")
_DNS_MECHANISMS = frozenset({"include", "a", "mx", "ptr", "exists"})
_VERSION = "v=spf1"

_MODIFIER_RE = re.compile(r"([A-Za-z][A-Za-z0-9_.-]*)=(.*)", re.S)
_MACRO_RE = re.compile(
    r"%(?:\{(?P<letter>[A-Za-z])(?P<digits>[0-9]*)(?P<reverse>[rR]?)(?P<delims>[-.+,/_=]*)\}"
    r"|(?P<escape>[%_-]))"
)
_CIDR = r"(?:0|[1-9][0-9]{0,2})"
_DUAL_CIDR_RE = re.compile(rf"(?::(?P<spec>.*?))?(?:/(?P<c4>{_CIDR}))?(?://(?P<c6>{_CIDR}))?", re.S)
_IP4_RE = re.compile(
    r":(?P<net>(?:(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])\.){3}"
    rf"(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9]))(?:/(?P<cidr>{_CIDR}))?"
)
_IP6_RE = re.compile(rf":(?P<net>[0-9A-Fa-f:.]+)(?:/(?P<cidr>{_CIDR}))?")
_TOPLABEL_RE = re.compile(
    r"[A-Za-z0-9]*[A-Za-z][A-Za-z0-9]*|[A-Za-z0-9]+-[A-Za-z0-9-]*[A-Za-z0-9]", re.ASCII
)


@dataclass(frozen=True)
class Macro:
    """One ``%{...}`` macro: its letter, how many right-hand parts to keep, reversal, delimiters.

    `url_escape` is set for an upper-case letter (``%{L}``): the value is URL-encoded.
    """

    letter: str
    keep: int | None = None
    reverse: bool = False
    delimiters: str = "."
    url_escape: bool = False


MacroToken = str | Macro
"""A piece of a parsed macro-string: literal text or a `Macro`."""


def parse_macro_string(
    text: str, letters: frozenset[str] = EXPLANATION_MACRO_LETTERS, *, spaces: bool = False
) -> tuple[MacroToken, ...]:
    """The tokens of a macro-string; `SpfSyntaxError` for a bad ``%`` or character.

    ``%%``, ``%_`` and ``%-`` become the literal text ``%``, `` `` and ``%20``.
    `spaces` allows the space character (explanation text).
    """
    return _tokenize(text, letters, spaces)[0]


def _tokenize(
    text: str, letters: frozenset[str], spaces: bool
) -> tuple[tuple[MacroToken, ...], bool]:
    """(tokens, whether the text ends with a macro-expand)."""
    tokens: list[MacroToken] = []
    literal: list[str] = []
    pos = 0
    ends_with_macro = False
    while pos < len(text):
        ch = text[pos]
        if ch != "%":
            if not ("!" <= ch <= "~" or (spaces and ch == " ")):
                raise SpfSyntaxError(f"character {ch!r} is not allowed in {text!r}")
            literal.append(ch)
            pos += 1
            ends_with_macro = False
            continue
        m = _MACRO_RE.match(text, pos)
        if m is None:
            raise SpfSyntaxError(f"bad macro at {text[pos : pos + 8]!r} in {text!r}")
        pos = m.end()
        ends_with_macro = True
        escape = m.group("escape")
        if escape is not None:
            literal.append({"%": "%", "_": " ", "-": "%20"}[escape])
            continue
        letter = m.group("letter")
        if letter.lower() not in letters:
            raise SpfSyntaxError(f"macro letter {letter!r} is not allowed here in {text!r}")
        digits = m.group("digits")
        keep = int(digits) if digits else None
        if keep == 0:
            raise SpfSyntaxError(f"a macro keeps at least one part, not 0, in {text!r}")
        if literal:
            tokens.append("".join(literal))
            literal = []
        tokens.append(
            Macro(
                letter=letter.lower(),
                keep=keep,
                reverse=bool(m.group("reverse")),
                delimiters=m.group("delims") or ".",
                url_escape=letter.isupper(),
            )
        )
    if literal:
        tokens.append("".join(literal))
    return tuple(tokens), ends_with_macro


def parse_domain_spec(spec: str) -> tuple[MacroToken, ...]:
    """The tokens of a domain-spec; `SpfSyntaxError` unless it ends in a macro or a top label."""
    if not spec:
        raise SpfSyntaxError("empty domain-spec")
    tokens, ends_with_macro = _tokenize(spec, DOMAIN_MACRO_LETTERS, False)
    if ends_with_macro:
        return tokens
    body = spec[:-1] if spec.endswith(".") else spec
    _head, dot, top = body.rpartition(".")
    if not dot or not _TOPLABEL_RE.fullmatch(top):
        raise SpfSyntaxError(f"domain-spec {spec!r} must end in a macro or a valid top label")
    return tokens


@dataclass(frozen=True)
class Mechanism:
    """One directive of a record: qualifier, mechanism name and its arguments.

    `domain_spec` is the target of include/a/mx/ptr/exists (None: the current
    domain); `network` the address of ip4/ip6; `cidr4`/`cidr6` the prefix lengths.
    `text` is the term as written.
    """

    qualifier: Qualifier
    kind: str
    text: str
    domain_spec: tuple[MacroToken, ...] | None = None
    network: ipaddress.IPv4Address | ipaddress.IPv6Address | None = None
    cidr4: int = 32
    cidr6: int = 128

    @property
    def queries_dns(self) -> bool:
        """True for the mechanisms that count against the 10-lookup limit."""
        return self.kind in _DNS_MECHANISMS


@dataclass(frozen=True)
class SpfRecord:
    """A parsed SPF record: directives in order, the redirect= and exp= domain-specs."""

    text: str
    mechanisms: tuple[Mechanism, ...]
    redirect: tuple[MacroToken, ...] | None = None
    exp: tuple[MacroToken, ...] | None = None
    redirect_text: str | None = None
    exp_text: str | None = None
    unknown_modifiers: tuple[str, ...] = ()

    @property
    def dns_terms(self) -> int:
        """Terms of this record alone that cause DNS lookups (mechanisms and redirect=)."""
        n = sum(1 for m in self.mechanisms if m.queries_dns)
        return n + (1 if self.redirect is not None else 0)


def is_spf_record(txt: str) -> bool:
    """True if a TXT string is an SPF version 1 record (``v=spf1`` then a space or the end)."""
    return txt[:6].lower() == _VERSION and (len(txt) == 6 or txt[6] == " ")


def parse_record(text: str) -> SpfRecord:
    """Parse a whole SPF record; `SpfSyntaxError` names the first problem found."""
    if not is_spf_record(text):
        raise SpfSyntaxError(f"not an SPF record (must start with {_VERSION!r}): {text[:40]!r}")
    for ch in text:
        if not (" " <= ch <= "~"):
            raise SpfSyntaxError(f"character {ch!r} is not allowed in an SPF record")
    mechanisms: list[Mechanism] = []
    modifiers: dict[str, tuple[str, tuple[MacroToken, ...]]] = {}
    unknown: list[str] = []
    for term in text[6:].split(" "):
        if not term:
            continue
        m = _MODIFIER_RE.fullmatch(term)
        if m is None:
            mechanisms.append(_parse_mechanism(term))
            continue
        name, value = m.group(1).lower(), m.group(2)
        if name in ("redirect", "exp"):
            if name in modifiers:
                raise SpfSyntaxError(f"{name}= appears more than once")
            try:
                modifiers[name] = (value, parse_domain_spec(value))
            except SpfSyntaxError as exc:
                raise SpfSyntaxError(f"{term!r}: {exc}") from None
        else:
            try:
                parse_macro_string(value)
            except SpfSyntaxError as exc:
                raise SpfSyntaxError(f"{term!r}: {exc}") from None
            unknown.append(term)
    redirect = modifiers.get("redirect")
    exp = modifiers.get("exp")
    return SpfRecord(
        text=text,
        mechanisms=tuple(mechanisms),
        redirect=redirect[1] if redirect else None,
        exp=exp[1] if exp else None,
        redirect_text=redirect[0] if redirect else None,
        exp_text=exp[0] if exp else None,
        unknown_modifiers=tuple(unknown),
    )


def _parse_mechanism(term: str) -> Mechanism:
    body = term
    qualifier = Qualifier.PASS
    if body[:1] in ("+", "-", "~", "?"):
        qualifier = Qualifier(body[0])
        body = body[1:]
    cut = min((i for i in (body.find(":"), body.find("/")) if i >= 0), default=len(body))
    kind, rest = body[:cut].lower(), body[cut:]
    if kind not in _MECHANISMS:
        raise SpfSyntaxError(f"unknown mechanism {term!r}")
    try:
        return _parse_arguments(qualifier, kind, rest, term)
    except SpfSyntaxError as exc:
        raise SpfSyntaxError(f"{term!r}: {exc}") from None


def _parse_arguments(qualifier: Qualifier, kind: str, rest: str, term: str) -> Mechanism:
    if kind == "all":
        if rest:
            raise SpfSyntaxError("'all' takes no arguments")
        return Mechanism(qualifier, kind, term)
    if kind in ("include", "exists"):
        if not rest.startswith(":"):
            raise SpfSyntaxError(f"'{kind}' needs ':' and a domain")
        return Mechanism(qualifier, kind, term, domain_spec=parse_domain_spec(rest[1:]))
    if kind == "ptr":
        if not rest:
            return Mechanism(qualifier, kind, term)
        if not rest.startswith(":"):
            raise SpfSyntaxError("'ptr' takes only ':' and a domain")
        return Mechanism(qualifier, kind, term, domain_spec=parse_domain_spec(rest[1:]))
    if kind in ("a", "mx"):
        m = _DUAL_CIDR_RE.fullmatch(rest)
        if m is None:
            raise SpfSyntaxError("bad domain or CIDR length")
        spec = m.group("spec")
        cidr4 = int(m.group("c4")) if m.group("c4") is not None else 32
        cidr6 = int(m.group("c6")) if m.group("c6") is not None else 128
        if cidr4 > 32 or cidr6 > 128:
            raise SpfSyntaxError("CIDR length out of range")
        tokens = parse_domain_spec(spec) if spec is not None else None
        return Mechanism(qualifier, kind, term, domain_spec=tokens, cidr4=cidr4, cidr6=cidr6)
    if kind == "ip4":
        m = _IP4_RE.fullmatch(rest)
        if m is None:
            raise SpfSyntaxError("expected ip4:a.b.c.d[/len]")
        cidr = int(m.group("cidr")) if m.group("cidr") is not None else 32
        if cidr > 32:
            raise SpfSyntaxError("IPv4 CIDR length above 32")
        return Mechanism(
            qualifier, kind, term, network=ipaddress.IPv4Address(m.group("net")), cidr4=cidr
        )
    # ip6
    m = _IP6_RE.fullmatch(rest)
    if m is None:
        raise SpfSyntaxError("expected ip6:address[/len]")
    try:
        address = ipaddress.IPv6Address(m.group("net"))
    except ValueError:
        raise SpfSyntaxError(f"bad IPv6 address {m.group('net')!r}") from None
    cidr = int(m.group("cidr")) if m.group("cidr") is not None else 128
    if cidr > 128:
        raise SpfSyntaxError("IPv6 CIDR length above 128")
    return Mechanism(qualifier, kind, term, network=address, cidr6=cidr)
