"""Detection on long articles: ``python -m bench.longdocs [--docs 300] [--clean-docs 2000]``.

The detector is calibrated on articles cut at 400 words (`bench.calib`). This checks it on
held-out *test* articles of 600-3,000 words, spun by the seen and unseen spinners, and on
clean test articles of 400-5,000 words, with the document length counted as the shipped
detector does (at most `unspin.detect.MAX_CALIBRATED_WORDS`) and, for comparison, as it was
before (uncapped). Prints a Markdown table.
"""

from __future__ import annotations

import argparse
import math

import numpy as np

import unspin
import unspin.api as api
import unspin.detect as detect

from . import metrics as M
from .data import load_clean_docs, make_spun
from .spinners import SPINNERS

CONDITIONS = (("wordnet", 0.1), ("aiksaurus", 0.1), ("aiksaurus", 0.2))


def _scores(texts: list[str], cap: float) -> np.ndarray:
    # `check_many` takes a batch's features from `features_many` (imported into api).
    shipped = api.features_many

    def counted(n_words, *args):
        return [{**f, "log_words": math.log(min(max(n, 1), cap))}
                for n, f in zip(n_words, shipped(n_words, *args), strict=True)]

    api.features_many = counted
    try:
        return np.array([r.score for r in unspin.check_many(texts, spans=False)])
    finally:
        api.features_many = shipped


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.longdocs")
    ap.add_argument("--docs", type=int, default=300, help="spun articles per condition")
    ap.add_argument("--clean-docs", type=int, default=2000, help="clean articles (at most)")
    args = ap.parse_args(argv)
    docs = load_clean_docs(args.docs, split="test", seed=3, min_words=600, max_words=3000)
    clean = load_clean_docs(args.clean_docs, split="test", seed=4, min_words=400,
                            max_words=5000)
    spun = {f"{s} {r:.0%}": [d.spun for d in make_spun(SPINNERS[s](), docs, r, seed=5)]
            for s, r in CONDITIONS}
    thr = api.detector().threshold
    print(f"{len(docs)} spun articles per condition ({np.mean([d['n_words'] for d in docs]):.0f}"
          f" words on average); {len(clean)} clean articles "
          f"({np.mean([d['n_words'] for d in clean]):.0f} words); threshold {thr:.3f}\n")
    print("| length counted | clean flagged | " + " | ".join(
        f"{k}: flagged / AUC / TPR@1%" for k in spun) + " |")
    print("|---|---|" + "---|" * len(spun))
    for label, cap in (("up to 400 words (shipped)", detect.MAX_CALIBRATED_WORDS),
                       ("uncapped (before)", float("inf"))):
        pairs_clean = _scores([d["text"] for d in docs], cap)
        row = [label, f"{np.mean(_scores([d['text'] for d in clean], cap) >= thr):.1%}"]
        for texts in spun.values():
            s = _scores(texts, cap)
            y = [0] * len(docs) + [1] * len(docs)
            both = [*pairs_clean.tolist(), *s.tolist()]
            row.append(f"{np.mean(s >= thr):.1%} / {M.roc_auc(y, both):.4f} / "
                       f"{M.tpr_at_fpr(y, both):.1%}")
        print("| " + " | ".join(row) + " |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
