"""Cleaning stage: strip scraping and spinning debris before analysis, keeping true offsets.

Spun articles scraped from the web carry debris that is not prose: mojibake from a wrong
decode, ad shortcodes (``[ad_1]``), unexpanded spintax (``{big|large}``), newsletter
boilerplate lines, control and zero-width characters. `clean` removes it and reports every
change as an `Edit` of kind ``"cleanup"`` in *input* offsets, so that spans found in the
cleaned text can be mapped back to the text the caller gave (`Cleaned.to_input`,
`Cleaned.span_to_input`).

Each rule runs as a stage over the output of the previous one; the stages' edits are composed
into one list of non-overlapping edits on the input (an edit of a later stage that touches the
output of an earlier edit is merged with it). Every stage is linear-ish in the text length:
ftfy and difflib only ever see small windows around suspicious characters.
"""

from __future__ import annotations

import bisect
import difflib
import functools
import html
import re
import unicodedata
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from .report import Edit
from .tokens import _ctext

__all__ = ["Cleaned", "clean", "is_english", "looks_binary"]

# (start, end, replacement, confidence) in the coordinates of the text a stage worked on.
_Raw = tuple[int, int, str, float]

CLEANUP = "cleanup"


@dataclass(slots=True)
class Cleaned:
    """Cleaned text and the edits that produced it from the input.

    Attributes:
        text: The cleaned text that analysis runs on.
        edits: One ``Edit(kind="cleanup")`` per change, in input order; ``start``, ``end``
            and ``text`` are input offsets and characters, ``replacement`` is what stands in
            ``text`` instead. Applying them to the input in order gives ``text``.
    """

    text: str
    edits: list[Edit]
    # Start offset of each edit's replacement in the cleaned text; derived from ``edits``.
    _out_starts: list[int] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        starts: list[int] = []
        delta = 0
        for e in self.edits:
            starts.append(e.start + delta)
            delta += len(e.replacement) - (e.end - e.start)
        self._out_starts = starts

    def to_input(self, pos: int) -> int:
        """Map an offset in the cleaned text to the input offset where its character starts.

        Positions inside a replacement map to the start of the replaced input region; a
        position just after removed text maps past it. The mapping is monotone.

        Args:
            pos: Offset into ``self.text``, ``0 <= pos <= len(self.text)``.

        Returns:
            Offset into the input.
        """
        k = bisect.bisect_right(self._out_starts, pos) - 1
        if k < 0:
            return pos
        e = self.edits[k]
        out_start = self._out_starts[k]
        out_end = out_start + len(e.replacement)
        if pos < out_end:
            return e.start
        return e.end + (pos - out_end)

    def _end_to_input(self, pos: int) -> int:
        # Input offset just after the character that ends at cleaned offset ``pos``: removed
        # text right at ``pos`` stays outside, a replacement ending at or after it is inside.
        k = bisect.bisect_left(self._out_starts, pos) - 1
        if k < 0:
            return pos
        e = self.edits[k]
        out_end = self._out_starts[k] + len(e.replacement)
        if pos <= out_end:
            return e.end
        return e.end + (pos - out_end)

    def span_to_input(self, start: int, end: int) -> tuple[int, int]:
        """Map a ``[start, end)`` span of the cleaned text to the input span that produced it.

        Args:
            start: Span start in the cleaned text.
            end: Span end in the cleaned text.

        Returns:
            ``(input_start, input_end)``; replaced regions the span touches are covered
            whole, removed text at the span's edges is left out. An empty span maps to an
            empty span.
        """
        in_start = self.to_input(start)
        if end <= start:
            return in_start, in_start
        return in_start, max(in_start, self._end_to_input(end))


# --------------------------------------------------------------------------------------
# Edit plumbing


def _apply(text: str, edits: list[_Raw]) -> str:
    """Apply sorted, non-overlapping raw edits to ``text``."""
    if not edits:
        return text
    parts: list[str] = []
    pos = 0
    for s, e, r, _ in edits:
        parts.append(text[pos:s])
        parts.append(r)
        pos = e
    parts.append(text[pos:])
    return "".join(parts)


def _compose(outer: list[_Raw], inner: list[_Raw], mid: str) -> list[_Raw]:
    """Compose edits input->mid (``outer``) with edits mid->out (``inner``) into input->out.

    Both lists are sorted and non-overlapping. Items are laid out on the ``mid`` axis (an
    outer edit occupies its replacement there) and swept by start; an item joins the current
    group when it overlaps it, or when one of the two is empty and they touch (a deletion
    inside or at the edge of a replacement). A group without inner edits passes through
    unchanged; any other becomes one edit whose input range is found by the linear offset
    map of the untouched text around it.
    """
    if not inner:
        return outer
    if not outer:
        return inner
    items: list[tuple[int, int, int, int]] = []  # (mid_start, mid_end, is_inner, index)
    delta = 0
    for i, (s, e, r, _) in enumerate(outer):
        items.append((s + delta, s + delta + len(r), 0, i))
        delta += len(r) - (e - s)
    items.extend((s, e, 1, j) for j, (s, e, _, _) in enumerate(inner))
    # Empty items first at a shared start, so that a deletion at a group's edge joins it
    # before a non-empty neighbour that merely touches is considered.
    items.sort(key=lambda t: (t[0], t[1], t[2]))

    result: list[_Raw] = []
    done_delta = 0  # sum of length changes of the outer edits already emitted
    n = len(items)
    k = 0
    while k < n:
        gs, ge, _, _ = items[k]
        group = [items[k]]
        k += 1
        while k < n:
            s, e, _, _ = items[k]
            if s < ge or (s == ge and (s == e or gs == ge)):
                group.append(items[k])
                ge = max(ge, e)
                k += 1
            else:
                break
        outer_ids = [idx for _, _, is_inner, idx in group if not is_inner]
        inner_ids = [idx for _, _, is_inner, idx in group if is_inner]
        group_delta = sum(len(outer[i][2]) - (outer[i][1] - outer[i][0]) for i in outer_ids)
        if not inner_ids:
            result.extend(outer[i] for i in outer_ids)
            done_delta += group_delta
            continue
        in_start = gs - done_delta
        done_delta += group_delta
        in_end = ge - done_delta
        parts: list[str] = []
        pos = gs
        conf = 1.0
        for j in inner_ids:
            s, e, r, c = inner[j]
            parts.append(mid[pos:s])
            parts.append(r)
            pos = e
            conf = min(conf, c)
        parts.append(mid[pos:ge])
        for i in outer_ids:
            conf = min(conf, outer[i][3])
        result.append((in_start, in_end, "".join(parts), conf))
    return result


# --------------------------------------------------------------------------------------
# Stage 1: mojibake, with ftfy on small windows around suspicious characters.

@functools.cache
def _ftfy():
    """ftfy and its configuration, imported on first need (a tenth of the start-up)."""
    import ftfy

    config = ftfy.TextFixerConfig(
        unescape_html=False,  # entities have their own stage, with exact offsets
        fix_character_width=False,  # full-width forms are legitimate in CJK text
        uncurl_quotes=False,  # curly quotes are not debris; the tokenizer handles them
        fix_line_breaks=False,  # line breaks are the control-character stage's business
        remove_control_chars=False,  # likewise
        normalization=None,  # NFC has its own stage, so that ftfy only runs near mojibake
        explain=False,
    )
    return ftfy, config

# UTF-8 read as Windows-1252 or Latin-1: a lead byte shown as Â..ô followed by a
# continuation byte shown as a Latin-1 symbol, a C1 control or a cp1252 punctuation mark (or
# a space, where a no-break space was flattened). C1 controls, ligatures, terminal escapes
# and surrogates are other things ftfy repairs.
_CP1252_CONT = (
    "\x80-\xbf\u0152\u0153\u0160\u0161\u0178\u017d\u017e\u0192\u02c6\u02dc\u2013\u2014"
    "\u2018-\u201a\u201c-\u201e\u2020-\u2022\u2026\u2030\u2039\u203a\u20ac\u2122\ufffd "
)
# A space after a lead byte of a three- or four-byte sequence (à..ô) is a hint only when a
# continuation follows it too: "café ", "José " and "Tomás " are not mojibake, and they sent
# 4 % of clean Wikipedia articles through ftfy for nothing (a millisecond each).
_MOJI_HINT = re.compile(f"[\x1b\x80-\x9f\ufb00-\ufb06\ud800-\udfff]"
                        f"|[\xc2-\xf4][{_CP1252_CONT.replace(' ', '')}]"
                        f"|[\xc2-\xdf] |[\xe0-\xf4] [{_CP1252_CONT}]")
# A window cut after ASCII whitespace that follows an ASCII character cannot split a
# mojibake sequence (those are all non-ASCII, except a flattened no-break space after Â..ô).
_CUT = re.compile(r"[\x00-\x7f][ \t\n]")
_ASCII_PAIR = re.compile(r"[\x00-\x7f]{2}")
_STRAY_A_CIRC = re.compile("\u00c2(?=[ \u00a0])")
_MAX_WINDOW = 1024  # longer windows make difflib slow
_MARGIN = 32  # context kept around a hint, so ftfy sees whole words
_SEARCH = 200  # how far to look for a clean cut


def _cut_before(text: str, x: int, lo: int) -> int:
    """A safe window start at or before ``x`` and not before ``lo``."""
    if x <= lo:
        return lo
    start = max(lo, x - _SEARCH)
    best = -1
    for m in _CUT.finditer(text, start, x):
        best = m.end()
    if best >= 0:
        return best
    for m in _ASCII_PAIR.finditer(text, start, x + 1):
        best = m.start() + 1
    return best if best > lo else lo


def _cut_after(text: str, x: int) -> int:
    """A safe window end at or after ``x``."""
    n = len(text)
    if x >= n:
        return n
    m = _CUT.search(text, max(0, x - 1), min(n, x + _SEARCH))
    if m:
        return m.end()
    m = _ASCII_PAIR.search(text, max(0, x - 1), min(n, x + _SEARCH))
    if m:
        return m.start() + 1
    return min(n, x + _SEARCH)


_NON_ASCII_RUN = re.compile(r"[^\x00-\x7f]+")


def _paired_runs(a: str, b: str) -> Iterator[tuple[int, int, int, int]]:
    """For two strings with the same ASCII characters in the same order: the runs of
    other characters of each that stand between the same ASCII characters and differ, as
    ``(i1, i2, j1, j2)`` (a missing run is an empty span at its place)."""
    def runs(s: str) -> list[tuple[int, int, int]]:
        out, shift = [], 0
        for m in _NON_ASCII_RUN.finditer(s):
            out.append((m.start() - shift, m.start(), m.end()))  # ASCII characters before
            shift += m.end() - m.start()
        return out

    ra, rb = runs(a), runs(b)
    ia = ib = shift_a = shift_b = 0
    while ia < len(ra) or ib < len(rb):
        ka = ra[ia][0] if ia < len(ra) else len(a) + 1
        kb = rb[ib][0] if ib < len(rb) else len(b) + 1
        k = min(ka, kb)
        if ka == k:
            i1, i2 = ra[ia][1:]
            ia += 1
        else:
            i1 = i2 = k + shift_a
        if kb == k:
            j1, j2 = rb[ib][1:]
            ib += 1
        else:
            j1 = j2 = k + shift_b
        if a[i1:i2] != b[j1:j2]:
            yield i1, i2, j1, j2
        shift_a += i2 - i1
        shift_b += j2 - j1


def _add_spans(spans: list[tuple[int, int, int, int]], a: str, b: str, pa: int,
               pb: int) -> None:
    """Append the character spans where ``a`` and ``b`` differ (difflib), shifted by
    ``pa`` and ``pb``, merging spans that touch."""
    if not a or not b:
        found = [(0, len(a), 0, len(b))]
    else:
        matcher = difflib.SequenceMatcher(None, a, b, autojunk=False)
        found = [(i1, i2, j1, j2) for tag, i1, i2, j1, j2 in matcher.get_opcodes()
                 if tag != "equal"]
    for i1, i2, j1, j2 in found:
        i1, i2, j1, j2 = i1 + pa, i2 + pa, j1 + pb, j2 + pb
        if spans and spans[-1][1] == i1 and spans[-1][3] == j1:
            spans[-1] = (spans[-1][0], i2, spans[-1][2], j2)
        else:
            spans.append((i1, i2, j1, j2))


def _diff(a: str, b: str, offset: int, conf: float) -> list[_Raw]:
    """Character edits turning ``a`` into ``b``, shifted by ``offset``; none is empty."""
    n = min(len(a), len(b))
    p = 0
    while p < n and a[p] == b[p]:
        p += 1
    q = 0
    while q < n - p and a[-1 - q] == b[-1 - q]:
        q += 1
    a_mid, b_mid = a[p : len(a) - q], b[p : len(b) - q]
    if not a_mid or not b_mid:
        spans = [(p, len(a) - q, p, len(b) - q)]
    elif a_mid.encode("ascii", "ignore") == b_mid.encode("ascii", "ignore"):
        # The ASCII characters are untouched (mojibake fixes replace non-ASCII runs): the
        # runs between them pair up, and only pairs that differ need a diff. Linear where
        # a diff of the whole window is quadratic (seconds on dense mojibake).
        spans = []
        for i1, i2, j1, j2 in _paired_runs(a_mid, b_mid):
            _add_spans(spans, a_mid[i1:i2], b_mid[j1:j2], i1 + p, j1 + p)
    else:
        spans = []
        _add_spans(spans, a_mid, b_mid, p, p)
    if not a:
        return []  # nothing of the input to hang an edit on
    merged: list[tuple[int, int, int, int]] = []
    for i1, i2, j1, j2 in spans:
        if i1 == i2:
            # A pure insertion has no input text to hang on; take a neighbouring character
            # along (the same on both sides: an unchanged stretch surrounds every
            # insertion) so that every edit covers some of the input.
            if i1 > 0:
                i1, j1 = i1 - 1, j1 - 1
            else:
                i2, j2 = i2 + 1, j2 + 1
        if merged and i1 < merged[-1][1]:
            # Two insertions around one character both took it: one edit.
            m1, m2, k1, k2 = merged[-1]
            merged[-1] = (m1, max(m2, i2), k1, max(k2, j2))
        else:
            merged.append((i1, i2, j1, j2))
    return [(offset + i1, offset + i2, b[j1:j2], conf) for i1, i2, j1, j2 in merged]


# UTF-8 punctuation read as Windows-1252: never meant in English text.
_COMMON_MOJIBAKE = {
    "â€™": "’", "â€˜": "‘", "â€œ": "“", "â€\x9d": "”", "â€": "”", "â€”": "—", "â€“": "–",
    "â€¦": "…", "â€¢": "•",
}
_COMMON_MOJIBAKE_RE = re.compile(
    "|".join(re.escape(k) for k in sorted(_COMMON_MOJIBAKE, key=len, reverse=True)))


def _mojibake(text: str) -> list[_Raw]:
    if text.isascii() and "\x1b" not in text:
        return []
    if _ctext is not None and not _ctext.maybe_mojibake(text):
        return []  # no hint anywhere (a curly quote or a dash is not one)
    hints = [m.span() for m in _MOJI_HINT.finditer(text)]
    edits: list[_Raw] = []
    window_end = 0
    i = 0
    while i < len(hints):
        start, end = hints[i]
        ws = _cut_before(text, start - _MARGIN, window_end)
        we = max(_cut_after(text, end + _MARGIN), end)
        # Take nearby hints into the same window: ftfy's cost is mostly per call.
        i += 1
        while i < len(hints) and hints[i][0] < we + _MARGIN and we - ws < _MAX_WINDOW:
            we = max(we, _cut_after(text, hints[i][1] + _MARGIN), hints[i][1])
            i += 1
        while i < len(hints) and hints[i][0] < we:
            i += 1  # inside the window already
        window = text[ws:we]
        # ftfy leaves some flattened no-break spaces ("price:Â 5") where its context rules
        # are unsure; in English text "Â" before a space is always such debris.
        ftfy, config = _ftfy()
        fixed = _STRAY_A_CIRC.sub("", ftfy.fix_text(window, config))
        # ftfy leaves mojibake alone when the window also holds correct accented letters
        # ("café  â€™"); the commonest sequences are unambiguous in English text.
        fixed = _COMMON_MOJIBAKE_RE.sub(lambda m: _COMMON_MOJIBAKE[m.group()], fixed)
        if fixed != window:
            for s, e, r, c in _diff(window, fixed, ws, 0.95):
                # ftfy restores a flattened "Â " as a no-break space; plain space reads better
                # and is what the writer meant.
                if "\xa0" in r and "\xa0" not in text[s:e]:
                    r = r.replace("\xa0", " ")
                edits.append((s, e, r, c))
        window_end = we
    return edits


# --------------------------------------------------------------------------------------
# Stage 2: HTML character references left by scrapers ("&rsquo;", "&#8217;", "&amp;").

_ENTITY = re.compile(r"&(?:#[0-9]{1,7}|#[xX][0-9a-fA-F]{1,6}|[A-Za-z][A-Za-z0-9]{1,31});")


def _entities(text: str) -> list[_Raw]:
    if "&" not in text:
        return []
    edits: list[_Raw] = []
    for m in _ENTITY.finditer(text):
        rep = html.unescape(m.group())
        if rep == m.group() or "\ufffd" in rep:
            continue  # not a known entity, or a reference to an invalid code point
        if rep == "\xa0":
            rep = " "
        edits.append((m.start(), m.end(), rep, 0.99))
    return edits


# --------------------------------------------------------------------------------------
# Stage 3: control, zero-width and other invisible or binary characters.

# C0/C1 controls except tab and newline; soft hyphen and zero-width, bidi and other format
# characters; noncharacters; lone surrogates (they cannot even be written as UTF-8).
_JUNK = (
    "\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\xad\u061c\u180e\u200b-\u200f\u202a-\u202e"
    "\u2060-\u206f\ufeff\ufff9-\ufffb\ufdd0-\ufdef\ufffe\uffff\ud800-\udfff"
)
_CONTROL = re.compile(f"\r\n?|[{_JUNK}]+")
# Vertical tab, form feed and the information separators break lines or pages; deleting
# them would glue words together.
_BREAKERS = frozenset("\x0b\x0c\x1c\x1d\x1e\x1f")


def _controls(text: str) -> list[_Raw]:
    if _ctext is not None and not _ctext.has_controls(text):
        return []  # most texts: one compiled pass instead of the regular expression's
    edits: list[_Raw] = []
    for m in _CONTROL.finditer(text):
        g = m.group()
        if g[0] == "\r":
            rep = "\n"  # CRLF and old Mac CR become LF, so lines stay lines
        elif _BREAKERS.intersection(g):
            rep = "\n"
        else:
            rep = ""
        edits.append((m.start(), m.end(), rep, 1.0))
    return edits


# --------------------------------------------------------------------------------------
# Stage 4: Unicode NFC, so that "e" + combining acute is the one letter the tokenizer knows.


def _nfc(text: str) -> list[_Raw]:
    if text.isascii() or unicodedata.is_normalized("NFC", text):
        return []
    edits: list[_Raw] = []
    for m in re.finditer(r"\S+", text):
        word = m.group()
        if word.isascii() or unicodedata.is_normalized("NFC", word):
            continue
        edits.extend(_diff(word, unicodedata.normalize("NFC", word), m.start(), 1.0))
    return edits


# --------------------------------------------------------------------------------------
# Stage 5: ad and plugin shortcodes.

_SC_NAMES = (
    r"ads?|adsense|adverts?|advertisement|advertising|ad[_-]?\d+|ads?[_-]\w+|adrotate"
    r"|adinserter|sponsored|caption|embed|gallery|playlist|tweet|contact-form(?:-\d+)?"
)
_SC_ATTR = r"""[ \t]+[A-Za-z_][\w-]*[ \t]*=[ \t]*(?:"[^"\n\]]*"|'[^'\n\]]*'|[^\s\]"']+)"""
# A known name (any case); or a lower-case identifier with an underscore ("[the_ad]",
# "[td_block_ad_box]"), which prose in brackets never is; or any lower-case name with
# key=value attributes. Bracketed prose ("[sic]", "[1]", "[citation needed]") has none of these.
_SHORTCODE = re.compile(
    rf"\[/?(?:(?i:{_SC_NAMES})|[a-z][a-z0-9]*(?:_[a-z0-9]+)+)(?:{_SC_ATTR})*[ \t]*/?\]"
    rf"|\[/?[a-z][\w-]*(?:{_SC_ATTR})+[ \t]*/?\]"
)


def _shortcodes(text: str) -> list[_Raw]:
    if "[" not in text:
        return []
    matches = [m.span() for m in _SHORTCODE.finditer(text)]
    edits: list[_Raw] = []
    prev_end = 0  # end of the last edit; whitespace before it is not ours to take
    prev_nl = -1  # the newline ending the previous group's line
    i = 0
    while i < len(matches):
        # Group the matches of one line (a match never spans lines). Searching for the line
        # start only back to the previous line keeps this linear on one huge line.
        s0 = matches[i][0]
        ls = text.rfind("\n", max(prev_nl, 0), s0) + 1
        le = text.find("\n", s0)
        le = len(text) if le < 0 else le
        j = i
        while j < len(matches) and matches[j][1] <= le:
            j += 1
        line = matches[i:j]
        prev_nl = le
        i = j
        gaps = [text[ls : line[0][0]], text[line[-1][1] : le]]
        gaps += [text[a[1] : b[0]] for a, b in zip(line, line[1:], strict=False)]
        if all(not g.strip() for g in gaps):
            # The line holds nothing but shortcodes: it goes whole, with its newline.
            end = min(le + 1, len(text))
            edits.append((ls, end, "", 1.0))
            prev_end = end
            continue
        for s, e in line:
            p = s
            while p > prev_end and text[p - 1] in " \t":
                p -= 1
            if p == 0 or text[p - 1] == "\n":
                s = p  # at the start of a line: take the spaces after it instead
                while e < le and text[e] in " \t":
                    e += 1
            elif p < s:
                s = p  # "word [ad_1] word": take the space before, keep the one after
            edits.append((s, e, "", 1.0))
            prev_end = e
    return edits


# --------------------------------------------------------------------------------------
# Stage 6: spintax residue. "{big|large}" keeps the first alternative (spinners list the
# original first); "{word}" loses its braces. Code-like contents (quotes, ";", "=", "<",
# backslashes), line breaks and braces glued to a word or "$" ("\\textbf{x}", "${x}") are left
# alone, so JSON, CSS, LaTeX and templates survive.

_SPINTAX = re.compile(r"(?<![\w\\$])\{([^{}\n;=<>\"\\]{1,200})\}")


def _spintax(text: str) -> list[_Raw]:
    if "{" not in text:
        return []
    edits: list[_Raw] = []
    for m in _SPINTAX.finditer(text):
        inner = m.group(1)
        if "|" in inner:
            edits.append((m.start(), m.end(), inner.split("|", 1)[0].strip(), 0.8))
        else:
            edits.append((m.start(), m.end(), inner.strip(), 0.95))
    return edits


# --------------------------------------------------------------------------------------
# Stage 7: newsletter, sign-up and share boilerplate lines.

_SOCIAL = (
    r"(?:twitter|x|facebook|instagram|linkedin|youtube|tiktok|pinterest|threads|mastodon"
    r"|bluesky|telegram|whatsapp|reddit|google\s+news|social\s+media|social)"
)
_LIST = r"(?:newsletters?|mailing\s+list|e-?mail\s+list|e-?mails?|updates|alerts|digest|briefing)"
# Phrases that open a boilerplate sentence; a short tail ("... to get the latest news") may
# follow.
_BOILER_HEAD = re.compile(
    rf"""(?:please\s+)?(?:
        (?:sign\s*-?\s*up|subscribe|register|opt\s+in)\s+(?:now\s+|today\s+|here\s+)?
            (?:for|to)\s+(?:our|the|my|a|this)?\s*(?:[\w-]+\s+){{0,3}}?{_LIST}
      | (?:sign\s*-?\s*up|subscribe)\s+(?:now|today|here)\b
      | join\s+(?:our|the|my)\s+(?:[\w-]+\s+){{0,2}}?(?:{_LIST}|community|channel|list)
      | click\s+here\s+to\s+\w+
      | (?:share|tweet|e-?mail|pin)\s+this\s+(?:article|post|story|page|link|video)
      | share\s+(?:on|via)\s+{_SOCIAL}
      | (?:follow|find|like|join)\s+(?:us|me)\s+(?:on|at)\s+{_SOCIAL}
      | don'?t\s+forget\s+to\s+(?:subscribe|follow|share|like)
      | enter\s+your\s+e-?mail
      | get\s+(?:the\s+)?(?:latest|best|top)\s+(?:[\w-]+\s+){{0,4}}?(?:delivered|sent)
            \s+(?:straight\s+|right\s+|directly\s+)?to\s+your\s+inbox
    )\b""",
    re.I | re.X,
)
# Sentences that are boilerplate only when they stand alone.
_BOILER_FULL = re.compile(
    r"""(?:advertisement|advertising|sponsored(?:\s+content)?|ad
      | sign\s*-?\s*up|subscribe|share(?:\s+this)?|tweet|share\s+on\s+\w+
      | (?:continue|keep)\s+reading|read\s+more|(?:also\s+)?read\s+also|see\s+also
      | related(?:\s+(?:posts|articles|stories|content|reading|news))?
      | you\s+(?:may|might)\s+also\s+like|recommended(?:\s+for\s+you)?
    )""",
    re.I | re.X,
)
_EDGE = re.compile(r"^[\W_]+|[\W_]+$")
_SENT_SPLIT = re.compile(r"(?<=[.!?])\s+")
_MAX_LINE_WORDS = 20
_MAX_TAIL_WORDS = 12


def _is_boilerplate_sentence(sentence: str) -> bool:
    core = _EDGE.sub("", sentence)
    if not core:
        return False
    if _BOILER_FULL.fullmatch(core):
        return True
    m = _BOILER_HEAD.match(core)
    return bool(m) and len(core[m.end() :].split()) <= _MAX_TAIL_WORDS


# The first word (its leading letters, lower-cased) of every sentence the two patterns
# match: a line whose first word is ASCII and not one of them is not boilerplate, without
# the regular expressions (most lines of an article).
_BOILER_FIRST = frozenset(
    "please sign subscribe register opt join click share tweet e email pin follow find like "
    "don dont enter get advertisement advertising sponsored ad continue keep read also see "
    "related you recommended".split())
_LEAD = re.compile(r"[\W_]*([^\W\d_]*)")


def _is_boilerplate_line(line: str) -> bool:
    if len(line) > 300:
        return False
    # The first word first: it rules out most lines without splitting them into words.
    lead = _LEAD.match(line).group(1)
    if lead.isascii() and lead.lower() not in _BOILER_FIRST:
        return False  # (a non-ASCII letter may match an ASCII one under re.I: "ſ", "K")
    words = line.split()
    if not words or len(words) >= _MAX_LINE_WORDS:
        return False
    # Every sentence on the line must be boilerplate; a line that goes on to real prose
    # ("Sign up for our newsletter. The minister said ...") is kept whole.
    return all(_is_boilerplate_sentence(s) for s in _SENT_SPLIT.split(line.strip()))


def _boilerplate(text: str) -> list[_Raw]:
    if _ctext is not None:
        # Only the lines whose first word could open boilerplate are sliced and matched
        # (`_ctext.boiler_candidates`: the same lines' edits, without a Python step for
        # each of an article's lines).
        return [(pos, end, "", 0.9) for pos, end in
                _ctext.boiler_candidates(text, _BOILER_FIRST_LIST)
                if _is_boilerplate_line(text[pos:end])]
    return _boilerplate_by_lines(text)


_BOILER_FIRST_LIST = sorted(_BOILER_FIRST)


def _boilerplate_by_lines(text: str) -> list[_Raw]:
    """`_boilerplate` line by line in Python (the reference, and without `_ctext`)."""
    edits: list[_Raw] = []
    n = len(text)
    pos = 0
    while pos < n:
        nl = text.find("\n", pos)
        end = n if nl < 0 else nl + 1
        if end - pos <= 301 and _is_boilerplate_line(text[pos:end]):
            edits.append((pos, end, "", 0.9))
        pos = end
    return edits


# --------------------------------------------------------------------------------------

_Stage = Callable[[str], list[_Raw]]
# Order matters: mojibake first, as its sequences contain C1 controls the control stage
# would otherwise delete; entities before controls, since "&#8203;" decodes to a zero-width
# space; NFC after both, which can produce combining marks; the line-based and bracket
# rules last, on text that is by then plain.
_STAGES: tuple[_Stage, ...] = (_mojibake, _entities, _controls, _nfc, _shortcodes)
_SPINTAX_ROUNDS = 8  # nested spintax "{a|{b|c}}" unwraps one level per round
# Removing one kind of debris can expose another ("Ã[ad]©" hides mojibake behind a
# shortcode), so the pipeline reruns until nothing changes, a few times at most; this keeps
# clean(clean(x).text) == clean(x).text in practice.
_MAX_PASSES = 4


def clean(text: str) -> Cleaned:
    """Remove mojibake, ad shortcodes, spintax, boilerplate lines and invisible junk.

    Args:
        text: The input text.

    Returns:
        The cleaned text with one ``"cleanup"`` edit per change, in input offsets.
    """
    cur = text
    raw: list[_Raw] = []

    def run(stage: _Stage) -> bool:
        nonlocal cur, raw
        local = stage(cur)
        if not local:
            return False
        raw = _compose(raw, local, cur)
        cur = _apply(cur, local)
        return True

    for _ in range(_MAX_PASSES):
        changed = False
        for stage in _STAGES:
            changed |= run(stage)
        for _ in range(_SPINTAX_ROUNDS):
            if not run(_spintax):
                break
            changed = True
        changed |= run(_boilerplate)
        if not changed:
            break

    edits = [Edit(s, e, text[s:e], r, round(c, 4), CLEANUP) for s, e, r, c in raw if text[s:e] != r]
    return Cleaned(cur, edits)


# --------------------------------------------------------------------------------------
# Language gate

# The commonest English function words. English prose has ~40 % of its word tokens here.
_EN_STOP = frozenset(
    """the of and to a in is it that for was on are with as i his they be at one have this
    from or had by not but what all were we when your can said there an each which she do
    how their if will up other about out many then them these so some her would like him
    into has more could no than been who its now my over did down only may should our after
    also any just because those very most me you he us where why while such both between
    through under again does being having here few own same too until against during before
    above below off once further am itself himself herself themselves nor whom yet""".split()
)
# Function words of the other Latin-script languages a scraper meets most (de, fr, es, it,
# pt, nl), minus those that are also English words ("die", "war", "hat", "son", "come").
_FOREIGN_STOP = (
    frozenset(
        """der die und ist nicht das ein eine einen einem einer zu den dem des mit sich auf
        für von im auch es sie er ich wir ihr aber wie noch nach bei aus wenn nur oder wird
        werden sind haben kann dass um schon sehr vor zum zur über durch diese dieser als
        wurde mehr kein keine gegen ihre sein seine uns unter doch jetzt immer alle
        le la les de des du un une et est en que qui dans pour pas sur ce cette ces il elle
        ils elles nous vous je ne se sa ses leur leurs avec mais ou où au aux par plus sont
        été être avoir ont fait comme tout tous très aussi bien sans sous lui même y l d qu c
        était entre après avant encore déjà peut alors donc si chez ça
        el los las del y en un una unos es por para se su sus lo al como más pero le ya o
        este esta estos cuando muy sobre también hasta hay donde quien desde todo nos
        durante todos uno les ni contra otros ese eso ellos e esto mí antes algunos qué yo
        otro otras otra él tanto esa mucho quienes nada muchos cual poco ella estar estas
        algunas algo nosotros fue son está ser han
        il gli di della dei delle è che non uno sono da alla nel nella si ma anche più
        questo questa ci ha hanno essere lei loro noi voi io mi ti perché quando molto
        tutto tutti ancora già così sempre
        os um uma do da dos das em na nos não mais mas ao à foi ele ela seu sua são
        também já muito isso depois sem mesmo pelo pela até eu nós você há nem tem
        het een en ik te dat hij niet zijn op aan met voor maar om zou wat mijn dit zo door
        ze zich bij ook je mij uit daar haar naar heb hoe heeft hebben deze nog zal zij nu
        geen omdat iets worden toch waren veel meer doen toen moet zonder kan hun dus
        alles onder ja eens hier wie werd altijd wordt kunnen ons zelf tegen na wil kon
        niets uw iemand geweest andere""".split()
    )
    - _EN_STOP
    - frozenset("war hat man son come sin dove era per con dan men ben van er hem want".split())
)
_WORD = re.compile(r"[^\W\d_]+")
_WORD_LOWER_ASCII = re.compile(r"[a-z]+")  # _WORD on lower-cased ASCII text, faster
_SPACE = re.compile(r"\s")
_BAD = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ufffd]")
_NON_ASCII = re.compile(r"[^\x00-\x7f]")
_LETTER = re.compile(r"[^\W\d_]")
_ASCII_LETTER = re.compile(r"[A-Za-z]")
_LATIN_LETTER = re.compile("[A-Za-z\u00c0-\u024f\u1e00-\u1eff]")
_SAMPLE = 20_000  # characters per sample window; three windows bound the cost on huge texts
_BINARY_SHARE = 0.1


_ASCII_SPACE = b" \t\n\r\x0b\x0c\x1c\x1d\x1e\x1f"  # what \\s matches in ASCII
_ASCII_BAD = bytes(range(0x09)) + b"\x0b\x0c" + bytes(range(0x0e, 0x20)) + b"\x7f"
_ASCII_LETTERS = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


def _ascii_counts(sample: str) -> tuple[int, int, int, int, int]:
    """Visible, control, letter, ASCII-letter and Latin-letter counts of ASCII text.

    ``bytes.translate`` counts in C, several times faster than the regular expressions
    the general path needs.
    """
    b = sample.encode("ascii")
    n = len(b)
    n_visible = len(b.translate(None, _ASCII_SPACE))
    bad = n - len(b.translate(None, _ASCII_BAD))
    letters = n - len(b.translate(None, _ASCII_LETTERS))
    return n_visible, bad, letters, letters, letters


def _regex_counts(sample: str) -> tuple[int, int, int, int, int]:
    """`_ascii_counts` for any text, with regular expressions (slower: one pass each)."""
    n_visible = len(sample) - len(_SPACE.findall(sample))
    bad = len(_BAD.findall(sample)) + sum(
        1 for c in _NON_ASCII.findall(sample)
        if unicodedata.category(c) in ("Cs", "Co", "Cn"))
    n_letters = len(_LETTER.findall(sample))
    n_ascii = len(_ASCII_LETTER.findall(sample))
    latin = len(_LATIN_LETTER.findall(sample))
    return n_visible, bad, n_letters, n_ascii, latin


def _counts(sample: str) -> tuple[int, int, int, int, int]:
    """Visible, control, letter, ASCII-letter and Latin-letter counts of a text.

    English prose has few non-ASCII characters (quotes, dashes, accented names): the ASCII
    part is counted in C (`_ascii_counts`) and the few others one by one, with the same
    character classes as `_regex_counts` (``\\s`` is ``str.isspace``, a letter
    ``[^\\W\\d_]`` is alphanumeric but not a decimal digit), five times faster.
    """
    if _ctext is not None:  # the ASCII part counted and the others gathered in one pass
        n_visible, bad, letters, others = _ctext.ascii_counts(sample)
        if not others:
            return n_visible, bad, letters, letters, letters
        n_ascii = letters
    else:
        if sample.isascii():
            return _ascii_counts(sample)
        others = _NON_ASCII.findall(sample)
        n_visible, bad, letters, n_ascii, _ = _ascii_counts(
            sample.encode("ascii", "ignore").decode("ascii"))
    if len(others) * 8 > len(sample):
        return _regex_counts(sample)
    latin = letters
    for c in others:
        if not c.isspace():
            n_visible += 1
        if c <= "\x9f" or c == "\ufffd" or unicodedata.category(c) in ("Cs", "Co", "Cn"):
            bad += 1
        if c.isalnum() and not c.isdecimal():
            letters += 1
        if "\u00c0" <= c <= "\u024f" or "\u1e00" <= c <= "\u1eff":
            latin += 1
    return n_visible, bad, letters, n_ascii, latin


_STOP_TABLES: tuple = ()


def _stop_tables() -> tuple:
    """The stop words' compiled tables (`_ctext.vocab_table` of each set): the compiled
    counts look ASCII runs up there (built on first use, well under a millisecond)."""
    global _STOP_TABLES
    if not _STOP_TABLES:
        _STOP_TABLES = (_ctext.vocab_table(sorted(_EN_STOP)),
                        _ctext.vocab_table(sorted(_FOREIGN_STOP)))
    return _STOP_TABLES


def _stopword_counts(sample: str) -> tuple[int, int, int]:
    """Letter runs (``[^\\W\\d_]+``) of a text, and how many of them, lower-cased, are
    English and how many foreign function words."""
    if _ctext is not None:
        return _ctext.stopword_counts(sample, _EN_STOP, _FOREIGN_STOP, *_stop_tables())
    if sample.isascii():
        words = _WORD_LOWER_ASCII.findall(sample.lower())
    else:  # each word lowered alone ("İ" lowers to two characters), in one call
        found = _WORD.findall(sample)
        words = "\n".join(found).lower().split("\n") if found else []
    return (len(words), sum(map(_EN_STOP.__contains__, words)),
            sum(map(_FOREIGN_STOP.__contains__, words)))


def _sample(text: str) -> str:
    if len(text) <= 3 * _SAMPLE:
        return text
    mid = len(text) // 2 - _SAMPLE // 2
    return "\n".join((text[:_SAMPLE], text[mid : mid + _SAMPLE], text[-_SAMPLE:]))


# C0 control characters other than the white space ones (tab to carriage return, and the
# information separators, which the cleaner turns into line breaks): text never holds
# them and mojibake never makes them (it makes C1 ones), but binary data read as text is
# full of them (one character in twelve of random bytes).
_C0 = re.compile("[\x00-\x08\x0e-\x1b]")
_C0_BINARY_SHARE = 0.05


def looks_binary(text: str) -> bool:
    """Whether a raw input is binary data rather than text, before any cleaning.

    Cleaning binary data is slow and pointless (the mojibake stage alone took 20 us a
    character on random bytes): such input is judged binary as it is. Text whose damage
    cleaning repairs (mojibake, stray controls) stays below the share.
    """
    if _ctext is not None and not _ctext.has_controls(text):
        return False  # most texts: one compiled pass
    sample = _sample(text)
    visible = len(sample) - len(_SPACE.findall(sample))
    return visible > 0 and len(_C0.findall(sample)) > _C0_BINARY_SHARE * visible


def is_english(text: str) -> tuple[bool, str]:
    """Decide cheaply whether a text is English prose the analyser can score.

    Args:
        text: The text, ideally already cleaned.

    Returns:
        ``(True, "en")``, or ``(False, reason)`` with reason ``"empty"`` (nothing but
        whitespace), ``"binary"`` (largely control, unassigned or replacement characters)
        or ``"unsupported"`` (another language or script, or no words at all).
    """
    sample = _sample(text)
    n_visible, bad, n_letters, n_ascii, latin = _counts(sample)
    if not n_visible:
        return False, "empty"
    if bad / n_visible > _BINARY_SHARE:
        return False, "binary"
    if not n_letters:
        return False, "unsupported"
    if latin / n_letters < 0.5:
        return False, "unsupported"  # Cyrillic, CJK, Arabic, ... scripts
    ascii_share = n_ascii / n_letters
    n, en, foreign = _stopword_counts(sample)
    if n < 3:
        ok = en > 0 or ascii_share >= 0.8
    elif n < 12:
        # Too few words for a reliable ratio: headlines have no function words at all. Go by
        # which language's function words turn up, else by the alphabet.
        if foreign > en:
            ok = False
        elif en > 0:
            ok = True
        else:
            ok = ascii_share >= 0.9
    else:
        ok = en / n >= 0.15 and en > foreign
    return (True, "en") if ok else (False, "unsupported")
