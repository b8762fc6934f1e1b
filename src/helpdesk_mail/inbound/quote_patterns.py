"""The lines that start quoted history: attributions, header blocks, separators, markers.

What `quotes` (plain text), `quotes_html` and `signatures` recognise in one line, or
in a few lines wrapped together:

* an attribution ("On <date>, <name> wrote:" in ~30 languages, wrapped over up to
  four lines, sharing its line with the reply, damaged by undecoded quoted-printable,
  or the verb-less "<date>, <name> <addr>:" form; `attribution_at`);
* an "Original Message" separator or a forwarded-message marker (`is_separator`);
* an Outlook-style header block (From/Sent/To/Subject in ~25 languages: From +
  Date/Sent + one more field, or From + To + Subject; `header_block`);
* a helpdesk "reply above this line" marker: a line that is the phrase alone, maybe
  decorated (``-- Please reply above this line --``; `is_reply_above`);
* a line quoted with ``>`` (`quoted_lines`).

The rules are data: the tables below (``ATTRIBUTION_OPENERS`` /
``ATTRIBUTION_VERBS``, ``HEADER_LABELS``, ``ORIGINAL_MESSAGE_PHRASES``,
``FORWARD_PHRASES``, ``FORWARD_LINES``, ``REPLY_ABOVE_MARKERS``) are compiled once;
adding a language or a client is a table row, not code.

Everything is pure and total, and linear in the input.  Patterns run on one line at
a time (at most ``_MAX_VIEW`` characters; a few joined lines for a wrapped
attribution, at most 600 characters), quantifiers are bounded, verbs are found with
``str.find``.

Internal: not part of the public API (docs/architecture.md, "The public surface").
"""

from __future__ import annotations

import re
from collections.abc import Sequence

__all__ = [
    "ATTRIBUTION_OPENERS",
    "ATTRIBUTION_VERBS",
    "FORWARD_LINES",
    "FORWARD_PHRASES",
    "HEADER_LABELS",
    "MAX_JOIN",
    "ORIGINAL_MESSAGE_PHRASES",
    "REPLY_ABOVE_MARKERS",
    "REPLY_ABOVE_POLITE",
    "alternation",
    "attribution_at",
    "header_block",
    "header_kind",
    "is_quoted",
    "is_reply_above",
    "is_rule",
    "is_separator",
    "is_wrapped_link",
    "join",
    "line_view",
    "may_end_attribution",
    "phrase",
    "quoted_lines",
    "split_lines",
    "split_prefix",
]

# ---------------------------------------------------------------------------
# Data: pattern tables.  Plain strings unless a table says "regex"; all are
# matched case-insensitively against a normalised view of one line (``line_view``).
# ---------------------------------------------------------------------------

ATTRIBUTION_OPENERS: dict[str, tuple[str, ...]] = {
    "en": ("On",),
    "de": ("Am",),
    "fr": ("Le",),
    "es": ("El",),
    "it": ("Il", "Il giorno", "In data"),
    "nl": ("Op",),
    "pt": ("Em", "Às", "A"),
    "sv/da/nb": ("Den", "På"),
    "pl": ("W dniu", "Dnia"),
    "cs": ("Dne",),
    "sk": ("Dňa",),
    "el": ("Στις",),
    "ro": ("La",),
    "vi": ("Vào lúc", "Vào"),
    "zh": ("在",),
    "ar": ("على",),
    "he": ("בתאריך",),
}
"""Words that open a "On <date>, <name> wrote:" line, per language."""

ATTRIBUTION_VERBS: dict[str, tuple[str, ...]] = {
    "en": ("wrote", "writes", "has written"),
    "de": ("schrieb", "geschrieben"),
    "fr": ("a écrit", "a ecrit", "écrit"),
    "es": ("escribió", "escribio"),
    "it": ("ha scritto", "scrisse"),
    "nl": ("schreef", "geschreven", "verzond"),
    "pt": ("escreveu",),
    "sv/da/nb": ("skrev",),
    "fi": ("kirjoitti",),
    "pl": ("napisał(a)", "napisała", "napisał", "napisal", "pisze"),
    "cs": ("napsal(a)", "napsala", "napsal"),
    "sk": ("napísal(a)", "napísala", "napísal"),
    "ru": ("пишет", "написал(а)", "написала", "написал", "писал(а)", "писала", "писал"),
    "uk": ("пише", "написав", "написала"),
    "tr": ("şunu yazdı", "yazdı", "yazmış"),
    "hu": ("ezt írta", "írta"),
    "el": ("έγραψε",),
    "ro": ("a scris",),
    "vi": ("đã viết",),
    "he": ("כתב",),
    "ar": ("كتب",),
}
"""Verbs of reply attribution lines (plain strings, matched word-bounded), per language."""

ATTRIBUTION_VERBS_AFTER_OPENER: dict[str, tuple[str, ...]] = {
    "en": ("sent",),
    "nl": ("het volgende geschreven",),
}
"""Verbs too common to trust on their own: only after an opener ("On <date>, <name> sent:")."""

ATTRIBUTION_VERBS_CJK: dict[str, tuple[str, ...]] = {
    "zh": ("写道", "寫道", "寫到"),
    "ja": ("書きました", "のメッセージ"),
    "ko": ("작성", "쓴 글", "쓴 내용"),
}
"""Attribution verbs of scripts without word spaces (matched without boundaries)."""

HEADER_LABELS: dict[str, tuple[str, ...]] = {
    "from": (
        "From", "Von", "De", "Da", "Mittente", "Van", "Afzender", "Från", "Fra", "Lähettäjä",
        "Od", "Nadawca", "Feladó", "De la", "От", "Отправитель", "Від", "Від кого", "Kimden",
        "Gönderen", "差出人", "发件人", "寄件者", "寄件人", "보낸 사람", "מאת", "من", "مِن",
        "Από", "Saatja", "Šalje", "Expéditeur", "Remitente", "送信元",
    ),
    "date": (
        "Sent", "Date", "Gesendet", "Datum", "Envoyé", "Envoyé le", "Enviado", "Enviado el",
        "Fecha", "Inviato", "Data", "Verzonden", "Verstuurd", "Enviada em", "Enviado em",
        "Skickat", "Sendt", "Dato", "Lähetetty", "Päivämäärä", "Päiväys", "Wysłano",
        "Wysłane", "Odesláno", "Odoslané", "Dátum", "Elküldve", "Trimis", "Dată", "Отправлено",
        "Дата", "Відправлено", "Надіслано", "Gönderilen", "Gönderildi", "Tarih", "送信日時",
        "日付", "发送时间", "日期", "寄件日期", "傳送時間", "보낸 날짜", "날짜", "נשלח", "תאריך",
        "تم الإرسال", "التاريخ", "Στάλθηκε", "Ημερομηνία", "Sent at",
    ),
    "to": (
        "To", "An", "À", "A", "Pour", "Para", "Aan", "Till", "Til", "Vastaanottaja", "Do",
        "Adresat", "Komu", "Pre", "Címzett", "Către", "Кому", "Kime", "宛先", "收件人", "收件者",
        "받는 사람", "אל", "إلى", "Προς", "送信先",
    ),
    "cc": (
        "Cc", "Bcc", "Kopie", "Kopie (CC)", "Copie à", "Copia", "Kopia", "Kopi", "Kopi til",
        "Kopio", "DW", "Kópia", "Másolatot kap", "Másolat", "Копия", "Копія", "Bilgi", "抄送",
        "副本", "참조", "עותק", "نسخة", "Κοιν.",
    ),
    "subject": (
        "Subject", "Betreff", "Objet", "Sujet", "Asunto", "Oggetto", "Onderwerp", "Assunto",
        "Ämne", "Emne", "Aihe", "Temat", "Předmět", "Predmet", "Tárgy", "Subiect", "Subiectul",
        "Тема", "Konu", "件名", "主题", "主旨", "제목", "נושא", "الموضوع", "Θέμα",
    ),
}  # fmt: skip
"""Field labels of Outlook-style quoted header blocks, by field, all languages."""

ORIGINAL_MESSAGE_PHRASES: tuple[str, ...] = (
    "Original Message", "Original message", "Reply Message", "Originalnachricht",
    "Original-Nachricht", "Ursprüngliche Nachricht", "Message original", "Message d'origine",
    "Courriel original", "Mensaje original", "Messaggio originale", "Oorspronkelijk bericht",
    "Oorspronkelijke bericht", "Mensagem original", "Ursprungligt meddelande",
    "Oprindelig meddelelse", "Oprindelig besked", "Original besked", "Opprinnelig melding",
    "Alkuperäinen viesti", "Treść oryginalnej wiadomości", "Wiadomość oryginalna",
    "Původní zpráva", "Pôvodná správa", "Исходное сообщение", "Початкове повідомлення",
    "Оригінальне повідомлення", "Исходное письмо", "原始消息", "原始邮件", "原始郵件",
    "元のメッセージ", "원본 메시지", "Özgün İleti", "Özgün ileti", "הודעה מקורית",
    "الرسالة الأصليَّة", "الرسالة الأصلية", "الرسالة الأساسية", "Eredeti üzenet",
    "Αρχικό μήνυμα", "Mesaj original", "Original",
)  # fmt: skip
"""Phrases that, between runs of dashes, separate the reply from the original."""

FORWARD_PHRASES: tuple[str, ...] = (
    "Forwarded message", "Forwarded Message", "Weitergeleitete Nachricht", "Message transféré",
    "Message transmis", "Mensaje reenviado", "Messaggio inoltrato", "Doorgestuurd bericht",
    "Mensagem encaminhada", "Mensagem reencaminhada", "Vidarebefordrat meddelande",
    "Videresendt meddelelse", "Videresendt melding", "Välitetty viesti",
    "Edelleenlähetetty viesti", "Treść przekazanej wiadomości", "Przekazana wiadomość",
    "Wiadomość przesłana dalej", "Přeposlaná zpráva", "Preposlaná správa",
    "Перенаправленное сообщение", "Пересылаемое сообщение", "Переслане повідомлення",
    "Перенаправлене повідомлення", "转发的消息", "轉寄郵件", "전달된 메시지", "İletilen İleti",
    "İletilmiş Mesaj", "הודעה שהועברה", "رسالة ممرّرة", "Továbbított üzenet",
    "Mesaj redirecționat", "メッセージを転送",
)  # fmt: skip
"""Forwarded-message phrases that appear between runs of dashes."""

FORWARD_LINES: tuple[str, ...] = (
    "Begin forwarded message", "Forwarded message", "Začátek přeposílané zprávy",
    "Start på videresendt besked", "Anfang der weitergeleiteten Nachricht",
    "Inicio del mensaje reenviado", "Välitetty viesti alkaa", "Début du message réexpédié",
    "Début du message transféré", "Započni proslijeđenu poruku", "Továbbított levél kezdete",
    "Inizio messaggio inoltrato", "Begin doorgestuurd bericht", "Videresendt melding",
    "Początek przekazywanej wiadomości", "Início da mensagem reencaminhada",
    "Início da mensagem encaminhada", "Începe mesajul redirecționat",
    "Начало переадресованного сообщения", "Začiatok preposlanej správy",
    "Vidarebefordrat mejl", "İleti başlangıcı", "Початок листа, що пересилається",
)  # fmt: skip
"""Whole-line forwarded-message markers (Apple Mail, MailMate), optional trailing colon."""

REPLY_ABOVE_MARKERS: tuple[tuple[str, str], ...] = (
    ("reply_above_line", r"(?:reply|respond|write|type)\b.{0,40}\babove\s+(?:this|the)\s+line"),
    ("answer_above_line_de", r"(?:antworten|schreiben)\b.{0,40}\boberhalb\s+dieser\s+zeile"),
    ("reply_above_line_fr", r"répon\w*\b.{0,40}\bau-dessus\s+de\s+cette\s+ligne"),
)
"""Helpdesk "reply above this line" markers: (name, regex). The text is cut at an unquoted
line that is the phrase alone: maybe after a word of `REPLY_ABOVE_POLITE`, maybe decorated
(``-- ... --``, ``##- ... -##``); a sentence that merely contains it is the sender's."""

REPLY_ABOVE_POLITE: tuple[str, ...] = ("please", "kindly", "bitte", "veuillez", "merci de")
"""Words allowed before the phrase of a reply-above marker."""


# ---------------------------------------------------------------------------
# Compiled forms
# ---------------------------------------------------------------------------

_MAX_VIEW = 1000  # characters of a line looked at by the patterns
MAX_JOIN = 4  # lines an attribution may be wrapped over
_HEADER_SCAN = 10  # lines examined for one header block

_QP_ESCAPES = re.compile(r"(?:=[0-9A-F]{2}){1,64}")
_INVISIBLE = re.compile("[\u200b-\u200f\u202a-\u202e\u2060-\u2069\ufeff\u00ad]")
_SPACES = re.compile("[\u00a0\u2000-\u200a\u202f\u205f\u3000\t]+")


def alternation(items: Sequence[str]) -> str:
    """A regex alternation of ``items``, longest first (so "Kopie (CC)" wins over "Kopie")."""
    return "|".join(sorted(set(items), key=len, reverse=True))


def phrase(p: str) -> str:
    """``p`` as a regex: escaped, each of its spaces matching a run of whitespace."""
    return re.escape(p).replace("\\ ", "\\s+")


_OPENER = alternation([o for os in ATTRIBUTION_OPENERS.values() for o in os])
_OPENER_START = re.compile(rf"^(?:{_OPENER})\s", re.I)
_ATTR_START = re.compile(rf"^(?:(?:{_OPENER})\s|\d)", re.I)
# an opener in the middle of a line ("reply On Wed, ... wrote:"): capitalised, after text
_MID_OPENERS = ("On", "Am", "Le", "El", "Il", "Op", "Em", "Den", "Dne", "Dnia", "W dniu")
_MID_OPENER = re.compile(rf"(?<=\w)(?:\s+|\s*-{{2,}}\s*)(?=(?:{'|'.join(_MID_OPENERS)})\s)")

# Verbs are found with str.find on the lower-cased candidate (a regex alternation
# of ~60 words costs ~100 us per line; this costs a few).
_VERBS_WORD = tuple(sorted({v.lower() for vs in ATTRIBUTION_VERBS.values() for v in vs}))
_VERBS_CJK = tuple(sorted({v for vs in ATTRIBUTION_VERBS_CJK.values() for v in vs}))
_VERBS_AFTER_OPENER = tuple(
    sorted({v.lower() for vs in ATTRIBUTION_VERBS_AFTER_OPENER.values() for v in vs})
)
_VERB_TAIL = 160  # characters allowed between the verb and the end of the attribution
_DASHES = "-‐‑–—"

_COLON_END = re.compile(r"[:：]\s*$")
_END_CHARS = frozenset(":：>" + _DASHES)
_DATE_EVIDENCE = re.compile(
    r"\d{1,2}[:.h]\d{2}|(?<!\d)(?:19|20)\d{2}(?!\d)|\d{1,2}[./-]\d{1,2}[./-]\d{2,4}|\d{1,2}\s*[年月日]"
)
_ADDRESS = re.compile(r"@[\w.-]+\.\w+|<[^<>]*@")
_EMAIL_TOKEN = re.compile(r"^<?\s*[^\s<>@]+@[^\s<>@]+\.[^\s<>@]+\s*>?$")

_LABEL_KIND: dict[str, str] = {}
for _kind, _labels in HEADER_LABELS.items():
    for _label in _labels:
        _LABEL_KIND.setdefault(_label.casefold(), _kind)
_LABELS_RX = alternation([phrase(lbl) for ls in HEADER_LABELS.values() for lbl in ls])
_HEADER_LINE = re.compile(
    r"^[*_]{0,2}(?P<label>" + _LABELS_RX + r")[*_]{0,2}\s{0,3}[:：][*_]{0,2}(?:\s|$)",
    re.I,
)
_HEADER_INLINE = re.compile(
    r"\s[*_]{0,2}(?P<label>" + _LABELS_RX + r")[*_]{0,2}\s?[:：]\s",
    re.I,
)

_DASH = "-‐‑–—_=*~"
_ORIGINAL = re.compile(
    rf"^[{_DASH}]{{2,}}+\s*(?:{alternation([phrase(p) for p in ORIGINAL_MESSAGE_PHRASES])})"
    rf"(?:\s.{{0,60}}?)?\s*[{_DASH}]{{2,}}\s*$",
    re.I,
)
_FORWARD = re.compile(
    rf"^[{_DASH}]{{2,}}+\s*(?:{alternation([phrase(p) for p in FORWARD_PHRASES])})"
    rf"(?:\s.{{0,60}}?)?\s*[{_DASH}]{{2,}}\s*$",
    re.I,
)
_FORWARD_LINE = re.compile(
    rf"^(?:{alternation([phrase(p) for p in FORWARD_LINES])})\s*[:：]?\s*$",
    re.I,
)
_REPLY_ABOVE = re.compile(
    rf"[\W_]*(?:(?:{alternation([phrase(w) for w in REPLY_ABOVE_POLITE])})\s+)?"
    rf"(?:{'|'.join(f'(?:{p})' for _, p in REPLY_ABOVE_MARKERS)})[\W_]*",
    re.I,
)

_URL_CHARS = re.compile(r"https?:|[/=?&]")


# ---------------------------------------------------------------------------
# Line helpers
# ---------------------------------------------------------------------------


def _qp_run(m: re.Match[str]) -> str:
    raw = bytes.fromhex(m.group(0).replace("=", ""))
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


def line_view(line: str) -> str:
    """The line as the patterns see it: invisible marks gone, spaces plain, trimmed.

    Undecoded quoted-printable escapes (``=C3=A9``) are decoded in the view, so a
    body that reached us still QP-encoded is matched like its decoded text.
    """
    # a long line is looked at from its first visible character: a run of spaces (from
    # &nbsp; or <pre>) must not make it look blank
    v = (line.lstrip() if len(line) > _MAX_VIEW else line)[:_MAX_VIEW]
    if "=" in v:
        v = _QP_ESCAPES.sub(_qp_run, v)
    if v.isascii():
        return (v.replace("\t", " ") if "\t" in v else v).strip()
    v = _INVISIBLE.sub("", v)
    v = _SPACES.sub(" ", v)
    return v.strip()


def join(views: list[str], a: int, b: int) -> str:
    """Lines ``a..b-1`` as one candidate; a QP soft break ("=" at the end) joins tightly."""
    parts: list[str] = []
    for k in range(a, b):
        v = views[k]
        if parts and parts[-1].endswith("="):
            parts[-1] = parts[-1][:-1] + v
        else:
            parts.append(v)
    return " ".join(parts)


def is_rule(view: str) -> bool:
    """A line made only of dashes, underscores, equals signs... (``____``, ``-----``)."""
    return bool(view) and not view.strip(_DASH + " \t")


def is_wrapped_link(view: str) -> bool:
    """One token with URL characters: a link wrapped out of a quote block."""
    token = view.rstrip("> ").strip()
    return bool(token) and " " not in token and _URL_CHARS.search(token) is not None


def is_separator(view: str) -> bool:
    """An "Original Message" separator or a forwarded-message marker line."""
    if view[:1] in _DASH:
        return _ORIGINAL.match(view) is not None or _FORWARD.match(view) is not None
    return len(view) <= 80 and _FORWARD_LINE.match(view) is not None


def is_reply_above(view: str) -> bool:
    """Is the line a helpdesk "reply above this line" marker (``REPLY_ABOVE_MARKERS``)?"""
    if len(view) > 120:
        return False
    low = view.lower()
    if "above" not in low and "oberhalb" not in low and "dessus" not in low:
        return False
    return _REPLY_ABOVE.fullmatch(view) is not None


def quoted_lines(lines: list[str], views: list[str]) -> list[bool]:
    """Which lines are ``>`` quotes.

    A ">From ..." line outside a quote block is mbox escaping of "From ", not a quote.
    """
    quoted = [False] * len(lines)
    previous = False  # the previous non-blank line is quoted
    for k, line in enumerate(lines):
        if not views[k]:
            continue
        q = is_quoted(line)
        if q and not previous and line.startswith(">From ") and line[6:].strip():
            q = False
        quoted[k] = previous = q
    return quoted


def may_end_attribution(view: str) -> bool:
    """Cheap test: can an attribution end on this line (colon, closing dashes, address)?"""
    return view[-1:] in _END_CHARS


def is_quoted(line: str) -> bool:
    """Is the line a ``>`` quote (indented by at most four spaces)?"""
    stripped = line.lstrip(" \t\u00a0\ufeff")
    return stripped.startswith(">") and len(line) - len(stripped) <= 4


def header_kind(view: str) -> str | None:
    """The ``HEADER_LABELS`` key of the field a header-block line starts, else None."""
    head = view[:48]
    if ":" not in head and "：" not in head:
        return None
    m = _HEADER_LINE.match(view)
    if m is None:
        return None
    label = re.sub(r"\s+", " ", m.group("label")).casefold()
    return _LABEL_KIND.get(label, "other")


def header_block(views: list[str], kinds_of: list[str | None], i: int, loose: bool = False) -> int:
    """If an Outlook-style header block starts at line ``i``, return its end index, else -1.

    ``kinds_of[k]`` is :func:`header_kind` of line ``k``.  ``loose`` (used right after
    an HTML separator such as ``<hr>``) accepts From plus any one other field.
    """
    first = kinds_of[i]
    if first is None:
        return -1
    kinds = {first}
    if first in ("from", "date"):  # Yahoo / HTML may run the fields together on one line
        for m in _HEADER_INLINE.finditer(views[i], 0, 600):
            kinds.add(_LABEL_KIND.get(re.sub(r"\s+", " ", m.group("label")).casefold(), "x"))
        if _block_ok(kinds, loose):
            return i + 1
        kinds = {first}
    end = i + 1
    cont = 0
    blanks = 0
    stop = min(len(views), i + _HEADER_SCAN)
    k = i + 1
    while k < stop:
        v = views[k]
        if not v or v.startswith(">"):
            # A run of empty and quote lines. A quote line never continues a header
            # block, but the quote is removed and leaves one empty line in the output:
            # a run with a quote counts as that one empty line (the same verdict on the
            # output as on the input).
            run = k
            quote = False
            while run < stop and (not views[run] or views[run].startswith(">")):
                quote = quote or views[run].startswith(">")
                run += 1
            blanks += 1 if quote else run - k
            if blanks > 1 or _block_ok(kinds, loose):
                break
            k = run
            continue
        kind = kinds_of[k]
        k += 1
        if kind is None:
            cont += 1
            if cont > 2:
                break
            continue
        blanks = 0
        cont = 0
        kinds.add(kind)
        end = k
    return end if _block_ok(kinds, loose) else -1


def _block_ok(kinds: set[str], loose: bool = False) -> bool:
    if loose and "from" in kinds and len(kinds) >= 2:
        return True
    if "from" in kinds and "date" in kinds and ({"to", "subject", "cc"} & kinds):
        return True
    return {"from", "to", "subject"} <= kinds


def _last_verb_end(low: str, weak_too: bool = False) -> int:
    """End offset of the last attribution verb in ``low`` (lower-cased), or -1."""
    best = -1
    n = len(low)
    groups: tuple[tuple[str, ...], ...] = (
        (_VERBS_WORD, _VERBS_AFTER_OPENER) if weak_too else (_VERBS_WORD,)
    )
    for verbs in groups:
        for verb in verbs:
            p = low.rfind(verb)
            while p >= 0:
                e = p + len(verb)
                if (p == 0 or not low[p - 1].isalnum()) and (e >= n or not low[e].isalnum()):
                    best = max(best, e)
                    break
                p = low.rfind(verb, 0, p)
    for verb in _VERBS_CJK:
        p = low.rfind(verb)
        if p >= 0:
            best = max(best, p + len(verb))
    return best


def _ends_with_address(c: str) -> bool:
    """Does ``c`` end (before its colon) with an e-mail address, maybe in <>?"""
    tail = c.rstrip(" :：")
    if tail.endswith(">"):
        lt = tail.rfind("<")
        return lt >= 0 and len(tail) - lt <= 320 and _EMAIL_TOKEN.match(tail[lt:]) is not None
    token = tail[tail.rfind(" ") + 1 :]
    return _EMAIL_TOKEN.match(token) is not None


def _attribution_strength(cand: str) -> int:
    """2 = strong attribution, 1 = weak ("Name wrote:"), 0 = not an attribution."""
    if len(cand) > 600:
        return 0
    c = cand.strip("*_ ")
    if not c:
        return 0
    low = c.lower()
    if c[0] in _DASHES and c[-1] in _DASHES:  # "---- Name wrote ----"
        inner = c.lstrip(_DASHES)
        lead = len(c) - len(inner)
        inner = inner.rstrip(_DASHES)
        trail = len(c) - lead - len(inner)
        inner_low = inner.strip().lower()
        if lead >= 2 and trail >= 2 and len(inner_low) <= 300:
            e = _last_verb_end(inner_low)
            if e >= 0 and len(inner_low) - e <= 100:
                return 2
        return 0
    if not _COLON_END.search(c):
        # "2011/4/7 Name <addr>" right above a quote (weak: needs the quote)
        if len(c) <= 200 and c.endswith(">") and _ends_with_address(c) and _DATE_EVIDENCE.search(c):
            return 1
        return 0
    opener = _OPENER_START.match(c) is not None
    e = _last_verb_end(low, weak_too=opener)
    verb_ok = e >= 0 and len(low) - e <= _VERB_TAIL
    if opener and verb_ok:
        return 2
    evidence_date = _DATE_EVIDENCE.search(c) is not None
    if verb_ok and (evidence_date or _ADDRESS.search(c) is not None):
        return 2
    if evidence_date and len(c) <= 300 and _ends_with_address(c):
        return 2  # verb-less "<date>, <name> <addr>:"
    if verb_ok and len(c) <= 110 and not low[e:].rstrip(" :：*_"):
        return 1  # short "Name wrote:"
    return 0


def split_prefix(first: str, rest: str) -> str | None:
    """Text in front of an attribution that shares its first (raw) line, or None."""
    if len(first) > _MAX_VIEW:
        return None
    for m in _MID_OPENER.finditer(first):
        head = first[: m.start()]
        if "@" in head or "<" in head or head.lstrip().startswith(">"):
            return None
        suffix = line_view(first[m.end() :]) + rest
        if _OPENER_START.match(suffix.strip("*_ ")) and _attribution_strength(suffix) == 2:
            return first[: m.start()].rstrip(" -")
    return None


def attribution_at(views: list[str], quoted: list[bool], i: int) -> tuple[int, int, int]:
    """Find an attribution that starts at line ``i`` (maybe wrapped).

    Returns ``(start, end, strength)`` with ``end`` exclusive, or ``(i, i, 0)``.
    """
    n = len(views)
    if not views[i]:
        return i, i, 0
    if quoted[i]:
        return i, i, 0
    for j in range(i, min(n, i + MAX_JOIN)):
        if j > i and (not views[j] or (quoted[j] and not views[j - 1].endswith("="))):
            break
        vj = views[j]
        if not may_end_attribution(vj):
            continue
        if vj.endswith(">"):
            k = j + 1
            while k < n and not views[k]:
                k += 1
            if k >= n or not quoted[k]:
                continue  # an address at the end only counts right above a quote
        strength = _attribution_strength(join(views, i, j + 1))
        if strength:
            start = i
            # prefer the shortest tail that still matches ("Thanks. On ... wrote:"),
            # but never one that loses the date ("<addr> wrote:" alone)
            dated = _DATE_EVIDENCE.search(join(views, i, j + 1)) is not None
            while start < j and not _ATTR_START.match(views[start]):
                shorter = join(views, start + 1, j + 1)
                s2 = _attribution_strength(shorter)
                if not s2 or (dated and _DATE_EVIDENCE.search(shorter) is None):
                    break
                start, strength = start + 1, s2
            return start, j + 1, strength
        break
    return i, i, 0


def split_lines(text: str) -> list[str]:
    """The lines of ``text``, split at CRLF, CR or LF."""
    return text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
