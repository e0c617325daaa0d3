"""Clean benchmark originals from the held-out corpus portions, and spun versions of them.

The held-out files are made by the corpus preparation script from ``../shared/corpora``::

    python scripts/prepare_corpus.py ../shared/corpora build/corpus

which writes ``build/corpus/heldout-enwiki.jsonl`` and ``heldout-enwikinews.jsonl`` (JSON
lines: id, title, text, source). Set ``UNSPIN_HELDOUT_DIR`` to read them from elsewhere.

Extraction holes (lost links and templates) would look like spinning damage, so every
sentence with a hole is dropped, as are headings (lines that do not end in ``.``, ``!`` or
``?``). Paragraph breaks are kept. Documents are split into a ``calib`` and a ``test`` half
by a hash of their id, so calibration never sees test documents.
"""

from __future__ import annotations

import json
import os
import zlib
from pathlib import Path

from unspin.corpus import DETERMINERS, has_hole
from unspin.tokens import SENTENCE_END, WORD, sentences, tokenize

from .spinners import Spinner, SpunDoc

REPO = Path(__file__).resolve().parents[1]
SOURCES = ("enwiki", "enwikinews")
SPLITS = ("calib", "test")
_QUOTES_BRACKETS = frozenset({'"', "(", "'", "‘", "“"})
_CLOSING = frozenset({'"', ")", "'", "’", "”"})


def heldout_dir() -> Path:
    """Directory of the held-out JSONL files (``UNSPIN_HELDOUT_DIR``, default build/corpus)."""
    d = Path(os.environ.get("UNSPIN_HELDOUT_DIR", "build/corpus"))
    return d if d.is_absolute() else REPO / d


def split_of(doc_id: str) -> str:
    """``"calib"`` or ``"test"``, fixed by a hash of the document id."""
    return SPLITS[zlib.crc32(f"split:{doc_id}".encode()) % 2]


def clean_sentence(norms: list[str]) -> bool:
    """True when a normalised sentence has no extraction hole and ends like a sentence."""
    while norms and norms[-1] in _CLOSING:
        norms = norms[:-1]
    if len(norms) < 4 or norms[-1] not in SENTENCE_END or has_hole(norms):
        return False
    # Holes has_hole misses: "the – partners", "a , b".
    for a, b in zip(norms, norms[1:], strict=False):
        if a in DETERMINERS and not b[0].isalnum() and b not in _QUOTES_BRACKETS:
            return False
    return True


def clean_text(text: str, max_words: int) -> tuple[str, int]:
    """Drop holed sentences and headings, keep paragraphs, cut at ``max_words``.

    Returns the cleaned text and its number of word tokens.
    """
    paragraphs: list[str] = []
    total = 0
    for line in text.split("\n"):
        toks = tokenize(line)
        tail = [t.text for t in toks if t.text not in _CLOSING]
        if not tail or tail[-1] not in SENTENCE_END:
            continue  # heading or empty line
        kept: list[str] = []
        sents = sentences(toks)
        for k in range(len(sents) - 1):  # closing quote after a full stop: 'said "no."'
            nxt = sents[k + 1]
            while nxt and nxt[0].text in _CLOSING and nxt[0].start == sents[k][-1].end:
                sents[k].append(nxt.pop(0))
        for sent in sents:
            if not sent:
                continue
            if not clean_sentence([t.norm for t in sent]):
                continue
            n = sum(t.kind == WORD for t in sent)
            if total + n > max_words:
                break
            kept.append(line[sent[0].start : sent[-1].end])
            total += n
        if kept:
            paragraphs.append(" ".join(kept))
        if total >= max_words * 0.97:
            break
    return "\n".join(paragraphs), total


def _iter_source(source: str):
    path = heldout_dir() / f"heldout-{source}.jsonl"
    if not path.exists():
        raise FileNotFoundError(
            f"{path} is missing: run `python scripts/prepare_corpus.py ../shared/corpora "
            "build/corpus` or set UNSPIN_HELDOUT_DIR"
        )
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            try:
                doc = json.loads(line)
            except ValueError:
                continue
            if isinstance(doc, dict) and isinstance(doc.get("text"), str):
                yield doc


def load_clean_docs(n: int, split: str = "test", seed: int = 0, min_words: int = 120,
                    max_words: int = 400) -> list[dict]:
    """Up to ``n`` clean held-out documents ``{"id", "text", "source", "n_words"}``.

    Half come from Wikipedia, half from Wikinews (more from one if the other runs out),
    in a fixed pseudo-random order given by ``seed``; the result is deterministic.
    """
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}")
    pools: dict[str, list[dict]] = {}
    for source in SOURCES:
        docs = [d for d in _iter_source(source) if split_of(str(d["id"])) == split]
        docs.sort(key=lambda d: zlib.crc32(f"{seed}:{d['id']}".encode()))
        pools[source] = docs
    wanted = {SOURCES[0]: n - n // 2, SOURCES[1]: n // 2}
    picked: dict[str, list[dict]] = {s: [] for s in SOURCES}
    cursor = dict.fromkeys(SOURCES, 0)

    def fill(source: str, k: int) -> None:
        pool = pools[source]
        while len(picked[source]) < k and cursor[source] < len(pool):
            doc = pool[cursor[source]]
            cursor[source] += 1
            text, words = clean_text(doc["text"], max_words)
            if words >= min_words:
                picked[source].append(
                    {"id": str(doc["id"]), "text": text, "source": source, "n_words": words})

    for source in SOURCES:
        fill(source, wanted[source])
    for source in SOURCES:  # top up from the other source if one ran short
        short = n - sum(len(v) for v in picked.values())
        if short > 0:
            fill(source, len(picked[source]) + short)
    out: list[dict] = []
    a, b = picked[SOURCES[0]], picked[SOURCES[1]]
    for i in range(max(len(a), len(b))):  # interleave, so any prefix mixes both sources
        out.extend(x[i] for x in (a, b) if i < len(x))
    return out[:n]


def make_spun(spinner: Spinner, docs: list[dict], rate: float, seed: int = 0) -> list[SpunDoc]:
    """Spin each document at ``rate``; the seed per document depends on its id."""
    out = []
    for doc in docs:
        sd = spinner.spin(doc["text"], rate, zlib.crc32(f"{seed}:{rate}:{doc['id']}".encode()))
        sd.id = doc["id"]
        out.append(sd)
    return out
