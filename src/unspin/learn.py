"""Learning a spinner's substitution table from aligned (spun, original) pairs.

A spinner reuses one table, so every aligned pair of a spun copy and its original shows
some of its entries. Aligning the two token sequences (difflib's longest-matching-blocks
alignment) leaves the swapped stretches as "replace" operations; each one up to four
tokens long on both sides is a (observed, original) pair. Counted over many documents
they make a `LearnedTable`, which `check` and `restore` take as ``table=``.
"""

from __future__ import annotations

from collections.abc import Iterable
from difflib import SequenceMatcher

from .candidates import MAX_PHRASE, LearnedTable
from .tokens import WORD, tokenize


def aligned_pairs(spun: str, original: str) -> list[tuple[tuple[str, ...], tuple[str, ...]]]:
    """The substitutions that turn ``original`` into ``spun``, as normalised token tuples.

    Args:
        spun: The spun copy.
        original: The text it was made from.

    Returns:
        ``(observed, original)`` pairs, in text order: one per replaced stretch of at most
        four tokens on each side (word by word when both sides have the same length) that
        holds a word on both sides.
    """
    a = tokenize(spun)
    b = tokenize(original)
    matcher = SequenceMatcher(None, [t.norm for t in a], [t.norm for t in b], autojunk=False)
    pairs = []
    for op, i1, i2, j1, j2 in matcher.get_opcodes():
        if op != "replace" or i2 - i1 > MAX_PHRASE or j2 - j1 > MAX_PHRASE:
            continue
        obs, orig = a[i1:i2], b[j1:j2]
        # Neighbouring single-word swaps come out as one stretch of equal length on both
        # sides; word by word they are the table's entries and apply elsewhere too.
        chunks = [([o], [g]) for o, g in zip(obs, orig, strict=True)] \
            if len(obs) == len(orig) else [(obs, orig)]
        for ob, og in chunks:
            if any(t.kind == WORD for t in ob) and any(t.kind == WORD for t in og):
                pairs.append((tuple(t.norm for t in ob), tuple(t.norm for t in og)))
    return pairs


def learn_table(documents: Iterable[tuple[str, str]], min_count: int = 1) -> LearnedTable:
    """Count aligned substitutions over (spun, original) documents into a table.

    Args:
        documents: ``(spun, original)`` text pairs.
        min_count: Drop pairs seen fewer times than this.

    Returns:
        The learned table.
    """
    counts: dict[tuple[tuple[str, ...], tuple[str, ...]], int] = {}
    for spun, original in documents:
        for pair in aligned_pairs(spun, original):
            counts[pair] = counts.get(pair, 0) + 1
    table = LearnedTable()
    for (obs, orig), n in counts.items():
        if n >= min_count:
            table.add(obs, orig, n)
    return table
