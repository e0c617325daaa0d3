"""Fit the decoder's channel weights on the calibration split (seen spinners only).

``python -m bench.fit_channel [--docs 200] [--skip 30] [--spinners wordnet mythes]`` spins
calibration documents with the WordNet spinner (and any other seen spinner asked for) at
10/20/35 % (plus the clean originals), runs the decoder's local
step, and fits a conditional logit over each position's choices (keep the observed words,
or one of the candidates): the log-odds of a candidate is

    lm_weight * (LM gain in nats) + offset + sum of source weights + cosine * cos
    - fanout * log(fanout) - name_penalty * [capitalised inside a sentence]
    + length_bonus * (words added) + logit(document spin rate)

where the document spin rate comes from the detector, as at run time. The weights go to
``src/unspin/data/channel.json``, which the decoder loads. The first ``--skip`` calib
documents are left out: ``bench.tune`` evaluates on them. The Aiksaurus spinner is never
used here, so it stays an unseen table.
"""

from __future__ import annotations

import argparse
import json
import math
import sys

import numpy as np

from unspin.api import _analyse
from unspin.decode import (
    FLAG_MYTHES,
    FLAG_NUMBER,
    FLAG_PHRASE,
    FLAG_VECTOR,
    FLAG_WN_LOOSE,
    FLAG_WN_SYN,
    LEXICAL,
)
from unspin.models import data_path, get_models
from unspin.tokens import segments, tokenize

from .data import load_clean_docs
from .spinners import SPINNERS

NAMES = ["lm_weight", "offset", "syn", "loose", "mythes", "vector", "phrase", "number",
         "cosine", "fanout", "name_penalty", "length_bonus"]
BITS = [FLAG_WN_SYN, FLAG_WN_LOOSE, FLAG_MYTHES, FLAG_VECTOR, FLAG_PHRASE, FLAG_NUMBER]


def extract(text: str, swaps: list, models):
    """Entries of one document: features, position group ids, labels, and the doc offset."""

    dec = models.decoder
    toks = tokenize(text)
    sents, shapes = segments(toks)
    norms = [[t.norm for t in s] for s in sents]
    rate_box = {}

    def prior(loc, states):
        # The document prior as `unspin.restore` sets it: from the fast evidence.
        a = _analyse([text], None, "score")[0]
        rate = dec.params.document_rate(a.p_spun, a.features.get("spun_mass", 0.0))
        rate_box["rate"] = rate
        return rate

    _, loc, states = dec.decode(norms, fast=True, shapes=shapes, prior=prior)
    if len(loc.pos) == 0:
        return np.zeros((0, len(NAMES))), np.zeros(0, int), np.zeros(0), np.zeros(0)
    table = dec.table()
    p = dec.params
    rate = rate_box.get("rate", p.spin_rate)
    doc_logit = math.log(rate / (1 - rate))
    # Which (sentence, token) each swap starts at, and its original tokens.
    where = {}
    for si, s in enumerate(sents):
        for i, t in enumerate(s):
            where[t.start] = (si, i)
    truth = {}
    for sw in swaps:
        key = where.get(sw.spun_start)
        if key is not None:
            n_spun = len(tokenize(sw.spun_text))
            truth[key] = (n_spun, tuple(t.norm for t in tokenize(sw.orig_text)))
    rows, groups, labels, offsets = [], [], [], []
    for n in range(len(loc.pos)):
        j = int(loc.pos[n])
        si, i = int(loc.sent_of[j]), int(loc.tok_of[j])
        cand = dec.candidate(loc, n)
        f = cand.flags
        if f & LEXICAL:
            f &= ~FLAG_PHRASE
        lm_gain = (loc.score[n] - loc.channel[n]) / p.lm_weight
        shape = 1.0 if any(states[si].shapes[i:i + cand.length]) else 0.0
        x = [lm_gain, 1.0] + [1.0 if f & b else 0.0 for b in BITS] + [
            max(cand.cosine, 0.0), -math.log(max(cand.fanout, 1)), -shape,
            float(len(cand.original) - cand.length)]
        if int(loc.pref[n]) < 0:
            e = int(loc.entry[n])
            x[8] = max(float(table.cosine[e]), 0.0)
        t = truth.get((si, i))
        lab = 1.0 if t is not None and t == (cand.length, cand.original) else 0.0
        rows.append(x)
        groups.append(j)
        labels.append(lab)
        offsets.append(doc_logit)
    return np.array(rows), np.array(groups), np.array(labels), np.array(offsets)


def fit(x, groups, y, off, iters: int = 1500, l2: float = 1e-3) -> np.ndarray:
    """Conditional logit with an implicit zero-score "keep" option per group (Adam)."""
    _, g = np.unique(groups, return_inverse=True)
    n_groups = g.max() + 1
    w = np.zeros(x.shape[1])
    w[0] = 1.0
    m = np.zeros_like(w)
    v = np.zeros_like(w)
    lr = 0.05
    for t in range(1, iters + 1):
        s = np.clip(x @ w + off, -50, 50)
        e = np.exp(s)
        z = 1.0 + np.bincount(g, weights=e, minlength=n_groups)
        p = e / z[g]
        grad = -(x * (y - p)[:, None]).sum(axis=0) / n_groups + l2 * w
        m = 0.9 * m + 0.1 * grad
        v = 0.999 * v + 0.001 * grad ** 2
        w -= lr * (m / (1 - 0.9 ** t)) / (np.sqrt(v / (1 - 0.999 ** t)) + 1e-8)
    s = np.clip(x @ w + off, -50, 50)
    z = 1.0 + np.bincount(g, weights=np.exp(s), minlength=n_groups)
    y_group = np.bincount(g, weights=y, minlength=n_groups)
    ll = float(np.sum(y * s) - np.sum(np.log(z)))
    print(f"log-likelihood per position {ll / n_groups:.4f}; positions {n_groups}, "
          f"with a true candidate {int(y_group.sum())}", file=sys.stderr)
    return w


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.fit_channel")
    ap.add_argument("--docs", type=int, default=200)
    ap.add_argument("--iters", type=int, default=1500)
    ap.add_argument("--skip", type=int, default=30)
    ap.add_argument("--dry-run", action="store_true", help="print the weights, write nothing")
    ap.add_argument("--out", default=None, help="where to write (default: the shipped file)")
    ap.add_argument("--spinners", nargs="+", default=["wordnet"],
                    help="seen spinners to spin the calibration documents with (never "
                         "aiksaurus: it must stay unseen)")
    ap.add_argument("--save-data", default=None, help="keep the extracted entries (.npz)")
    ap.add_argument("--load-data", default=None, help="fit on entries saved before")
    ap.add_argument("--drop", default="", help="comma-separated weights fixed at 0 (e.g. "
                    "syn,loose,mythes,vector: a channel that ignores which resource proposed "
                    "the pair)")
    args = ap.parse_args(argv)
    models = get_models()
    p = models.decoder.params
    p.local_floor = -40.0  # keep every scored entry for fitting
    docs = load_clean_docs(args.docs + args.skip, split="calib", seed=7)[args.skip:]
    if any(n.startswith("aiksaurus") for n in args.spinners):
        ap.error("the Aiksaurus spinners are the unseen tables: never fitted on")
    spinners = [] if args.load_data else [SPINNERS[n]() for n in args.spinners]
    parts = []
    for k, doc in enumerate([] if args.load_data else docs):
        runs = [(None, 0.0)] + [(sp, r) for sp in spinners for r in (0.1, 0.2, 0.35)]
        for spinner, rate in runs:
            if rate:
                sd = spinner.spin(doc["text"], rate, 1000 + k)
                text, swaps = sd.spun, sd.swaps
            else:
                text, swaps = doc["text"], []
            x, grp, y, off = extract(text, swaps, models)
            if len(x):
                parts.append((x, grp + 10_000_000 * len(parts), y, off))
        if (k + 1) % 50 == 0:
            print(f"{k + 1}/{len(docs)}", file=sys.stderr)
    if args.load_data:
        saved = np.load(args.load_data)
        x, grp, y, off = saved["x"], saved["grp"], saved["y"], saved["off"]
    else:
        x = np.concatenate([q[0] for q in parts])
        grp = np.concatenate([q[1] for q in parts])
        y = np.concatenate([q[2] for q in parts])
        off = np.concatenate([q[3] for q in parts])
    if args.save_data:
        np.savez_compressed(args.save_data, x=x, grp=grp, y=y, off=off)
    drop = [NAMES.index(n) for n in args.drop.split(",") if n]
    keep = [k for k in range(len(NAMES)) if k not in drop]
    w = np.zeros(len(NAMES))
    w[keep] = fit(x[:, keep], grp, y, off, iters=args.iters)
    weights = dict(zip(NAMES, w.tolist(), strict=True))
    print(json.dumps(weights, indent=1))
    if not args.dry_run:
        with open(args.out or data_path("channel.json"), "w", encoding="utf-8") as fh:
            json.dump({k: round(v, 4) for k, v in weights.items()}, fh, indent=1)
            fh.write("\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
