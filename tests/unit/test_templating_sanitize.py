"""The limited HTML of templates: allow-list sanitizing, and plain text from HTML."""

from __future__ import annotations

import pytest

from helpdesk_mail.templating.sanitize import (
    MAX_DEPTH,
    Removal,
    clean_text,
    safe_url,
    sanitize_html,
)
from helpdesk_mail.text import ALTERNATIVE, html_to_text


@pytest.mark.parametrize(
    ("dirty", "clean"),
    [
        ("<p>Hi <b>there</b></p>", "<p>Hi <b>there</b></p>"),
        ("<script>alert(1)</script>ok", "ok"),
        ("<SCRIPT SRC=//evil.test/x.js></SCRIPT>ok", "ok"),
        ("<style>p{color:red}</style>ok", "ok"),
        ('<p onclick="steal()" onmouseover=x>t</p>', "<p>t</p>"),
        ('<a href="javascript:alert(1)">x</a>', "<a>x</a>"),
        ('<a href="JaVaScRiPt:alert(1)">x</a>', "<a>x</a>"),
        ('<a href="java&#x09;script:alert(1)">x</a>', "<a>x</a>"),
        ('<a href=" &#14;javascript:alert(1)">x</a>', "<a>x</a>"),
        ('<a href="vbscript:msgbox(1)">x</a>', "<a>x</a>"),
        ('<a href="data:text/html;base64,PHNjcmlwdD4=">x</a>', "<a>x</a>"),
        ('<img src="data:image/png;base64,AAAA" alt="pic">', "[pic]"),
        ('<img src="javascript:x">', ""),
        ('<a href="https://x.test/?a=1&b=2">x</a>', '<a href="https://x.test/?a=1&amp;b=2">x</a>'),
        ('<a href="mailto:a@b.test">m</a>', '<a href="mailto:a@b.test">m</a>'),
        ('<a href="/ticket/1">rel</a>', '<a href="/ticket/1">rel</a>'),
        ('<a href="x" target="_top">t</a>', '<a href="x">t</a>'),
        ('<a href="x" target="_blank">t</a>', '<a href="x" target="_blank">t</a>'),
        ("<iframe src=https://evil.test>inside</iframe>after", "after"),
        ("<object data=x><embed src=y></object>after", "after"),
        ("<form action=/steal><input name=p>text<button>go</button></form>", "text"),
        ("<textarea>secret</textarea>x", "x"),
        ("<svg onload=alert(1)><circle/></svg>x", "x"),
        ("<math><mi>x</mi></math>y", "y"),
        ("<!-- comment --><p>a</p>", "<p>a</p>"),
        ("<!--[if mso]><b>x</b><![endif]-->y", "y"),
        ("<!DOCTYPE html><html><body><p>a</p></body></html>", "<p>a</p>"),
        ("<html><head><title>T</title><meta x=y></head><body>b</body></html>", "b"),
        ("<head><title>T</title><body>b", "b"),
        ("<custom-tag>kept text</custom-tag>", "kept text"),
        ("<b><i>unclosed", "<b><i>unclosed</i></b>"),
        ("</b>stray end", "stray end"),
        ("<b>a<i>b</b>c</i>", "<b>a<i>b</i></b>c"),
        ("a < b & c > d", "a &lt; b &amp; c &gt; d"),
        ("&lt;script&gt;", "&lt;script&gt;"),
        ('<p class="x" id="y" title="t">a</p>', '<p title="t">a</p>'),
        ('<p style="color:red;background:url(x)">a</p>', '<p style="color:red">a</p>'),
        ('<p style="width:expression(alert(1))">a</p>', "<p>a</p>"),
        ('<p style="color:red;position:fixed">a</p>', '<p style="color:red">a</p>'),
        ('<p style="color:\\72 ed">a</p>', "<p>a</p>"),
        ('<p style="font-family:Arial/**/">a</p>', "<p>a</p>"),
        (
            '<font color="#ff0000" face="Arial">f</font>',
            '<font color="#ff0000" face="Arial">f</font>',
        ),
        ('<td colspan="2" onclick="x">c</td>', '<td colspan="2">c</td>'),
        ('<td width="50%" bgcolor="javascript:x">c</td>', '<td width="50%">c</td>'),
        ("<br/><hr/><br>", "<br><hr><br>"),
        ("<p/>", "<p></p>"),
        ("<base href=https://evil.test/>x", "x"),
        ('<meta http-equiv="refresh" content="0;url=https://evil.test">x', "x"),
        ('<link rel=stylesheet href="https://evil.test/x.css">x', "x"),
        ('<p title="a&quot;b">q</p>', '<p title="a&quot;b">q</p>'),
        ("<p>\x00nul\x07bell</p>", "<p>nulbell</p>"),
        ("<p>bad \ud800 surrogate</p>", "<p>bad \ufffd surrogate</p>"),
    ],
)
def test_sanitize(dirty: str, clean: str) -> None:
    assert sanitize_html(dirty) == clean


def test_cid_images_follow_the_switch() -> None:
    source = '<img src="cid:part1@x.test" alt="photo">'
    assert sanitize_html(source) == '<img src="cid:part1@x.test" alt="photo">'
    assert sanitize_html(source, allow_cid=False) == "[photo]"


def test_deep_nesting_is_flattened() -> None:
    out = sanitize_html("<div>" * 500 + "deep" + "</div>" * 500)
    assert out.count("<div>") == MAX_DEPTH
    assert "deep" in out


def test_huge_input_is_cut() -> None:
    out = sanitize_html("<p>" + "a" * 1_000_000)
    assert len(out) < 600_000


def test_report_says_what_was_removed_and_where() -> None:
    report: list[Removal] = []
    sanitize_html('<p>ok</p>\n  <iframe src=x></iframe><a onclick="x">y</a>', report=report)
    assert report == [Removal("<iframe>", 2, 3), Removal("onclick=", 2, 26)]


@pytest.mark.parametrize(
    ("url", "image", "ok"),
    [
        ("https://a.test/x", False, True),
        ("http://a.test/x", True, True),
        ("mailto:a@b.test", False, True),
        ("tel:+49301234", False, True),
        ("/relative", False, True),
        ("#anchor", False, True),
        ("/relative", True, False),
        ("javascript:alert(1)", False, False),
        (" javascript:alert(1)", False, False),
        ("java\nscript:alert(1)", False, False),
        ("data:text/html,x", False, False),
        ("cid:abc@x", True, True),
        ("cid:abc@x", False, False),
        ("ftp://a.test", False, False),
    ],
)
def test_safe_url(url: str, image: bool, ok: bool) -> None:
    assert (safe_url(url, image=image) is not None) is ok


def test_clean_text() -> None:
    assert clean_text("a\x00b\tc\r\nd\ud83d") == "ab\tc\r\nd\ufffd"


def test_html_to_text() -> None:
    source = (
        "<p>Hello<br>world</p><ul><li>one</li><li>two <a href='https://e.test'>link</a>"
        "<ol><li>x</li><li>y</li></ol></li></ul><blockquote>quoted<br>more</blockquote>"
        "<table><tr><td>a</td><td>b</td></tr></table><hr><p>end &amp; more</p>"
        "<pre>  keep\n  this</pre><img src='https://i.test/x.png' alt='logo'>"
    )
    assert html_to_text(source, ALTERNATIVE) == (
        "Hello\nworld\n\n- one\n- two link <https://e.test>\n  1. x\n  2. y\n\n"
        "> quoted\n> more\n\na  b\n----------------------------------------\n\n"
        "end & more\n\n  keep\n  this\n\n[logo]"
    )


def test_html_to_text_does_not_repeat_a_link_that_is_its_own_text() -> None:
    assert (
        html_to_text('<a href="https://e.test">https://e.test</a>', ALTERNATIVE) == "https://e.test"
    )
    assert html_to_text('<a href="/rel">rel</a>', ALTERNATIVE) == "rel"


def test_html_to_text_drops_scripts_and_styles() -> None:
    assert html_to_text("<style>p{}</style><script>x()</script>text", ALTERNATIVE) == "text"


@pytest.mark.parametrize(
    "unit",
    ["<a ", '<a href="', "<!--", "<![CDATA[", "<!", "<?", "</a ", "<!DOCTYPE ", "<a b="],
)
@pytest.mark.parametrize("suffix", ["", ">", "-->"])
def test_hostile_input_takes_linear_time(unit: str, suffix: str) -> None:
    import time

    start = time.perf_counter()
    out = sanitize_html(unit * 30_000 + suffix)
    html_to_text(out, ALTERNATIVE)
    assert time.perf_counter() - start < 3.0  # quadratic parsing would take minutes


def test_unclosed_comment_hides_the_rest_and_outlook_conditionals_go() -> None:
    assert sanitize_html("<p>a</p><!-- x <p>b</p>") == "<p>a</p>"
    assert sanitize_html("<!--a--><p>b</p><!-- c") == "<p>b</p>"
    assert sanitize_html("<![if !supportLists]>1.<![endif]> item") == "1. item"
    assert sanitize_html("a <b") == "a &lt;b"
