"""Where `check` and `restore` spend their time: ``python -m bench.profile [--docs 120]``.

Held-out test documents, half of them spun by the WordNet spinner at 20 %, are checked in
batches of 32 (`unspin.check_many`, what scan and the server do) and restored one by one,
under cProfile after a warm-up pass. Prints, per pipeline stage, the share of each run's
time (cumulative, so nested stages overlap their parents). Speed work starts here: a stage
that is not at the top of this table is not worth compiling.
"""

from __future__ import annotations

import argparse
import cProfile
import pstats

import unspin
from unspin.models import get_models

from .data import load_clean_docs, make_spun
from .spinners import WordNetSpinner

# (label, file suffix, function names): the pipeline's stages, in the order a text meets
# them. Cumulative times, so an indented stage is part of the one above it.
STAGES = (
    ("clean (mojibake, shortcodes, boilerplate)", "clean.py", ("clean",)),
    ("language gate", "clean.py", ("is_english",)),
    ("tokens", "tokens.py", ("find_tokens",)),
    ("evidence (score)", "api.py", ("_score_all",)),
    ("  the decoder's evidence", "decode.py", ("evidence",)),
    ("span search / joint decode", "api.py", ("_decode_all",)),
    ("  local scores", "decode.py", ("local",)),
    ("    phrase candidates", "decode.py", ("_phrase_candidates",)),
    ("  the joint step (compiled path)", "decode.py", ("decisions",)),
    ("  the joint step (Python path)", "decode.py", ("joint",)),
    ("reports (spans located and shaped)", "api.py", ("report",)),
    ("locating spans and edits in the input", "api.py", ("located",)),
    ("single-word candidates (evidence and spans)", "decode.py", ("_word_entries",)),
    ("compiled LM lookups and joint step", "~", tuple(
        f"<method '{m}' of 'unspin._native.Model' objects>"
        for m in ("pairs", "logprob", "logprob_seq", "logprob_pairs", "joint"))),
    ("compiled text passes (tokens, flags, gate, controls, ids)", "~", tuple(
        f"<built-in method unspin._ctext.{f}>"
        for f in ("find_tokens", "token_codes", "stopword_counts", "has_controls",
                  "lookup_ids"))),
)


def _shares(stats: pstats.Stats) -> dict[str, float]:
    total = max(v[3] for v in stats.stats.values())  # the outermost call's cumulative time
    out = {}
    for label, suffix, names in STAGES:
        cum = sum(v[3] for (path, _, fn), v in stats.stats.items()
                  if fn in names and path.endswith(suffix))
        out[label] = cum / total if total else 0.0
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.profile")
    ap.add_argument("--docs", type=int, default=120)
    args = ap.parse_args(argv)
    docs = load_clean_docs(args.docs, split="test", seed=11)
    spun = make_spun(WordNetSpinner(), docs[: len(docs) // 2], 0.2, seed=11)
    texts = [d.spun for d in spun] + [d["text"] for d in docs[len(docs) // 2:]]
    get_models().decoder.build_tables()

    def check_all() -> None:
        for i in range(0, len(texts), 32):
            unspin.check_many(texts[i:i + 32])

    def restore_all() -> None:
        for t in texts:
            unspin.restore(t)

    rows = {}
    for name, fn in (("check_many", check_all), ("restore", restore_all)):
        fn()  # warm caches
        prof = cProfile.Profile()
        prof.runcall(fn)
        rows[name] = _shares(pstats.Stats(prof))
    print(f"{len(texts)} held-out test documents, {len(spun)} spun (WordNet, 20 %); share of "
          "each run's time (cProfile, cumulative)\n")
    print("| stage | check_many | restore |")
    print("|---|---|---|")
    for label, _, _ in STAGES:
        print(f"| {label} | {rows['check_many'][label]:.0%} | {rows['restore'][label]:.0%} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
