"""Benchmark metrics: detection (ROC), localisation (spans), restoration, chrF.

Pure functions of plain data. Spans and edits may be objects or dicts with the contract's
field names (``start``, ``end``, ``text``, ``replacement``, ``kind``); true swaps are
`bench.spinners.Swap` objects or dicts with ``spun_start``, ``spun_end``, ``orig_text``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

from unspin.tokens import WORD, tokenize


def _get(obj: Any, name: str, default: Any = None) -> Any:
    if isinstance(obj, dict):
        return obj.get(name, default)
    return getattr(obj, name, default)


# ---------------------------------------------------------------------------------------
# Detection


def roc_curve(labels: Sequence[int], scores: Sequence[float]) -> tuple[list[float], list[float],
                                                                       list[float]]:
    """ROC points ``(fpr, tpr, thresholds)``, from (0, 0) to (1, 1); ties form one step.

    A document is flagged when ``score >= threshold``.
    """
    pos = sum(1 for y in labels if y)
    neg = len(labels) - pos
    if pos == 0 or neg == 0:
        raise ValueError("need both positive and negative labels")
    pairs = sorted(zip(scores, labels, strict=True), key=lambda p: -p[0])
    fpr, tpr, thr = [0.0], [0.0], [float("inf")]
    tp = fp = 0
    i = 0
    while i < len(pairs):
        s = pairs[i][0]
        while i < len(pairs) and pairs[i][0] == s:
            if pairs[i][1]:
                tp += 1
            else:
                fp += 1
            i += 1
        fpr.append(fp / neg)
        tpr.append(tp / pos)
        thr.append(float(s))
    return fpr, tpr, thr


def roc_auc(labels: Sequence[int], scores: Sequence[float]) -> float:
    """Area under the ROC curve (probability a positive outscores a negative; ties 1/2)."""
    fpr, tpr, _ = roc_curve(labels, scores)
    return sum((fpr[k] - fpr[k - 1]) * (tpr[k] + tpr[k - 1]) / 2 for k in range(1, len(fpr)))


def tpr_at_fpr(labels: Sequence[int], scores: Sequence[float], fpr: float = 0.01) -> float:
    """Highest true-positive rate of any threshold whose false-positive rate is <= ``fpr``."""
    fprs, tprs, _ = roc_curve(labels, scores)
    return max(t for f, t in zip(fprs, tprs, strict=True) if f <= fpr + 1e-12)


def flagged_share(scores: Sequence[float], threshold: float) -> float:
    """Share of scores at or above the threshold."""
    return sum(1 for s in scores if s >= threshold) / len(scores) if scores else 0.0


# ---------------------------------------------------------------------------------------
# Localisation


def _intervals(items: Sequence[Any], start: str, end: str) -> list[tuple[int, int]]:
    return [(int(_get(x, start)), int(_get(x, end))) for x in items]


def _union_chars(iv: list[tuple[int, int]]) -> set[int]:
    chars: set[int] = set()
    for a, b in iv:
        chars.update(range(a, b))
    return chars


def _overlaps(a: tuple[int, int], b: tuple[int, int]) -> bool:
    return a[0] < b[1] and b[0] < a[1]


def span_scores(pred_spans: Sequence[Any], swaps: Sequence[Any]) -> dict[str, float | int]:
    """Predicted spans vs true swaps, in spun-text character offsets.

    Returns character-level overlap counts and precision/recall (``char_*``), and swap-level
    scores: a swap is found if any predicted span overlaps it (``swap_recall``); a predicted
    span is right if it overlaps any swap (``span_precision``). Counts are included so that
    callers can micro-average over documents. Precision of an empty prediction is 1.
    """
    pred = _intervals(pred_spans, "start", "end")
    true = _intervals(swaps, "spun_start", "spun_end")
    pc, tc = _union_chars(pred), _union_chars(true)
    inter = len(pc & tc)
    found = sum(1 for t in true if any(_overlaps(t, p) for p in pred))
    right = sum(1 for p in pred if any(_overlaps(p, t) for t in true))
    return {
        "char_overlap": inter,
        "char_pred": len(pc),
        "char_true": len(tc),
        "char_precision": inter / len(pc) if pc else 1.0,
        "char_recall": inter / len(tc) if tc else 1.0,
        "swaps": len(true),
        "swaps_found": found,
        "spans": len(pred),
        "spans_right": right,
        "swap_recall": found / len(true) if true else 1.0,
        "span_precision": right / len(pred) if pred else 1.0,
    }


# ---------------------------------------------------------------------------------------
# Restoration


def _norm_ws(s: str) -> str:
    return " ".join(s.split()).lower()


def edited_swap(swap: Any, inside: Sequence[Any]) -> str:
    """The swap's spun text with the edits lying inside it applied (edits in spun-text
    offsets); compare it with ``orig_text`` through `swap_restored`."""
    s0 = int(_get(swap, "spun_start"))
    text = _get(swap, "spun_text")
    for e in sorted(inside, key=lambda e: -_get(e, "start")):
        a, b = _get(e, "start") - s0, _get(e, "end") - s0
        text = text[:a] + _get(e, "replacement") + text[b:]
    return text


def swap_restored(swap: Any, text: str) -> bool:
    """Does ``text`` give the swap's original back (case-insensitive, whitespace-normalised)?"""
    return _norm_ws(text) == _norm_ws(_get(swap, "orig_text"))


def n_words(text: str) -> int:
    """Number of word tokens, as the tokenizer counts them."""
    return sum(1 for t in tokenize(text) if t.kind == WORD)


def restoration_scores(spun_doc: Any, edits: Sequence[Any], kinds: tuple[str, ...] = ("spin",)
                       ) -> dict[str, float | int]:
    """How many swapped words an edit list restores, and how many edits are false or wrong.

    For each swap, the edits lying inside its spun span are applied to the swap's spun text;
    the swap counts as restored when the result equals ``orig_text`` (case-insensitive,
    whitespace-normalised). Swaps are weighted by their number of original word tokens.
    A false edit overlaps no swap; a wrong edit overlaps a swap that ends up not restored.
    Only edits whose ``kind`` is in ``kinds`` are counted (cleanup edits are ignored).

    Args:
        spun_doc: `SpunDoc` (``swaps``, ``n_words``) or a dict with those keys.
        edits: Edits in spun-text offsets (``start``, ``end``, ``replacement``, ``kind``).
    """
    swaps = _get(spun_doc, "swaps")
    words_total = int(_get(spun_doc, "n_words"))
    eds = [e for e in edits if _get(e, "kind", "spin") in kinds]
    eds.sort(key=lambda e: (_get(e, "start"), _get(e, "end")))
    restored_words = swapped_words = restored = 0
    false_edits = wrong_edits = 0
    touched_ok: set[int] = set()
    touched_bad: set[int] = set()
    for s in swaps:
        s0, s1 = int(_get(s, "spun_start")), int(_get(s, "spun_end"))
        w = max(1, n_words(_get(s, "orig_text")))
        swapped_words += w
        inside = [e for e in eds if s0 <= _get(e, "start") and _get(e, "end") <= s1]
        ok = swap_restored(s, edited_swap(s, inside))
        if ok:
            restored_words += w
            restored += 1
        for k, e in enumerate(eds):
            if _overlaps((_get(e, "start"), _get(e, "end")), (s0, s1)):
                (touched_ok if ok and any(e is x for x in inside) else touched_bad).add(k)
    for k, e in enumerate(eds):
        hits = any(
            _overlaps((_get(e, "start"), _get(e, "end")),
                      (int(_get(s, "spun_start")), int(_get(s, "spun_end"))))
            for s in swaps)
        if not hits:
            false_edits += 1
        elif k in touched_bad and k not in touched_ok:
            wrong_edits += 1
    return {
        "swaps": len(swaps),
        "swaps_restored": restored,
        "swapped_words": swapped_words,
        "restored_words": restored_words,
        "restored_share": restored_words / swapped_words if swapped_words else 1.0,
        "edits": len(eds),
        "false_edits": false_edits,
        "wrong_edits": wrong_edits,
        "words": words_total,
        "false_edits_per_100w": 100 * false_edits / words_total if words_total else 0.0,
    }


def edit_outcomes(spun_doc: Any, edits: Sequence[Any]) -> list[bool]:
    """Per edit (in the order given): does it give back the original? An edit is right
    when it lies inside a swap that the edits restore (`restoration_scores`' rule); one
    on a swap left unrestored (a name half restored, a wrong original) or on no swap is
    not."""
    swaps = _get(spun_doc, "swaps")
    restored = []
    for s in swaps:
        s0, s1 = int(_get(s, "spun_start")), int(_get(s, "spun_end"))
        inside = [e for e in edits if s0 <= _get(e, "start") and _get(e, "end") <= s1]
        restored.append((s0, s1, swap_restored(s, edited_swap(s, inside))))
    return [any(ok and s0 <= _get(e, "start") and _get(e, "end") <= s1
                for s0, s1, ok in restored) for e in edits]


def false_edits_clean(text: str, edits: Sequence[Any], kinds: tuple[str, ...] = ("spin",)
                      ) -> dict[str, float | int]:
    """Edits made on clean (unspun) text: every one is false."""
    k = sum(1 for e in edits if _get(e, "kind", "spin") in kinds)
    w = n_words(text)
    return {"false_edits": k, "words": w, "false_edits_per_100w": 100 * k / w if w else 0.0}


# ---------------------------------------------------------------------------------------
# chrF


def _char_ngrams(text: str, n: int) -> Counter:
    s = "".join(text.split())  # chrF ignores whitespace
    return Counter(s[i : i + n] for i in range(len(s) - n + 1))


def chrf(hypothesis: str, reference: str, max_n: int = 6, beta: float = 2.0) -> float:
    """chrF (Popović 2015) as sacrebleu computes it: character n-grams n = 1..6, beta = 2.

    Whitespace is ignored; an F-score is computed per n-gram order and averaged over the
    orders present in both strings. Returns a score in [0, 100].
    """
    b2 = beta * beta
    total = 0.0
    orders = 0
    for n in range(1, max_n + 1):
        h, r = _char_ngrams(hypothesis, n), _char_ngrams(reference, n)
        nh, nr = sum(h.values()), sum(r.values())
        if nh == 0 or nr == 0:
            continue
        match = sum((h & r).values())
        p, rec = match / nh, match / nr
        if p + rec > 0:
            total += (1 + b2) * p * rec / (b2 * p + rec)
        orders += 1
    return 100 * total / orders if orders else 0.0


def pooled_restoration(scores: Sequence[dict]) -> dict[str, float]:
    """Pool per-document `restoration_scores` into corpus-level shares and rates."""
    total = {k: sum(s[k] for s in scores)
             for k in ("swapped_words", "restored_words", "false_edits", "wrong_edits", "words")}
    return {
        "restored": total["restored_words"] / max(total["swapped_words"], 1),
        "false_per_100w": 100 * total["false_edits"] / max(total["words"], 1),
        "wrong_per_100w": 100 * total["wrong_edits"] / max(total["words"], 1),
    }
