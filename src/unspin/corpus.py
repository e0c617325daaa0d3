"""Reading text corpora for building statistics, and skipping extraction holes.

Wikipedia and Wikinews dumps processed by WikiExtractor lose the text of links and
templates, leaving holes such as "the of the", "( )" or ", , at the". An n-gram that spans
a hole teaches the language model something false, so sentences are cut at holes into
fragments, and only whole sentences without holes are used as clean benchmark originals.
"""

from __future__ import annotations

import gzip
import io
import json
from collections.abc import Iterable, Iterator
from pathlib import Path

from .formats import field_value
from .tokens import norm_sentences

DETERMINERS = frozenset({"the", "a", "an", "its", "their", "his", "her", "our", "this", "these"})
PREPOSITIONS = frozenset(
    {"of", "in", "at", "to", "for", "by", "with", "from", "on", "and", "or", "as", "into",
     "than", "between", "about", "including", "is", "was", "are", "were"}
)
FUNCTION_WORDS = DETERMINERS | PREPOSITIONS | frozenset({"that", "which", "who", "'s"})
CLOSERS = frozenset({".", ",", ")", ";", ":", "!", "?"})
PUNCT_AFTER_PUNCT = frozenset({",", ";", ":", "("})


def is_hole(left: str, right: str) -> bool:
    """True when a link or template was probably lost between two adjacent tokens."""
    if left == "(" and right == ")":
        return True
    if left == '"' and right == '"':
        return True
    if left in PUNCT_AFTER_PUNCT and right in CLOSERS:
        return True
    if left in DETERMINERS and (right in FUNCTION_WORDS or right in CLOSERS):
        return True
    if left in PREPOSITIONS and right in CLOSERS:
        return True
    return False


def split_at_holes(sentence: list[str]) -> list[list[str]]:
    """Cut a normalised sentence into fragments that span no hole.

    Leading punctuation left by a lost subject (", the ...") is dropped.
    """
    fragments: list[list[str]] = []
    current: list[str] = []
    for tok in sentence:
        if current and is_hole(current[-1], tok):
            if current[-1] in ("(", '"'):
                current.pop()
            if current:
                fragments.append(current)
            current = [] if tok in CLOSERS or tok in (")", '"') else [tok]
            continue
        if not current and tok in CLOSERS:
            continue
        current.append(tok)
    if current:
        fragments.append(current)
    return fragments


def has_hole(sentence: list[str]) -> bool:
    """True when a normalised sentence shows an extraction hole anywhere."""
    if not sentence or sentence[0] in CLOSERS:
        return True
    return any(is_hole(a, b) for a, b in zip(sentence, sentence[1:], strict=False))


def training_fragments(text: str) -> Iterator[tuple[list[str], bool, bool]]:
    """Yield ``(tokens, starts_sentence, ends_sentence)`` fragments for n-gram counting."""
    for sent in norm_sentences(text):
        frags = split_at_holes(sent)
        for i, frag in enumerate(frags):
            whole_start = i == 0 and frag[0] == sent[0]
            whole_end = i == len(frags) - 1 and frag[-1] == sent[-1]
            yield frag, whole_start, whole_end


def open_text(path: str | Path) -> io.TextIOBase:
    """Open a plain or gzip-compressed text file for reading as UTF-8."""
    path = Path(path)
    if path.suffix == ".gz":
        return io.TextIOWrapper(gzip.open(path, "rb"), encoding="utf-8", errors="replace")
    return open(path, encoding="utf-8", errors="replace")  # noqa: SIM115


def iter_documents(paths: Iterable[str | Path], text_field: str = "text") -> Iterator[dict]:
    """Yield documents from JSONL (optionally gzip) or plain text files.

    JSONL lines give dicts; a plain text file gives one document ``{"id": path, "text": ...}``.
    Lines that are not valid JSON objects with a string text field are skipped.
    """
    for path in paths:
        path = Path(path)
        if path.is_dir():
            yield from iter_documents(sorted(p for p in path.rglob("*") if p.is_file()))
            continue
        name = path.name.removesuffix(".gz")
        with open_text(path) as fh:
            if name.endswith((".jsonl", ".json", ".ndjson")):
                for line in fh:
                    try:
                        doc = json.loads(line)
                    except ValueError:
                        continue
                    if not isinstance(doc, dict):
                        continue
                    text = field_value(doc, text_field)  # ("a.b": field b of object a)
                    if isinstance(text, str):
                        yield doc if text_field in doc else {**doc, text_field: text}
            else:
                yield {"id": str(path), "text": fh.read()}
