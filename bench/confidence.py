"""Calibrating `restore`'s edit confidences: ``python -m bench.confidence``.

    python -m bench.confidence --docs 200 --fit   # fit, write unspin/data/edit_confidence.json
    python -m bench.confidence --eval 200         # reliability on the test split

Restores documents of the ``calib`` split spun by the WordNet spinner at 10, 20 and 35 %
and their clean originals, keeping every decision with the decoder's own confidence, and
labels each spin edit right (it gives back the original, `bench.metrics.edit_outcomes`) or
not. ``--fit`` fits the monotone map from that confidence to the share right
(`unspin.detect.fit_confidence_map`); then, on those edits and on the same documents spun by
the MyThes spinner (a table the candidate sources hold only loosely: about half of its
edits are right), the log-odds shift by the document's familiarity
(`unspin.detect.document_familiarity`, `fit_familiarity_shift`), and writes both. The
Aiksaurus spinner is never used for fitting: it stays unseen. ``--eval N`` prints
reliability tables (confidence bins against the share right, and the expected calibration
error) of `restore`'s edits on N test documents, seen and unseen spinner: raw, mapped, and
mapped with the document's adjustment (what `restore` reports), for every edit and for the
edits `restore` makes by default; and of `check`'s spans for comparison. The results also
go to ``--out`` as JSON.
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
DATA = Path(__file__).resolve().parents[1] / "src" / "unspin" / "data"
MAP_PATH = DATA / "edit_confidence.json"
SPAN_MAP_PATH = DATA / "span_confidence.json"


def labelled_edits(docs: list[dict], spinner: str, seed: int = 7,
                   two_step: bool = False, clean: bool = True) -> dict[str, list]:
    """``(raw confidence, right, document familiarity)`` of every spin edit `restore` makes
    with every decision kept (no confidence map), on the documents spun at each of `RATES`
    and (``clean``) on the clean ones; and ``(confidence, right, familiarity)`` of `check`'s
    spans on the spun ones."""
    import unspin
    import unspin.api as api
    from unspin.detect import ConfidenceMap, document_familiarity, document_features

    shipped = api.edit_confidence_map, api.span_confidence_map
    # The decoder's own confidences (restore's edits) and local posteriors (check's spans).
    api.edit_confidence_map = api.span_confidence_map = ConfidenceMap.identity
    out: dict[str, list] = {"restore": [], "restore_clean": [], "check": []}

    def restored(text: str, rows: list, outcomes) -> None:
        edits = [e for e in unspin.restore(text, min_confidence=0.0, two_step=two_step).edits
                 if e.kind == "spin"]
        if edits:
            fam = document_familiarity(document_features(text))
            rows += [(e.confidence, ok, fam) for e, ok in
                     zip(edits, outcomes(edits), strict=True)]

    try:
        for k, rate in enumerate(RATES):
            spun = make_spun(SPINNERS[spinner](), docs, rate, seed=seed + k)
            reports = unspin.check_many([d.spun for d in spun])
            for sd, rep in zip(spun, reports, strict=True):
                restored(sd.spun, out["restore"], lambda e, sd=sd: M.edit_outcomes(sd, e))
                if not rep.spans:
                    continue
                spans = [{"start": s.start, "end": s.end, "replacement": s.suggestion}
                         for s in rep.spans]
                fam = document_familiarity(document_features(sd.spun))
                out["check"] += [(s.confidence, ok, fam) for s, ok in
                                 zip(rep.spans, M.edit_outcomes(sd, spans), strict=True)]
        if clean:
            for d in docs:
                restored(d["text"], out["restore_clean"], lambda e: [False] * len(e))
    finally:
        api.edit_confidence_map, api.span_confidence_map = shipped
    return out


def reliability(rows: list, cmap=None, adjusted=None) -> dict:
    """Per confidence bin: edits, mean confidence, share right; and the expected
    calibration error (bins weighted by their edits) and Brier score. ``cmap`` maps the raw
    confidences; ``adjusted`` (a map, applied after ``cmap``: its shift only matters, give
    it with the identity ``x``/``y``) moves them by each row's document familiarity."""
    if not rows:
        return {"n": 0}
    c = np.array([r[0] for r in rows], dtype=np.float64)
    if cmap is not None:
        c = cmap.many(c)
    if adjusted is not None:  # each edit moved by its document's familiarity (`restore`)
        c = np.concatenate([adjusted.many(c[k:k + 1], r[2]) for k, r in enumerate(rows)])
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
    ap.add_argument("--short", action="store_true",
                    help="--eval on each document's first 1-3 sentences instead")
    ap.add_argument("--out", default="bench/out/confidence.json")
    args = ap.parse_args(argv)
    from unspin.api import _default_min_confidence, edit_confidence_map, span_confidence_map
    from unspin.detect import fit_confidence_map, fit_familiarity_shift, save_confidence_map

    results: dict = {}
    from unspin.detect import ConfidenceMap

    if args.fit:
        docs = load_clean_docs(args.docs, "calib", seed=5)
        got = labelled_edits(docs, "wordnet")
        rows = got["restore"] + got["restore_clean"]
        cmap = fit_confidence_map([r[0] for r in rows], [r[1] for r in rows])
        loose_got = labelled_edits(docs, "mythes", clean=False)
        loose = loose_got["restore"]
        both = rows + loose
        cmap.familiarity, cmap.shift = fit_familiarity_shift(
            cmap.many([r[0] for r in both]), [r[1] for r in both], [r[2] for r in both])
        from unspin.models import decoder_fingerprint

        save_confidence_map(cmap, MAP_PATH, {
            "about": "restore's spin edits: the decoder's confidence (x) -> share right (y), "
                     "then a log-odds shift by the document's familiarity",
            "decoder": decoder_fingerprint(),
            "fitted_on": f"{args.docs} calib documents, WordNet spinner at "
                         f"{', '.join(f'{r:.0%}' for r in RATES)} and their clean originals: "
                         f"{len(rows)} edits (the map); with the same documents spun by the "
                         f"MyThes spinner: {len(both)} edits (the shift)",
            "command": "python -m bench.confidence --docs "
                       f"{args.docs} --fit"})
        print(f"wrote {MAP_PATH} ({len(cmap.x)} points, from {len(rows)} edits; shift "
              f"{len(cmap.shift)} points from {len(both)}); the default threshold "
              f"{_default_min_confidence()} maps to {cmap(_default_min_confidence()):.4f}")
        # `check`'s spans: their local posteriors stay (close where the tables know the
        # spinner's), moved by the same kind of shift, fitted on their own.
        spans = got["check"] + loose_got["check"]
        smap = ConfidenceMap.identity()
        smap.familiarity, smap.shift = fit_familiarity_shift(
            [r[0] for r in spans], [r[1] for r in spans], [r[2] for r in spans])
        save_confidence_map(smap, SPAN_MAP_PATH, {
            "about": "check's spans: the local posterior, then a log-odds shift by the "
                     "document's familiarity",
            "decoder": decoder_fingerprint(),
            "fitted_on": f"the spans of check on {args.docs} calib documents spun by the "
                         f"WordNet and MyThes spinners at "
                         f"{', '.join(f'{r:.0%}' for r in RATES)}: {len(spans)} spans",
            "command": "python -m bench.confidence --docs "
                       f"{args.docs} --fit"})
        print(f"wrote {SPAN_MAP_PATH} (shift {len(smap.shift)} points from {len(spans)} "
              "spans)")
        results["fit"] = {"edits": len(rows), "points": len(cmap.x),
                          "shift_edits": len(both), "shift_points": len(cmap.shift),
                          "span_shift_spans": len(spans), "span_shift_points": len(smap.shift)}
        edit_confidence_map.cache_clear()
        span_confidence_map.cache_clear()
    if args.eval:
        cmap = edit_confidence_map()
        shift = ConfidenceMap([0.0, 1.0], [0.0, 1.0], cmap.familiarity, cmap.shift)
        span_shift = span_confidence_map()
        default = cmap(_default_min_confidence())
        docs = load_clean_docs(args.eval, "test", seed=5)
        if args.short:  # what is pasted into the web page: the first 1-3 sentences
            import random

            from .calib import excerpt

            rng = random.Random(3)
            docs = [dict(d, text=excerpt(d["text"], rng.randint(1, 3))) for d in docs]
        for spinner in ("wordnet", "aiksaurus"):
            got = labelled_edits(docs, spinner, two_step=args.two_step)
            rows = got["restore"] + got["restore_clean"]
            kept = [r for r in rows if cmap(r[0]) >= default]  # restore's default edits
            for name, rel in ((f"restore {spinner}, every edit, raw", reliability(rows)),
                              (f"restore {spinner}, every edit, mapped",
                               reliability(rows, cmap)),
                              (f"restore {spinner}, every edit, reported",
                               reliability(rows, cmap, shift)),
                              (f"restore {spinner}, default edits, raw", reliability(kept)),
                              (f"restore {spinner}, default edits, mapped",
                               reliability(kept, cmap)),
                              (f"restore {spinner}, default edits, reported",
                               reliability(kept, cmap, shift)),
                              (f"check {spinner}, spans, posterior",
                               reliability(got["check"])),
                              (f"check {spinner}, spans, reported",
                               reliability(got["check"], None, span_shift))):
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
