"""Tracing benchmark: ``python -m bench.trace [--docs 40000] [--queries 500]``

Indexes ``--docs`` clean originals from ``../shared/corpora`` (Wikipedia ``enwiki_b`` and
Wikinews, cleaned like the other benchmarks' originals: holed sentences dropped, at most
400 words, at least 120), then queries it with copies spun by both reference spinners at
10/20/30/40 % substitution, whole and partial (a contiguous 30 % of the spun text), and
with ``--unrelated`` clean documents that are not in the index (further ``enwiki_b``
articles) for false matches. Plain word-5-gram MinHash-LSH (datasketch, 128 permutations)
runs beside it on the same documents and queries.

Measures Recall@1 per condition, false matches, query latency (p50/p95, one thread) with
4,000 and with all originals indexed, ingest rate (documents per CPU second of the one
ingesting process, and per wall second), index bytes per document, and how often the
reference alignment (``unspin.trace.reference_edits``) turns a traced copy back into its
original exactly. Writes ``build/trace/results.json``; prints a Markdown report.

Needs ``pip install -e '.[bench]'`` (datasketch) and the spinners' data (bench/README.md).
Set ``UNSPIN_CORPORA`` to read the corpora from elsewhere.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import platform
import random
import re
import sys
import time
import zlib
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

import unspin
from unspin.index import _CHUNKS, Index
from unspin.trace import reference_edits

from .data import REPO, clean_text
from .spinners import SPINNERS

RATES = (0.1, 0.2, 0.3, 0.4)
PARTIAL = 0.3
OUT = REPO / "build" / "trace"
_WORDS = re.compile(r"[^\W\d_]+(?:['’-][^\W\d_]+)*|\d+", re.UNICODE)


def corpora_dir() -> Path:
    return Path(os.environ.get("UNSPIN_CORPORA", REPO.parent / "shared" / "corpora"))


def load_originals(n: int, cache: Path) -> list[dict]:
    """``n`` clean originals: 3/4 Wikipedia (enwiki_b), 1/4 Wikinews, one per title."""
    if cache.exists():
        docs = [json.loads(x) for x in cache.open()]
        if len(docs) >= n:
            return docs[:n]
    wanted = {"enwiki_b": n - n // 4, "enwikinews": n // 4}
    docs, titles = [], set()
    for source, k in wanted.items():
        got = 0
        with gzip.open(corpora_dir() / f"{source}.jsonl.gz", "rt", encoding="utf-8") as fh:
            for line in fh:
                d = json.loads(line)
                if d["title"] in titles:
                    continue
                titles.add(d["title"])
                text, words = clean_text(d["text"], 400)
                if words < 120:
                    continue
                docs.append({"id": str(d["id"]), "text": text, "source": source})
                got += 1
                if got >= k:
                    break
    cache.parent.mkdir(parents=True, exist_ok=True)
    with cache.open("w") as fh:
        for d in docs:
            fh.write(json.dumps(d, ensure_ascii=False) + "\n")
    return docs


def partial_copy(text: str, share: float, rng: random.Random) -> str:
    """A contiguous ``share`` of the text, cut at white space."""
    n = int(len(text) * share)
    start = rng.randrange(0, max(1, len(text) - n))
    start = text.find(" ", start) + 1
    end = text.rfind(" ", start, start + n)
    return text[start:end if end > start else start + n]


def make_queries(originals: list[dict], per_condition: int, seed: int) -> list[dict]:
    rng = random.Random(seed)
    picked = rng.sample(range(len(originals)), per_condition)
    queries = []
    for name in ("wordnet", "aiksaurus"):
        spinner = SPINNERS[name]()
        for rate in RATES:
            for i in picked:
                doc = originals[i]
                sd = spinner.spin(doc["text"], rate, zlib.crc32(f"{rate}:{doc['id']}".encode()))
                queries.append({"spinner": name, "rate": rate, "kind": "whole",
                                "source": doc["id"], "text": sd.spun})
                prng = random.Random(f"{seed}:{rate}:{doc['id']}")
                queries.append({"spinner": name, "rate": rate, "kind": "partial",
                                "source": doc["id"],
                                "text": partial_copy(sd.spun, PARTIAL, prng)})
    return queries


def build_index(path: Path, docs: list[dict]) -> dict:
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    index = Index(path)
    _CHUNKS.clear()  # a cold start: the symbol cache is part of the ingest cost
    marks = [time.process_time()]
    cpu, wall = time.process_time(), time.perf_counter()
    index.add_many([(d["id"], d["text"]) for d in docs], batch_size=500,
                   on_commit=lambda n, _id: marks.append(time.process_time()))
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    # per-batch CPU seconds: on a machine shared with other jobs the quickest tenth of the
    # batches estimates the uncontended rate (as timeit takes the minimum)
    per_batch = np.sort(np.diff(marks)[:-1]) if len(marks) > 2 else np.diff(marks)
    index.storage.checkpoint()  # type: ignore[attr-defined]
    stats = index.stats()
    size = path.stat().st_size
    index.close()
    n = len(docs)
    return {"docs": n, "ingest_cpu_s": cpu, "ingest_wall_s": wall,
            "docs_per_cpu_s": n / cpu, "docs_per_wall_s": n / wall,
            "docs_per_cpu_s_fastest_tenth": 500 / float(np.mean(
                per_batch[:max(1, len(per_batch) // 10)])),
            "file_bytes": size, "bytes_per_doc": size / n,
            "text_bytes_per_doc": stats["text_bytes"] / n,
            "postings_per_doc": stats["postings"] / n,
            "postings_bytes_per_doc": 8 * stats["postings"] / n,
            "mean_chars_per_doc": sum(len(d["text"]) for d in docs) / n}


def run_queries(path: Path, queries: list[dict]) -> tuple[list[list], list[float]]:
    index = Index(path, create=False)
    for q in queries[:50]:  # warm the caches (segments, symbol table)
        index.query(q["text"])
    results, latency = [], []
    for q in queries:
        t = time.perf_counter()
        m = index.query(q["text"])
        latency.append(time.perf_counter() - t)
        results.append(m)
    index.close()
    return results, latency


def minhash_baseline(docs: list[dict], queries: list[dict], thresholds=(0.5, 0.2)) -> dict:
    """Word 5-gram MinHash-LSH (datasketch): top-1 by estimated Jaccard among candidates."""
    from datasketch import MinHash, MinHashLSH

    def shingles(text: str) -> list[bytes]:
        w = [x.lower() for x in _WORDS.findall(text)]
        return [" ".join(w[i:i + 5]).encode() for i in range(max(1, len(w) - 4))]

    t = time.process_time()
    sigs = MinHash.bulk([shingles(d["text"]) for d in docs], num_perm=128)
    ingest_cpu = time.process_time() - t
    out = {"ingest_docs_per_cpu_s": len(docs) / ingest_cpu}
    qsigs = MinHash.bulk([shingles(q["text"]) for q in queries], num_perm=128)
    for thr in thresholds:
        lsh = MinHashLSH(threshold=thr, num_perm=128)
        with lsh.insertion_session() as session:
            for d, s in zip(docs, sigs, strict=True):
                session.insert(d["id"], s)
        sig_of = dict(zip((d["id"] for d in docs), sigs, strict=True))
        tops = []
        for s in qsigs:
            cands = [(sig_of[c].jaccard(s), c) for c in lsh.query(s)]
            cands = [c for c in cands if c[0] >= thr]
            tops.append(max(cands)[1] if cands else None)
        out[f"lsh_{thr}"] = tops
    return out


def word_containment(query: str, original: str, n: int = 5) -> float:
    """Share of the query's word n-grams found verbatim in the original (text reuse)."""
    q = [w.lower() for w in _WORDS.findall(query)]
    o = [w.lower() for w in _WORDS.findall(original)]
    qs = {tuple(q[i:i + n]) for i in range(len(q) - n + 1)}
    os_ = {tuple(o[i:i + n]) for i in range(len(o) - n + 1)}
    return len(qs & os_) / max(1, len(qs))


REUSE = 0.3  # an "unrelated" document sharing this much verbatim text is a copy


def classify_unrelated(unrelated: list[dict], tops: list, by_id: dict[str, str]) -> dict:
    """Matches on unrelated documents, split by verbatim reuse of the matched original."""
    reuse, false = [], []
    for doc, top in zip(unrelated, tops, strict=True):
        if top is None:
            continue
        c = word_containment(doc["text"], by_id[top])
        (reuse if c >= REUSE else false).append(
            {"query": doc["id"], "match": top, "word5_containment": round(c, 3)})
    return {"false": false, "reuse": reuse}


def summarise(queries: list[dict], tops: list, unrelated_tops: list) -> dict:
    rows: dict[str, dict] = {}
    for q, top in zip(queries, tops, strict=True):
        key = f"{q['spinner']}|{q['rate']}|{q['kind']}"
        r = rows.setdefault(key, {"n": 0, "hit": 0, "wrong": 0})
        r["n"] += 1
        r["hit"] += top == q["source"]
        r["wrong"] += top is not None and top != q["source"]
    for r in rows.values():
        r["recall@1"] = r["hit"] / r["n"]
    return {"conditions": rows,
            "matches_on_unrelated": sum(t is not None for t in unrelated_tops),
            "n_unrelated": len(unrelated_tops)}


def reference_quality(queries: list[dict], originals: dict[str, str], results: list,
                      limit: int) -> dict:
    """Share of traced copies that the reference alignment restores exactly."""
    out: dict[str, list[int]] = {}
    for q, m in zip(queries, results, strict=True):
        if q["rate"] != 0.3:
            continue
        key = f"{q['spinner']}|{q['kind']}"
        bucket = out.setdefault(key, [0, 0])
        if bucket[1] >= limit:
            continue
        bucket[1] += 1
        if not m or m[0].id != q["source"]:
            continue
        orig = originals[q["source"]]
        _, edits = reference_edits(q["text"], orig)
        text, pos = [], 0
        for e in edits:
            text += [q["text"][pos:e.start], e.replacement]
            pos = e.end
        restored = "".join(text) + q["text"][pos:]
        bucket[0] += restored == orig if q["kind"] == "whole" else restored in orig
    return {k: v[0] / v[1] for k, v in out.items() if v[1]}


def check_unrelated(path: Path, n: int) -> dict:
    """Matches of ``n`` documents from another JSONL file (not indexed, titles not indexed)
    against the big index of the last full run: an unrelated set the settings never saw."""
    wanted = {json.loads(x) for x in (OUT / "big-ids.txt").open()}
    titles = set()
    with gzip.open(corpora_dir() / "enwiki_b.jsonl.gz", "rt", encoding="utf-8") as fh:
        for line in fh:
            d = json.loads(line)
            if str(d["id"]) in wanted:
                titles.add(d["title"])
    docs = []
    with path.open() as fh:
        for line in fh:
            d = json.loads(line)
            if d.get("title") in titles or str(d["id"]) in wanted:
                continue
            text, words = clean_text(d["text"], 400)
            if words >= 120:
                docs.append({"id": str(d["id"]), "text": text})
            if len(docs) >= n:
                break
    index = Index(OUT / "big.idx", create=False)
    tops = [(m[0].id if m else None) for m in (index.query(d["text"]) for d in docs)]
    by_id = {t: index.get(t) for t in tops if t is not None}
    index.close()
    return {"file": str(path), "n": len(docs), **classify_unrelated(docs, tops, by_id)}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.trace")
    ap.add_argument("--docs", type=int, default=40000, help="originals to index")
    ap.add_argument("--small", type=int, default=4000, help="size of the smaller index")
    ap.add_argument("--queries", type=int, default=500, help="documents per condition")
    ap.add_argument("--unrelated", type=int, default=1000)
    ap.add_argument("--no-minhash", action="store_true")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--check-unrelated", metavar="JSONL", type=Path,
                    help="only query the last run's index with documents from this file")
    args = ap.parse_args(argv)
    OUT.mkdir(parents=True, exist_ok=True)
    if args.check_unrelated:
        out = check_unrelated(args.check_unrelated, args.unrelated)
        print(json.dumps(out, indent=2))
        return 0
    log = lambda msg: print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr)  # noqa: E731
    # the cache is keyed by size: unrelated documents must never be among the originals
    docs = load_originals(args.docs + args.unrelated,
                          OUT / f"originals-{args.docs + args.unrelated}.jsonl")
    # unrelated: the last enwiki_b documents read, which are not indexed
    wiki = [i for i, d in enumerate(docs) if d["source"] == "enwiki_b"]
    unrelated_idx = set(wiki[-args.unrelated:])
    originals = [d for i, d in enumerate(docs) if i not in unrelated_idx][:args.docs]
    unrelated = [docs[i] for i in sorted(unrelated_idx)]
    log(f"{len(originals)} originals, {len(unrelated)} unrelated")
    queries = make_queries(originals, args.queries, args.seed)
    log(f"{len(queries)} spun queries")
    uq = [{"text": d["text"]} for d in unrelated]

    res: dict = {"date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
                 "machine": f"{platform.node()} {platform.machine()}, {os.cpu_count()} cores "
                            "(shared with other jobs: timings are noisy)",
                 "python": platform.python_version(), "unspin": unspin.__version__,
                 "args": vars(args)}
    small_docs = originals[:args.small]
    small_path, big_path = OUT / "small.idx", OUT / "big.idx"
    res["index_small"] = build_index(small_path, small_docs)
    log(f"small index: {res['index_small']}")
    res["index"] = build_index(big_path, originals)
    with (OUT / "big-ids.txt").open("w") as fh:
        fh.writelines(json.dumps(d["id"]) + "\n" for d in originals)
    log(f"index: {res['index']}")

    _, lat_small = run_queries(small_path, queries + uq)
    results, lat = run_queries(big_path, queries + uq)
    res["latency_ms"] = {
        "small": {"p50": 1e3 * float(np.percentile(lat_small, 50)),
                  "p95": 1e3 * float(np.percentile(lat_small, 95))},
        "big": {"p50": 1e3 * float(np.percentile(lat, 50)),
                "p95": 1e3 * float(np.percentile(lat, 95)),
                "max": 1e3 * float(np.max(lat))}}
    tops = [m[0].id if m else None for m in results]
    res["unspin"] = summarise(queries, tops[:len(queries)], tops[len(queries):])
    by_id = {d["id"]: d["text"] for d in originals}
    res["unspin"]["unrelated"] = classify_unrelated(unrelated, tops[len(queries):], by_id)
    res["unrelated_matches"] = [
        {"query": unrelated[i]["id"], "match": results[len(queries) + i][0].to_dict()}
        for i in range(len(uq)) if results[len(queries) + i]]
    copies = [m[0].score for q, m in zip(queries, results, strict=False) if m
              and m[0].id == q["source"]]
    res["score_of_true_matches"] = {"min": min(copies), "p1": float(np.percentile(copies, 1))}
    res["reference_exact"] = reference_quality(queries, by_id, results[:len(queries)], 200)
    log("unspin done")
    if not args.no_minhash:
        mh = minhash_baseline(originals, queries + uq)
        res["minhash"] = {"ingest_docs_per_cpu_s": mh["ingest_docs_per_cpu_s"]}
        for thr in (0.5, 0.2):
            t = mh[f"lsh_{thr}"]
            res["minhash"][f"lsh_{thr}"] = summarise(queries, t[:len(queries)],
                                                    t[len(queries):])
            res["minhash"][f"lsh_{thr}"]["unrelated"] = classify_unrelated(
                unrelated, t[len(queries):], by_id)
        log("minhash done")
    (OUT / "results.json").write_text(json.dumps(res, indent=2))
    print(report(res))
    return 0


def report(res: dict) -> str:
    u = res["unspin"]["conditions"]
    mh = res.get("minhash", {})
    lines = ["| spinner | rate | copy | unspin Recall@1 | MinHash-LSH 0.5 | MinHash-LSH 0.2 |",
             "|---|---|---|---|---|---|"]
    for key, r in u.items():
        sp, rate, kind = key.split("|")
        cells = [f"{r['recall@1']:.3f}"]
        for thr in (0.5, 0.2):
            m = mh.get(f"lsh_{thr}", {}).get("conditions", {}).get(key)
            cells.append(f"{m['recall@1']:.3f}" if m else "-")
        lines.append(f"| {sp} | {float(rate):.0%} | {kind} | " + " | ".join(cells) + " |")
    def fm_text(r: dict) -> str:
        u = r["unrelated"]
        return f"{len(u['false'])} false + {len(u['reuse'])} verbatim reuse"

    fm = [f"unspin {fm_text(res['unspin'])}"] + [
        f"MinHash-LSH {thr} {fm_text(mh[f'lsh_{thr}'])}"
        for thr in (0.5, 0.2) if f"lsh_{thr}" in mh]
    idx, small, lat = res["index"], res["index_small"], res["latency_ms"]
    lines += [
        "",
        f"Matches on {res['unspin']['n_unrelated']} unrelated documents (verbatim reuse: "
        f">= {REUSE:.0%} of the query's word 5-grams in the matched original): "
        + ", ".join(fm),
        f"Lowest score of a true match: {res['score_of_true_matches']['min']:.3f} "
        f"(p1 {res['score_of_true_matches']['p1']:.3f}); threshold 0.4",
        f"Query latency, one thread: {small['docs']:,} originals p50 "
        f"{lat['small']['p50']:.1f} ms / p95 {lat['small']['p95']:.1f} ms; "
        f"{idx['docs']:,} originals p50 {lat['big']['p50']:.1f} ms / "
        f"p95 {lat['big']['p95']:.1f} ms",
        f"Ingest: {idx['docs_per_cpu_s']:,.0f} docs per CPU second "
        f"({idx['docs_per_wall_s']:,.0f} per wall second), one process; quickest tenth of "
        f"the 500-document batches {idx['docs_per_cpu_s_fastest_tenth']:,.0f} per CPU second",
        f"Index: {idx['bytes_per_doc']:,.0f} bytes per document in all "
        f"(compressed original text {idx['text_bytes_per_doc']:,.0f}, postings "
        f"{idx['postings_bytes_per_doc']:,.0f} = {idx['postings_per_doc']:.0f} x 8 bytes); "
        f"documents average {idx['mean_chars_per_doc']:,.0f} characters",
        "Reference restoration at 30 %, exact original recovered: " + ", ".join(
            f"{k} {v:.1%}" for k, v in res["reference_exact"].items()),
    ]
    if mh:
        lines.append(f"MinHash ingest: {mh['ingest_docs_per_cpu_s']:,.0f} docs per CPU second")
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())
