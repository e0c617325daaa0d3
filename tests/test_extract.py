"""Tests for unspin.extract: HTML sniffing and main-text extraction."""

from __future__ import annotations

import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from unspin.extract import html_to_text, looks_like_html

PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
  <title>Page title</title>
  <meta charset="utf-8">
  <style>p { color: red; } .secret-style {}</style>
  <script>var tracking = "SECRET_SCRIPT";</script>
</head>
<body>
  <header><h1>Site Name</h1></header>
  <nav><ul><li><a href="/">Home</a></li><li><a href="/about">About</a></li></ul></nav>
  <article>
    <h2>Cats &amp; mats</h2>
    <p>The   cat
       sat on the <b>mat</b>, <i>happily</i>.</p>
    <script type="text/javascript">document.write("SECRET_INLINE");</script>
    <!-- SECRET_COMMENT -->
    <p>Caf&eacute; prices rose&nbsp;by 5&#37;.<br>Second line.</p>
    <ul><li>First point</li><li>Second point</li></ul>
    <form><input value="SECRET_FORM"><button>Send</button></form>
  </article>
  <aside>Related: SECRET_ASIDE</aside>
  <footer>Copyright SECRET_FOOTER</footer>
  <noscript>SECRET_NOSCRIPT</noscript>
</body>
</html>
"""


def test_page_main_text_and_layout():
    text = html_to_text(PAGE)
    assert text == (
        "Cats & mats\n\n"
        "The cat sat on the mat, happily.\n\n"
        "Café prices rose by 5%.\nSecond line.\n\n"
        "First point\n\n"
        "Second point"
    )


def test_boilerplate_and_scripts_are_dropped():
    text = html_to_text(PAGE)
    assert "SECRET" not in text
    assert "Site Name" not in text
    assert "Home" not in text
    assert "Page title" not in text
    assert "color" not in text


def test_script_content_never_appears_without_article():
    html = "<html><body><p>Hello world.</p><script>alert('SCRIPT_TEXT')</script></body></html>"
    assert html_to_text(html) == "Hello world."


def test_body_used_when_no_article_or_main():
    html = "<body><div>One</div><div>Two <span>three</span></div></body>"
    assert html_to_text(html) == "One\n\nTwo three"


def test_main_preferred_to_body():
    html = "<body><div>Sidebar junk</div><main><p>Main text.</p></main></body>"
    assert html_to_text(html) == "Main text."


def test_largest_article_chosen():
    html = (
        "<body><article><p>Short teaser.</p></article>"
        "<article><p>The long main story with many more words in it.</p></article></body>"
    )
    assert html_to_text(html) == "The long main story with many more words in it."


def test_empty_article_falls_back_to_body():
    html = "<body><article></article><p>Body text.</p></body>"
    assert html_to_text(html) == "Body text."


def test_tail_text_after_dropped_element_is_kept():
    html = "<p>Before <script>x()</script>after.</p>"
    assert html_to_text(html) == "Before after."


def test_soup():
    soup = (
        "<html><body><p>First <b>bold <i>both</p> still going<div>block &lt;tag&gt; "
        "<p>unclosed para<td>cell</tr></table></span><script>var NOPE = 1 < 2;</script>"
        "<style>NOPE{}</style>>> << \x00\x07 &bogus; &amp end <<<! garbage"
    )
    text = html_to_text(soup)
    assert isinstance(text, str)
    assert "First bold both" in text
    assert "block <tag>" in text
    assert "unclosed para" in text
    assert "cell" in text
    assert "end" in text
    assert "NOPE" not in text
    assert "\x00" not in text


@pytest.mark.parametrize(
    "html",
    [
        "",
        "   ",
        "<html></html>",
        "<html><head><title>Only a title</title></head><body></body></html>",
        "<script>only()</script>",
        "<!-- just a comment -->",
        "<nav>Menu</nav><footer>Foot</footer>",
        "</>",
        "<!DOCTYPE html>",
    ],
)
def test_nothing_to_extract_gives_empty_string(html):
    assert html_to_text(html) == ""


def test_plain_text_passes_through():
    assert html_to_text("just  some\n text") == "just some text"


def test_xml_declaration_with_encoding():
    html = '<?xml version="1.0" encoding="iso-8859-1"?><html><body><p>hé</p></body></html>'
    assert html_to_text(html) == "hé"


def test_lone_surrogate_and_controls():
    text = html_to_text("<p>a\ud800b\x0cc</p>")
    assert text.startswith("a") and text.endswith("c")
    text.encode("utf-8")  # valid UTF-8 out


def test_deep_nesting():
    html = "<div>" * 50_000 + "deep text" + "</div>" * 50_000 + "<p>after</p>"
    text = html_to_text(html)
    assert "deep text" in text
    assert "after" in text


def test_huge_input_is_linear():
    html = "<p>word &amp; word</p>" * 50_000 + "<" * 100_000
    start = time.perf_counter()
    text = html_to_text(html)
    assert time.perf_counter() - start < 20
    assert text.startswith("word & word\n\nword & word")


def test_non_str_input():
    assert html_to_text(None) == ""  # type: ignore[arg-type]
    assert looks_like_html(None) is False  # type: ignore[arg-type]


SOUP_ALPHABET = st.sampled_from(
    ["<", ">", "/", "<p>", "</p>", "<div>", "<script>", "</script>", "<!--", "-->", "&",
     "&amp;", "&#", ";", "a", " ", "\n", "<b", "=", '"', "'", "\x00", "\ud800", "é", "<![CDATA["]
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text())
def test_never_raises_on_any_text(text):
    assert isinstance(html_to_text(text), str)
    assert isinstance(looks_like_html(text), bool)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(SOUP_ALPHABET, max_size=60).map("".join))
def test_never_raises_on_tag_soup(text):
    out = html_to_text(text)
    assert isinstance(out, str)
    assert "<script>" not in out
    assert out == out.strip()


@pytest.mark.parametrize(
    "text",
    [
        "<!DOCTYPE html><html><body>x</body></html>",
        "  \n<html>\n<head></head>",
        "<body><p>Hello</p></body>",
        "<p>One paragraph.</p>\n<p>Another paragraph.</p>",
        "<div class='a'>x</div><div>y</div><span>z</span>",
        "Intro text " * 20 + "<p>a</p><p>b</p><br><br/>",
    ],
)
def test_looks_like_html_true(text):
    assert looks_like_html(text)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "The cat sat on the mat.",
        "if a < b and c > d then swap them",
        "Use the <p> element for paragraphs. " + "Plain prose goes on and on. " * 200,
        "Emails like <john@example.com> and <jane@example.com> are not markup.",
        "x <= y >= z",
    ],
)
def test_looks_like_html_false(text):
    assert not looks_like_html(text)


def test_unclosed_title_does_not_swallow_the_page():
    body = "".join(f"<p>The committee met on day {i} and approved the plan.</p>"
                   for i in range(60))
    text = html_to_text(f"<html><head><title>News<body>{body}</body></html>")
    assert "approved the plan" in text
    assert text.count("\n\n") >= 50
