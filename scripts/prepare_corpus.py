"""Split ../shared/corpora into training text and held-out benchmark documents.

Training text (one normalised sentence per line, ``OUT_DIR/train.txt``) feeds
``unspin lm build`` and the word vectors; held-out documents (enwiki shards 48-63,
wikinews shards 30-40) feed bench/.
Follows the split suggested in the corpora README; enwiki_b articles whose title is in a
held-out enwiki shard are dropped.

Usage: python scripts/prepare_corpus.py [CORPORA_DIR] [OUT_DIR]
"""

from __future__ import annotations

import gzip
import json
import sys
from multiprocessing import Pool
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
from unspin.tokens import norm_sentences  # noqa: E402


def held_out(name: str, shard: int) -> bool:
    if name == "enwiki":
        return shard >= 48
    if name == "enwikinews":
        return shard >= 30
    return False


def job(args: tuple[str, str, str, frozenset]) -> tuple[str, int, int]:
    corpus, name, out_dir, banned_titles = args
    out = Path(out_dir)
    n_train = n_held = 0
    with gzip.open(corpus, "rt", encoding="utf-8") as fh, \
            open(out / f"train-{name}.txt", "w", encoding="utf-8") as train, \
            open(out / f"heldout-{name}.jsonl", "w", encoding="utf-8") as held:
        for line in fh:
            doc = json.loads(line)
            if held_out(name, doc["shard"]):
                held.write(json.dumps({"id": doc["id"], "title": doc["title"],
                                       "text": doc["text"], "source": name}) + "\n")
                n_held += 1
                continue
            if doc["title"] in banned_titles:
                continue
            for sent in norm_sentences(doc["text"]):
                train.write(" ".join(sent) + "\n")
            n_train += 1
    return name, n_train, n_held


def main() -> None:
    src = Path(sys.argv[1] if len(sys.argv) > 1 else "../shared/corpora")
    out = Path(sys.argv[2] if len(sys.argv) > 2 else "build/corpus")
    out.mkdir(parents=True, exist_ok=True)
    banned = set()
    with gzip.open(src / "enwiki.jsonl.gz", "rt", encoding="utf-8") as fh:
        for line in fh:
            doc = json.loads(line)
            if doc["shard"] >= 48:
                banned.add(doc["title"])
    banned = frozenset(banned)
    jobs = [(str(src / "enwiki_b.jsonl.gz"), "enwiki_b", str(out), banned),
            (str(src / "enwiki.jsonl.gz"), "enwiki", str(out), frozenset()),
            (str(src / "enwikinews.jsonl.gz"), "enwikinews", str(out), frozenset())]
    with Pool(2) as pool:
        for name, n_train, n_held in pool.imap_unordered(job, jobs):
            print(f"{name}: {n_train} training docs, {n_held} held out", flush=True)
    # One training file for `unspin lm build` and the vectors, in a fixed order.
    with open(out / "train.txt", "wb") as dst:
        for name in ("enwiki_b", "enwiki", "enwikinews"):
            with open(out / f"train-{name}.txt", "rb") as src:
                while chunk := src.read(1 << 24):
                    dst.write(chunk)


if __name__ == "__main__":
    main()
