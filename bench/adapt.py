"""Can the restorer learn an unseen spinner's table from its output alone?
``python -m bench.adapt [--train 400] [--test 100]``

The unseen spinner's originals are mostly out of reach of the shipped sources (see
``bench.reach --beyond``). A curator often holds many pages of the same site, spun with the
same table but without their originals. Two ways to turn such pages into a
`unspin.LearnedTable`, both without any original text:

- **self-training**: restore the pages and count the edits; pairs made at least
  ``--min-count`` times become the table (only pairs the sources already propose);
- **context induction**: for every word of the pages, the context model's distribution
  over fillers of its slot (`unspin.context.ContextModel.slot_vectors`); per observed word
  and filler, the mean probability over the word's occurrences in the spun pages minus
  that over its occurrences in clean documents, times the square root of the occurrences;
  the top ``--top`` pairs (words at least three times in the pages and more than twice as
  often as in the clean documents) become the table (any word of the model, in reach or
  not).

Each table is then used (``table=``) to restore ``--test`` *test* documents spun by the
same spinner at 20 %, and 100 clean test documents (false edits there). Printed: how many
pairs are among the spinner's true swaps on the pages and the share of those swaps they
cover, restored share, false and wrong edits per 100 words, next to no table.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import Counter, defaultdict

import numpy as np

import unspin
from unspin.candidates import LearnedTable
from unspin.lm import BOS, EOS, NONE
from unspin.models import get_models
from unspin.tokens import find_tokens, lower_tokens, tokenize

from . import metrics as M
from .data import load_clean_docs, make_spun
from .spinners import SPINNERS

TOP_FILLERS = 30  # fillers per slot kept in the sums


def _norm(text: str) -> tuple[str, ...]:
    return tuple(t.norm for t in tokenize(text) if not t.norm.isspace())


def self_trained(pages: list[str], min_count: int) -> Counter:
    """(observed, original) token tuples of the spin edits `restore` makes on the pages,
    with their counts, those made at least ``min_count`` times."""
    counts: Counter = Counter()
    for text in pages:
        for e in unspin.restore(text).edits:
            if e.kind == "spin":
                counts[(_norm(e.text), _norm(e.replacement))] += 1
    return Counter({p: c for p, c in counts.items() if c >= min_count})


def filler_sums(texts: list[str]) -> tuple[dict, Counter]:
    """Per observed word (context-model id): the summed probability of each of the top
    fillers of its slots, and its number of occurrences (alphabetic words only)."""
    decoder = get_models().decoder
    model, cids = decoder._context_model()
    emb = model._vectors(np.arange(model.vocab))
    sums: dict[int, Counter] = defaultdict(Counter)
    occ: Counter = Counter()
    for text in texts:
        toks = find_tokens(text)
        norms = lower_tokens(toks, straight_quotes=True)
        g = cids[np.concatenate(([NONE, BOS], decoder.lm.ids(norms), [EOS])).astype(np.int64)]
        at = np.flatnonzero(g >= 4)
        at = at[np.fromiter((norms[i - 2].isalpha() for i in at.tolist()), dtype=bool,
                            count=len(at))]
        if not len(at):
            continue
        sc = model.slot_vectors(g, at) @ emb.T + model.bias
        sc[:, :4] = -np.inf
        sc -= sc.max(axis=1, keepdims=True)
        p = np.exp(sc)
        p /= p.sum(axis=1, keepdims=True)
        top = np.argpartition(-p, TOP_FILLERS, axis=1)[:, :TOP_FILLERS]
        for k, w in enumerate(g[at].tolist()):
            occ[w] += 1
            row = sums[w]
            for o in top[k].tolist():
                if o != w:
                    row[o] += p[k, o]
    return sums, occ


def induced(pages: list[str], clean: list[str], top: int) -> list[tuple[str, str]]:
    """The ``top`` (observed, original) word pairs by context induction (module doc)."""
    model, _ = get_models().decoder._context_model()
    s_sum, s_occ = filler_sums(pages)
    c_sum, c_occ = filler_sums(clean)
    scored = []
    for w, row in s_sum.items():
        n, nc = s_occ[w], c_occ.get(w, 0)
        if n < 3 or n <= 2 * nc:
            continue
        for o, m in row.items():
            lift = (m / n - c_sum[w].get(o, 0.0) / (nc + 1)) * np.sqrt(n)
            scored.append((lift, model.words[w], model.words[o]))
    scored.sort(reverse=True)
    return [(w, o) for _, w, o in scored[:top]]


def evaluate(test, clean, table, min_confidence: float | None = None) -> dict:
    def edits(text):
        return unspin.restore(text, table=table, min_confidence=min_confidence).edits

    r = M.pooled_restoration([M.restoration_scores(sd, edits(sd.spun)) for sd in test])
    cs = [M.false_edits_clean(d["text"], edits(d["text"])) for d in clean]
    r["clean_false_per_100w"] = 100 * sum(c["false_edits"] for c in cs) / max(
        1, sum(c["words"] for c in cs))
    return r


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.adapt", description=__doc__.split("\n")[0])
    ap.add_argument("--train", type=int, default=400, help="unlabeled spun pages")
    ap.add_argument("--test", type=int, default=100, help="spun test documents")
    ap.add_argument("--spinner", default="aiksaurus")
    ap.add_argument("--min-count", type=int, default=3, help="self-training: least edits")
    ap.add_argument("--top", type=int, default=100, help="context induction: pairs kept")
    ap.add_argument("--learned", type=float, nargs="*", default=[3.0],
                    help="DecodeParams.learned values to try (the shipped one is 3.0)")
    ap.add_argument("--show", type=int, default=20, help="induced pairs to print")
    ap.add_argument("--baseline-confidence", type=float, nargs="*", default=[],
                    help="also restore without a table at these edit thresholds (the other "
                         "way to trade false edits for restorations; on restore's reported "
                         "scale since session 15: session 13's 0.5 / 0.4 / 0.3 were on the "
                         "decoder's, see bench.confidence)")
    args = ap.parse_args(argv)
    t0 = time.time()
    spinner = SPINNERS[args.spinner]()
    train = make_spun(spinner, load_clean_docs(args.train, split="calib", seed=5), 0.2, seed=21)
    pages = [sd.spun for sd in train]
    test = make_spun(spinner, load_clean_docs(args.test, split="test", seed=3), 0.2, seed=12)
    clean_test = load_clean_docs(100, split="test", seed=4)
    swaps = Counter((_norm(sw.spun_text), _norm(sw.orig_text)) for sd in train
                    for sw in sd.swaps)

    st = self_trained(pages, args.min_count)
    ind = induced(pages, [d["text"] for d in load_clean_docs(args.train, split="calib",
                                                             seed=9)], args.top)
    print(f"tables made ({time.time() - t0:.0f} s)", file=sys.stderr)
    print("context induction, best pairs (* a true swap of the pages): " + ", ".join(
        f"{w} -> {o}{' *' if ((w,), (o,)) in swaps else ''}" for w, o in ind[:args.show]))
    tables: dict[str, list[tuple[tuple[str, ...], tuple[str, ...], int]]] = {
        "self-training": [(a, b, c) for (a, b), c in st.items()],
        "context induction": [((w,), (o,), 1) for w, o in ind],
    }
    tables["both"] = tables["self-training"] + tables["context induction"]
    print(f"{args.spinner} spinner, {args.train} unlabeled pages, {args.test} test documents "
          "at 20 %, 100 clean test documents\n")
    print("| table | pairs | true pairs | pages' swaps covered | `learned` | restored "
          "| false /100w | wrong /100w | clean false /100w |")
    print("|---|---|---|---|---|---|---|---|---|")
    rows = [("none", None)] + [(k, v) for k, v in tables.items()]
    for name, pairs in rows:
        table = None
        if pairs is not None:
            table = LearnedTable()
            for a, b, c in pairs:
                table.add(a, b, c)
        true = sum((a, b) in swaps for a, b, _ in pairs) if pairs is not None else 0
        covered = sum(swaps[(a, b)] for a, b, _ in pairs) / max(1, sum(swaps.values())) \
            if pairs is not None else 0.0
        for w in (args.learned if pairs is not None else [3.0]):
            get_models(table).decoder.params.learned = w
            r = evaluate(test, clean_test, table)
            n = len(pairs) if pairs is not None else 0
            print(f"| {name} | {n} | {true} | {covered:.1%} | {w:g} | {r['restored']:.1%} "
                  f"| {r['false_per_100w']:.2f} | {r['wrong_per_100w']:.2f} "
                  f"| {r['clean_false_per_100w']:.3f} |", flush=True)
        if pairs is None:
            for c in args.baseline_confidence:
                r = evaluate(test, clean_test, None, c)
                print(f"| none, min_confidence {c:g} | | | | | {r['restored']:.1%} "
                      f"| {r['false_per_100w']:.2f} | {r['wrong_per_100w']:.2f} "
                      f"| {r['clean_false_per_100w']:.3f} |", flush=True)
    print(f"\n({time.time() - t0:.0f} s)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
