"""Tracing spun copies to their originals, and restoring them from the original.

`Index` (``unspin.index``) finds the original a copy was spun from; this module aligns
the copy with it and turns every difference into an `Edit` of kind ``"reference"``: the
original's exact wording, not a guess. Stretches of the copy that the original does not
cover (a copy of a third of an article, a paragraph added by the copier) are restored by
the model as usual (kind ``"spin"``).

It also reads the inputs of ``unspin index add``: text and HTML files, directories of
them, and JSONL files of ``{"id", "text"}`` records.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from difflib import SequenceMatcher
from pathlib import Path
from typing import Any

from .formats import field_value
from .index import Index, Match
from .report import Edit, Restoration
from .tokens import tokenize

# Differences longer than this (tokens, on either side) are not a spinner's swap but text
# the copier changed or the original lacks: the model handles them.
MAX_REFERENCE_EDIT = 8
# Aligned stretches shorter than this do not anchor the alignment (a stray "the").
MIN_ANCHOR = 3


@dataclass(slots=True)
class Trace:
    """Result of tracing one text: its matches, best first (empty when none)."""

    matches: list[Match]

    @property
    def spun(self) -> bool:
        """True when the text was traced to an original (for ``--fail-on-match``)."""
        return bool(self.matches)

    def to_dict(self) -> dict[str, Any]:
        """The JSON contract: ``{"matches": [{"id", "score", "coverage"}]}``."""
        return {"matches": [m.to_dict() for m in self.matches]}


def trace(text: str, index: Index, k: int = 5, threshold: float | None = None) -> Trace:
    """Find the originals a text was (partly) copied and spun from.

    Args:
        text: The suspected copy.
        index: The index of originals.
        k: At most this many matches.
        threshold: Minimum score (default: the index's).

    Returns:
        A `Trace`.
    """
    return Trace(index.query(text, k=k, threshold=threshold))


def reference_edits(text: str, original: str,
                    confidence: float = 1.0) -> tuple[tuple[int, int] | None, list[Edit]]:
    """Align a copy with its original and list the edits that restore the original wording.

    Args:
        text: The spun copy.
        original: The original it was made from.
        confidence: Confidence given to every edit (the match score).

    Returns:
        ``(region, edits)``: the stretch of ``text`` (character offsets) that the alignment
        covers, or None when nothing aligns; and ``"reference"`` edits in ``text``'s
        offsets, in order.
    """
    a = tokenize(text)
    b = tokenize(original)
    if not a or not b:
        return None, []
    an, bn = [t.norm for t in a], [t.norm for t in b]
    ops = SequenceMatcher(None, an, bn, autojunk=False).get_opcodes()
    anchors = [k for k, op in enumerate(ops) if op[0] == "equal" and op[2] - op[1] >= MIN_ANCHOR]
    if not anchors:
        return None, []
    first, last = anchors[0], anchors[-1]
    inner = list(ops[first + 1:last])
    lead_i, tail_i = ops[first][1], ops[last][2]
    # The copy's edges, before the first and after the last anchor: align them again
    # against a window of the original next to the anchor (the global alignment may have
    # tied a stray word to a far place), dropping original text beyond the copy's ends.
    if 0 < lead_i <= 3 * MAX_REFERENCE_EDIT:
        j_hi = ops[first][3]
        inner[:0] = _edge(an, bn, 0, lead_i, max(0, j_hi - lead_i - 4), j_hi, lead=True)
        lead_i = 0
    if 0 < len(a) - tail_i <= 3 * MAX_REFERENCE_EDIT:
        j_lo = ops[last][4]
        inner += _edge(an, bn, tail_i, len(a), j_lo, min(len(b), j_lo + len(a) - tail_i + 4),
                       lead=False)
        tail_i = len(a)
    region = (a[lead_i].start, a[tail_i - 1].end)
    edits: list[Edit] = []
    for op, i1, i2, j1, j2 in inner:
        if op == "equal" or i2 - i1 > MAX_REFERENCE_EDIT or j2 - j1 > MAX_REFERENCE_EDIT:
            continue
        if i1 == i2 or j1 == j2:
            # A pure insertion or deletion ("in order to" -> "to"): take the aligned token
            # before (at the very start: after) it along, so that something replaces
            # something.
            if i1 > 0 and j1 > 0:
                i1, j1 = i1 - 1, j1 - 1
            elif i2 < len(a) and j2 < len(b):
                i2, j2 = i2 + 1, j2 + 1
            else:
                continue
        start, end = a[i1].start, a[i2 - 1].end
        replacement = original[b[j1].start:b[j2 - 1].end]
        if text[start:end] != replacement:
            edits.append(Edit(start, end, text[start:end], replacement,
                              round(float(confidence), 4), "reference"))
    return region, edits


def _edge(an: list[str], bn: list[str], i_lo: int, i_hi: int, j_lo: int, j_hi: int,
          lead: bool) -> list[tuple[str, int, int, int, int]]:
    """Opcodes aligning the copy's tokens ``[i_lo, i_hi)`` with a window of the original's,
    with original-only text beyond the copy's start (``lead``) or end cut off."""
    ops = [(op, i1 + i_lo, i2 + i_lo, j1 + j_lo, j2 + j_lo) for op, i1, i2, j1, j2 in
           SequenceMatcher(None, an[i_lo:i_hi], bn[j_lo:j_hi], autojunk=False).get_opcodes()]
    k = 0 if lead else -1
    while ops and ops[k][1] == ops[k][2]:  # original text outside the copy
        ops.pop(k)
    if ops and ops[k][0] == "replace":
        op, i1, i2, j1, j2 = ops[k]
        if j2 - j1 > i2 - i1:  # the copy starts (ends) inside the original's stretch
            ops[k] = (op, i1, i2, j2 - (i2 - i1), j2) if lead else (op, i1, i2, j1, j1 + i2 - i1)
    return ops


def restore_with_reference(text: str, index: Index, *, min_confidence: float | None = None,
                           threshold: float | None = None, table: Any = None,
                           two_step: bool = False) -> Restoration:
    """Restore a spun text from its original in the index, and by the model elsewhere.

    Where the text aligns with the best-matching original, every difference becomes an
    edit of kind ``"reference"`` (the original's wording); outside that stretch, and when
    no original matches, the model's edits (kind ``"spin"``) and cleanup edits are kept.

    Args:
        text: The spun document.
        index: The index of originals.
        min_confidence: As for `unspin.restore` (model edits only).
        threshold: As for `unspin.restore`.
        table: As for `unspin.restore`.
        two_step: As for `unspin.restore`.

    Returns:
        A `Restoration`, whose ``report`` is the model's detection report.
    """
    from .api import restore

    kwargs: dict[str, Any] = {"table": table, "two_step": two_step}
    if min_confidence is not None:
        kwargs["min_confidence"] = min_confidence
    if threshold is not None:
        kwargs["threshold"] = threshold
    base = restore(text, **kwargs)
    if not isinstance(text, str):
        return base
    matches = index.query(text, k=1)
    original = index.get(matches[0].id) if matches else None
    if original is None:
        return base
    region, ref = reference_edits(text, original, matches[0].score)
    if region is None:
        return base
    lo, hi = region
    kept = []
    for e in base.edits:
        if e.kind == "spin" and e.end > lo and e.start < hi:
            continue  # the original says what was there
        if any(e.end > r.start and e.start < r.end for r in ref):
            continue
        kept.append(e)
    edits = sorted(kept + ref, key=lambda e: (e.start, e.end))
    parts = []
    pos = 0
    for e in edits:
        parts.append(text[pos:e.start])
        parts.append(e.replacement)
        pos = e.end
    parts.append(text[pos:])
    return Restoration(text="".join(parts), edits=edits, report=base.report)


# ------------------------------------------------------------------ index add inputs

TEXT_SUFFIXES = (".txt", ".text", ".md")
HTML_SUFFIXES = (".html", ".htm", ".xhtml")
JSONL_SUFFIXES = (".jsonl", ".ndjson", ".jsonl.gz", ".ndjson.gz")


@dataclass(slots=True)
class InputError:
    """An input record that could not be indexed (reported, never silently dropped)."""

    where: str
    message: str


def _files(path: str) -> Iterator[str]:
    if os.path.isdir(path):
        for root, dirs, names in os.walk(path):
            dirs[:] = sorted(d for d in dirs if not d.startswith("."))
            for name in sorted(names):
                low = name.lower()
                if not name.startswith(".") and \
                        low.endswith(TEXT_SUFFIXES + HTML_SUFFIXES + JSONL_SUFFIXES):
                    yield os.path.join(root, name)
    else:
        yield path


def _records(path: str, lines: Any, text_field: str,
             id_field: str) -> Iterator[tuple[str, str] | InputError]:
    for lineno, raw in enumerate(lines, 1):
        where = f"{path}:{lineno}"
        line = raw.decode("utf-8", "replace").lstrip("\ufeff").strip() \
            if isinstance(raw, bytes) else raw.strip()
        if not line:
            continue
        try:
            obj = json.loads(line)
        except (ValueError, RecursionError) as exc:
            yield InputError(where, f"invalid JSON: {exc}")
            continue
        if not isinstance(obj, dict):
            yield InputError(where, "not a JSON object")
            continue
        doc_id, text = field_value(obj, id_field), field_value(obj, text_field)
        if isinstance(doc_id, int) and not isinstance(doc_id, bool):
            doc_id = str(doc_id)
        if not isinstance(doc_id, str) or not doc_id:
            yield InputError(where, f"missing or empty {id_field!r} field")
        elif not isinstance(text, str):
            yield InputError(where, f"missing {text_field!r} field or not a string")
        else:
            yield doc_id, text


def read_documents(paths: list[str], text_field: str = "text", id_field: str = "id",
                   stdin: Any = None) -> Iterator[tuple[str, str] | InputError]:
    """``(id, text)`` for each document in files, directories and JSONL, or an InputError.

    Text and HTML files are one document each, with the path as its id; JSONL files
    (and ``-``, standard input) hold one ``{"id", "text"}`` record per line.
    """
    import gzip

    from .extract import html_to_text

    for given in paths:
        if given == "-":
            yield from _records("<stdin>", stdin, text_field, id_field)
            continue
        for path in _files(given):
            low = path.lower()
            try:
                if low.endswith(JSONL_SUFFIXES):
                    opener = gzip.open if low.endswith(".gz") else open
                    with opener(path, "rb") as fh:
                        yield from _records(path, fh, text_field, id_field)
                    continue
                text = Path(path).read_bytes().decode("utf-8", "replace").removeprefix("\ufeff")
            except (OSError, EOFError) as exc:
                yield InputError(path, f"cannot read: {exc}")
                continue
            if low.endswith(HTML_SUFFIXES):
                text = html_to_text(text)
            yield os.path.normpath(path), text
