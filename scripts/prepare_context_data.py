"""Training data for the context model (build-time only): the training text as LM ids.

Reads the normalised training sentences that ``scripts/prepare_corpus.py`` wrote and writes
one uint16 array of ids, each sentence laid out as the decoder lays it out
(``[NONE, BOS, ids..., EOS]``), ids at or above ``--vocab`` mapped to ``<unk>``, compressed
with xz so it can travel to a GPU machine (``scripts/train_context.py`` trains there).

Usage: python scripts/prepare_context_data.py build/corpus/train.txt OUT.u16.xz [--vocab 50000]
"""

from __future__ import annotations

import argparse
import lzma
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
from unspin.decode import pad_sentences  # noqa: E402
from unspin.lm import UNK, NGramLM  # noqa: E402
from unspin.models import data_path  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("train")
    ap.add_argument("out")
    ap.add_argument("--vocab", type=int, default=50_000)
    ap.add_argument("--max-tokens", type=int, default=0, help="stop after this many (0: all)")
    args = ap.parse_args()
    lm = NGramLM(data_path("lm.bin"))
    parts = []
    total = 0
    with open(args.train, encoding="utf-8") as fh:
        while True:
            lines = fh.readlines(1 << 24)
            if not lines:
                break
            sents = [ln.split() for ln in lines]
            sents = [s for s in sents if s]
            lens = np.array([len(s) for s in sents], dtype=np.int64)
            ids = lm.ids([w for s in sents for w in s])
            ids[ids >= args.vocab] = UNK
            parts.append(pad_sentences(ids, lens, np.uint16)[0])
            total += len(parts[-1])
            print(f"{total:,} tokens", file=sys.stderr, flush=True)
            if args.max_tokens and total >= args.max_tokens:
                break
    data = np.concatenate(parts)
    if args.max_tokens:
        data = data[: args.max_tokens]
    with lzma.open(args.out, "wb", preset=6) as out:
        out.write(data.tobytes())
    print(f"{len(data):,} tokens, unk share {np.mean(data == UNK):.4f}", file=sys.stderr)


if __name__ == "__main__":
    main()
