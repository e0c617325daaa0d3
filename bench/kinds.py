"""Restored share by kind of swap: ``python -m bench.kinds [--spinner aiksaurus] [--docs 100]``.

Spins held-out *test* documents at ``--rate`` and restores them with the default settings,
then sorts every swap by what it changed, from its texts alone: a number word made digits
("three" -> "3"), a capitalised word or a multiword name ("Supreme Court" -> "Excellent
Courtroom"), a phrase on either side ("because" -> "as a result of"), or a single word.
Prints each kind's share of the swapped words, the share restored exactly, and the share an
edit touched; ``--examples N`` also prints N unrestored swaps of each kind (spun text,
original, what the edits made of it). A diagnosis of where restoration fails, not a bar.
"""

from __future__ import annotations

import argparse
import collections
import random

import unspin

from .data import load_clean_docs, make_spun
from .metrics import edited_swap, swap_restored
from .spinners import SPINNERS

KINDS = ("word", "capital-word", "name", "phrase", "number")


def kind_of(spun: str, orig: str) -> str:
    """The kind of one swap, from its spun and original texts."""
    if any(ch.isdigit() for ch in spun) and not any(ch.isdigit() for ch in orig):
        return "number"
    words = orig.split()
    if len(words) > 1 or len(spun.split()) > 1:
        name = orig[:1].isupper() and spun[:1].isupper() and all(
            w[:1].isupper() or (w.islower() and len(w) < 4) for w in words)
        return "name" if name else "phrase"
    return "capital-word" if orig[:1].isupper() else "word"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.kinds", description=__doc__.split("\n")[0])
    ap.add_argument("--spinner", default="aiksaurus", choices=sorted(SPINNERS))
    ap.add_argument("--docs", type=int, default=100)
    ap.add_argument("--rate", type=float, default=0.2)
    ap.add_argument("--examples", type=int, default=0, metavar="N")
    args = ap.parse_args(argv)
    docs = load_clean_docs(args.docs, split="test")
    total: collections.Counter[str] = collections.Counter()
    right: collections.Counter[str] = collections.Counter()
    touched: collections.Counter[str] = collections.Counter()
    missed: dict[str, list[tuple[str, str, str | None]]] = collections.defaultdict(list)
    for sd in make_spun(SPINNERS[args.spinner](), docs, args.rate, seed=0):
        edits = [e for e in unspin.restore(sd.spun).edits if e.kind == "spin"]
        for s in sd.swaps:
            k = kind_of(s.spun_text, s.orig_text)
            w = max(1, len(s.orig_text.split()))
            inside = [e for e in edits if s.spun_start <= e.start and e.end <= s.spun_end]
            text = edited_swap(s, inside)
            ok = swap_restored(s, text)
            total[k] += w
            right[k] += w * ok
            touched[k] += w * bool(inside)
            if not ok:
                missed[k].append((s.spun_text, s.orig_text, text if inside else None))
    n = sum(total.values())
    print(f"{args.spinner} at {args.rate:.0%}, {args.docs} test documents, {n} swapped words\n")
    print("| kind | share of swapped words | restored | edited |\n|---|---|---|---|")
    for k in KINDS:
        if total[k]:
            print(f"| {k} | {total[k] / n:.1%} | {right[k] / total[k]:.1%} | "
                  f"{touched[k] / total[k]:.1%} |")
    print(f"| all | 100% | {sum(right.values()) / n:.1%} | {sum(touched.values()) / n:.1%} |")
    rng = random.Random(1)
    for k in KINDS if args.examples else ():
        if missed[k]:
            print(f"\n{k}, not restored (spun, original, edited to):")
            for ex in rng.sample(missed[k], min(args.examples, len(missed[k]))):
                print("  ", ex)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
