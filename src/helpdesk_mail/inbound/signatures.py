"""Signatures and client sign-offs: where the customer's message ends.

Signature rule (one rule, plain text and HTML alike).  The customer's message ends
where a signature begins: an RFC 3676 delimiter line (``SIGNATURE_DELIMITERS``:
exactly "-- "; in rendered HTML, whose rendering drops trailing spaces, a line "--")
that follows something the sender wrote cuts the text there -- the signature and a
mailing-list footer under it are dropped, up to the quoted history.  A run of
client sign-offs ending the text ("Sent from my iPhone", "Von meinem iPhone
gesendet", "Get Outlook for Android", "Sent with Sparrow"; ``MOBILE_SIGNATURES``)
is dropped when the sender also signed off otherwise above it (a closing and a
name); when it is the message's only sign-off it is part of the message and kept.
Everything else the sender wrote is kept: closings and names ("Best
regards,\nDana"), "--" without its space, a "-- " line with nothing written above
it, and a sentence that merely starts like a sign-off ("Sent from my desk, is much
easier ...": at most four device words).  :func:`strip_signature` gives the stricter
visible text of parsers that also remove closings and "____" list footers; the reply
functions never apply it.

The reply rules (`quotes`) apply the delimiter and the sign-offs
(`is_signature_delimiter`, `mobile_signoff`, `trim_tail`); the tables are data,
compiled once.  Everything is pure and total, and linear in the input.

Internal: not part of the public API (docs/architecture.md, "The public surface").
"""

from __future__ import annotations

import re

from .quote_patterns import alternation, is_rule, line_view, phrase, split_lines

__all__ = [
    "MOBILE_SIGNATURES",
    "SIGNATURE_DELIMITERS",
    "SIGNATURE_VALEDICTIONS",
    "is_mobile",
    "is_signature_delimiter",
    "mobile_signoff",
    "strip_signature",
    "trim_tail",
]

MOBILE_SIGNATURES: tuple[tuple[str, str], ...] = (
    ("en_sent_from_my", r"sent from my(?:\s+[^\s,;:!?]+){1,4}"),
    ("en_sent_from_app", r"sent from (?:mail|outlook|yahoo|aol|samsung|proton|gmail|"
     r"blackberry|windows|my)(?:\s+[^\s,;:!?]+){0,4}"),
    ("en_sent_via", r"sent via (?:blackberry|samsung|android|the samsung)(?:\s+[^\s,;:!?]+){0,4}"),
    ("en_get_outlook", r"get outlook for (?:ios|android|mac|windows)"),
    ("de_von_meinem", r"von meinem(?:\s+[^\s,;:!?]+){1,4}\s+gesendet"),
    ("de_gesendet_von", r"gesendet (?:von|mit) (?:meinem|mail für|outlook|yahoo)"
     r"(?:\s+[^\s,;:!?]+){0,4}"),
    ("fr_envoye_de", r"envoy[ée] (?:de|depuis) (?:mon|yahoo|outlook)(?:\s+[^\s,;:!?]+){0,4}"),
    ("fr_telecharger_outlook", r"t[ée]l[ée]charger outlook pour (?:ios|android)"),
    ("es_enviado_desde", r"enviado desde (?:mi|yahoo|outlook)(?:\s+[^\s,;:!?]+){0,4}"),
    ("es_obtener_outlook", r"obtener outlook para (?:ios|android)"),
    ("it_inviato_da", r"inviato da(?:l mio)? (?:iphone|ipad|yahoo|outlook|smartphone|"
     r"samsung|android)(?:\s+[^\s,;:!?]+){0,4}"),
    ("nl_verstuurd_vanaf", r"(?:verstuurd|verzonden) (?:vanaf|van) mijn(?:\s+[^\s,;:!?]+){1,4}"),
    ("pt_enviado_do", r"enviado do (?:meu )?(?:iphone|ipad|yahoo|outlook|smartphone|samsung|"
     r"android)(?:\s+[^\s,;:!?]+){0,4}"),
    ("sv_skickat_fran", r"skickat från (?:min|yahoo|outlook)(?:\s+[^\s,;:!?]+){0,4}"),
    ("da_sendt_fra", r"sendt fra (?:min|yahoo|outlook)(?:\s+[^\s,;:!?]+){0,4}"),
    ("da_hent_outlook", r"hent outlook til (?:ios|android)"),
    ("fi_lahetetty", r"lähetetty (?:iphonesta|ipadista|androidista|puhelimesta)"),
    ("pl_wyslane_z", r"wysłan[eo] z (?:mojego |)(?:iphone|ipad|smartfona|telefonu|samsung|"
     r"android|aplikacji)[^\s,;:!?]*(?:\s+[^\s,;:!?]+){0,3}"),
    ("cs_odeslano_z", r"odesláno z (?:mého |)(?:iphonu|ipadu|telefonu|samsung|android)"
     r"[^\s,;:!?]*(?:\s+[^\s,;:!?]+){0,3}"),
    ("ru_otpravleno_s", r"отправлено с (?:моего )?(?:iphone|ipad|android|samsung|мобильного|"
     r"телефона)[^\s,;:!?]*(?:\s+[^\s,;:!?]+){0,3}"),
    ("uk_nadislano_z", r"надіслано з (?:мого )?(?:iphone|ipad|android|samsung)"
     r"(?:\s+[^\s,;:!?]+){0,3}"),
    ("ja_kara_soshin", r"(?:iphone|ipad|android|galaxy|xperia|aquos)[^\s]{0,10}\s?から送信"),
    ("ja_outlook", r"outlook for (?:ios|android) を入手"),
    ("zh_fa_zi_wo_de", r"发自我的\s?\S{1,20}"),
    ("zh_cong_wo_de", r"[从從]我的\s?\S{1,20}\s?(?:发送|傳送|傳送)"),
    ("ko_eseo_bonaem", r"(?:내\s)?\S{1,20}에서 보냄"),
    ("tr_gonderildi", r"(?:iphone|ipad|android|samsung)\S{0,10} gönderildi"),
    ("he_nishlach", r"נשלח מה-?\s?(?:iphone|ipad|android)"),
    ("en_sent_with_client", r"sent (?:with|using) (?:sparrow|airmail|spark|newton|blue mail|"
     r"bluemail|edison mail|proton mail|protonmail|mailbox|my mobile)(?:\s+[^\s,;:!?]+){0,4}"),
    ("de_nachricht_gesendet", r"diese nachricht wurde von meinem(?:\s+[^\s,;:!?]+){1,6}"
     r"\s+gesendet"),
    ("de_mobilgeraet", r"von meinem mobilger[äa]t gesendet"),
)  # fmt: skip
"""Client sign-offs ("Sent from my iPhone"): (name, regex) of whole lines.

Invariant: a run of them ending the new text is dropped (a device's boilerplate, not
the customer's words); a line that merely starts like one ("Sent from my desk, is
much easier ...") does not match: at most four device words."""

SIGNATURE_DELIMITERS: tuple[str, ...] = ("-- ", "--\u00a0")
"""Whole lines that open a signature (RFC 3676 section 4.3: dash, dash, space).

The new text ends at the first of them that follows something the sender wrote:
the delimiter and everything under it (the signature, a mailing-list footer) is
dropped up to the quoted history.  Matched on the raw line without its line end, so
"--" without the space (typed, or stripped by a client) is text, not a delimiter.
HTML rendering drops trailing spaces, so in HTML a line that is only "--" counts
(HTML signatures are inserted by the client: Gmail's ``-- <br>``, Thunderbird's
``moz-signature``)."""

SIGNATURE_VALEDICTIONS: tuple[str, ...] = (
    "best regards", "kind regards", "warm regards", "regards", "best wishes", "best", "cheers",
    "thanks", "thank you", "many thanks", "thanks and regards", "sincerely", "yours sincerely",
    "yours truly", "cordially", "mit freundlichen grüßen", "mit freundlichen grüssen",
    "freundliche grüße", "viele grüße", "beste grüße", "liebe grüße", "gruß", "grüße",
    "cordialement", "bien cordialement", "bien à vous", "salutations", "saludos",
    "un saludo", "atentamente", "cordiali saluti", "distinti saluti", "saluti",
    "met vriendelijke groet", "met vriendelijke groeten", "vriendelijke groet", "groeten",
    "groet", "atenciosamente", "abraços", "cumprimentos", "med vänlig hälsning",
    "med vänliga hälsningar", "vänliga hälsningar", "hälsningar", "mvh", "med venlig hilsen",
    "venlig hilsen", "hilsen", "med vennlig hilsen", "vennlig hilsen", "ystävällisin terveisin",
    "terveisin", "pozdrawiam", "z poważaniem", "pozdrowienia", "s pozdravem", "s pozdravom",
    "с уважением", "с наилучшими пожеланиями", "з повагою", "saygılarımla",
    "üdvözlettel", "udvozlettel", "üdv", "udv", "tisztelettel", "με εκτίμηση", "cu stimă",
    "kh", "vh", "mfg", "lg", "vg", "gruss", "grüsse", "z powazaniem", "serdecznie pozdrawiam",
    "greetings", "thx", "merci", "merci d'avance", "gracias", "grazie", "bedankt", "tack",
    "よろしくお願いいたします",
    "よろしくお願いします", "此致", "祝好", "감사합니다",
)  # fmt: skip
"""Closing phrases that start a signature (used by :func:`strip_signature` only)."""

_MOBILE = re.compile(
    r"^(?:" + "|".join(f"(?:{p})" for _, p in MOBILE_SIGNATURES) + r")\.?"
    r"\s*(?:<[^<>\s]{1,300}>|\([^()\s]{1,300}\)|\[[^\[\]\s]{1,300}\])?\s*$",
    re.I,
)

_VALEDICTION = re.compile(
    rf"^(?:{alternation([phrase(v) for v in SIGNATURE_VALEDICTIONS])})[\s,.!:;-]*$", re.I
)
_SIG_DELIM = re.compile(r"^(?:--|—|__+)\s*$")
_SIGNATURE_DELIMITERS = frozenset(SIGNATURE_DELIMITERS)
_SIG_DASH_NAME = re.compile(r"^[-–—~/]\s?[^\W\d_][\w.'’-]*(?:\s[\w.'’-]+){0,3}$")


def is_mobile(view: str) -> bool:
    """Is the line a client sign-off (``MOBILE_SIGNATURES``) of at most 200 characters?"""
    return len(view) <= 200 and _MOBILE.match(view) is not None


def trim_tail(lines: list[str], drop_mobile: bool) -> list[str]:
    """Drop trailing blank lines, rule lines and (optionally) mobile boilerplate."""
    while lines:
        v = line_view(lines[-1])
        if not v or is_rule(v) or (drop_mobile and is_mobile(v)):
            lines.pop()
            continue
        break
    return lines


def mobile_signoff(lines: list[str]) -> list[str]:
    """`lines` without a trailing mobile sign-off when the sender also signed off otherwise
    ("Thanks,\nJane\n\nSent from my iPhone"); a message whose only sign-off is the
    mobile line keeps it (it is then part of the message: the signature rule above)."""
    rest = trim_tail(list(lines), drop_mobile=True)
    if len(rest) == len(lines) or not rest:
        return lines
    return rest if _signature_start(rest) > 0 else lines


def is_signature_delimiter(line: str, view: str, html: bool) -> bool:
    """An RFC 3676 signature delimiter line (see ``SIGNATURE_DELIMITERS``)."""
    return (html and view == "--") or line in _SIGNATURE_DELIMITERS


def strip_signature(text: str) -> str:
    """``text`` without a trailing signature, for a stricter notion of visible text.

    Removes, from the end: a "-- " signature block, a mailing-list footer after a
    line of underscores, a "-Name" / "/Name" sign-off, a valediction line
    ("Best regards," / "Med venlig hilsen" ...) followed by a few short lines, and
    mobile boilerplate.  Not applied by the reply functions (ordinary signatures
    are kept by policy); never raises.
    """
    if not isinstance(text, str) or not text:
        return ""
    lines = split_lines(text)
    for _ in range(6):
        lines = trim_tail(lines, drop_mobile=True)
        cut = _signature_start(lines)
        if cut <= 0:
            break
        lines = lines[:cut]
    return "\n".join(trim_tail(lines, drop_mobile=True)).rstrip()


def _signature_start(lines: list[str]) -> int:
    """Index where a trailing signature starts, or -1."""
    views = [line_view(line) for line in lines]
    nonblank_after = 0
    best = -1
    for k in range(len(lines) - 1, -1, -1):
        v = views[k]
        raw = lines[k].rstrip("\n")
        if not v:
            continue
        if raw.rstrip() in ("--", "-- ") or _SIG_DELIM.match(v):
            if nonblank_after <= 20:
                best = k
        elif nonblank_after <= 6 and (
            _VALEDICTION.match(v) or (_SIG_DASH_NAME.match(v) and len(v) <= 40)
        ):
            best = k
        nonblank_after += 1
        if nonblank_after > 25:
            break
    return best
