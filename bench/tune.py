"""Quick development loop for the decoder's channel weights (calibration split only).

``python -m bench.tune [--spinner wordnet] [--rate 0.2] [--docs 60] [--two-step]
[--unfamiliar-below X] [--set name=value ...]``
prints restoration and false-edit figures on calibration documents, so weights are never
tuned on the test split that bench.run reports.
"""

from __future__ import annotations

import argparse
import json
import time

import unspin
from unspin.models import get_models

from . import metrics as M
from .data import load_clean_docs, make_spun
from .spinners import SPINNERS


def evaluate(spinner: str, rate: float, docs: list[dict], seed: int = 1,
             two_step: bool = False) -> dict:
    spun = make_spun(SPINNERS[spinner](), docs, rate, seed=seed)
    t = time.perf_counter()
    scores = []
    clean_false = clean_words = nbytes = 0
    for sd, doc in zip(spun, docs, strict=True):
        scores.append(M.restoration_scores(sd, unspin.restore(sd.spun, two_step=two_step).edits))
        clean_false += sum(1 for e in unspin.restore(doc["text"], two_step=two_step).edits
                           if e.kind == "spin")
        clean_words += M.n_words(doc["text"])
        nbytes += len(sd.spun.encode()) + len(doc["text"].encode())
    dt = time.perf_counter() - t
    return {
        **M.pooled_restoration(scores),
        "clean_false_per_100w": 100 * clean_false / max(clean_words, 1),
        "kb_per_s": nbytes / dt / 1000,
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--spinner", default="wordnet")
    ap.add_argument("--rate", type=float, default=0.2)
    ap.add_argument("--docs", type=int, default=60)
    ap.add_argument("--set", nargs="*", default=[])
    ap.add_argument("--channel", default=None,
                    help="channel weights from this file (as bench.fit_channel writes them) "
                         "instead of the shipped ones")
    ap.add_argument("--two-step", action="store_true", help="restore with two_step=True")
    ap.add_argument("--unfamiliar-below", type=float, default=None, metavar="X",
                    help="the familiarity below which restore looks two steps by itself in a "
                         "spun document (unspin.api.UNFAMILIAR_BELOW; 0 turns it off)")
    args = ap.parse_args()
    if args.unfamiliar_below is not None:
        import unspin.api

        unspin.api.UNFAMILIAR_BELOW = args.unfamiliar_below
    params = get_models().decoder.params
    if args.channel:
        from unspin.decode import DecodeParams

        fitted = DecodeParams.fitted(args.channel)
        for name in json.load(open(args.channel, encoding="utf-8")):
            if name in DecodeParams.__slots__:
                setattr(params, name, getattr(fitted, name))
    for kv in args.set:
        k, v = kv.split("=")
        setattr(params, k, type(getattr(params, k))(v))
    docs = load_clean_docs(args.docs, split="calib", seed=7)
    res = evaluate(args.spinner, args.rate, docs, two_step=args.two_step)
    print(" ".join(f"{k}={v:.3f}" for k, v in res.items()), args.set,
          "two-step" if args.two_step else "",
          f"unfamiliar-below={args.unfamiliar_below}" if args.unfamiliar_below is not None
          else "")


if __name__ == "__main__":
    main()
