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
