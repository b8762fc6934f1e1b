"""Extract only the NEW text of an email reply: quoted history removed.

Public API: :func:`reply_text_from_plain`, :func:`reply_text_from_html`,
:func:`html_to_text` (re-exported from :mod:`helpdesk_mail.text`, ``READING`` style)
and :func:`strip_signature`.  The rules are data: the tables below
(``ATTRIBUTION_OPENERS`` / ``ATTRIBUTION_VERBS``, ``HEADER_LABELS``,
``ORIGINAL_MESSAGE_PHRASES``, ``FORWARD_PHRASES``, ``FORWARD_LINES``,
``REPLY_ABOVE_MARKERS``, ``MOBILE_SIGNATURES``, ``SIGNATURE_VALEDICTIONS``,
``HTML_MARKERS``) are compiled once; adding a language or a client is a table
row, not code.

Plain text is scanned line by line, top to bottom.  For each line, in order:

* our own reply marker (``helpdesk_mail.reply_marker``) cuts the text exactly, before
  any other rule: what is above its top line (without the client's quote intro) and
  below its bottom line is the new text;
* a helpdesk "reply above this line" marker (a line that is the phrase alone, maybe
  decorated: ``-- Please reply above this line --``) cuts the text there;
* lines quoted with ``>`` are dropped; unquoted text *between or after* quote
  blocks is kept, so inline and bottom-posted answers survive;
* an attribution ("On <date>, <name> wrote:" in ~30 languages, wrapped over up
  to four lines, sharing its line with the reply, damaged by undecoded
  quoted-printable, or the verb-less "<date>, <name> <addr>:" form) is dropped
  together with the ``>`` quote below it; when no ``>`` quote follows (Gmail
  "inbox" style, Outlook for Mac, Thunderbird forwards) everything from it on
  is cut;
* an "Original Message" separator, a forwarded-message marker, or an
  Outlook-style header block (From/Sent/To/Subject in ~25 languages: From +
  Date/Sent + one more field, or From + To + Subject) cuts the text there --
  unless nothing was written above it, in which case the message *is* the
  forwarded content and is kept whole.

HTML is rendered to text while the first quote marker is located (Gmail
``div.gmail_quote``, Apple/Thunderbird ``blockquote type=cite``, Thunderbird
``moz-cite-prefix``, Outlook ``divRplyFwdMsg`` / ``appendonsend`` / border-top
separator div / ``OLK_SRC_BODY_SECTION``, ``<hr>`` followed by a header block,
Yahoo ``yahoo_quoted``, Zimbra, Roundcube, ProtonMail, ...); the text before it
is kept and the plain-text rules are applied to it.  Other ``<blockquote>``
elements are rendered as ``> `` lines, so the plain rules decide about them.

Output: kept lines with line ends normalised to ``\\n``; the gap left by a
removed block is squeezed to one empty line; trailing whitespace, trailing rule
lines (``____`` / ``----``) and trailing mobile boilerplate are trimmed.  A body
with no history is otherwise returned as is (leading blank lines and
indentation included); when something was removed, leading blank lines go too.

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

HTML blockquotes.  A ``<blockquote>`` without a client quote marker is judged as a
``>`` quote only when the text shows history (an attribution line or a
forward/original separator); in a message without any (a new ticket), blockquotes
are the writer's formatting (the indent button) and their text is kept, except
ones marked as quotations (a ``cite`` attribute, a quote class, a left quote bar).

Everything is pure and total: no function raises on any ``str`` (other input
types give ""), and work is linear in the input.  Patterns run on one line at
a time (at most ``_MAX_VIEW`` characters; a few joined lines for a wrapped
attribution, at most 600 characters), quantifiers are bounded, verbs are
found with ``str.find``; HTML is tokenized in one pass (at most
``MAX_HTML_CHARS``) and at most ``_MAX_MARKS_JUDGED`` markers are examined.

Internal: not part of the public API (docs/architecture.md, "The public surface").
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from ..reply_marker import END_CLASS, START_CLASS, is_marker_line
from ..text import REPLY, REPLY_MARKED, AttrMap, HtmlRender, finish_text, html_to_text

__all__ = [
    "ATTRIBUTION_OPENERS",
    "ATTRIBUTION_VERBS",
    "FORWARD_LINES",
    "FORWARD_PHRASES",
    "HEADER_LABELS",
    "HTML_MARKERS",
    "MOBILE_SIGNATURES",
    "ORIGINAL_MESSAGE_PHRASES",
    "REPLY_ABOVE_MARKERS",
    "REPLY_ABOVE_POLITE",
    "SIGNATURE_DELIMITERS",
    "SIGNATURE_VALEDICTIONS",
    "HtmlMarker",
    "html_to_text",
    "reply_html",
    "reply_text_and_html",
    "reply_text_from_html",
    "reply_text_from_plain",
    "strip_signature",
]

# ---------------------------------------------------------------------------
# Data: pattern tables.  Plain strings unless a table says "regex"; all are
# matched case-insensitively against a normalised view of one line (``_view``).
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


@dataclass(frozen=True)
class HtmlMarker:
    """One HTML quote marker: a start tag whose attribute matches ``pattern``."""

    name: str
    tag: str  # "*" = any element
    attribute: str  # "" = the tag alone is the marker
    pattern: str  # regex searched in the attribute value (case-insensitive)
    needs_header: bool = False  # only a boundary when a quoted header block follows


HTML_MARKERS: tuple[HtmlMarker, ...] = (
    # div only: a lone blockquote.gmail_quote is Gmail's "quote" button (rendered as "> ")
    HtmlMarker("gmail_quote", "div", "class", r"(?:^|\s)gmail_quote(?:_container)?(?:\s|$)"),
    HtmlMarker("apple_thunderbird_cite", "blockquote", "type", r"^\s*cite\s*$"),
    HtmlMarker("thunderbird_cite_prefix", "*", "class", r"(?:^|\s)moz-cite-prefix(?:\s|$)"),
    HtmlMarker("outlook_web_reply", "*", "id", r"^(?:x_)*divRplyFwdMsg$"),
    HtmlMarker("outlook_web_append", "*", "id", r"^(?:x_)*appendonsend$"),
    HtmlMarker("outlook_mac", "*", "id", r"OLK_SRC_BODY_SECTION"),
    HtmlMarker("outlook_2003_header", "*", "class", r"(?:^|\s)OutlookMessageHeader(?:\s|$)"),
    # Outlook desktop (border:none;border-top:solid #E1E1E1 1.0pt), Windows Mail
    # (border-top-color: rgb(229, 229, 229)) and the like: any top border, confirmed
    # by a quoted header block right after it
    HtmlMarker("border_top_separator", "*", "style", r"border-top", needs_header=True),
    HtmlMarker("hotmail_stop_spelling", "*", "id", r"^stopSpelling$"),
    HtmlMarker("hr_before_header", "hr", "", r"", needs_header=True),
    HtmlMarker("yahoo_quoted", "*", "class", r"yahoo_quoted|yahoo-quoted-begin"),
    HtmlMarker("yahoo_quoted_id", "*", "id", r"yahoo_quoted"),
    HtmlMarker("zimbra_divider", "*", "id", r"^zwchr$"),
    HtmlMarker("zimbra_marker", "*", "data-marker", r"^__(?:DIVIDER|HEADERS|QUOTED_TEXT)__$"),
    HtmlMarker("roundcube_intro", "*", "id", r"^reply-intro$"),
    HtmlMarker("protonmail_quote", "*", "class", r"(?:^|\s)protonmail_quote(?:\s|$)"),
    HtmlMarker("div_name_quote", "div", "name", r"^quote$"),
    HtmlMarker("outlook_reference", "*", "id", r"^mail-editor-reference-message-container$"),
    HtmlMarker("front_blockquote", "*", "class", r"front-blockquote"),
    HtmlMarker("freescout_reply_above", "*", "class", r"fsReplyAbove"),
    HtmlMarker("freescout_reply_above_id", "*", "id", r"fsReplyAbove"),
)
"""HTML quote markers; the text is cut at the first one (in document order) that applies."""

_ALWAYS_CUT_HTML = frozenset({"freescout_reply_above", "freescout_reply_above_id"})

# ---------------------------------------------------------------------------
# Compiled forms
# ---------------------------------------------------------------------------

_MAX_VIEW = 1000  # characters of a line looked at by the patterns
_MAX_JOIN = 4  # lines an attribution may be wrapped over
_HEADER_SCAN = 10  # lines examined for one header block

_QP_ESCAPES = re.compile(r"(?:=[0-9A-F]{2}){1,64}")
_INVISIBLE = re.compile("[\u200b-\u200f\u202a-\u202e\u2060-\u2069\ufeff\u00ad]")
_SPACES = re.compile("[\u00a0\u2000-\u200a\u202f\u205f\u3000\t]+")


def _alternation(items: Sequence[str]) -> str:
    # longest first so that "Kopie (CC)" wins over "Kopie"
    return "|".join(sorted(set(items), key=len, reverse=True))


def _phrase(p: str) -> str:
    return re.escape(p).replace("\\ ", "\\s+")


_OPENER = _alternation([o for os in ATTRIBUTION_OPENERS.values() for o in os])
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
_LABELS_RX = _alternation([_phrase(lbl) for ls in HEADER_LABELS.values() for lbl in ls])
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
    rf"^[{_DASH}]{{2,}}+\s*(?:{_alternation([_phrase(p) for p in ORIGINAL_MESSAGE_PHRASES])})"
    rf"(?:\s.{{0,60}}?)?\s*[{_DASH}]{{2,}}\s*$",
    re.I,
)
_FORWARD = re.compile(
    rf"^[{_DASH}]{{2,}}+\s*(?:{_alternation([_phrase(p) for p in FORWARD_PHRASES])})"
    rf"(?:\s.{{0,60}}?)?\s*[{_DASH}]{{2,}}\s*$",
    re.I,
)
_FORWARD_LINE = re.compile(
    rf"^(?:{_alternation([_phrase(p) for p in FORWARD_LINES])})\s*[:：]?\s*$",
    re.I,
)
_REPLY_ABOVE = re.compile(
    rf"[\W_]*(?:(?:{_alternation([_phrase(w) for w in REPLY_ABOVE_POLITE])})\s+)?"
    rf"(?:{'|'.join(f'(?:{p})' for _, p in REPLY_ABOVE_MARKERS)})[\W_]*",
    re.I,
)
_MOBILE = re.compile(
    r"^(?:" + "|".join(f"(?:{p})" for _, p in MOBILE_SIGNATURES) + r")\.?"
    r"\s*(?:<[^<>\s]{1,300}>|\([^()\s]{1,300}\)|\[[^\[\]\s]{1,300}\])?\s*$",
    re.I,
)
_URL_CHARS = re.compile(r"https?:|[/=?&]")
_VALEDICTION = re.compile(
    rf"^(?:{_alternation([_phrase(v) for v in SIGNATURE_VALEDICTIONS])})[\s,.!:;-]*$", re.I
)
_SIG_DELIM = re.compile(r"^(?:--|—|__+)\s*$")
_SIGNATURE_DELIMITERS = frozenset(SIGNATURE_DELIMITERS)
_SIG_DASH_NAME = re.compile(r"^[-–—~/]\s?[^\W\d_][\w.'’-]*(?:\s[\w.'’-]+){0,3}$")


# ---------------------------------------------------------------------------
# Line helpers
# ---------------------------------------------------------------------------


def _qp_run(m: re.Match[str]) -> str:
    raw = bytes.fromhex(m.group(0).replace("=", ""))
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


def _view(line: str) -> str:
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


def _join(views: list[str], a: int, b: int) -> str:
    """Lines ``a..b-1`` as one candidate; a QP soft break ("=" at the end) joins tightly."""
    parts: list[str] = []
    for k in range(a, b):
        v = views[k]
        if parts and parts[-1].endswith("="):
            parts[-1] = parts[-1][:-1] + v
        else:
            parts.append(v)
    return " ".join(parts)


def _is_rule(view: str) -> bool:
    """A line made only of dashes, underscores, equals signs... (``____``, ``-----``)."""
    return bool(view) and not view.strip(_DASH + " \t")


def _is_wrapped_link(view: str) -> bool:
    """One token with URL characters: a link wrapped out of a quote block."""
    token = view.rstrip("> ").strip()
    return bool(token) and " " not in token and _URL_CHARS.search(token) is not None


def _is_separator(view: str) -> bool:
    """An "Original Message" separator or a forwarded-message marker line."""
    if view[:1] in _DASH:
        return _ORIGINAL.match(view) is not None or _FORWARD.match(view) is not None
    return len(view) <= 80 and _FORWARD_LINE.match(view) is not None


def _is_mobile(view: str) -> bool:
    return len(view) <= 200 and _MOBILE.match(view) is not None


def _is_reply_above(view: str) -> bool:
    if len(view) > 120:
        return False
    low = view.lower()
    if "above" not in low and "oberhalb" not in low and "dessus" not in low:
        return False
    return _REPLY_ABOVE.fullmatch(view) is not None


def _quoted_lines(lines: list[str], views: list[str]) -> list[bool]:
    """Which lines are ``>`` quotes.

    A ">From ..." line outside a quote block is mbox escaping of "From ", not a quote.
    """
    quoted = [False] * len(lines)
    previous = False  # the previous non-blank line is quoted
    for k, line in enumerate(lines):
        if not views[k]:
            continue
        q = _is_quoted(line)
        if q and not previous and line.startswith(">From ") and line[6:].strip():
            q = False
        quoted[k] = previous = q
    return quoted


def _may_end_attribution(view: str) -> bool:
    """Cheap test: can an attribution end on this line (colon, closing dashes, address)?"""
    return view[-1:] in _END_CHARS


def _is_quoted(line: str) -> bool:
    stripped = line.lstrip(" \t\u00a0\ufeff")
    return stripped.startswith(">") and len(line) - len(stripped) <= 4


def _header_kind(view: str) -> str | None:
    head = view[:48]
    if ":" not in head and "：" not in head:
        return None
    m = _HEADER_LINE.match(view)
    if m is None:
        return None
    label = re.sub(r"\s+", " ", m.group("label")).casefold()
    return _LABEL_KIND.get(label, "other")


def _header_block(views: list[str], kinds_of: list[str | None], i: int, loose: bool = False) -> int:
    """If an Outlook-style header block starts at line ``i``, return its end index, else -1.

    ``kinds_of[k]`` is :func:`_header_kind` of line ``k``.  ``loose`` (used right after
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


def _split_prefix(first: str, rest: str) -> str | None:
    """Text in front of an attribution that shares its first (raw) line, or None."""
    if len(first) > _MAX_VIEW:
        return None
    for m in _MID_OPENER.finditer(first):
        head = first[: m.start()]
        if "@" in head or "<" in head or head.lstrip().startswith(">"):
            return None
        suffix = _view(first[m.end() :]) + rest
        if _OPENER_START.match(suffix.strip("*_ ")) and _attribution_strength(suffix) == 2:
            return first[: m.start()].rstrip(" -")
    return None


def _attribution_at(views: list[str], quoted: list[bool], i: int) -> tuple[int, int, int]:
    """Find an attribution that starts at line ``i`` (maybe wrapped).

    Returns ``(start, end, strength)`` with ``end`` exclusive, or ``(i, i, 0)``.
    """
    n = len(views)
    if not views[i]:
        return i, i, 0
    if quoted[i]:
        return i, i, 0
    for j in range(i, min(n, i + _MAX_JOIN)):
        if j > i and (not views[j] or (quoted[j] and not views[j - 1].endswith("="))):
            break
        vj = views[j]
        if not _may_end_attribution(vj):
            continue
        if vj.endswith(">"):
            k = j + 1
            while k < n and not views[k]:
                k += 1
            if k >= n or not quoted[k]:
                continue  # an address at the end only counts right above a quote
        strength = _attribution_strength(_join(views, i, j + 1))
        if strength:
            start = i
            # prefer the shortest tail that still matches ("Thanks. On ... wrote:"),
            # but never one that loses the date ("<addr> wrote:" alone)
            dated = _DATE_EVIDENCE.search(_join(views, i, j + 1)) is not None
            while start < j and not _ATTR_START.match(views[start]):
                shorter = _join(views, start + 1, j + 1)
                s2 = _attribution_strength(shorter)
                if not s2 or (dated and _DATE_EVIDENCE.search(shorter) is None):
                    break
                start, strength = start + 1, s2
            return start, j + 1, strength
        break
    return i, i, 0


# ---------------------------------------------------------------------------
# Plain text
# ---------------------------------------------------------------------------


class _Out:
    """Collects kept lines; squeezes the gap left by removed blocks to one empty line."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.gap = False

    def drop(self) -> None:
        self.gap = True

    def keep(self, line: str, blank: bool) -> None:
        if self.gap:
            if blank:
                return
            while self.lines and not self.lines[-1].strip():
                self.lines.pop()
            if self.lines:
                self.lines.append("")
            self.gap = False
        self.lines.append(line)


def _split_lines(text: str) -> list[str]:
    return text.replace("\r\n", "\n").replace("\r", "\n").split("\n")


def _trim_tail(lines: list[str], drop_mobile: bool) -> list[str]:
    """Drop trailing blank lines, rule lines and (optionally) mobile boilerplate."""
    while lines:
        v = _view(lines[-1])
        if not v or _is_rule(v) or (drop_mobile and _is_mobile(v)):
            lines.pop()
            continue
        break
    return lines


def _mobile_signoff(lines: list[str]) -> list[str]:
    """`lines` without a trailing mobile sign-off when the sender also signed off otherwise
    ("Thanks,\nJane\n\nSent from my iPhone"); a message whose only sign-off is the
    mobile line keeps it (it is then part of the message: the signature rule above)."""
    rest = _trim_tail(list(lines), drop_mobile=True)
    if len(rest) == len(lines) or not rest:
        return lines
    return rest if _signature_start(rest) > 0 else lines


def _is_signature_delimiter(line: str, view: str, html: bool) -> bool:
    """An RFC 3676 signature delimiter line (see ``SIGNATURE_DELIMITERS``)."""
    return (html and view == "--") or line in _SIGNATURE_DELIMITERS


def _new_lines(lines: list[str], cut_below: bool = False, html: bool = False) -> list[str]:
    """Kept lines of ``lines``; ``cut_below``: quoted history was cut off after the end;
    ``html``: the lines are rendered HTML (its rendering drops trailing spaces)."""
    views = [_view(line) for line in lines]
    kinds_of = [_header_kind(v) for v in views]
    quoted = _quoted_lines(lines, views)
    out = _Out()
    n = len(lines)
    next_end = [n] * (n + 1)  # next line where an attribution could end
    for k in range(n - 1, -1, -1):
        next_end[k] = k if _may_end_attribution(views[k]) else next_end[k + 1]
    content = False  # something the sender wrote has been kept
    i = 0
    while i < n:
        line, v = lines[i], views[i]
        if not v:
            out.keep(line, True)
            i += 1
            continue
        if not quoted[i] and _is_reply_above(v):
            break
        if content and _is_signature_delimiter(line, v, html):
            break  # the signature and what is under it (a list footer) are not the message
        if quoted[i] or (
            i > 0 and quoted[i - 1] and i + 1 < n and quoted[i + 1] and _is_wrapped_link(v)
        ):
            out.drop()
            i += 1
            continue
        if next_end[i] - i < _MAX_JOIN:
            start, end, strength = _attribution_at(views, quoted, i)
        else:
            start, end, strength = i, i, 0
        if strength and start == i:  # (an attribution starting further down is met later)
            k = end
            while k < n and not views[k]:
                k += 1
            # a weak "Name wrote:" needs a real quote below it; a strong one also ends
            # the text (everything below it is history, e.g. after an HTML cut)
            followed_by_quote = (k < n and quoted[k]) or (k >= n and cut_below)
            if followed_by_quote or strength == 2:
                prefix = _split_prefix(line, " " + _join(views, i + 1, end))
                if prefix and _is_reply_above(_view(prefix)):
                    break
                if prefix:
                    out.keep(prefix, False)
                    content = True
                if not followed_by_quote:
                    break
                out.drop()
                i = end
                continue
        if _is_separator(v):
            if content:
                break
            out.keep(line, False)  # forwarded without comment: keep it all
            i += 1
            continue
        block_end = _header_block(views, kinds_of, i) if kinds_of[i] else -1
        if block_end > 0:
            if content:
                break
            for k in range(i, block_end):
                if quoted[k]:
                    out.drop()
                else:
                    out.keep(lines[k], not views[k])
            i = block_end
            continue
        out.keep(line, False)
        if not _is_mobile(v):
            content = True
        i += 1
    return out.lines


def reply_text_from_plain(text: str) -> str:
    """The new text of a plain-text message body.

    Quoted history, reply attribution lines ("On ... wrote:" in many languages),
    Outlook-style header blocks (From:/Sent:/To:/Subject: in many languages),
    "-----Original Message-----" separators and forwarded-history markers are
    removed; a trailing mobile sign-off ("Sent from my iPhone") is dropped when the
    sender also signed off otherwise; trailing whitespace is trimmed.  Never raises.
    """
    if not isinstance(text, str) or not text:
        return ""
    if "##-" not in text:  # no marker line: no list of every line (50 bytes a line)
        return _reply_text(text, cut_below=False)
    lines = _split_lines(text)
    start, end = _marker_lines(lines)
    if start < 0:  # none, or quoted with ">": the quote rules drop it
        return _reply_text(text, cut_below=False)
    return _between_markers(lines[:start], lines[end + 1 :] if end > start else [])


MAX_REPLY_LINES = 10_000
"""Lines of a body (after its leading blank lines) in which quoted history is looked for.
Further lines are kept as they are when the lines looked at end in new text, dropped
when they end in history or a quote: the rules keep several objects per line (a body
of two million blank lines took 25 times its size)."""
_GOES_ON = "HELPDESKMAILTEXTGOESON"  # an ordinary line standing for the lines not looked at
_NOT_SPACE = re.compile(r"\S")


def _reply_text(text: str, cut_below: bool, html: bool = False) -> str:
    normal = text.replace("\r\n", "\n").replace("\r", "\n")
    # Leading blank lines are set aside (kept when nothing is removed, dropped otherwise).
    visible = _NOT_SPACE.search(normal)
    start = normal.rfind("\n", 0, visible.start()) + 1 if visible is not None else len(normal)
    original = normal[start:].split("\n", MAX_REPLY_LINES)
    rest = original.pop() if len(original) > MAX_REPLY_LINES else None
    goes_on = _GOES_ON
    if rest is not None:  # the lines not looked at go on as the last one looked at
        last = next((line for line in reversed(original) if line.strip()), "")
        goes_on = "> " + _GOES_ON if _is_quoted(last) else _GOES_ON
        original.append(goes_on)
    try:
        lines = _mobile_signoff(_trim_tail(_new_lines(original, cut_below, html), False))
    except (RecursionError, MemoryError):  # pragma: no cover - defensive
        return text.rstrip()
    if rest is not None:
        if lines and lines[-1] == goes_on:  # new text up to the lines not looked at
            lines[-1] = original[-1] = rest
        else:
            original.pop()
    removed = len(lines) != len(_trim_tail(original, drop_mobile=False))
    if removed:
        # something was removed: the leading blank lines go too (sliced off at once:
        # deleting them one by one from the front is quadratic)
        first = 0
        while first < len(lines) and not lines[first].strip():
            first += 1
        lines = lines[first:]
    kept = "\n".join(lines).rstrip()
    return normal[:start] + kept if kept and not removed else kept


# ---------------------------------------------------------------------------
# Our own reply markers (helpdesk_mail.reply_marker)
# ---------------------------------------------------------------------------

_INTRO_LINES = 16  # lines above our top marker examined for the client's quote intro


def _marker_lines(lines: list[str]) -> tuple[int, int]:
    """The first unquoted marker line and the last one after it (-1, -1: none).

    Quoted marker lines (``> ##- ... -##``) are left to the quote rules: the quote is
    dropped and what is written around it kept, inline answers included.
    """
    start = end = -1
    for k, line in enumerate(lines):
        if "##-" not in line or _is_quoted(line) or not is_marker_line(line):
            continue
        if start < 0:
            start = k
        end = k
    return start, end


def _strip_intro(lines: list[str]) -> list[str]:
    """``lines`` without what a mail client writes right above a quote: an attribution
    ("On <date>, <name> wrote:"), a header block (From:/Sent:/To:/Subject:), an
    "Original Message" separator, a rule of underscores, blank lines.

    Used only above our top marker, where a quote surely follows: no text is needed
    above these for them to count, and a weak "Name wrote:" counts too.
    """
    lines = list(lines)
    for _ in range(6):
        while lines and (not _view(lines[-1]) or _is_rule(_view(lines[-1]))):
            lines.pop()
        if not lines:
            break
        if _is_separator(_view(lines[-1])):
            lines.pop()
            continue
        first = max(0, len(lines) - _INTRO_LINES)
        views = [_view(line) for line in lines[first:]]
        kinds_of = [_header_kind(v) for v in views]
        quoted = [False] * len(views)
        n = len(views)
        cut = -1
        for k in range(n):
            if kinds_of[k] and _header_block(views, kinds_of, k, loose=True) >= n:
                cut = k
                break
            if n - k <= _MAX_JOIN and _may_end_attribution(views[-1]):
                begin, stop, strength = _attribution_at(views, quoted, k)
                if strength and stop == n:
                    cut = begin
                    break
        if cut < 0:
            break
        lines = lines[: first + cut]
    return lines


def _between_markers(above: list[str], below: list[str]) -> str:
    """The new text of a reply around our quoted notification: what was written above
    its top marker (without the client's quote intro) and below its bottom marker."""
    parts = []
    top = _strip_intro(above)
    if top:
        parts.append(_reply_text("\n".join(top), cut_below=True))
    if below:
        parts.append(_reply_text("\n".join(below), cut_below=False))
    return "\n\n".join(kept for p in parts if (kept := p.lstrip("\n")))


# ---------------------------------------------------------------------------
# HTML
# ---------------------------------------------------------------------------

_HTML_RULES: tuple[tuple[HtmlMarker, re.Pattern[str]], ...] = tuple(
    (m, re.compile(m.pattern, re.I)) for m in HTML_MARKERS
)
_MARKER_BY_NAME = {m.name: m for m in HTML_MARKERS}
_LOOKAHEAD = 4000  # characters of text after a marker used to judge it
_MAX_MARKS_JUDGED = 200  # markers examined per message (bounds work on hostile HTML)


_MARKER_ATTRIBUTES = frozenset(m.attribute for m in HTML_MARKERS if m.attribute)
_BARE_MARKER_TAGS = frozenset(m.tag for m in HTML_MARKERS if not m.attribute)


_OUR_START = "helpdesk_mail_reply_above"
_OUR_END = "helpdesk_mail_reply_end"
_OURS = frozenset({_OUR_START, _OUR_END})
_INTRO_CHARS = 600  # text between a client's quote wrapper and our top marker, at most


def _our_marker(attrs: AttrMap) -> str | None:
    """Our top or bottom marker element (class or id, maybe prefixed by the client)."""
    for name in ("class", "id"):
        value = attrs.get(name)
        if value and "hm-reply-" in value:
            value = value[:2000]
            if END_CLASS in value:
                return _OUR_END
            if START_CLASS in value:
                return _OUR_START
    return None


def _html_marker(tag: str, attrs: AttrMap) -> str | None:
    if tag not in _BARE_MARKER_TAGS and _MARKER_ATTRIBUTES.isdisjoint(attrs):
        return None  # no rule can match (most tags): skip the table
    ours = _our_marker(attrs)
    if ours is not None:
        return ours
    for marker, rx in _HTML_RULES:
        if marker.tag != "*" and marker.tag != tag:
            continue
        if not marker.attribute:
            return marker.name
        value = attrs.get(marker.attribute)
        if value is None:
            continue
        if marker.attribute == "style":
            value = value.replace("\n", " ")
        if rx.search(value[:2000]):
            return marker.name
    return None


def _starts_history(text: str) -> bool:
    """Does ``text`` begin (within its first lines) with quoted headers or a forward marker?"""
    views = [_view(line) for line in _split_lines(text)[:40]]
    kinds_of = [_header_kind(v) for v in views]
    seen = 0
    for i, v in enumerate(views):
        if not v:
            continue
        if _is_separator(v):
            return True
        if kinds_of[i] and _header_block(views, kinds_of, i, loose=True) > 0:
            return True
        seen += 1
        if seen >= 3:
            break
    return False


def reply_text_from_html(html: str) -> str:
    """The new text of an HTML body, as plain text.

    The HTML is cut at the first quote marker (``div.gmail_quote``,
    ``blockquote type=cite``, Outlook ``divRplyFwdMsg`` / border-top separator
    div, Apple Mail, Thunderbird ``moz-cite-prefix``, Yahoo, Zimbra, ...; see
    ``HTML_MARKERS``), what precedes it is rendered as readable text (other
    ``<blockquote>`` contents as ``> `` lines) and the plain-text rules of
    :func:`reply_text_from_plain` are applied too.  Never raises.
    """
    return reply_text_and_html(html)[0]


def reply_html(html: str) -> str:
    """The HTML of the new message: `html` cut where `reply_text_from_html` cuts its text
    (the first quote marker that starts the quoted history), or all of it when nothing is
    cut or nothing visible would be left above the cut. Never raises."""
    return reply_text_and_html(html)[1]


def reply_text_and_html(html: str) -> tuple[str, str]:
    """`reply_text_from_html(html)` and `reply_html(html)` from one rendering of `html`
    (a megabyte of HTML takes a second to render)."""
    if not isinstance(html, str) or not html:
        return "", ""
    job, cut, source = _html_cut(html)
    raw = job.take()  # the render keeps no piece of it: the text is held once less
    above = finish_text(raw[:cut]) if cut >= 0 else ""
    new_html = html if cut < 0 or source <= 0 or not above.strip() else html[:source]
    if _has_our_markers(html):  # our own notification quoted: cut exactly at its markers
        region = _our_region(job.marks, raw)
        if region is not None:
            return _around_our_notification(job.marks, raw, *region), new_html
    text = above if cut >= 0 else finish_text(raw)
    del raw
    if cut < 0 and "\n>" in "\n" + text and not _introduces_history(text):
        # no quote marker and no attribution: the blockquotes were the writer's own
        # formatting (an indented passage), only quote-marked ones are judged as quotes
        text = html_to_text(html, REPLY_MARKED)
    return _reply_text(text, cut_below=cut >= 0, html=True), new_html


def _html_cut(html: str) -> tuple[HtmlRender, int, int]:
    """The rendering of `html` and where its quoted history starts: the offset in the
    rendered text and in the HTML (both -1 when nothing is cut)."""
    job = HtmlRender(html, _html_marker, style=REPLY)
    state = {"judged": 0, "cut": -1, "source": -1}

    def judge(final: bool) -> bool:
        marks = job.marks
        while state["judged"] < len(marks):
            index = state["judged"]
            name, off = marks[index]
            if not final and job.size - off < _LOOKAHEAD:
                return False
            if index >= _MAX_MARKS_JUDGED:
                return False  # stop looking (no cut), keep rendering
            state["judged"] += 1
            if name in _OURS:
                continue
            marker = _MARKER_BY_NAME[name]
            history = _starts_history(finish_text(job.text_after(index, _LOOKAHEAD)))
            if marker.needs_header and not history:
                continue
            if name in _ALWAYS_CUT_HTML or not history or job.visible_before(index):
                state["cut"] = off
                state["source"] = job.source_offset(index)
                return True
            # a forward / history block with nothing above it: it is the content
        return False

    # with our markers (their elements or their lines) the whole document is read
    job.run(None if _has_our_markers(html) else lambda: judge(False))
    if state["cut"] < 0:
        judge(True)
    return job, state["cut"], state["source"]


def _introduces_history(text: str) -> bool:
    """Does ``text`` hold an attribution ("On ... wrote:") or a forward/original separator?"""
    lines = _split_lines(text)
    views = [_view(line) for line in lines]
    quoted = _quoted_lines(lines, views)
    n = len(lines)
    next_end = n
    for i in range(n - 1, -1, -1):
        if _may_end_attribution(views[i]):
            next_end = i
        if not views[i] or quoted[i]:
            continue
        if _is_separator(views[i]):
            return True
        if next_end - i < _MAX_JOIN and _attribution_at(views, quoted, i)[2]:
            return True
    return False


def _has_our_markers(html: str) -> bool:
    """Whether `html` may hold our reply markers (their lines or their elements)."""
    return "##-" in html or "hm-reply-" in html


def _marker_line_spans(raw: str) -> list[tuple[int, int]]:
    """(start, end) offsets of the marker lines of rendered text (quoted or not)."""
    spans: list[tuple[int, int]] = []
    hit = raw.find("##-")
    while hit >= 0:
        start = raw.rfind("\n", 0, hit) + 1
        end = raw.find("\n", hit)
        end = len(raw) if end < 0 else end
        if is_marker_line(raw[start:end]):
            spans.append((start, end))
        hit = raw.find("##-", end)
    return spans


def _our_region(marks: list[tuple[str, int]], raw: str) -> tuple[int, int] | None:
    """Where our quoted notification starts and ends in the rendered text (end -1: its
    bottom marker is gone); None when it is not there.

    The marker elements say it exactly; their lines are the fallback (a client that
    drops classes and ids). The first top marker is the start, the last bottom marker
    after it the end.
    """
    lines = _marker_line_spans(raw)
    start = next((off for name, off in marks if name == _OUR_START), -1)
    if start < 0:
        if not lines:
            return None
        start = lines[0][0]
    end = -1
    for name, off in marks:
        if name == _OUR_END and off >= start:
            end = off
    if end < 0:
        after = [span for span in lines if span[0] >= start]
        if len(after) >= 2:  # the first one is the top line itself
            end = after[-1][1]
    return start, end


def _around_our_notification(marks: list[tuple[str, int]], raw: str, start: int, end: int) -> str:
    """The text written above and below our notification, cut exactly at its markers."""
    top = start
    # a client's quote wrapper (div.gmail_quote, blockquote type=cite...) right above
    # our top marker, with no more than a quote intro in between: cut there
    for name, off in marks:
        if off > start:
            break
        if name in _OURS:
            continue
        between = finish_text(raw[off:start])
        if len(between) <= _INTRO_CHARS and between.count("\n") < 8:
            top = off
            break
    above = _split_lines(finish_text(raw[:top]))
    below: list[str] = []
    if end >= 0:
        below = _split_lines(finish_text(raw[end:]))
        first = 0
        while first < len(below) and not below[first].strip():
            first += 1
        if first < len(below) and is_marker_line(below[first]):
            first += 1
        below = below[first:]
    if above == [""]:
        above = []
    return _between_markers(above, below)


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
    lines = _split_lines(text)
    for _ in range(6):
        lines = _trim_tail(lines, drop_mobile=True)
        cut = _signature_start(lines)
        if cut <= 0:
            break
        lines = lines[:cut]
    return "\n".join(_trim_tail(lines, drop_mobile=True)).rstrip()


def _signature_start(lines: list[str]) -> int:
    """Index where a trailing signature starts, or -1."""
    views = [_view(line) for line in lines]
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
