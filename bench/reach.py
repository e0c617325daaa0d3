"""Where the spinners' originals rank among a word's table entries: ``python -m bench.reach``.

For every single-word swap of the benchmark spinners on calibration documents, the rank
of the true original among the observed word's entries in the decoder's word table, under
the order of `unspin.decode.WordTable` with ``order_prior`` set to each value asked for
(0: channel score alone). With ``--outcomes``, also what `unspin.restore` does with each
swap (restored, left alone, changed to another word), by where its original stands.

    python -m bench.reach --docs 150 --priors 0 0.5 1 2
    python -m bench.reach --docs 100 --outcomes
"""

from __future__ import annotations

import argparse
from collections import Counter

import numpy as np

from .data import load_clean_docs, make_spun
from .spinners import SPINNERS


def word_swaps(docs, spinner: str, rate: float) -> list[tuple[str, str]]:
    """(observed, original) of every swap of one word for one word, lower-cased."""
    out = []
    for d in make_spun(SPINNERS[spinner](), docs, rate, 0):
        for s in d.swaps:
            a, b = s.spun_text.lower(), s.orig_text.lower()
            if " " not in a and " " not in b:
                out.append((a, b))
    return out


def ranks(table, lm, swaps: list[tuple[str, str]]) -> np.ndarray:
    """Rank of each swap's original among its observed word's entries (-1: absent)."""
    out = np.full(len(swaps), -1, dtype=np.int64)
    for k, (a, b) in enumerate(swaps):
        wa, wb = lm.index.get(a), lm.index.get(b)
        if wa is None or wb is None:
            continue
        hit = np.flatnonzero(table.orig[table.offsets[wa]:table.offsets[wa + 1]] == wb)
        if len(hit):
            out[k] = int(hit[0])
    return out


def outcomes(decoder, docs, spinner: str, rate: float) -> Counter:
    """(where the original stands, what restore did) for each single-word swap."""
    import unspin

    lm, table, k = decoder.lm, decoder.table(), decoder.params.max_candidates
    count: Counter = Counter()
    for d in make_spun(SPINNERS[spinner](), docs, rate, 0):
        edits = [e for e in unspin.restore(d.spun).edits if e.kind == "spin"]
        for s in d.swaps:
            a, b = s.spun_text.lower(), s.orig_text.lower()
            if " " in a or " " in b:
                continue
            wa, wb = lm.index.get(a), lm.index.get(b)
            if wa is None or wb is None:
                where = "unknown word"
            else:
                entries = table.orig[table.offsets[wa]:table.offsets[wa + 1]].tolist()
                where = (f"first {k}" if wb in entries[:k] else
                         "in the table" if wb in entries else "no source")
            hit = [e for e in edits if e.start < s.spun_end and e.end > s.spun_start]
            did = ("left alone" if not hit else
                   "restored" if hit[0].replacement.lower() == b else "changed wrongly")
            count[(where, did)] += 1
    return count


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.reach", description=__doc__.split("\n")[0])
    ap.add_argument("--docs", type=int, default=150, help="calibration documents")
    ap.add_argument("--rate", type=float, default=0.2)
    ap.add_argument("--spinners", nargs="*", default=["aiksaurus", "wordnet"])
    ap.add_argument("--priors", nargs="*", type=float, default=[0.0, 1.0])
    ap.add_argument("--outcomes", action="store_true", help="also run restore on the swaps")
    args = ap.parse_args(argv)

    from unspin.decode import WordTable
    from unspin.models import get_models

    decoder = get_models().decoder
    docs = load_clean_docs(args.docs, split="calib", seed=0)
    shipped = decoder.params.order_prior
    print("| spinner | order_prior | first 5 | first 10 | first 15 | first 30 | anywhere |")
    print("|---|---|---|---|---|---|---|")
    for name in args.spinners:
        swaps = word_swaps(docs, name, args.rate)
        for prior in args.priors:
            decoder.params.order_prior = prior
            table = WordTable.build(decoder.lm, decoder.source, decoder.params)
            r = ranks(table, decoder.lm, swaps)
            cells = [f"{100 * np.mean((r >= 0) & (r < n)):.1f} %" for n in (5, 10, 15, 30)]
            print(f"| {name} ({len(swaps)} swaps) | {prior:g} | {' | '.join(cells)} | "
                  f"{100 * np.mean(r >= 0):.1f} % |")
    decoder.params.order_prior = shipped
    if args.outcomes:
        for name in args.spinners:
            count = outcomes(decoder, docs, name, args.rate)
            total = sum(count.values())
            print(f"\n{name}: {total} single-word swaps")
            for (where, did), n in sorted(count.items()):
                print(f"  {where:>14} / {did:<15} {n:6d}  {100 * n / total:5.1f} %")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
