"""HTTP API of ``unspin serve``: contracts, limits, errors, trace with a fake index."""

import asyncio
import json
import os
import subprocess
import sys
import threading
import time
from dataclasses import dataclass

import pytest

pytest.importorskip("fastapi", reason="the server extra (fastapi) is not installed")
pytest.importorskip("httpx", reason="httpx (FastAPI's TestClient) is not installed")

from fastapi.testclient import TestClient  # noqa: E402

import unspin  # noqa: E402
from unspin import cli  # noqa: E402
from unspin.server import (  # noqa: E402
    BodyLimitMiddleware,
    ConfigError,
    Engine,
    ServerConfig,
    ServerError,
    create_app,
    load_index,
    run_job,
    web_dir,
)

SPUN = (
    "The metropolis council accredited a brand new finances on Tuesday after a protracted "
    "debate about faculty funding. The mayor stated the plan would rent 3 hundred academics "
    "and restore outdated buildings throughout the district.\n\nThe Supreme Courtroom is "
    "predicted to rule on a associated case within the spring."
)


@dataclass
class Match:
    id: str
    score: float
    coverage: float
    url: str = ""


class FakeIndex:
    """The duck-typed trace interface: query(text) -> matches with id, score, coverage."""

    def __init__(self, matches=None):
        self.matches = matches if matches is not None else [
            Match("news-1", 0.91, 0.8, "https://example.org/news-1"),
            {"id": "wiki-2", "score": 0.4, "coverage": 0.25, "title": "Second"},
        ]
        self.queries = []

    def query(self, text):
        self.queries.append(text)
        if isinstance(self.matches, Exception):
            raise self.matches
        return self.matches


@pytest.fixture(scope="module")
def index():
    return FakeIndex()


@pytest.fixture(scope="module")
def client(index):
    app = create_app(ServerConfig(pool="thread", workers=2, index=index))
    with TestClient(app) as c:
        yield c


def _cli_record(tmp_path, capsys, command, record, *options):
    path = tmp_path / "in.jsonl"
    path.write_text(json.dumps(record) + "\n", encoding="utf-8")
    assert cli.main([command, str(path), *options]) == 0
    return json.loads(capsys.readouterr().out)


# --------------------------------------------------------------------------- contracts


def test_check_is_the_cli_record(client, tmp_path, capsys):
    got = client.post("/v1/check", json={"text": SPUN, "id": "doc-1"})
    assert got.status_code == 200
    body = got.json()
    assert body == _cli_record(tmp_path, capsys, "check", {"id": "doc-1", "text": SPUN})
    assert body["spun"] is True
    assert {s["text"]: s["suggestion"] for s in body["spans"]}["Courtroom"] == "Court"
    for s in body["spans"]:
        assert SPUN[s["start"]:s["end"]] == s["text"]


def test_server_timing_says_where_the_time_went(client):
    got = client.post("/v1/check", json={"text": SPUN})
    parts = [p.strip() for p in got.headers["server-timing"].split(",")]
    assert parts[-1] == 'batch;desc="1"'  # alone: nothing else was waiting
    timing = {k: float(v) for k, _, v in (p.partition(";dur=") for p in parts[:-1])}
    assert set(timing) == {"total", "work", "cpu"}
    assert 0 < timing["work"] <= timing["total"]
    assert 0 < timing["cpu"] <= timing["work"] + 5  # CPU clocks tick coarser than wall


def test_restore_is_the_cli_record(client, tmp_path, capsys):
    got = client.post("/v1/restore", json={"text": SPUN, "id": 42})
    assert got.status_code == 200
    body = got.json()
    assert body == _cli_record(tmp_path, capsys, "restore", {"id": 42, "text": SPUN})
    assert "Supreme Court is" in body["text"]
    assert any(e["kind"] == "spin" for e in body["edits"])


def test_options_reach_the_library(client):
    body = client.post("/v1/check", json={"text": SPUN, "threshold": 0.25}).json()
    assert body == cli._check_dict(unspin.check(SPUN, threshold=0.25), {})
    assert body["threshold"] == 0.25
    body = client.post("/v1/restore", json={"text": SPUN, "min_confidence": 0.9}).json()
    assert body == cli._restore_dict(unspin.restore(SPUN, min_confidence=0.9), {})
    assert all(e["confidence"] >= 0.9 for e in body["edits"] if e["kind"] == "spin")


def test_restore_two_step_option(client):
    text = ("The Wright Flyer was the anterior aircraft to fly under its own power, and it "
            "changed travel forever.")
    body = client.post("/v1/restore", json={"text": text, "two_step": True}).json()
    assert body == cli._restore_dict(unspin.restore(text, two_step=True), {})
    assert "the first aircraft" in body["text"]
    assert client.post("/v1/restore", json={"text": text, "two_step": "x"}).status_code == 422


@pytest.mark.parametrize("ident", [None, 0, "x", {"k": [1, 2]}])
def test_id_is_echoed_when_given(client, ident):
    body = client.post("/v1/check", json={"text": "Hello there, this is a test.", "id": ident})
    assert body.json()["id"] == ident
    assert "id" not in client.post("/v1/check", json={"text": "Hello there."}).json()


def test_unsupported_text_gets_no_verdict(client):
    body = client.post("/v1/check", json={"text": ""}).json()
    assert body["supported"] is False and body["spun"] is False


def test_lone_surrogate_is_replaced_not_a_crash(client):
    raw = b'{"text": "The metropolis council met \\ud800 on Tuesday.", "id": "\\udfff"}'
    got = client.post("/v1/check", content=raw, headers={"content-type": "application/json"})
    assert got.status_code == 200
    assert got.json()["supported"] is True


def test_extract_returns_the_main_text(client):
    html = "<html><body><nav>Menu</nav><article><p>First para.</p><p>Second.</p></article>"
    body = client.post("/v1/extract", json={"text": html}).json()
    assert body == {"text": "First para.\n\nSecond."}


# --------------------------------------------------------------------------- bad requests


@pytest.mark.parametrize(
    "payload, needle",
    [
        ({}, "text"),
        ({"text": 5}, "text"),
        ({"text": "x", "path": "/etc/passwd"}, "path"),  # no filesystem paths, no extras
        ({"text": "x", "table": "/tmp/t.tsv"}, "table"),
        ({"text": "x", "threshold": 2}, "threshold"),
        ([1, 2], "JSON object"),
    ],
)
def test_invalid_requests_are_422_json(client, payload, needle):
    got = client.post("/v1/check", json=payload)
    assert got.status_code == 422
    assert needle in got.json()["error"]


def test_invalid_json_is_422_without_echoing_the_body(client):
    junk = '{"text": "' + "y" * 5000
    got = client.post("/v1/check", content=junk, headers={"content-type": "application/json"})
    assert got.status_code == 422
    assert got.json()["error"].startswith("invalid request")
    assert len(got.content) < 1000


def test_unknown_path_and_method_are_json(client):
    assert client.get("/v1/nothing").json() == {"error": "not found"}
    got = client.get("/v1/check")
    assert got.status_code == 405 and "error" in got.json()


# --------------------------------------------------------------------------- limits


def test_oversized_body_is_413_json(client):
    got = client.post("/v1/check", content=b"x" * 2_000_001,
                      headers={"content-type": "application/json"})
    assert got.status_code == 413
    assert "too large" in got.json()["error"]


def _run_middleware(receive, max_bytes=1000, read_timeout_s=5.0, headers=()):
    called = []
    sent = []

    async def app(scope, receive, send):
        called.append(await receive())

    async def send(message):
        sent.append(message)

    mw = BodyLimitMiddleware(app, max_bytes=max_bytes, read_timeout_s=read_timeout_s)
    scope = {"type": "http", "method": "POST", "headers": list(headers)}
    asyncio.run(mw(scope, receive, send))
    return called, sent


def test_body_limit_stops_reading_an_endless_chunked_body():
    reads = 0

    async def receive():
        nonlocal reads
        reads += 1
        return {"type": "http.request", "body": b"x" * 100, "more_body": True}

    called, sent = _run_middleware(receive)
    assert sent[0]["status"] == 413 and not called
    assert reads == 11  # 1,100 bytes read for a 1,000-byte cap, then no more


def test_body_limit_refuses_declared_length_before_reading():
    async def receive():
        raise AssertionError("the body must not be read")

    called, sent = _run_middleware(receive, headers=[(b"content-length", b"5000")])
    assert sent[0]["status"] == 413 and not called


def test_body_limit_passes_a_small_body_through_whole():
    parts = [b'{"te', b'xt": 1}']

    async def receive():
        return {"type": "http.request", "body": parts.pop(0), "more_body": bool(parts)}

    called, sent = _run_middleware(receive)
    assert called == [{"type": "http.request", "body": b'{"text": 1}', "more_body": False}]


def test_slow_body_is_408():
    async def receive():
        await asyncio.sleep(10)

    t0 = time.monotonic()
    called, sent = _run_middleware(receive, read_timeout_s=0.2)
    assert sent[0]["status"] == 408 and not called
    assert time.monotonic() - t0 < 3


def _slow_job(kind, text, options):
    time.sleep(5)
    return run_job(kind, text, options)


def _failing_job(kind, text, options):
    raise RuntimeError("boom")


def test_slow_request_gets_a_clean_timeout():
    app = create_app(ServerConfig(pool="thread", workers=1, timeout_s=0.2, warm=False,
                                  work=_slow_job))
    with TestClient(app) as c:
        t0 = time.monotonic()
        got = c.post("/v1/check", json={"text": "Hello there.", "id": "slow"})
        assert time.monotonic() - t0 < 4  # answered without waiting for the 5 s job
        assert got.status_code == 504
        assert got.json() == {"id": "slow", "error": "request timed out after 0.2 s"}
        assert c.get("/healthz").status_code == 200


def test_job_failure_is_500_json_with_id():
    app = create_app(ServerConfig(pool="thread", workers=1, warm=False, work=_failing_job))
    with TestClient(app) as c:
        got = c.post("/v1/restore", json={"text": "Hello.", "id": 3})
        assert got.status_code == 500
        assert got.json() == {"id": 3, "error": "internal error: RuntimeError: boom"}


def test_admission_is_bounded():
    engine = Engine(ServerConfig(pool="thread", workers=1, max_pending=1, warm=False))
    engine.start()
    release = threading.Event()

    async def scenario():
        first = asyncio.ensure_future(engine.submit(release.wait, 5))
        await asyncio.sleep(0.05)
        with pytest.raises(ServerError) as busy:
            await engine.submit(time.sleep, 0)
        release.set()
        assert await first is True
        return busy.value

    try:
        busy = asyncio.run(scenario())
        assert busy.status == 503 and "busy" in busy.message
        assert engine.pending == 0
    finally:
        engine.shutdown()


def test_process_pool_gives_the_same_records_and_survives_a_dead_worker():
    engine = Engine(ServerConfig(pool="process", workers=1, warm=False))
    engine.start()

    async def crash_then_recover():
        with pytest.raises(ServerError) as died:
            await engine.submit(os._exit, 1)
        assert died.value.status == 500 and "worker process died" in died.value.message
        for _ in range(120):  # the replacement pool starts in the background
            try:
                return await engine.submit(run_job, "restore", SPUN, {})
            except ServerError as exc:
                assert exc.status == 503
                await asyncio.sleep(0.25)
        raise AssertionError("no new worker pool")

    try:
        got = asyncio.run(engine.submit(run_job, "check", SPUN, {}))
        restored = asyncio.run(crash_then_recover())
        procs = list(engine._pool._processes.values())
    finally:
        engine.shutdown()
    assert got == cli._check_dict(unspin.check(SPUN), {})
    assert restored == cli._restore_dict(unspin.restore(SPUN), {})
    assert procs and not any(p.is_alive() for p in procs)


def test_concurrent_checks_are_batched_and_each_gets_its_own_record():
    engine = Engine(ServerConfig(pool="thread", workers=1, warm=False))
    engine.start()
    texts = [SPUN, "The council met on Tuesday.", "", "Le conseil municipal a voté.",
             SPUN.upper(), "Hello."]

    async def many():
        return await asyncio.gather(
            *(engine.batched("check", t, {}) for t in texts),
            *(engine.batched("check", t, {"threshold": 0.01}) for t in texts[:2]))

    try:
        got = asyncio.run(many())
    finally:
        engine.shutdown()
    for (record, *_), text in zip(got, texts, strict=False):
        assert record == cli._check_dict(unspin.check(text), {})
    for (record, *_), text in zip(got[len(texts):], texts[:2], strict=True):
        assert record == cli._check_dict(unspin.check(text, threshold=0.01), {})
    sizes = [size for *_, size in got]
    # The first went alone to the idle worker; the rest waited and went together, apart
    # from the checks with other options, which never share a batch.
    assert sizes[0] == 1 and max(sizes) == len(texts) - 1 and sizes[-1] == 2
    assert engine.pending == 0


def test_concurrent_restores_are_batched_apart_from_checks():
    engine = Engine(ServerConfig(pool="thread", workers=1, warm=False))
    engine.start()
    texts = [SPUN, "The council met on Tuesday.", "", "Le conseil municipal a voté.", SPUN]

    async def many():
        return await asyncio.gather(
            *(engine.batched("restore", t, {}) for t in texts),
            engine.batched("check", SPUN, {}),
            *(engine.batched("restore", t, {"min_confidence": 0.3}) for t in texts[:2]))

    try:
        got = asyncio.run(many())
    finally:
        engine.shutdown()
    for (record, *_), text in zip(got, texts, strict=False):
        assert record == cli._restore_dict(unspin.restore(text), {})
    assert got[len(texts)][0] == cli._check_dict(unspin.check(SPUN), {})
    for (record, *_), text in zip(got[len(texts) + 1:], texts[:2], strict=True):
        assert record == cli._restore_dict(unspin.restore(text, min_confidence=0.3), {})
    sizes = [size for *_, size in got]
    # The first went alone to the idle worker, the other restores together; the check and
    # the restores with other options never share their batch.
    assert sizes[:len(texts)] == [1] + [len(texts) - 1] * (len(texts) - 1)
    assert sizes[len(texts)] == 1 and sizes[-2:] == [2, 2]
    assert engine.pending == 0


def test_a_check_that_times_out_waiting_frees_its_slot(monkeypatch):
    from unspin import server

    release = threading.Event()
    real = server.run_batch

    def held(kind, texts, options):
        release.wait(5)
        return real(kind, texts, options)

    monkeypatch.setattr(server, "run_batch", held)
    engine = Engine(ServerConfig(pool="thread", workers=1, timeout_s=0.3, warm=False))
    engine.start()

    async def scenario():
        first = asyncio.ensure_future(engine.batched("check", SPUN, {}))  # holds the only worker
        await asyncio.sleep(0.1)
        with pytest.raises(ServerError) as late:
            await engine.batched("check", SPUN, {})  # waits for a worker, and times out waiting
        pending_after_timeout = engine.pending
        release.set()
        await asyncio.gather(first, return_exceptions=True)
        for _ in range(100):  # the first one's slot is freed when its batch really ends
            if engine.pending == 0:
                break
            await asyncio.sleep(0.02)
        return late.value, pending_after_timeout

    try:
        late, pending = asyncio.run(scenario())
    finally:
        engine.shutdown()
    assert late.status == 504
    assert pending == 1  # only the running batch: the timed-out check left the queue
    assert engine.pending == 0


def test_bad_config_is_refused():
    with pytest.raises(ValueError):
        ServerConfig(pool="fork")
    with pytest.raises(ValueError):
        ServerConfig(timeout_s=0)


# --------------------------------------------------------------------------- trace


def test_trace_returns_matches(client, index):
    got = client.post("/v1/trace", json={"text": SPUN, "id": "t"})
    assert got.status_code == 200
    body = got.json()
    assert body["id"] == "t"
    assert body["matches"] == [
        {"id": "news-1", "score": 0.91, "coverage": 0.8, "url": "https://example.org/news-1"},
        {"id": "wiki-2", "score": 0.4, "coverage": 0.25, "title": "Second"},
    ]
    assert index.queries[-1] == SPUN
    assert len(client.post("/v1/trace", json={"text": SPUN, "limit": 1}).json()["matches"]) == 1


def test_trace_without_index_is_501():
    app = create_app(ServerConfig(pool="thread", workers=1, warm=False))
    with TestClient(app) as c:
        got = c.post("/v1/trace", json={"text": SPUN})
        assert got.status_code == 501
        assert "no index configured" in got.json()["error"]
        assert c.get("/healthz").json()["index"] is False


@pytest.mark.parametrize("matches, needle", [
    (RuntimeError("index broken"), "index broken"),
    ([{"id": "a", "score": 1.0}], "coverage"),
    ([{"id": "a", "score": float("nan"), "coverage": 1}], "non-finite"),
])
def test_trace_index_failures_are_500_json(matches, needle):
    app = create_app(ServerConfig(pool="thread", workers=1, warm=False,
                                  index=FakeIndex(matches)))
    with TestClient(app) as c:
        got = c.post("/v1/trace", json={"text": "x"})
        assert got.status_code == 500
        assert needle in got.json()["error"]


def test_load_index_uses_unspin_index(tmp_path, monkeypatch):
    path = tmp_path / "idx.bin"
    with pytest.raises(ConfigError, match="No such file"):
        load_index(str(path))
    path.write_bytes(b"not an index")
    with pytest.raises(ConfigError, match="cannot open index"):
        load_index(str(path))
    monkeypatch.delattr(unspin, "Index", raising=False)
    with pytest.raises(ConfigError, match="no trace index"):
        load_index(str(path))

    class Index:
        def __init__(self, p):
            self.path = p

        def query(self, text):
            return []

    monkeypatch.setattr(unspin, "Index", Index, raising=False)
    assert load_index(str(path)).path == str(path)


ORIGINAL = (
    "The city council approved a new budget on Tuesday after a long debate about school "
    "funding. The mayor said the plan would hire three hundred teachers and repair old "
    "buildings across the district.\n\nThe Supreme Court is expected to rule on a related "
    "case in the spring."
)


def test_trace_with_a_real_index_is_the_cli_record(tmp_path, capsys):
    path = tmp_path / "originals.idx"
    with unspin.Index(str(path)) as idx:
        idx.add("news-1", ORIGINAL)
        idx.add("other", "A completely different text about gardening, soil and the "
                "seasons, with tomatoes planted in May and harvested in August.")
    index = load_index(str(path))
    app = create_app(ServerConfig(pool="thread", workers=1, warm=False, index=index))
    with TestClient(app) as c:
        got = c.post("/v1/trace", json={"text": SPUN, "id": "q"})
        assert got.status_code == 200
        body = got.json()
        assert body == _cli_record(tmp_path, capsys, "trace", {"id": "q", "text": SPUN},
                                   "--index", str(path))
        assert [m["id"] for m in body["matches"]] == ["news-1"]
        strict = c.post("/v1/trace", json={"text": SPUN, "threshold": 1.0}).json()
        assert strict == {"matches": []}
    index.close()
    # With the index's path, restore takes the original's wording, as restore --index does.
    app = create_app(ServerConfig(pool="thread", workers=1, warm=False,
                                  index=load_index(str(path)), index_path=str(path)))
    with TestClient(app) as c:
        body = c.post("/v1/restore", json={"text": SPUN, "id": "q"}).json()
    assert body == _cli_record(tmp_path, capsys, "restore", {"id": "q", "text": SPUN},
                               "--index", str(path))
    assert any(e["kind"] == "reference" for e in body["edits"])
    assert "would hire three hundred teachers" in body["text"]


def test_serve_refuses_a_missing_index(tmp_path, capsys):
    assert cli.main(["serve", "--index", str(tmp_path / "nope.idx")]) == 2
    assert "cannot read index" in capsys.readouterr().err
    assert cli.main(["serve", "--table", str(tmp_path / "nope.tsv")]) == 2
    assert "cannot read table" in capsys.readouterr().err


def test_serve_command_runs_uvicorn(tmp_path):
    import socket

    import httpx

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    proc = subprocess.Popen(
        [sys.executable, "-m", "unspin", "serve", "--port", str(port), "--pool", "thread",
         "--workers", "1", "--log-level", "warning"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, proc.stdout.read()
            try:
                health = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "server did not start"
                time.sleep(0.2)
        assert health.json()["pool"] == "thread" and health.json()["workers"] == 1
        got = httpx.post(f"http://127.0.0.1:{port}/v1/check", json={"text": SPUN}, timeout=30)
        assert got.json() == cli._check_dict(unspin.check(SPUN), {})
    finally:
        proc.terminate()
        proc.wait(20)


def test_serve_without_the_extra_says_how_to_install(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "uvicorn", None)
    assert cli.main(["serve"]) == 2
    assert "unspin[server]" in capsys.readouterr().err


# --------------------------------------------------------------------------- page, docs, headers


def test_health(client):
    body = client.get("/healthz").json()
    assert body["status"] == "ok" and body["index"] is True
    assert body["max_body_bytes"] == 2_000_000 and body["pool"] == "thread"


def test_page_docs_and_assets_are_served(client):
    page = client.get("/")
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    assert "script-src 'self'" in page.headers["content-security-policy"]
    assert 'src="/static/app.js"' in page.text
    docs = client.get("/docs")
    assert docs.status_code == 200 and "/static/docs.js" in docs.text
    for name in ("app.js", "docs.js", "style.css"):
        assert client.get(f"/static/{name}").status_code == 200
    paths = client.get("/openapi.json").json()["paths"]
    assert {"/v1/check", "/v1/restore", "/v1/trace", "/v1/extract", "/healthz"} <= set(paths)


def test_web_assets_are_local_and_never_inject_html():
    for path in web_dir().iterdir():
        text = path.read_text(encoding="utf-8")
        assert "cdn" not in text.lower(), path
        assert 'src="http' not in text and 'href="http' not in text, path
        assert "@import" not in text, path
        if path.suffix == ".js":
            for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write",
                         "eval("):
                assert sink not in text, (path, sink)


def test_cors_is_off_by_default(client):
    got = client.get("/healthz", headers={"origin": "https://evil.example"})
    assert "access-control-allow-origin" not in got.headers
    app = create_app(ServerConfig(pool="thread", workers=1, warm=False,
                                  cors_origins=["https://ok.example"]))
    with TestClient(app) as c:
        got = c.get("/healthz", headers={"origin": "https://ok.example"})
        assert got.headers["access-control-allow-origin"] == "https://ok.example"


def test_import_unspin_does_not_import_the_server_stack():
    code = ("import sys, unspin, unspin.cli; unspin.cli.build_parser(); "
            "print(sorted(m for m in ('fastapi', 'uvicorn', 'starlette') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "[]"
