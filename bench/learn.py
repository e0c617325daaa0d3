"""Does a learned table help? ``python -m bench.learn [--docs 200] [--rate 0.2]``

For each reference spinner: spin ``--docs`` calibration documents, learn a table from the
(spun, original) pairs (`unspin.learn.learn_table`), then restore ``--docs`` *test*
documents spun by the same spinner, with and without the table (no index: restoration
from the model and the table alone). Prints restored share and false/wrong edits.
"""

from __future__ import annotations

import argparse
import json
import sys

import unspin
from unspin.learn import learn_table

from . import metrics as M
from .data import load_clean_docs, make_spun
from .spinners import SPINNERS


def score(spun_docs, table=None) -> dict:
    return M.pooled_restoration(
        [M.restoration_scores(sd, unspin.restore(sd.spun, table=table).edits)
         for sd in spun_docs])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.learn")
    ap.add_argument("--docs", type=int, default=200)
    ap.add_argument("--rate", type=float, default=0.2)
    ap.add_argument("--spinners", default="wordnet,aiksaurus")
    args = ap.parse_args(argv)
    train_docs = load_clean_docs(args.docs, split="calib", seed=3)
    test_docs = load_clean_docs(args.docs, split="test", seed=3)
    rows = []
    for name in args.spinners.split(","):
        spinner = SPINNERS[name]()
        train = make_spun(spinner, train_docs, args.rate, seed=11)
        table = learn_table((sd.spun, sd.original) for sd in train)
        test = make_spun(spinner, test_docs, args.rate, seed=12)
        base = score(test)
        learned = score(test, table)
        rows.append({"spinner": name, "pairs": len(table), "without": base, "with": learned})
        print(f"{name}: {len(table)} pairs", file=sys.stderr)
    print("| spinner | learned pairs | restored without | restored with | gain (points) "
          "| false /100w without / with | wrong /100w without / with |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        a, b = r["without"], r["with"]
        print(f"| {r['spinner']} | {r['pairs']} | {a['restored']:.1%} | {b['restored']:.1%} "
              f"| {100 * (b['restored'] - a['restored']):+.1f} "
              f"| {a['false_per_100w']:.2f} / {b['false_per_100w']:.2f} "
              f"| {a['wrong_per_100w']:.2f} / {b['wrong_per_100w']:.2f} |")
    print(json.dumps(rows), file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
