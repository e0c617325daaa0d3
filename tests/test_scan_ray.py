"""The Ray engine gives the same output as the local one (a local Ray with 2 CPUs)."""

from __future__ import annotations

import json

import pytest
from test_scan import BAD_LINES, _docs, _write_jsonl

from unspin.scan import scan

try:
    import ray
except ImportError:  # pragma: no cover - depends on the environment
    ray = None


@pytest.fixture(scope="session")
def ray_cluster():
    """One local Ray instance (2 CPUs) for the whole session."""
    if ray is None:
        pytest.skip("ray is not installed (pip install 'unspin[ray]')")
    if not ray.is_initialized():
        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False,
                 configure_logging=False)
    yield ray
    ray.shutdown()


def test_ray_engine_equals_local(tmp_path, ray_cluster):
    a = _write_jsonl(tmp_path / "a.jsonl", _docs(30), BAD_LINES)
    b = _write_jsonl(tmp_path / "b.jsonl.gz", _docs(7))
    local, on_ray = tmp_path / "local.jsonl", tmp_path / "ray.jsonl"
    scan([str(a), str(b)], str(local), workers=1)
    summary = scan([str(a), str(b)], str(on_ray), workers=2, engine="ray", batch_size=4)
    assert on_ray.read_bytes() == local.read_bytes()
    assert summary.records == 30 + BAD_LINES.count(b"\n") + 7


def test_ray_engine_in_chunks_keeps_order(tmp_path, ray_cluster, monkeypatch):
    from unspin import scan as scan_module

    real = scan_module.RayEngine
    monkeypatch.setattr(scan_module, "RayEngine",
                        lambda *args, **kwargs: real(*args, chunk_docs=7, **kwargs))
    a = _write_jsonl(tmp_path / "a.jsonl", _docs(25))
    local, on_ray = tmp_path / "local.jsonl", tmp_path / "ray.jsonl"
    scan([str(a)], str(local), workers=1)
    scan([str(a)], str(on_ray), engine="ray", workers=2, batch_size=3)
    assert on_ray.read_bytes() == local.read_bytes()


def test_ray_engine_runs_the_next_chunk_while_one_ends(tmp_path, ray_cluster, monkeypatch):
    # A chunk's last blocks leave a worker idle, and the driver then writes its results and
    # reads the next: the next chunk must already be running. Each chunk here (analysed in
    # the driver, not on Ray) waits until the next one has started; run one at a time, the
    # first would wait in vain.
    import threading

    from unspin import scan as scan_module

    real = scan_module.RayEngine
    monkeypatch.setattr(scan_module, "RayEngine",
                        lambda *args, **kwargs: real(*args, chunk_docs=6, **kwargs))
    a = _write_jsonl(tmp_path / "a.jsonl", _docs(20), BAD_LINES)
    b = _write_jsonl(tmp_path / "b.jsonl", _docs(5))
    chunks: list[int] = []  # a first run counts the chunks
    started: list[threading.Event] = []
    overlapped = []

    def run_chunk(self, batches):
        k = len(chunks)
        chunks.append(k)
        if started:
            started[k].set()
            if k + 1 < len(started):
                overlapped.append(started[k + 1].wait(5))
        return [r for batch in batches for r in scan_module.analyse_batch(batch, self.cfg)]

    monkeypatch.setattr(real, "_run_chunk", run_chunk)
    local, on_ray = tmp_path / "local.jsonl", tmp_path / "ray.jsonl"
    scan([str(a), str(b)], str(local), workers=1)
    scan([str(a), str(b)], str(on_ray), engine="ray", workers=2, batch_size=3)
    n_chunks = len(chunks)
    assert n_chunks >= 4
    chunks.clear()
    started.extend(threading.Event() for _ in range(n_chunks))
    scan([str(a), str(b)], str(on_ray), engine="ray", workers=2, batch_size=3)
    assert overlapped == [True] * (n_chunks - 1)
    assert on_ray.read_bytes() == local.read_bytes()


def test_ray_engine_failure_in_a_chunk_reaches_the_caller(tmp_path, ray_cluster, monkeypatch):
    from unspin import scan as scan_module

    real = scan_module.RayEngine
    monkeypatch.setattr(scan_module, "RayEngine",
                        lambda *args, **kwargs: real(*args, chunk_docs=4, **kwargs))

    def run_chunk(self, batches):
        raise RuntimeError("the cluster went away")

    monkeypatch.setattr(real, "_run_chunk", run_chunk)
    a = _write_jsonl(tmp_path / "a.jsonl", _docs(12))
    with pytest.raises(RuntimeError, match="the cluster went away"):
        scan([str(a)], str(tmp_path / "ray.jsonl"), engine="ray", workers=2, batch_size=2)


def test_ray_engine_doc_timeout(tmp_path, ray_cluster):
    from test_scan import SENTENCES

    path = _write_jsonl(tmp_path / "in.jsonl", [{"id": "slow", "text": " ".join(SENTENCES * 200)},
                                                {"id": "ok", "text": SENTENCES[0]}])
    out = tmp_path / "out.jsonl"
    scan([str(path)], str(out), engine="ray", workers=2, doc_timeout=0.01)
    slow, ok = (json.loads(line) for line in out.read_text().splitlines())
    assert slow["error"].startswith("timeout")
    assert "score" in ok


def test_ray_engine_asks_for_no_more_tasks_than_blocks(tmp_path, ray_cluster):
    # Fewer records than the tasks the engine keeps in flight: Ray Data warns on stderr
    # when the concurrency asked for exceeds the blocks it is given.
    import warnings

    path = _write_jsonl(tmp_path / "in.jsonl", _docs(1))
    out = tmp_path / "out.jsonl"
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        scan([str(path)], str(out), engine="ray", workers=2)
    assert [w for w in caught if "concurrent tasks" in str(w.message)] == []
    assert len(out.read_text().splitlines()) == 1
