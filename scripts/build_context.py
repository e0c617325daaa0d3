"""Write the context-fit vectors (skip-gram input and output vectors) into unspin/data.

Usage: python scripts/build_context.py [W2V_KV] [LM_FILE] [OUT_DIR] [--words 30000]

W2V_KV is a gensim KeyedVectors file saved by scripts/train_vectors.py, next to which
the output vectors were saved as W2V_KV.ctx.npy. Rows follow the language model's most
frequent words that have vectors. Vectors are L2-unnormalised float16 (the dot products
estimate PMI, so their scale matters).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
from gensim.models import KeyedVectors

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
from unspin.lm import SPECIALS, NGramLM  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("kv", nargs="?", default="build/w2v2.kv")
    ap.add_argument("lm", nargs="?", default="src/unspin/data/lm.bin")
    ap.add_argument("out", nargs="?", default="src/unspin/data")
    ap.add_argument("--words", type=int, default=30000)
    args = ap.parse_args()
    kv = KeyedVectors.load(args.kv)
    ctx = np.load(args.kv + ".ctx.npy")
    lm = NGramLM(args.lm)
    words = [w for w in lm.words[len(SPECIALS):] if w in kv.key_to_index][: args.words]
    rows = np.array([kv.key_to_index[w] for w in words])
    out = Path(args.out)
    np.save(out / "context_in.npy", kv.vectors[rows].astype(np.float16))
    np.save(out / "context_out.npy", ctx[rows].astype(np.float16))
    (out / "context_words.txt").write_text("\n".join(words) + "\n", encoding="utf-8")
    print(f"{len(words)} words, dim {kv.vectors.shape[1]}")


if __name__ == "__main__":
    main()
