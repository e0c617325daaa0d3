"""Main-text extraction from HTML, so web pages can be checked like plain text.

Two plain functions: `looks_like_html` is a cheap sniff used to decide whether input needs
extracting at all, and `html_to_text` pulls the readable text out of a page with lxml.
Boilerplate (scripts, styles, navigation, headers, footers, side bars, forms) is dropped,
an ``<article>`` or ``<main>`` element is preferred to the whole body, block elements
become paragraph breaks and inline whitespace is collapsed.

Both functions accept any ``str`` (broken markup, binary garbage, lone surrogates, huge
pages) and never raise.
"""

from __future__ import annotations

import html as _html
import re

__all__ = ["html_to_text", "looks_like_html"]

# How much of the input the sniff looks at: enough to see a page's head and first
# paragraphs, small enough to stay cheap on huge inputs.
_SNIFF_CHARS = 100_000

_STRONG_MARKER = re.compile(r"<!doctype\s+html|<html[\s>]|<head[\s>]|<body[\s>]", re.I)
_TAG = re.compile(
    r"</?(?:p|div|span|a|br|hr|li|ul|ol|h[1-6]|article|main|section|table|tr|td|th|img|"
    r"meta|link|script|style|b|i|em|strong|blockquote|pre|nav|header|footer|form|title)"
    r"(?:\s[^<>]*)?/?>",
    re.I,
)

# Subtrees that are never main text.
_DROP_TAGS = frozenset(
    (
        "script style nav header footer aside form noscript head title template svg math "
        "iframe object embed canvas select button textarea input audio video map dialog "
        "menu"
    ).split()
)

# Elements whose start and end are paragraph breaks.
_BLOCK_TAGS = frozenset(
    (
        "address article blockquote body caption center dd details dir div dl dt fieldset "
        "figcaption figure h1 h2 h3 h4 h5 h6 hgroup hr html li main ol p pre section "
        "summary table tbody td tfoot th thead tr ul"
    ).split()
)

_WS = re.compile(r"\s+")
# Characters libxml2 rejects or that are never text: C0 controls except tab/newline/CR.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
# A <title> (or similar raw-text element) whose text runs into the next tag unclosed.
_UNCLOSED_TITLE = re.compile(r"(<title\b[^>]*>[^<]*)(?=<(?!/title))", re.I)
_FALLBACK_DROP = re.compile(
    r"<(script|style|noscript|template|svg|head)\b.*?(?:</\1\s*>|\Z)|<!--.*?(?:-->|\Z)",
    re.I | re.S,
)
_FALLBACK_BLOCK = re.compile(
    r"</?(?:p|div|br|li|h[1-6]|tr|td|th|article|section|main|blockquote|pre|table|ul|ol)"
    r"\b[^<>]*>",
    re.I,
)
_FALLBACK_TAG = re.compile(r"<[^<>]*>")

_BREAK = object()  # paragraph break marker in the text stream
_LINE = object()  # line break (<br>) marker


def looks_like_html(text: str) -> bool:
    """Guess cheaply whether ``text`` is an HTML document or fragment.

    True when the start of the text carries a doctype or an ``<html>``/``<head>``/
    ``<body>`` tag, or when common HTML tags are dense enough that the text is markup
    rather than prose that mentions a tag or two.

    Args:
        text: Any string.

    Returns:
        Whether the text should go through `html_to_text`.
    """
    if not isinstance(text, str) or "<" not in text:
        return False
    sample = text[:_SNIFF_CHARS]
    if _STRONG_MARKER.search(sample[:4096]):
        return True
    count = 0
    for _ in _TAG.finditer(sample):
        count += 1
        if count >= 10:
            return True
    # At least two tags, and roughly one tag per 2,000 characters or more.
    return count >= 2 and count * 2000 >= len(sample.strip())


def html_to_text(html: str) -> str:
    """Extract the main readable text of an HTML page.

    Scripts, styles, navigation, headers, footers, side bars, forms and comments are
    dropped. The largest ``<article>`` is used when there is one, else ``<main>``, else
    the whole body. Block elements (paragraphs, headings, list items, table cells, ...)
    become paragraph breaks (a blank line), ``<br>`` a line break, and runs of inline
    whitespace a single space. Character entities are decoded.

    Args:
        html: HTML source, well formed or not.

    Returns:
        The text, paragraphs separated by blank lines; ``""`` when there is none. Never
        raises.
    """
    if not isinstance(html, str) or not html:
        return ""
    try:
        text = _lxml_extract(html)
        # An unclosed <title> or <script> swallows the rest of the page in the parser;
        # when the page clearly holds far more text than came out, strip tags instead.
        if len(text) < 0.05 * len(html) and len(html) > 2000:
            closed = _UNCLOSED_TITLE.sub(r"\1</title>", html)
            if closed != html:
                retry = _lxml_extract(closed)
                if len(retry) > 4 * max(len(text), 100):
                    return retry
        return text
    except Exception:  # noqa: BLE001 - last resort for inputs lxml cannot take
        try:
            return _fallback_extract(html)
        except Exception:  # noqa: BLE001
            return ""


def _clean_source(html: str) -> bytes:
    """UTF-8 bytes that libxml2 accepts: no control characters, no lone surrogates."""
    html = _CONTROL.sub(" ", html)
    return html.encode("utf-8", "replace")


def _lxml_extract(html: str) -> str:
    from lxml import etree
    from lxml import html as lxml_html

    parser = lxml_html.HTMLParser(
        encoding="utf-8",
        remove_comments=True,
        remove_pis=True,
        remove_blank_text=False,
        no_network=True,
        huge_tree=True,
    )
    root = etree.fromstring(_clean_source(html), parser)
    if any(err.level_name == "FATAL" for err in parser.error_log):
        # libxml2 gave up part way (nesting too deep, ...): the tree is truncated.
        raise ValueError("HTML parser stopped early")
    if root is None:
        return ""
    # Collect first, then drop: dropping while iterating would skip siblings.
    doomed = [
        el for el in root.iter() if not isinstance(el.tag, str) or el.tag.lower() in _DROP_TAGS
    ]
    for el in doomed:
        if el is root:
            return ""
        parent = el.getparent()
        if parent is None:
            continue
        _remove_keep_tail(el)
    return _render(_main_element(root))


def _remove_keep_tail(el) -> None:
    """Remove ``el`` and its subtree, keeping the text that follows it."""
    parent = el.getparent()
    tail = el.tail
    if tail:
        prev = el.getprevious()
        if prev is not None:
            prev.tail = (prev.tail or "") + tail
        else:
            parent.text = (parent.text or "") + tail
    parent.remove(el)


def _main_element(root):
    """The element holding the main text: largest article, else main, else body."""
    articles = [el for el in root.iter("article") if not _has_ancestor(el, "article")]
    if articles:
        best = max(articles, key=_text_length)
        if _text_length(best) > 0:
            return best
    for main in root.iter("main"):
        if _text_length(main) > 0:
            return main
    body = root.find(".//body")
    return body if body is not None else root


def _has_ancestor(el, tag: str) -> bool:
    return any(anc.tag == tag for anc in el.iterancestors())


def _text_length(el) -> int:
    return sum(len(t.strip()) for t in el.itertext())


def _render(top) -> str:
    """Walk the tree without recursion (soup can nest thousands deep) and lay out text."""
    from lxml import etree

    stream: list[object] = []
    for event, el in etree.iterwalk(top, events=("start", "end")):
        tag = el.tag.lower() if isinstance(el.tag, str) else ""
        if event == "start":
            if tag in _BLOCK_TAGS:
                stream.append(_BREAK)
            elif tag == "br":
                stream.append(_LINE)
            if el.text:
                stream.append(el.text)
        else:
            if tag in _BLOCK_TAGS:
                stream.append(_BREAK)
            if el is not top and el.tail:
                stream.append(el.tail)
    return _layout(stream)


def _layout(stream: list[object]) -> str:
    paragraphs: list[str] = []
    lines: list[str] = []
    buf: list[str] = []

    def end_line() -> None:
        line = _WS.sub(" ", "".join(buf)).strip()
        buf.clear()
        if line:
            lines.append(line)

    def end_paragraph() -> None:
        end_line()
        if lines:
            paragraphs.append("\n".join(lines))
            lines.clear()

    for item in stream:
        if item is _BREAK:
            end_paragraph()
        elif item is _LINE:
            end_line()
        else:
            buf.append(item)  # type: ignore[arg-type]
    end_paragraph()
    return "\n\n".join(paragraphs)


def _fallback_extract(html: str) -> str:
    """Regex extraction for the rare input lxml refuses."""
    text = _FALLBACK_DROP.sub(" ", html)
    text = _FALLBACK_BLOCK.sub("\n\n", text)
    text = _FALLBACK_TAG.sub(" ", text)
    text = _html.unescape(text)
    paragraphs = []
    for block in re.split(r"\n\s*\n", text):
        line = _WS.sub(" ", block).strip()
        if line:
            paragraphs.append(line)
    return "\n\n".join(paragraphs)
