"""Calibration data for the detector: ``python -m bench.calib [--docs 400] [--out bench/out]``.

Spins documents of the ``calib`` split (disjoint from the ``test`` split) with each spinner
of ``--spinners`` (the shipped detector: ``wordnet mythes``, a table the candidate sources
hold closely and one they hold loosely), at rates drawn from {5, 10, 20, 35} %, and pairs
each with its clean original. The Aiksaurus spinner is never used here: it must stay unseen
for the benchmark.
Each document also gives a short excerpt (its first one to three sentences, spun at the
same rate or left clean), so that the detector is calibrated on pasted sentences too, not
only on articles. Writes ``calib.jsonl``: one line per text with ``id``, ``label`` (1 spun,
0 clean), ``rate``, ``spinner``, ``short`` and ``features`` from
``unspin.detect.document_features``.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from pathlib import Path

from .data import load_clean_docs
from .spinners import SPINNERS

CALIB_RATES = (0.05, 0.10, 0.20, 0.35)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.calib", description=__doc__.split("\n")[0])
    ap.add_argument("--docs", type=int, default=400, help="calib documents (each used twice)")
    ap.add_argument("--out", default="bench/out")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--spinners", nargs="+", default=["wordnet"], choices=sorted(SPINNERS),
                    help="spin each document with each of these (never 'aiksaurus' for the "
                    "shipped detector: it is the benchmark's unseen spinner); the clean rows "
                    "are written once per spinner, so spun and clean stay balanced")
    ap.add_argument("--fit", action="store_true",
                    help="fit the detector on calib.jsonl and write src/unspin/data/detector.json")
    args = ap.parse_args(argv)
    if args.fit:
        return fit_detector(Path(args.out) / "calib.jsonl")
    try:
        from unspin.detect import document_features
    except ImportError as exc:
        print(f"unspin.detect.document_features is not available yet ({exc!r})", file=sys.stderr)
        return 2

    rng = random.Random(args.seed)
    spinners = [SPINNERS[name]() for name in args.spinners]
    docs = load_clean_docs(args.docs, "calib", args.seed)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    path = out / "calib.jsonl"
    with open(path, "w", encoding="utf-8") as fh:
        for k, doc in enumerate(docs):
            rate = rng.choice(CALIB_RATES)
            short = excerpt(doc["text"], rng.randint(1, 3))
            clean = [(0, 0.0, doc["text"], False, None), (0, 0.0, short, True, None)]
            clean = [(*row[:4], document_features(row[2])) for row in clean]
            for spinner in spinners:
                spun = spinner.spin(doc["text"], rate, args.seed * 1_000_003 + k)
                spun_short = spinner.spin(short, rate, args.seed * 1_000_003 + k)
                rows = [clean[0], (1, rate, spun.spun, False, None),
                        clean[1], (1, rate, spun_short.spun, True, None)]
                for label, r, text, is_short, feats in rows:
                    rec = {"id": doc["id"], "source": doc["source"], "label": label, "rate": r,
                           "spinner": spinner.name if label else None, "short": is_short,
                           "features": feats if feats is not None else
                           document_features(text)}
                    fh.write(json.dumps(rec) + "\n")
            if (k + 1) % 50 == 0:
                print(f"{k + 1}/{len(docs)}", file=sys.stderr)
    print(f"wrote {4 * len(docs) * len(spinners)} rows to {path}", file=sys.stderr)
    return 0


def excerpt(text: str, sentences: int) -> str:
    """The first ``sentences`` sentences of a text (what someone pastes to check a claim)."""
    from unspin.tokens import sentences as split
    from unspin.tokens import tokenize

    first_line = text.split("\n", 1)[0]
    sents = split(tokenize(first_line))[:sentences]
    return first_line[sents[0][0].start:sents[-1][-1].end] if sents and sents[0] else first_line


def fit_detector(path: Path) -> int:
    """Fit the shipped detector weights on calibration rows."""
    from unspin.detect import fit, save
    from unspin.models import data_path

    rows = [(r["features"], r["label"]) for r in map(json.loads, open(path, encoding="utf-8"))]
    # Texts the analyser does not judge (an excerpt too short to call English) have no
    # features; they never get a verdict, so they play no part in the fit.
    rows = [(f, label) for f, label in rows if f]
    det = fit(rows)
    save(det, data_path("detector.json"))
    print(json.dumps({"weights": det.weights, "bias": det.bias, "threshold": det.threshold}),
          file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
