"""Our `sanitize_html` against bleach (html5lib parsing) on XSS and mutation-XSS inputs, and speed.

    .venv/bin/pip install bleach tinycss2   # for this comparison only (not a dependency)
    .venv/bin/python benchmarks/sanitizer_compare.py

Each output is parsed the way a browser would (html5lib, vendored by bleach) and
judged unsafe when it has a script-capable element, an event-handler attribute, or a
URL attribute whose scheme is not http(s)/mailto/tel/cid (after the browser's own
stripping of control characters and white space). The allow-list given to bleach is
ours (tags, attributes, CSS properties), so the two differ only in how they parse.
"""

from __future__ import annotations

import re
import time

import bleach
from bleach._vendor import html5lib  # the parser bleach uses (html5lib 1.1)
from bleach.css_sanitizer import CSSSanitizer

from helpdesk_mail.templating import sanitize as ours

XSS = [
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(1)>",
    "<IMG SRC=javascript:alert('XSS')>",
    '<img src="jav&#x09;ascript:alert(1)">',
    '<a href="&#106;avascript:alert(1)">x</a>',
    '<a href="java\nscript:alert(1)">x</a>',
    '<a href=" javascript:alert(1)">x</a>',
    '<a href="JaVaScRiPt:alert(1)">x</a>',
    '<a href="vbscript:msgbox(1)">x</a>',
    '<a href="data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==">x</a>',
    "<svg onload=alert(1)>",
    "<svg><script>alert(1)</script></svg>",
    "<math><mtext><table><mglyph><style><img src=x onerror=alert(1)>",
    "<iframe src=javascript:alert(1)>",
    "<body onload=alert(1)>",
    '<div style="background:url(javascript:alert(1))">x</div>',
    '<div style="width:expression(alert(1))">x</div>',
    "<object data=javascript:alert(1)>",
    "<embed src=javascript:alert(1)>",
    "<form><button formaction=javascript:alert(1)>x</button></form>",
    "<input autofocus onfocus=alert(1)>",
    "<details open ontoggle=alert(1)>",
    "<marquee onstart=alert(1)>",
    "<a href=javascript&colon;alert(1)>x</a>",
    '<a href="javas&#99;ript:alert(1)">x</a>',
    "<a href='jav&#x61;script:alert(1)'>x</a>",
    "<<script>script>alert(1)<</script>/script>",
    "<scr<script>ipt>alert(1)</script>",
    '<img src="x" alt="" onerror="alert(1)"/>',
    "<img/src=x/onerror=alert(1)>",
    "<a/href=javascript:alert(1)>x</a>",
    "<base href=javascript:alert(1)//>",
    '<meta http-equiv=refresh content="0;url=javascript:alert(1)">',
    "<link rel=stylesheet href=javascript:alert(1)>",
    "<table background=javascript:alert(1)>",
    "<style>@import 'javascript:alert(1)';</style>",
    '<xss style="xss:expression(alert(1))">',
    '<!--<img src="--><img src=x onerror=alert(1)//">',
    "<textarea><img src=x onerror=alert(1)></textarea>",
    "<title><img src=x onerror=alert(1)></title>",
    '<noscript><p title="</noscript><img src=x onerror=alert(1)>">',
    "<xmp><img src=x onerror=alert(1)></xmp>",
    "<noembed><img src=x onerror=alert(1)></noembed>",
    "<template><img src=x onerror=alert(1)></template>",
    "<select><template><style><img src=x onerror=alert(1)>",
]
# mutation XSS: markup that re-parses differently once serialised (DOMPurify's bugs)
MXSS = [
    '<svg></p><style><a id="</style><img src=1 onerror=alert(1)>">',
    '<math><mi><mglyph><svg><mtext><textarea><path id="</textarea><img onerror=alert(1) src=1>">',
    "<form><math><mtext></form><form><mglyph><style></math><img src onerror=alert(1)>",
    "<noscript><style></noscript><img src=x onerror=alert(1)>",
    "<p><style><!--</style><img src=x onerror=alert(1)>--></p>",
    '<a title="&lt;/a&gt;&lt;img src=x onerror=alert(1)&gt;">x</a>',
    '<div title="</div><script>alert(1)</script>">x</div>',
    "<table><td><img src=x onerror=alert(1)></td></table>",
    "<table><form><input></form><img src=x onerror=alert(1)></table>",
    "<!--><img src=x onerror=alert(1)>-->",
    "<![CDATA[<img src=x onerror=alert(1)>]]>",
    "<?xml><img src=x onerror=alert(1)>?>",
    "<listing>&lt;img src=x onerror=alert(1)&gt;</listing>",
    "<svg><style><img src=x onerror=alert(1)></style></svg>",
    "<math><style><img src=x onerror=alert(1)></style></math>",
    "<plaintext><img src=x onerror=alert(1)>",
    '<iframe srcdoc="<script>alert(1)</script>"></iframe>',
    "<img src=`x` onerror=alert(1)>",
    "<img src=x onerror\x0b=alert(1)>",
    '<a href="\x01javascript:alert(1)">x</a>',
]

_SCRIPTY = {"script", "iframe", "object", "embed", "svg", "math", "style", "base", "meta",
            "link", "form", "input", "button", "textarea", "template", "frame", "frameset",
            "noscript", "xmp", "plaintext", "listing", "select"}  # fmt: skip
_SAFE_SCHEMES = ("http", "https", "mailto", "tel", "cid")
_JUNK = re.compile(r"[\x00-\x20\x7f]+")


def unsafe(output: str) -> list[str]:
    """What a browser parsing `output` would find dangerous in it."""
    doc = html5lib.parseFragment(output, namespaceHTMLElements=False)
    found: list[str] = []
    for el in doc.iter():
        tag = el.tag if isinstance(el.tag, str) else ""
        tag = tag.rpartition("}")[2].lower()
        if tag in _SCRIPTY:
            found.append(f"<{tag}>")
        for name, value in el.attrib.items():
            name = name.rpartition("}")[2].lower() if isinstance(name, str) else str(name)
            if name.startswith("on") or name in ("srcdoc", "formaction"):
                found.append(f"{tag}@{name}")
            if name in ("href", "src", "background", "action", "data"):
                compact = _JUNK.sub("", value).lower()
                scheme, colon, _ = compact.partition(":")
                if colon and not any(c in scheme for c in "/?#") and scheme not in _SAFE_SCHEMES:
                    found.append(f"{tag}@{name}={scheme}:")
            if name == "style" and re.search(r"url\(|expression", value, re.I):
                found.append(f"{tag}@style")
    return found


def run_bleach(cleaner: bleach.Cleaner, text: str) -> str:
    return str(cleaner.clean(text))


def main() -> None:
    tags = sorted(ours.ALLOWED_TAGS)
    attrs: dict[str, list[str]] = {
        "*": sorted(ours._GLOBAL_ATTRS),
        **{t: sorted(a) for t, a in ours._TAG_ATTRS.items()},
    }
    cleaner = bleach.Cleaner(
        tags=tags,
        attributes=attrs,
        protocols=["http", "https", "mailto", "tel", "cid"],
        strip=True,
        strip_comments=True,
        css_sanitizer=CSSSanitizer(allowed_css_properties=sorted(ours._CSS_PROPERTIES)),
    )
    for name, cases in (("XSS list", XSS), ("mutation XSS", MXSS)):
        bad_ours = [(c, u) for c in cases if (u := unsafe(ours.sanitize_html(c)))]
        bad_bleach = [(c, u) for c in cases if (u := unsafe(run_bleach(cleaner, c)))]
        # an output that changes when sanitized again is a mutation waiting to happen
        unstable_ours = sum(
            1 for c in cases if ours.sanitize_html(ours.sanitize_html(c)) != ours.sanitize_html(c)
        )
        unstable_bleach = sum(
            1
            for c in cases
            if run_bleach(cleaner, run_bleach(cleaner, c)) != run_bleach(cleaner, c)
        )
        print(f"{name}: {len(cases)} inputs")
        print(
            f"  ours:   {len(bad_ours)} unsafe outputs, {unstable_ours} not stable on re-sanitizing"
        )
        print(
            f"  bleach: {len(bad_bleach)} unsafe outputs, "
            f"{unstable_bleach} not stable on re-sanitizing"
        )
        for case, why in bad_ours:
            print(f"    ours unsafe: {case!r} -> {why}")
        for case, why in bad_bleach:
            print(f"    bleach unsafe: {case!r} -> {why}")
    # speed: a newsletter-like message (tables, styles, links) of about 100 KB and 500 KB
    block = (
        '<table width="100%" style="border-collapse:collapse"><tr><td style="padding:8px;'
        'color:#333333"><p>Hello <b>Jane</b>, see <a href="https://example.com/x?a=1&b=2">'
        'this</a> and <img src="cid:logo@x" alt="logo" width="20"></p><ul><li>one</li>'
        "<li>two &amp; three</li></ul></td></tr></table>\n"
    )
    for size in (100_000, 500_000):
        doc = block * (size // len(block))
        for label, fn in (
            ("ours", ours.sanitize_html),
            ("bleach", lambda t: run_bleach(cleaner, t)),
        ):
            start = time.perf_counter()
            fn(doc)
            elapsed = time.perf_counter() - start
            print(f"speed {label:6} {len(doc) // 1000:4d} KB: {elapsed * 1000:8.1f} ms")


if __name__ == "__main__":
    main()
