"""Train skip-gram word vectors on the prepared training text (build-time only).

The vectors propose candidate originals (distributional neighbours) and give the channel
model a similarity feature. Only a capped, float16 slice of them ships (see
scripts/build_tables.py).

Usage: python scripts/train_vectors.py TRAIN_TXT OUT_MODEL [--workers 2] [--epochs 3]
"""

from __future__ import annotations

import argparse
import logging

from gensim.models import Word2Vec


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("corpus")
    ap.add_argument("out")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--dim", type=int, default=100)
    args = ap.parse_args()
    logging.basicConfig(format="%(asctime)s %(message)s", level=logging.INFO)
    model = Word2Vec(
        corpus_file=args.corpus, vector_size=args.dim, window=5, min_count=5, sg=1,
        negative=5, sample=1e-4, workers=args.workers, epochs=args.epochs, seed=1,
    )
    model.wv.save(args.out)


if __name__ == "__main__":
    main()
