"""HTTP API and web page: ``unspin serve`` (FastAPI + uvicorn, the ``unspin[server]`` extra).

Endpoints (JSON in, JSON out; see ``docs/server.md``):

- ``POST /v1/check``, ``POST /v1/restore``: ``{"text": ..., "id": ...}`` in, the CLI's JSON
  records out (the same builders as ``unspin check/restore --format jsonl``).
- ``POST /v1/trace``: matches from the configured index (501 when none is configured).
- ``POST /v1/extract``: the main text of an HTML page (what the CLI reads from HTML input).
- ``GET /healthz``, ``GET /openapi.json``, ``GET /docs`` (a self-hosted reference page),
  ``GET /`` the web page; every asset is served by the app, nothing from a CDN.

The model is CPU bound and holds the GIL, so requests run in a bounded pool of worker
processes (default) or threads, warmed at start-up so no request pays for model loading.
Admission is bounded (``max_pending``: more waiting requests get 503), each request has a
time limit (504 when it runs past it, 408 when its body arrives too slowly) and bodies are
capped while they are read (413).

fastapi and uvicorn are imported lazily: ``import unspin`` and the rest of the CLI never
need them.
"""

import asyncio
import collections
import concurrent.futures as cf
import dataclasses
import gc
import inspect
import json
import logging
import math
import multiprocessing
import os
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from .report import versions

log = logging.getLogger("unspin.server")

DEFAULT_MAX_BODY_BYTES = 2_000_000
DEFAULT_TIMEOUT_S = 60.0
DEFAULT_MAX_PENDING = 256
DEFAULT_TRACE_LIMIT = 5
_WARM_TEXT = (
    "The metropolis council accredited a brand new finances on Tuesday after a protracted "
    "debate about faculty funding. The mayor stated the plan would rent three hundred "
    "academics."
)
_ERROR_NEEDS_EXTRA = (
    "unspin serve needs the server extra: python -m pip install 'unspin[server]' "
    "(fastapi and uvicorn)"
)


class ConfigError(Exception):
    """A server option that cannot be used (missing index file, no ``unspin.Index``)."""


class ServerError(Exception):
    """A request that fails with a JSON error body ``{"error": message}``.

    Attributes:
        status: HTTP status code.
        message: Human-readable reason.
    """

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


# --------------------------------------------------------------------------- jobs


def run_job(kind: str, text: str, options: dict[str, Any]) -> dict[str, Any]:
    """Run one job in a worker and return its JSON record (without the echoed id).

    Module level so that a process pool can pickle it. The records are built by the CLI's
    own builders, so the HTTP and command-line contracts cannot drift apart.

    Args:
        kind: ``"check"``, ``"restore"`` or ``"extract"``.
        text: The document.
        options: Keyword arguments for `unspin.check` / `unspin.restore`.

    Returns:
        The record, a plain JSON-serialisable dict.
    """
    import unspin

    from . import cli

    if kind == "check":
        return cli._check_dict(unspin.check(text, **options), {})
    if kind == "restore":
        options = dict(options)
        index_path = options.pop("index", None)
        if index_path is not None:  # as `unspin restore --index`: the original's wording
            from .trace import restore_with_reference

            result = restore_with_reference(text, _worker_index(index_path), **options)
            return cli._restore_dict(result, {})
        return cli._restore_dict(unspin.restore(text, **options), {})
    if kind == "extract":
        from .extract import html_to_text

        return {"text": html_to_text(text)}
    raise ValueError(f"unknown job kind {kind!r}")


def run_batch(kind: str, texts: list[str], options: dict[str, Any]
              ) -> tuple[list[tuple[dict[str, Any] | None, str | None]], float, float]:
    """Check (``kind`` ``"check"``: `unspin.check_many`) or restore (``"restore"``:
    `unspin.restore_many`, without an index) many texts in one call, in a worker.

    Returns:
        ``(results, wall_ms, cpu_ms)``: per text ``(record, None)`` or ``(None, error)``,
        and the batch's wall and CPU milliseconds. If the batch call fails, each text is
        analysed alone, so that only the text at fault gets an error.
    """
    import unspin

    from . import cli

    t0, c0 = time.perf_counter(), time.thread_time()
    try:
        if kind == "check":
            results: list[tuple[dict[str, Any] | None, str | None]] = [
                (cli._check_dict(r, {}), None) for r in unspin.check_many(texts, **options)]
        elif kind == "restore":
            results = [(cli._restore_dict(r, {}), None)
                       for r in unspin.restore_many(texts, **options)]
        else:
            raise ValueError(f"no batches of {kind!r} jobs")
    except Exception:  # noqa: BLE001 - retried one by one below
        results = []
        for text in texts:
            try:
                results.append((run_job(kind, text, options), None))
            except Exception as exc:  # noqa: BLE001 - one failed request, not the batch
                log.exception("%s failed", kind)
                results.append((None, f"internal error: {type(exc).__name__}: {exc}"))
    return results, (time.perf_counter() - t0) * 1000, (time.thread_time() - c0) * 1000


_index_lock = threading.Lock()
_indexes: dict[str, Any] = {}


def _worker_index(path: str) -> Any:
    """The index at ``path``, opened once per process (it gives each thread a connection)."""
    with _index_lock:
        index = _indexes.get(path)
        if index is None:
            from .index import Index

            index = _indexes[path] = Index(path, create=False)
        return index


def _timed_job(work: Callable[..., Any], kind: str, text: str,
               options: dict[str, Any]) -> tuple[Any, float, float]:
    """``work(kind, text, options)`` with its wall and CPU milliseconds (this thread's CPU,
    so that a busy machine shows as wall time well above CPU time)."""
    t0, c0 = time.perf_counter(), time.thread_time()
    result = work(kind, text, options)
    return result, (time.perf_counter() - t0) * 1000, (time.thread_time() - c0) * 1000


def _init_worker(lm: str | None, table: str | None, warm: bool) -> None:
    """Process-pool initializer: select the model and load it before the first request."""
    if lm is not None:
        from . import models

        models.set_default_lm(lm)
    if warm:
        _warm(table)
        # The models live as long as the process: keep them out of the cyclic collector's
        # full passes (tens of milliseconds each, a pause in some request's latency).
        gc.collect()  # nothing unreachable is frozen for good
        gc.freeze()


def _warm(table: str | None) -> None:
    """Load every model a request can touch (first calls memory-map and build caches)."""
    import unspin

    from .models import get_models

    kwargs = {"table": table} if table is not None else {}
    unspin.check(_WARM_TEXT, **kwargs)
    unspin.restore(_WARM_TEXT, **kwargs)
    get_models(table).decoder.build_tables()


def _worker_ready() -> int:
    """A trivial job: proves a worker process is up (after its initializer ran)."""
    return os.getpid()


# --------------------------------------------------------------------------- config


@dataclass
class ServerConfig:
    """How the app runs; every limit has a default safe for a public-facing service.

    Attributes:
        table: Learned substitution table (path) used for check and restore, or None.
        lm: Language model file to use instead of the shipped one, or None.
        index: A trace index: any object with ``query(text) -> list of matches`` whose
            matches carry ``id``, ``score`` and ``coverage`` (attributes or keys). None:
            ``/v1/trace`` answers 501.
        index_path: Path of an `unspin.Index` file: ``/v1/restore`` then restores from
            the matched original, as ``unspin restore --index`` does (each worker opens
            it). ``unspin serve --index`` sets both.
        workers: Size of the worker pool (default: the number of CPUs).
        pool: ``"process"`` (default: the model holds the GIL, so processes use every
            core) or ``"thread"`` (one process; cheaper start, one core in practice).
        max_body_bytes: Largest request body accepted; larger ones get 413.
        timeout_s: Time limit per request (queueing and work); past it, 504.
        max_pending: Most requests admitted at once (running and queued); more get 503.
        cors_origins: Origins allowed by CORS; empty (default) means no CORS headers.
        warm: Load the models in every worker at start-up.
        work: The job function (tests swap in slow or failing ones; it must be picklable
            for the process pool).
    """

    table: str | None = None
    lm: str | None = None
    index: Any = None
    index_path: str | None = None
    workers: int = field(default_factory=lambda: os.cpu_count() or 1)
    pool: str = "process"
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    timeout_s: float = DEFAULT_TIMEOUT_S
    max_pending: int = DEFAULT_MAX_PENDING
    cors_origins: list[str] = field(default_factory=list)
    warm: bool = True
    work: Callable[[str, str, dict[str, Any]], dict[str, Any]] = run_job

    def __post_init__(self) -> None:
        if self.pool not in ("process", "thread"):
            raise ValueError(f"pool must be 'process' or 'thread', not {self.pool!r}")
        if self.workers < 1 or self.max_pending < 1 or self.max_body_bytes < 1:
            raise ValueError("workers, max_pending and max_body_bytes must be at least 1")
        if not self.timeout_s > 0:
            raise ValueError("timeout_s must be positive")


# --------------------------------------------------------------------------- engine

# Largest batch of checks one worker takes at once (`Engine.check`): bounded so that a
# batch's requests are not held back long by the batch's slowest part.
MAX_BATCH_DOCS = 32
MAX_BATCH_CHARS = 200_000


@dataclass(eq=False)
class _BatchJob:
    key: str  # kind and options, as a string: only jobs with equal ones share a batch
    kind: str  # "check" or "restore" (`run_batch`)
    text: str
    options: dict[str, Any]
    future: "asyncio.Future[Any]"
    sent: bool = False
    dropped: bool = False


class Engine:
    """Runs jobs in a bounded, warmed pool with admission control and a time limit."""

    def __init__(self, config: ServerConfig) -> None:
        self.config = config
        self._pool: cf.Executor | None = None
        self._trace_pool: cf.ThreadPoolExecutor | None = None
        self._pending = 0
        self._lock = threading.Lock()
        # Checks and restores wait here and go to the workers in batches (`batched`).
        self._queue: collections.deque[_BatchJob] = collections.deque()
        self._batches_running = 0

    @property
    def pending(self) -> int:
        """Requests admitted and not finished (running or queued)."""
        return self._pending

    def start(self) -> None:
        """Create the pools and, if configured, load the models in every worker."""
        self._start_model_pool()
        # Index objects need not be picklable: queries run on threads in this process.
        self._trace_pool = cf.ThreadPoolExecutor(self.config.workers, thread_name_prefix="trace")

    def _start_model_pool(self) -> None:
        cfg = self.config
        if cfg.pool == "process":
            # spawn, not fork: the server process has threads (event loop, executors).
            ctx = multiprocessing.get_context("spawn")
            # One BLAS thread per worker (inherited by the spawned processes): the pool
            # already uses every core, more threads would only fight over them.
            for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
                os.environ.setdefault(var, "1")
            pool = cf.ProcessPoolExecutor(
                cfg.workers, mp_context=ctx, initializer=_init_worker,
                initargs=(cfg.lm, cfg.table, cfg.warm))
            # One job per worker at once starts every process (each runs the initializer).
            for fut in [pool.submit(_worker_ready) for _ in range(cfg.workers)]:
                fut.result()
            self._pool = pool
        else:
            if cfg.lm is not None:
                from . import models

                models.set_default_lm(cfg.lm)
            if cfg.warm:
                _warm(cfg.table)
            self._pool = cf.ThreadPoolExecutor(cfg.workers, thread_name_prefix="unspin")

    def shutdown(self) -> None:
        """Stop the pools; queued jobs are dropped, worker processes are ended."""
        for pool in (self._pool, self._trace_pool):
            if pool is not None:
                _stop_pool(pool)
        self._pool = self._trace_pool = None

    def _release(self, _fut: cf.Future) -> None:
        with self._lock:
            self._pending -= 1

    async def submit(self, fn: Callable[..., Any], *args: Any, trace: bool = False) -> Any:
        """Run ``fn(*args)`` in the pool within the time limit.

        Args:
            fn: The job (picklable for the process pool).
            *args: Its arguments.
            trace: Run on the in-process trace threads instead of the model pool.

        Returns:
            What ``fn`` returned.

        Raises:
            ServerError: 503 when too many requests are pending or the pool is down, 504
                past the time limit, 500 when the job raised.
        """
        pool = self._trace_pool if trace else self._pool
        if pool is None:
            raise ServerError(503, "server is not ready")
        self._admit()
        try:
            fut = pool.submit(fn, *args)
        except Exception as exc:  # noqa: BLE001 - a broken or closed pool
            with self._lock:
                self._pending -= 1
            self._recover(exc)
            raise ServerError(503, f"server unavailable: {type(exc).__name__}") from None
        # The slot is freed when the work really ends, not when the client gives up: a
        # timed-out job still occupies a worker, and admission must count it.
        fut.add_done_callback(self._release)
        try:
            return await asyncio.wait_for(asyncio.wrap_future(fut), self.config.timeout_s)
        except TimeoutError:
            fut.cancel()  # drops it if still queued; a running job finishes unobserved
            raise ServerError(
                504, f"request timed out after {self.config.timeout_s:g} s") from None
        except cf.BrokenExecutor as exc:
            self._recover(exc)
            raise ServerError(500, "internal error: a worker process died") from None
        except Exception as exc:  # noqa: BLE001 - one failed request, not the server
            log.exception("job failed")
            raise ServerError(500, f"internal error: {type(exc).__name__}: {exc}") from None

    def _admit(self) -> None:
        with self._lock:
            if self._pending >= self.config.max_pending:
                raise ServerError(503, f"server busy: {self._pending} requests pending, "
                                  "try again later")
            self._pending += 1

    async def batched(self, kind: str, text: str, options: dict[str, Any]
                      ) -> tuple[dict[str, Any], float, float, int]:
        """Check or restore a text (``kind``), batched with the other such jobs waiting at
        the time.

        A free worker takes every waiting job of the same kind with the same options (up
        to `MAX_BATCH_DOCS` texts, `MAX_BATCH_CHARS` characters) and analyses them
        together (`run_batch`), which costs about two thirds of analysing them one by one
        (`check_many`, `restore_many`). An idle server sends a request on at once, alone:
        batches form only under load, where they raise throughput and so cut waiting
        times.

        Returns:
            ``(record, work_ms, cpu_ms, batch_size)``.

        Raises:
            ServerError: as `submit`.
        """
        if self._pool is None:
            raise ServerError(503, "server is not ready")
        self._admit()
        loop = asyncio.get_running_loop()
        job = _BatchJob(kind + " " + json.dumps(options, sort_keys=True, default=str), kind,
                        text, options, loop.create_future())
        self._queue.append(job)
        self._dispatch(loop)
        try:
            return await asyncio.wait_for(asyncio.shield(job.future), self.config.timeout_s)
        except TimeoutError:
            # Nobody waits for the answer now (and an unread exception would be logged).
            job.future.cancel()
            if not job.sent:  # still waiting: drop it and free its slot now
                job.dropped = True
                with self._lock:
                    self._pending -= 1
            raise ServerError(
                504, f"request timed out after {self.config.timeout_s:g} s") from None

    def _dispatch(self, loop: asyncio.AbstractEventLoop) -> None:
        """Send waiting jobs to free workers, in batches (runs on the event loop)."""
        while self._batches_running < self.config.workers and self._queue:
            batch: list[_BatchJob] = []
            chars = 0
            while self._queue and len(batch) < MAX_BATCH_DOCS and chars < MAX_BATCH_CHARS:
                job = self._queue[0]
                if job.dropped:
                    self._queue.popleft()
                    continue
                if batch and job.key != batch[0].key:
                    break
                self._queue.popleft()
                batch.append(job)
                chars += len(job.text)
            if not batch:
                return
            pool = self._pool
            try:
                if pool is None:
                    raise RuntimeError("no worker pool")
                fut = pool.submit(run_batch, batch[0].kind, [j.text for j in batch],
                                  batch[0].options)
            except Exception as exc:  # noqa: BLE001 - a broken or closed pool
                self._finish(batch, ServerError(503, "server unavailable: "
                                                f"{type(exc).__name__}"))
                self._recover(exc)
                continue
            for job in batch:
                job.sent = True
            self._batches_running += 1
            fut.add_done_callback(lambda f, batch=batch: _call_in(loop, self._batch_done, f,
                                                                  batch, loop))

    def _batch_done(self, fut: cf.Future, batch: list["_BatchJob"],
                    loop: asyncio.AbstractEventLoop) -> None:
        self._batches_running -= 1
        try:
            results, work_ms, cpu_ms = fut.result()
        except cf.BrokenExecutor as exc:
            self._recover(exc)
            self._finish(batch, ServerError(500, "internal error: a worker process died"))
        except Exception as exc:  # noqa: BLE001 - cancelled at shutdown, or a bug
            log.exception("%s batch failed", batch[0].kind)
            self._finish(batch, ServerError(500, f"internal error: {type(exc).__name__}"))
        else:
            for job, (record, err) in zip(batch, results, strict=True):
                if job.future.done():
                    continue
                if err is not None:
                    job.future.set_exception(ServerError(500, err))
                else:
                    job.future.set_result((record, work_ms, cpu_ms, len(batch)))
            with self._lock:
                self._pending -= len(batch)
        self._dispatch(loop)

    def _finish(self, batch: list["_BatchJob"], error: ServerError) -> None:
        """Fail every job of a batch and free their slots."""
        for job in batch:
            if not job.future.done():
                job.future.set_exception(error)
        with self._lock:
            self._pending -= len(batch)

    def _recover(self, exc: BaseException) -> None:
        """Replace a process pool that lost a worker (killed, out of memory)."""
        if not (isinstance(exc, cf.BrokenExecutor) and self.config.pool == "process"):
            return
        with self._lock:
            old, self._pool = self._pool, None
        if old is None:
            return  # another request is already replacing it
        log.error("worker pool broken (%s); starting a new one", exc)
        _stop_pool(old)
        # Off the event loop: spawning and warming takes seconds; meanwhile requests get 503.
        threading.Thread(target=self._restart_model_pool, daemon=True).start()

    def _restart_model_pool(self) -> None:
        try:
            self._start_model_pool()
        except Exception:  # noqa: BLE001 - logged; requests keep getting 503
            log.exception("could not start a new worker pool")


def _call_in(loop: asyncio.AbstractEventLoop, fn: Callable[..., Any], *args: Any) -> None:
    """Run ``fn(*args)`` on the event loop (from a worker's thread), unless it has closed
    (a batch that ends after the server stopped has no one left to answer)."""
    try:
        loop.call_soon_threadsafe(fn, *args)
    except RuntimeError:
        pass


def _stop_pool(pool: cf.Executor) -> None:
    """Shut a pool down without waiting for running jobs; end its worker processes.

    A process pool shut down without waiting can leave its workers running (orphans that
    hold the parent's stdout open), so they are terminated explicitly.
    """
    processes = list((getattr(pool, "_processes", None) or {}).values())
    pool.shutdown(wait=False, cancel_futures=True)
    for proc in processes:
        if proc.is_alive():
            proc.terminate()
    for proc in processes:
        proc.join(5)


# --------------------------------------------------------------------------- trace


def load_index(path: str) -> Any:
    """Open an existing trace index with ``unspin.Index`` (imported only here).

    Raises:
        ConfigError: when the file is missing or cannot be opened, or this version of
            unspin has no ``Index``.
    """
    p = Path(path)
    if not p.is_file():
        # Index() would create an empty index: a typo must not serve "no match" forever.
        raise ConfigError(f"cannot read index {path}: No such file")
    import unspin

    index_cls = getattr(unspin, "Index", None)
    if index_cls is None:
        raise ConfigError("this version of unspin has no trace index (unspin.Index); "
                          "--index cannot be used")
    try:
        try:
            return index_cls(str(p), create=False)
        except TypeError:  # an Index without the create option
            return index_cls(str(p))
    except Exception as exc:  # noqa: BLE001 - any failure to open is a bad index file
        raise ConfigError(f"cannot open index {path}: {type(exc).__name__}: {exc}") from None


def _match_dict(match: Any) -> dict[str, Any]:
    """A trace match as a JSON object: ``id``, ``score``, ``coverage`` and any extras."""
    if dataclasses.is_dataclass(match) and not isinstance(match, type):
        d = dataclasses.asdict(match)
    elif isinstance(match, Mapping):
        d = dict(match)
    elif callable(getattr(match, "to_dict", None)):
        d = dict(match.to_dict())
    else:
        d = {k: getattr(match, k) for k in ("id", "score", "coverage", "url", "title", "source")
             if hasattr(match, k)}
    missing = [k for k in ("id", "score", "coverage") if k not in d]
    if missing:
        raise ValueError(f"index match lacks {', '.join(missing)}")
    for k in ("score", "coverage"):
        d[k] = float(d[k])
        if not math.isfinite(d[k]):
            raise ValueError(f"index match has a non-finite {k}")
    # Round trip through JSON so odd values (paths, numpy scalars) become plain ones.
    return json.loads(json.dumps(d, default=str))


def _query_options(index: Any, limit: int, threshold: float | None) -> dict[str, Any]:
    """Keyword arguments the index's ``query`` takes (``unspin.Index``: k, threshold)."""
    try:
        params = inspect.signature(index.query).parameters
    except (TypeError, ValueError):
        return {}
    kwargs: dict[str, Any] = {}
    if "k" in params:
        kwargs["k"] = limit
    if threshold is not None and "threshold" in params:
        kwargs["threshold"] = threshold
    return kwargs


def _trace_job(index: Any, text: str, limit: int, threshold: float | None) -> dict[str, Any]:
    """The record of ``unspin trace``: ``{"matches": [...]}``, best first."""
    matches = index.query(text, **_query_options(index, limit, threshold))
    out = [_match_dict(m) for m in list(matches)[:limit]]
    if threshold is not None:
        out = [m for m in out if m["score"] >= threshold]
    return {"matches": out}


# --------------------------------------------------------------------------- body limit


class BodyLimitMiddleware:
    """ASGI middleware: caps request bodies while reading them, adds security headers.

    A declared ``Content-Length`` over the cap is refused before any of the body is read;
    a chunked body is counted as it arrives and refused as soon as it passes the cap, so a
    client cannot make the server buffer more than ``max_bytes``. The whole body must
    arrive within ``read_timeout_s`` (408 otherwise), which stops slow-drip clients from
    holding a connection.
    """

    _HEADERS = [
        (b"x-content-type-options", b"nosniff"),
        (b"referrer-policy", b"no-referrer"),
        (b"x-frame-options", b"DENY"),
        # No inline scripts or styles, nothing from elsewhere: user text can never run.
        (b"content-security-policy",
         b"default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
         b"connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
         b"frame-ancestors 'none'"),
    ]

    def __init__(self, app: Any, max_bytes: int, read_timeout_s: float) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.read_timeout_s = read_timeout_s

    async def __call__(self, scope: dict, receive: Callable, send: Callable) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: dict) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {k.lower() for k, _ in headers}
                headers.extend(h for h in self._HEADERS if h[0] not in present)
                message = {**message, "headers": headers}
            await send(message)

        if scope["method"] in ("GET", "HEAD", "OPTIONS", "DELETE"):
            await self.app(scope, receive, send_with_headers)
            return
        declared = None
        for key, value in scope.get("headers", []):
            if key.lower() == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    await _send_error(send_with_headers, 400, "invalid Content-Length header")
                    return
        if declared is not None and declared > self.max_bytes:
            await _send_error(send_with_headers, 413, self._too_large())
            return
        chunks: list[bytes] = []
        size = 0
        try:
            async with asyncio.timeout(self.read_timeout_s):
                while True:
                    message = await receive()
                    if message["type"] == "http.disconnect":
                        return
                    body = message.get("body", b"")
                    size += len(body)
                    if size > self.max_bytes:
                        await _send_error(send_with_headers, 413, self._too_large())
                        return
                    chunks.append(body)
                    if not message.get("more_body", False):
                        break
        except TimeoutError:
            await _send_error(send_with_headers, 408, "request body not received in time")
            return
        body = b"".join(chunks)
        replayed = False

        async def replay() -> dict:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send_with_headers)

    def _too_large(self) -> str:
        return f"request body too large (limit {self.max_bytes} bytes)"


async def _send_error(send: Callable, status: int, message: str) -> None:
    body = json.dumps({"error": message}).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"),
                            (b"content-length", str(len(body)).encode()),
                            (b"connection", b"close")]})
    await send({"type": "http.response.body", "body": body})


# --------------------------------------------------------------------------- app


def web_dir() -> Path:
    """Directory of the web page's files (package data ``unspin/web``)."""
    return Path(str(resources.files("unspin") / "web"))


def _clean_text(text: str) -> str:
    """Lone surrogates (from ``\\ud800`` escapes) become '?', one each: offsets stay valid."""
    try:
        text.encode("utf-8")
        return text
    except UnicodeEncodeError:
        return text.encode("utf-8", "replace").decode("utf-8")


def create_app(config: ServerConfig | None = None) -> Any:
    """Build the FastAPI application.

    Args:
        config: Limits, pool and models; defaults to `ServerConfig()`.

    Returns:
        The ASGI app (``fastapi.FastAPI``). The pool starts (and warms) in its lifespan,
        so run it under uvicorn or ``with fastapi.testclient.TestClient(app)``.
    """
    from contextlib import asynccontextmanager

    from fastapi import FastAPI, Request
    from fastapi.exceptions import RequestValidationError
    from fastapi.responses import FileResponse, JSONResponse
    from fastapi.staticfiles import StaticFiles
    from pydantic import BaseModel, ConfigDict, Field
    from starlette.exceptions import HTTPException as StarletteHTTPException

    cfg = config or ServerConfig()
    engine = Engine(cfg)

    class SafeJSONResponse(JSONResponse):
        """JSON whose odd strings (lone surrogates in an echoed id) cannot crash encoding."""

        def render(self, content: Any) -> bytes:
            return json.dumps(content, ensure_ascii=False, allow_nan=False,
                              separators=(",", ":")).encode("utf-8", "replace")

    @asynccontextmanager
    async def lifespan(_app: Any):
        await asyncio.get_running_loop().run_in_executor(None, engine.start)
        # What is loaded now (the app; with thread workers, the models too) stays for the
        # server's life: keep it out of the cyclic collector's full passes, which would
        # pause every request in flight.
        gc.collect()  # nothing unreachable is frozen for good
        gc.freeze()
        log.info("unspin server ready: %d %s worker(s)", cfg.workers, cfg.pool)
        try:
            yield
        finally:
            engine.shutdown()

    app = FastAPI(
        title="unspin",
        version=versions()["package"],
        description="Detect, locate, restore and trace machine-spun English text. "
        "Records are the same as the CLI's JSON output (docs/cli.md).",
        docs_url=None,
        redoc_url=None,
        openapi_url="/openapi.json",
        lifespan=lifespan,
        default_response_class=SafeJSONResponse,
    )
    app.state.engine = engine
    app.state.config = cfg

    class _Request(BaseModel):
        model_config = ConfigDict(extra="forbid")
        text: str = Field(description="The document (plain text; use /v1/extract for HTML).")
        id: Any = Field(None, description="Any JSON value, echoed in the response as 'id'.")

    class CheckRequest(_Request):
        threshold: float | None = Field(
            None, ge=0, le=1, description="Decision threshold for 'spun' (default: model's).")

    class RestoreRequest(CheckRequest):
        min_confidence: float | None = Field(
            None, ge=0, le=1, description="Only make edits at least this confident.")
        two_step: bool = Field(
            False, description="Also originals two steps into the candidate table "
            "(`unspin restore --two-step`: more restorations, about a sixth slower).")

    class TraceRequest(_Request):
        limit: int = Field(DEFAULT_TRACE_LIMIT, ge=1, le=100,
                           description="Most matches returned (the CLI's --top).")
        threshold: float | None = Field(
            None, ge=0, le=1, description="Minimum score (default: the index's).")

    class ExtractRequest(_Request):
        pass

    def meta(req: _Request) -> dict[str, Any]:
        return {"id": req.id} if "id" in req.model_fields_set else {}

    def error(status: int, message: str, extra: dict[str, Any] | None = None) -> Any:
        return SafeJSONResponse({**(extra or {}), "error": message}, status_code=status)

    @app.exception_handler(ServerError)
    async def _server_error(_request: Request, exc: ServerError) -> Any:
        return error(exc.status, exc.message)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(_request: Request, exc: StarletteHTTPException) -> Any:
        message = exc.detail if isinstance(exc.detail, str) else "error"
        return SafeJSONResponse({"error": message.lower()}, status_code=exc.status_code,
                                headers=getattr(exc, "headers", None))

    @app.exception_handler(RequestValidationError)
    async def _invalid(_request: Request, exc: RequestValidationError) -> Any:
        problems = []
        detail = []
        for e in exc.errors():
            loc = [p for p in e.get("loc", ()) if p != "body"]
            where = ".".join(str(p) for p in loc)
            msg = str(e.get("msg"))
            if not where and e.get("type") in ("model_attributes_type", "dict_type"):
                msg = ("the request body must be a JSON object such as {\"text\": \"...\"}, "
                       "sent with Content-Type: application/json")
            problems.append(f"{where}: {msg}" if where else msg)
            # Not the offending input: it may be the whole (2 MB) text.
            detail.append({"loc": loc, "msg": msg, "type": str(e.get("type"))})
        return error(422, "invalid request: " + "; ".join(problems), {"detail": detail})

    async def run(kind: str, req: _Request, options: dict[str, Any]) -> Any:
        if cfg.table is not None and kind in ("check", "restore"):
            options = {**options, "table": cfg.table}
        if cfg.index_path is not None and kind == "restore":
            options = {**options, "index": cfg.index_path}
        t0 = time.perf_counter()
        batch = 1
        try:
            if kind in ("check", "restore") and cfg.work is run_job and \
                    "index" not in options:  # (restoring against an index: one by one)
                record, work_ms, cpu_ms, batch = await engine.batched(
                    kind, _clean_text(req.text), options)
            else:
                record, work_ms, cpu_ms = await engine.submit(
                    _timed_job, cfg.work, kind, _clean_text(req.text), options)
        except ServerError as exc:
            return error(exc.status, exc.message, meta(req))
        total_ms = (time.perf_counter() - t0) * 1000
        # Where the time went: queueing (total - work), the model's wall and CPU time (of
        # the whole batch, for a check analysed with others).
        timing = f"total;dur={total_ms:.1f}, work;dur={work_ms:.1f}, cpu;dur={cpu_ms:.1f}"
        if kind in ("check", "restore"):
            timing += f', batch;desc="{batch}"'
        return SafeJSONResponse({**meta(req), **record}, headers={"server-timing": timing})

    @app.post("/v1/check", summary="Spin score and spun spans",
              description="The record of `unspin check --format jsonl`: score, spun, spans "
              "(character offsets, suggestion, confidence), threshold, language, supported, "
              "words, terms (known tortured phrases), familiarity (how much of the unusual "
              "wording the shipped tables explain), version; `id` echoed when given.")
    async def check(req: CheckRequest) -> Any:
        opts = {} if req.threshold is None else {"threshold": req.threshold}
        return await run("check", req, opts)

    @app.post("/v1/restore", summary="Restored text and edits",
              description="The record of `unspin restore --format jsonl`: text, edits (input "
              "offsets, replacement, confidence, kind), score, spun, supported, version; "
              "`id` echoed when given.")
    async def restore(req: RestoreRequest) -> Any:
        opts = {k: v for k, v in (("threshold", req.threshold),
                                  ("min_confidence", req.min_confidence)) if v is not None}
        if req.two_step:
            opts["two_step"] = True
        return await run("restore", req, opts)

    @app.post("/v1/extract", summary="Main text of an HTML page",
              description="`{\"text\": extracted}`: the text the CLI analyses when given HTML.")
    async def extract(req: ExtractRequest) -> Any:
        return await run("extract", req, {})

    @app.post("/v1/trace", summary="Sources this text was copied from",
              description="The record of `unspin trace`: `matches` from the configured "
              "index, best first, each with `id`, `score`, `coverage` (and whatever else the "
              "index gives, such as `url` or `title`); `id` echoed when given. 501 when the "
              "server runs without an index.")
    async def trace(req: TraceRequest) -> Any:
        if cfg.index is None:
            return error(501, "no index configured: start the server with --index PATH",
                         meta(req))
        try:
            record = await engine.submit(_trace_job, cfg.index, _clean_text(req.text),
                                         req.limit, req.threshold, trace=True)
        except ServerError as exc:
            return error(exc.status, exc.message, meta(req))
        return {**meta(req), **record}

    @app.get("/healthz", summary="Liveness and configuration")
    async def healthz() -> Any:
        return {
            "status": "ok",
            "version": versions(),
            "index": cfg.index is not None,
            "workers": cfg.workers,
            "pool": cfg.pool,
            "pending": engine.pending,
            "max_body_bytes": cfg.max_body_bytes,
            "timeout_s": cfg.timeout_s,
        }

    web = web_dir()

    @app.get("/", include_in_schema=False)
    async def page() -> Any:
        return FileResponse(web / "index.html", media_type="text/html")

    @app.get("/docs", include_in_schema=False)
    async def docs() -> Any:
        return FileResponse(web / "docs.html", media_type="text/html")

    app.mount("/static", StaticFiles(directory=web), name="static")

    if cfg.cors_origins:
        from fastapi.middleware.cors import CORSMiddleware

        app.add_middleware(CORSMiddleware, allow_origins=list(cfg.cors_origins),
                           allow_methods=["GET", "POST"], allow_headers=["content-type"])
    # Outermost: the body cap applies before any other middleware or handler reads.
    app.add_middleware(BodyLimitMiddleware, max_bytes=cfg.max_body_bytes,
                       read_timeout_s=cfg.timeout_s)
    return app


# --------------------------------------------------------------------------- command


def serve_command(args: Any) -> int:
    """``unspin serve``: check the options, load the index, run uvicorn until stopped.

    Raises:
        cli.CLIError: for a missing extra, table or index (exit status 2).
    """
    from .cli import CLIError

    try:
        import fastapi  # noqa: F401
        import uvicorn
    except ImportError:
        raise CLIError(_ERROR_NEEDS_EXTRA) from None
    if args.table is not None and not os.path.isfile(args.table):
        raise CLIError(f"cannot read table {args.table}: No such file")
    if args.lm is not None and not os.path.isfile(args.lm):
        raise CLIError(f"cannot read language model {args.lm}: No such file")
    if not args.timeout > 0:
        raise CLIError(f"--timeout must be positive, got {args.timeout}")
    index = None
    if args.index is not None:
        try:
            index = load_index(args.index)
        except ConfigError as exc:
            raise CLIError(str(exc)) from None
    try:
        config = ServerConfig(
            table=args.table, lm=args.lm, index=index, index_path=args.index,
            workers=args.workers or (os.cpu_count() or 1), pool=args.pool,
            max_body_bytes=args.max_body, timeout_s=args.timeout,
            max_pending=args.max_pending, cors_origins=list(args.cors_origin or []))
    except ValueError as exc:
        raise CLIError(str(exc)) from None
    if args.host not in ("127.0.0.1", "localhost", "::1"):
        print(f"unspin: warning: listening on {args.host}: the API has no authentication; "
              "put it behind a proxy that has", flush=True)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s:     %(message)s")
    print(f"unspin: starting {config.workers} {config.pool} worker(s) on "
          f"http://{args.host}:{args.port}/ (docs at /docs)", flush=True)
    uvicorn.run(create_app(config), host=args.host, port=args.port,
                log_level=args.log_level, timeout_keep_alive=5)
    return 0
