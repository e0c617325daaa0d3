"""Calibrating `restore`'s edit confidences: ``python -m bench.confidence``.

    python -m bench.confidence --docs 200 --fit   # fit, write unspin/data/edit_confidence.json
    python -m bench.confidence --eval 200         # reliability on the test split

Restores documents of the ``calib`` split spun by the WordNet spinner at 10, 20 and 35 %
(never the Aiksaurus spinner: it stays unseen) and their clean originals, keeping every
decision with the decoder's own confidence, and labels each spin edit right (it gives back
the original, `bench.metrics.edit_outcomes`) or not. ``--fit`` fits the monotone map from
that confidence to the share right (`unspin.detect.fit_confidence_map`) and writes it.
``--eval N`` prints reliability tables (confidence bins against the share right, and the
expected calibration error) of `restore`'s edits on N test documents, seen and unseen
spinner, with and without the shipped map, and of `check`'s spans for comparison; the
results also go to ``--out`` as JSON.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from . import metrics as M
from .data import load_clean_docs, make_spun
from .spinners import SPINNERS

RATES = (0.10, 0.20, 0.35)
BINS = (0.0, 0.3, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 1.0)
MAP_PATH = Path(__file__).resolve().parents[1] / "src" / "unspin" / "data" / "edit_confidence.json"


def labelled_edits(docs: list[dict], spinner: str, seed: int = 7,
                   two_step: bool = False) -> dict[str, list]:
    """``(raw confidence, right)`` of every spin edit `restore` makes with every decision
    kept (no confidence map), on the documents spun at each of `RATES` and on the clean
    ones; and ``(confidence, right)`` of `check`'s spans on the spun ones."""
    import unspin
    import unspin.api as api
    from unspin.detect import ConfidenceMap

    shipped = api.edit_confidence_map
    api.edit_confidence_map = ConfidenceMap.identity  # the decoder's own confidences
    out: dict[str, list] = {"restore": [], "restore_clean": [], "check": []}
    try:
        for k, rate in enumerate(RATES):
            spun = make_spun(SPINNERS[spinner](), docs, rate, seed=seed + k)
            reports = unspin.check_many([d.spun for d in spun])
            for sd, rep in zip(spun, reports, strict=True):
                edits = [e for e in unspin.restore(sd.spun, min_confidence=0.0,
                                                   two_step=two_step).edits
                         if e.kind == "spin"]
                out["restore"] += zip([e.confidence for e in edits],
                                      M.edit_outcomes(sd, edits), strict=True)
                spans = [{"start": s.start, "end": s.end, "replacement": s.suggestion}
                         for s in rep.spans]
                out["check"] += zip([s.confidence for s in rep.spans],
                                    M.edit_outcomes(sd, spans), strict=True)
        for d in docs:
            out["restore_clean"] += [(e.confidence, False) for e in
                                     unspin.restore(d["text"], min_confidence=0.0,
                                                    two_step=two_step).edits
                                     if e.kind == "spin"]
    finally:
        api.edit_confidence_map = shipped
    return out


def reliability(rows: list, cmap=None) -> dict:
    """Per confidence bin: edits, mean confidence, share right; and the expected
    calibration error (bins weighted by their edits) and Brier score."""
    if not rows:
        return {"n": 0}
    c = np.array([r[0] for r in rows], dtype=np.float64)
    if cmap is not None:
        c = cmap.many(c)
    y = np.array([r[1] for r in rows], dtype=np.float64)
    bins = []
    ece = 0.0
    for lo, hi in zip(BINS[:-1], BINS[1:], strict=True):
        m = (c >= lo) & ((c < hi) if hi < 1.0 else (c <= hi))
        if m.any():
            bins.append({"lo": lo, "hi": hi, "n": int(m.sum()),
                         "confidence": float(c[m].mean()), "right": float(y[m].mean())})
            ece += m.sum() / len(c) * abs(c[m].mean() - y[m].mean())
    return {"n": len(c), "confidence": float(c.mean()), "right": float(y.mean()),
            "ece": float(ece), "brier": float(np.mean((c - y) ** 2)), "bins": bins}


def _print(name: str, rel: dict) -> None:
    if not rel.get("n"):
        print(f"\n{name}: no edits")
        return
    print(f"\n{name}: {rel['n']} edits, mean confidence {rel['confidence']:.3f}, right "
          f"{rel['right']:.3f}, ECE {rel['ece']:.3f}, Brier {rel['brier']:.3f}")
    print("| confidence | edits | mean confidence | right |\n|---|---|---|---|")
    for b in rel["bins"]:
        print(f"| {b['lo']:.2f}-{b['hi']:.2f} | {b['n']} | {b['confidence']:.3f} | "
              f"{b['right']:.3f} |")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.confidence",
                                 description=__doc__.split("\n")[0])
    ap.add_argument("--docs", type=int, default=200, help="calib documents to fit on")
    ap.add_argument("--fit", action="store_true", help=f"write {MAP_PATH.name}")
    ap.add_argument("--eval", type=int, default=0, metavar="N",
                    help="reliability on N test documents (seen and unseen spinner)")
    ap.add_argument("--two-step", action="store_true",
                    help="evaluate restore(two_step=True) (the map is fitted without)")
    ap.add_argument("--out", default="bench/out/confidence.json")
    args = ap.parse_args(argv)
    from unspin.api import _default_min_confidence, edit_confidence_map
    from unspin.detect import fit_confidence_map, save_confidence_map

    results: dict = {}
    if args.fit:
        docs = load_clean_docs(args.docs, "calib", seed=5)
        got = labelled_edits(docs, "wordnet")
        rows = got["restore"] + got["restore_clean"]
        cmap = fit_confidence_map([r[0] for r in rows], [r[1] for r in rows])
        from unspin.models import decoder_fingerprint

        save_confidence_map(cmap, MAP_PATH, {
            "about": "restore's spin edits: the decoder's confidence (x) -> share right (y)",
            "decoder": decoder_fingerprint(),
            "fitted_on": f"{args.docs} calib documents, WordNet spinner at "
                         f"{', '.join(f'{r:.0%}' for r in RATES)} and their clean originals: "
                         f"{len(rows)} edits",
            "command": "python -m bench.confidence --docs "
                       f"{args.docs} --fit"})
        print(f"wrote {MAP_PATH} ({len(cmap.x)} points, from {len(rows)} edits); the "
              f"default threshold {_default_min_confidence()} maps to "
              f"{cmap(_default_min_confidence()):.4f}")
        results["fit"] = {"edits": len(rows), "points": len(cmap.x)}
        edit_confidence_map.cache_clear()
    if args.eval:
        cmap = edit_confidence_map()
        default = cmap(_default_min_confidence())
        docs = load_clean_docs(args.eval, "test", seed=5)
        for spinner in ("wordnet", "aiksaurus"):
            got = labelled_edits(docs, spinner, two_step=args.two_step)
            rows = got["restore"] + got["restore_clean"]
            kept = [r for r in rows if cmap(r[0]) >= default]
            for name, rel in ((f"restore {spinner}, every edit, raw", reliability(rows)),
                              (f"restore {spinner}, every edit, mapped",
                               reliability(rows, cmap)),
                              (f"restore {spinner}, default edits, raw", reliability(kept)),
                              (f"restore {spinner}, default edits, mapped",
                               reliability(kept, cmap)),
                              (f"check {spinner}, spans", reliability(got["check"]))):
                _print(name, rel)
                results[name] = rel
    if not results:
        ap.print_help()
        return 2
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(results, indent=1) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
