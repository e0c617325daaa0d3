"""Tests for `unspin.Index`: add, query, remove, idempotence, storage, crash and concurrency."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest
from tracefix import make_doc, partial, spin

import unspin
from unspin.index import MemoryStorage, SQLiteStorage, gram_hashes, symbols

N_DOCS = 120
SRC = str(Path(unspin.__file__).resolve().parents[1])


def make_index(kind: str, tmp_path: Path, n: int = N_DOCS) -> unspin.Index:
    if kind == "memory":
        idx = unspin.Index(storage_config={"type": "memory"})
    else:
        idx = unspin.Index(tmp_path / "idx" / "originals.idx")
    idx.add_many([(f"d{i}", make_doc(i)) for i in range(n)], batch_size=25)
    return idx


@pytest.fixture(params=["sqlite", "memory"])
def index(request, tmp_path):
    idx = make_index(request.param, tmp_path)
    yield idx
    idx.close()


def test_skeleton_ignores_swapped_content_words():
    a = symbols("The old bridge was built by Smith in 1901, and it is long.")
    b = symbols("The aged viaduct was constructed by Smith in 1901, and it is extended.")
    assert a.tolist() == b.tolist()
    # a two-word phrase for one word is one content run either way
    assert symbols("a well known site, 1901").tolist() == symbols("a famous site, 1901").tolist()
    # numbers, function words and punctuation count
    assert symbols("built in 1901.").tolist() != symbols("built in 1902.").tolist()
    assert symbols("built in 1901.").tolist() != symbols("built on 1901.").tolist()
    assert len(gram_hashes(symbols("too short"))) == 0
    # any digits at all: superscripts, other scripts
    assert len(symbols("x¹ y² in ٣ or ½, 3.5 and 10:30 ①")) > 5
    assert len(symbols("lone \ud800 surrogate, \x00 nul and \u200b zero width")) > 3


def test_exact_and_spun_copies_are_found(index):
    for i in (0, 7, 33, 99):
        exact = index.query(make_doc(i))
        assert exact[0].id == f"d{i}" and exact[0].score == 1.0 and exact[0].coverage == 1.0
        spun = index.query(spin(make_doc(i), 0.4, seed=i))
        assert spun[0].id == f"d{i}"
        assert spun[0].score >= index.threshold


def test_partial_copy_is_found_by_containment(index):
    for i in (3, 50, 111):
        copy = partial(spin(make_doc(i), 0.3, seed=i), 0.3, seed=i)
        m = index.query(copy)
        assert m and m[0].id == f"d{i}"
        assert m[0].score > 0.6  # containment: the copy is all in the original
        assert m[0].coverage < 0.5  # but covers only part of it


def test_unrelated_texts_do_not_match(index):
    for i in range(1000, 1030):
        assert index.query(make_doc(i)) == []
    assert index.query("A short note.") == []  # too short to attribute
    assert index.query("") == []


def test_templated_sibling_with_other_numbers_is_not_a_match(index):
    import re

    original = make_doc(42)
    sibling = re.sub(r"\d+", lambda m: str(int(m.group()) + 1), original)
    assert index.query(original)[0].id == "d42"
    assert all(m.id != "d42" for m in index.query(sibling))
    # number words written as digits, as spinners do, still agree
    words = original.replace(" 2 ", " two ").replace(" 5 ", " five ")
    assert index.query(words)[0].id == "d42"


def test_add_is_idempotent_per_id(index):
    before = len(index)
    assert index.add("d5", make_doc(5)) == "unchanged"
    assert index.add_many([("d5", make_doc(5)), ("d6", make_doc(6))]) == \
        {"added": 0, "updated": 0, "unchanged": 2}
    assert len(index) == before
    # a new text under a known id replaces the old one
    assert index.add("d5", make_doc(5000)) == "updated"
    assert len(index) == before
    assert index.get("d5") == make_doc(5000)
    assert [m.id for m in index.query(make_doc(5000))][:1] == ["d5"]
    assert all(m.id != "d5" for m in index.query(make_doc(5)))


def test_remove(index):
    assert index.remove("d10", "nope") == ["d10"]
    assert "d10" not in index and "d11" in index
    assert index.query(make_doc(10)) == []
    assert index.remove("d10") == []
    assert len(index) == N_DOCS - 1
    # removed documents stay gone after later batches merge the segments
    index.add_many([(f"e{i}", make_doc(2000 + i)) for i in range(60)], batch_size=10)
    assert index.query(make_doc(10)) == []
    assert index.query(make_doc(2003))[0].id == "e3"
    assert index.query(make_doc(11))[0].id == "d11"


def test_bad_arguments(tmp_path):
    idx = unspin.Index(storage_config={"type": "memory"})
    with pytest.raises(ValueError):
        idx.add("", "text")
    with pytest.raises(TypeError):
        idx.add("x", b"bytes")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        idx.query(None)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="unknown storage type"):
        unspin.Index(tmp_path / "x", storage_config={"type": "redis"})
    with pytest.raises(ValueError, match="needs a path"):
        unspin.Index()
    with pytest.raises(FileNotFoundError):
        unspin.Index(tmp_path / "missing.idx", create=False)
    junk = tmp_path / "junk.idx"
    junk.write_bytes(b"not a database at all" * 100)
    with pytest.raises(ValueError, match="not an unspin index"):
        unspin.Index(junk)


def test_storage_types():
    assert isinstance(unspin.Index(storage_config={"type": "memory"}).storage, MemoryStorage)


def test_persists_across_reopen(tmp_path):
    path = tmp_path / "p.idx"
    with unspin.Index(path) as idx:
        idx.add_many([(f"d{i}", make_doc(i)) for i in range(40)], batch_size=7)
    with unspin.Index(path, create=False) as idx:
        assert isinstance(idx.storage, SQLiteStorage)
        assert len(idx) == 40 and sorted(idx.ids()) == sorted(f"d{i}" for i in range(40))
        assert idx.query(spin(make_doc(21), 0.3, 1))[0].id == "d21"
        stats = idx.stats()
        assert stats["documents"] == 40 and stats["postings"] > 40
        assert stats["file_bytes"] > 0 and stats["features"]["gram"] == 6


def _ingest_file(path: Path, n: int) -> None:
    with path.open("w") as fh:
        for i in range(n):
            fh.write(json.dumps({"id": f"d{i}", "text": make_doc(i)}) + "\n")


def test_kill_9_during_add_keeps_every_acknowledged_document(tmp_path):
    docs = tmp_path / "docs.jsonl"
    _ingest_file(docs, 8000)
    path = tmp_path / "crash.idx"
    env = {**os.environ, "PYTHONPATH": SRC}
    proc = subprocess.Popen(
        [sys.executable, "-m", "unspin", "index", "add", "--index", str(path), str(docs),
         "--batch-size", "10"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    acked = 0
    try:
        for line in proc.stderr:  # "unspin: committed N documents (last id: ...)"
            words = line.decode().split()
            if words[:2] == ["unspin:", "committed"]:
                acked = int(words[2])
                if acked >= 50:
                    break
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    assert proc.returncode == -signal.SIGKILL  # killed mid-ingest, not finished
    assert acked >= 50
    with unspin.Index(path, create=False) as idx:
        ids = set(idx.ids())
        assert {f"d{i}" for i in range(acked)} <= ids  # every acknowledged document
        assert len(ids) < 8000
        assert idx.query(spin(make_doc(17), 0.3, 3))[0].id == "d17"
        assert idx.query(make_doc(acked - 1))[0].id == f"d{acked - 1}"
        # and the index takes the rest where the crashed run stopped
        counts = idx.add_many([(f"d{i}", make_doc(i)) for i in range(acked + 40)])
        assert counts["updated"] == 0 and counts["added"] <= 40 + 10


def test_concurrent_readers_see_consistent_snapshots(tmp_path):
    path = tmp_path / "conc.idx"
    writer = unspin.Index(path)
    writer.add_many([(f"d{i}", make_doc(i)) for i in range(20)])
    reader = unspin.Index(path, create=False)  # shared by the reader threads
    total = 200
    published = [20]  # documents whose batch has committed
    done = threading.Event()
    errors: list[str] = []

    def write() -> None:
        try:
            writer.add_many([(f"d{i}", make_doc(i)) for i in range(20, total)], batch_size=9,
                            on_commit=lambda n, _last: published.__setitem__(0, 20 + n))
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(f"writer: {exc!r}")
        finally:
            done.set()

    def read(seed: int) -> None:
        rng = np.random.default_rng(seed)
        last_len = 0
        try:
            while not done.is_set() or rng.random() < 0.2:
                acked = published[0]
                i = int(rng.integers(0, total))
                matches = reader.query(make_doc(i))
                if i < acked and (not matches or matches[0].id != f"d{i}"):
                    errors.append(f"acknowledged d{i} not found")
                # an exact copy matches in full or not at all: never a half-written doc
                if matches and matches[0].id == f"d{i}" and matches[0].score != 1.0:
                    errors.append(f"d{i} partly visible: {matches[0]}")
                n = len(reader)
                if n < last_len:
                    errors.append(f"document count went back from {last_len} to {n}")
                last_len = n
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(f"reader: {exc!r}")

    threads = [threading.Thread(target=write)] + \
        [threading.Thread(target=read, args=(s,)) for s in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors, errors[:5]
    assert len(reader) == total
    writer.close()
    reader.close()
