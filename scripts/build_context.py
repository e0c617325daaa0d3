"""Convert a trained context model (``scripts/train_context.py``'s .npz) for shipping.

The tied embeddings are quantised to int8 with one scale per word (a quarter of float32);
the network's two layers stay float32 (about 1 MB). Written as an `unspin.lm.ArrayFile`,
memory-mapped at run time by `unspin.context.ContextModel`.

Usage: python scripts/build_context.py TRAINED.npz src/unspin/data/context.bin
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
from unspin.context import FORMAT  # noqa: E402
from unspin.lm import ArrayFile, NGramLM  # noqa: E402
from unspin.models import data_path  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("trained")
    ap.add_argument("out")
    args = ap.parse_args()
    z = np.load(args.trained)
    emb = z["emb"].astype(np.float32)
    scale = np.maximum(np.abs(emb).max(axis=1), 1e-8) / 127.0
    q = np.clip(np.rint(emb / scale[:, None]), -127, 127).astype(np.int8)
    # The model was trained on the shipped LM's ids (scripts/prepare_context_data.py).
    words = NGramLM(data_path("lm.bin")).words[: emb.shape[0]]
    arrays = {
        "vocab": np.frombuffer("\n".join(words).encode("utf-8"), dtype=np.uint8),
        "emb": q,
        "scale": scale.astype(np.float32),
        "bias": z["bias"].astype(np.float32),
        "w1": z["w1"].astype(np.float32),
        "b1": z["b1"].astype(np.float32),
        "w2": z["w2"].astype(np.float32),
        "b2": z["b2"].astype(np.float32),
    }
    meta = {"format": FORMAT, "vocab": int(emb.shape[0]), "dim": int(emb.shape[1]),
            "hidden": int(z["w1"].shape[1]), "offsets": [int(o) for o in z["offsets"]],
            "source": "scripts/train_context.py on the training split of ../shared/corpora"}
    ArrayFile.save(args.out, arrays, meta)
    err = np.abs(q * scale[:, None] - emb).mean() / np.abs(emb).mean()
    print(f"{args.out}: vocab {emb.shape[0]}, dim {emb.shape[1]}, hidden {z['w1'].shape[1]}, "
          f"mean relative quantisation error {err:.4f}")


if __name__ == "__main__":
    main()
