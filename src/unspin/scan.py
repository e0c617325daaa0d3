"""``unspin scan``: check or restore whole corpora, in parallel, resumably.

Pipeline: input files -> items (`unspin.formats`) -> batches -> engine (worker processes
or Ray Data) -> JSON lines -> one shard per input file -> the output file.

- **Order and completeness.** Every input record gives exactly one output record, in
  input order per file; a record that cannot be analysed gives an error record.
- **Bounded memory.** Only a fixed number of batches is in flight (read ahead of the
  writer); shards are appended to as results arrive.
- **Resume.** Shards live in ``OUTPUT.parts/``. After results are written and fsync'd,
  ``state.json`` records how many records and bytes of each shard are committed (written
  atomically). ``--resume`` truncates each shard to its committed bytes, skips the
  committed records of its input and carries on; the output is assembled from the shards
  at the end, so an interrupted-then-resumed run gives the same bytes as an uninterrupted
  one.
- **Engines.** ``local``: worker processes forked from the parent (the memory-mapped
  models are loaded once in the parent and shared copy-on-write by the workers), fed
  batches through pipes by the parent's one thread; a process pool where the system
  cannot fork. ``ray``: the same batches run through Ray Data ``map_batches`` (Ray is
  imported only then).
"""

from __future__ import annotations

import collections
import gc
import gzip
import hashlib
import json
import multiprocessing
import os
import pickle
import re
import selectors
import shutil
import signal
import struct
import sys
import threading
import time
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import asdict, dataclass, field
from typing import Any

from .formats import ReadOptions, expand_inputs, read_items

try:
    import fcntl
except ImportError:  # not on Windows: pipes keep their default size there
    fcntl = None  # type: ignore[assignment]

STATE_FILE = "state.json"
STATE_VERSION = 1
COMMIT_INTERVAL_S = 1.0
# Documents per batch (`--batch-size`): a check-mode batch is one `unspin.check_many` call,
# whose fixed numpy cost per call is spread over the batch. 64 scanned the benchmark's
# documents about 6 % faster than 32, end to end, with one worker and with two; 128 was no
# faster than 64 and leaves a longer tail to the last batch (BENCHMARKS, session 19).
BATCH_DOCS = 64


class ScanError(Exception):
    """A scan that cannot start: bad inputs, an unwritable output, a mismatched resume."""


@dataclass(slots=True)
class ScanConfig:
    """What each record's analysis depends on (the output is a function of these).

    Attributes:
        mode: ``"check"`` or ``"restore"``.
        table: Learned substitution table (path) used as well, or None.
        threshold: Decision threshold, or None for the calibrated one.
        doc_timeout: Seconds one document may take before it becomes an error record.
        spans: With ``"check"``, also find the spun spans (False: score and verdict only).
        two_step: With ``"restore"``, also originals two steps into the candidate table
            (`unspin.restore`'s ``two_step``).
    """

    mode: str = "check"
    table: str | None = None
    threshold: float | None = None
    doc_timeout: float | None = None
    spans: bool = True
    two_step: bool = False


@dataclass(slots=True)
class ScanSummary:
    """What a scan did.

    Attributes:
        files: Input files.
        records: Output records written by this run (resumed records not included).
        analysed: Records that got a verdict.
        spun: Of those, how many are spun.
        errors: Error records.
        error_reasons: Count per reason (the reason's text up to the first colon).
        resumed_records: Records found already done by an interrupted run.
        text_bytes: UTF-8 bytes of the records read by this run.
        seconds: Wall-clock time of this run.
        output: The output file.
    """

    files: int = 0
    records: int = 0
    analysed: int = 0
    spun: int = 0
    errors: int = 0
    error_reasons: dict[str, int] = field(default_factory=dict)
    resumed_records: int = 0
    text_bytes: int = 0
    seconds: float = 0.0
    output: str = ""

    @property
    def spun_share(self) -> float:
        """Share of analysed records that are spun."""
        return self.spun / self.analysed if self.analysed else 0.0

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable summary (with the derived rates)."""
        d = asdict(self)
        d["spun_share"] = round(self.spun_share, 6)
        d["docs_per_s"] = round(self.records / self.seconds, 3) if self.seconds else 0.0
        d["mb_per_s"] = round(self.text_bytes / 1e6 / self.seconds, 4) if self.seconds else 0.0
        return d


# --------------------------------------------------------------------------- analysis


class _DocTimeout(Exception):
    pass


def _on_alarm(signum: int, frame: Any) -> None:
    raise _DocTimeout


_UNSUPPORTED = {"empty": "empty text", "binary": "binary content",
                "unsupported": "not English prose"}


# default=str: Parquet ids can be timestamps, decimals or bytes. One encoder for every
# record (`json.dumps` with options builds a new one per call: a fifth of the writing); a
# record is a tree of fresh dicts and lists, never circular, so no check for cycles (a dict
# per record: 8 % of the encoding).
_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), default=str,
                            check_circular=False)


def _dumps(obj: dict[str, Any]) -> str:
    return _ENCODER.encode(obj)


Result = tuple[str, str | bool]


def _can_alarm(cfg: ScanConfig) -> bool:
    # Signals reach only the main thread (a Ray task may run elsewhere: no timeout there).
    return bool(cfg.doc_timeout) and threading.current_thread() is threading.main_thread()


def analyse_one(meta: dict[str, Any], text: str | None, error: str | None,
                cfg: ScanConfig, handler_set: bool = False) -> Result:
    """The output record of one item, and its status.

    Field names follow ``unspin check``/``restore`` JSONL output (the functions that build
    those records are reused); ``source`` and ``index`` say where the record came from.

    Args:
        meta: Fields echoed into the record.
        text: The text, or None for a bad record.
        error: Why the record is bad, or None.
        cfg: What to run.
        handler_set: The caller has installed the SIGALRM handler (`analyse_batch` does
            it once per batch, a per-document install costs more than the scan itself).

    Returns:
        ``(line, status)``: the record as one JSON line (no newline); status is the
        verdict (bool) or, for an error record, the error message (str).
    """
    meta = _ordered(meta)
    if error is None and text is not None:
        kwargs: dict[str, Any] = {}
        if cfg.table is not None:
            kwargs["table"] = cfg.table
        if cfg.threshold is not None:
            kwargs["threshold"] = cfg.threshold
        use_alarm = handler_set or _can_alarm(cfg)
        install = use_alarm and not handler_set
        try:
            if install:
                old = signal.signal(signal.SIGALRM, _on_alarm)
            if use_alarm:
                signal.setitimer(signal.ITIMER_REAL, float(cfg.doc_timeout))
            try:
                import unspin

                if cfg.mode == "restore":
                    result = unspin.restore(text, two_step=cfg.two_step, **kwargs)
                else:
                    result = unspin.check(text, spans=cfg.spans, **kwargs)
            finally:
                if use_alarm:
                    signal.setitimer(signal.ITIMER_REAL, 0)
                if install:
                    signal.signal(signal.SIGALRM, old)
        except _DocTimeout:
            error = f"timeout: analysis took over {cfg.doc_timeout:g} s (--doc-timeout)"
        except Exception as exc:  # noqa: BLE001 - one bad record, not the run
            error = f"internal error: {type(exc).__name__}: {exc}"
        else:
            return _record(meta, result, cfg)
    return _error_record(meta, error)


def _ordered(meta: dict[str, Any]) -> dict[str, Any]:
    if "id" in meta:  # the id first, as in check/restore output
        return {"id": meta["id"], **{k: v for k, v in meta.items() if k != "id"}}
    return meta


def _error_record(meta: dict[str, Any], error: str | None) -> Result:
    error = error or "no text"
    return _dumps({**meta, "error": error}), error


def _record(meta: dict[str, Any], result: Any, cfg: ScanConfig) -> Result:
    """The output record of an analysed item (a `Report`, or a `Restoration`)."""
    from .cli import _check_dict, _restore_dict

    report = result.report if cfg.mode == "restore" else result
    if not report.supported:
        return _error_record(
            meta, _UNSUPPORTED.get(report.language, f"not analysed ({report.language})"))
    if cfg.mode == "restore":
        rec = _restore_dict(result, meta)
        rec["spans"] = [s.to_dict() for s in report.spans]
        return _dumps(rec), bool(report.spun)
    return _dumps(_check_dict(report, meta)), bool(report.spun)


def _safe_one(meta: dict[str, Any], text: str | None, error: str | None, cfg: ScanConfig,
              handler_set: bool) -> Result:
    try:
        return analyse_one(meta, text, error, cfg, handler_set)
    except Exception as exc:  # noqa: BLE001 - a bug on one record must not stop the scan
        err = f"internal error: {type(exc).__name__}: {exc}"
        return _dumps({**meta, "error": err}), err


def _together(items: list[tuple[dict[str, Any], str | None, str | None]],
              cfg: ScanConfig, use_alarm: bool) -> list[Result] | None:
    """Every good item of a batch in one `unspin.check_many` (or, in restore mode,
    `unspin.restore_many`) call.

    Together they cost about two thirds of what they cost one by one. The whole call gets
    one document's time limit (a batch normally takes a small part of it); None when it
    ran out or failed, and the caller then analyses the items one by one, so that only the
    document at fault becomes an error record.
    """
    import unspin

    good = [k for k, (_, text, error) in enumerate(items) if error is None and text is not None]
    kwargs: dict[str, Any] = {}
    if cfg.mode == "restore":
        run = unspin.restore_many
        kwargs["two_step"] = cfg.two_step
    else:
        run = unspin.check_many
        kwargs["spans"] = cfg.spans
    if cfg.table is not None:
        kwargs["table"] = cfg.table
    if cfg.threshold is not None:
        kwargs["threshold"] = cfg.threshold
    try:
        if use_alarm:
            signal.setitimer(signal.ITIMER_REAL, float(cfg.doc_timeout))
        try:
            results = run([items[k][1] for k in good], **kwargs)
        finally:
            if use_alarm:
                signal.setitimer(signal.ITIMER_REAL, 0)
    except Exception:  # noqa: BLE001 - _DocTimeout included: retried one by one
        return None
    out: list[Result | None] = [None] * len(items)
    for k, result in zip(good, results, strict=True):
        try:
            out[k] = _record(_ordered(items[k][0]), result, cfg)
        except Exception as exc:  # noqa: BLE001 - a bug on one record must not stop the scan
            out[k] = _error_record(_ordered(items[k][0]),
                                   f"internal error: {type(exc).__name__}: {exc}")
    for k, item in enumerate(items):
        if out[k] is None:
            out[k] = _safe_one(*item, cfg, use_alarm)
    return out  # type: ignore[return-value]


def analyse_batch(items: list[tuple[dict[str, Any], str | None, str | None]],
                  cfg: ScanConfig) -> list[Result]:
    """`analyse_one` over a batch (what a worker runs), analysed as one (`_together`)."""
    use_alarm = _can_alarm(cfg)
    old = signal.signal(signal.SIGALRM, _on_alarm) if use_alarm else None
    try:
        if len(items) > 1:
            together = _together(items, cfg, use_alarm)
            if together is not None:
                return together
        return [_safe_one(meta, text, error, cfg, use_alarm) for meta, text, error in items]
    finally:
        if use_alarm:
            signal.signal(signal.SIGALRM, old)


_worker_cfg: ScanConfig | None = None


def _init_worker(cfg: ScanConfig) -> None:
    global _worker_cfg
    _worker_cfg = cfg
    tune_gc()
    # Ctrl-C goes to the parent, which shuts the pool down.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # A parent killed with SIGKILL cannot shut the pool down: leave when it is gone.
    parent = os.getppid()

    def watch() -> None:
        while True:
            time.sleep(1.0)
            if os.getppid() != parent:
                os._exit(1)

    threading.Thread(target=watch, daemon=True, name="unspin-parent-watch").start()


def _worker_batch(items: list[tuple[dict[str, Any], str | None, str | None]]) -> list[Result]:
    assert _worker_cfg is not None
    return analyse_batch(items, _worker_cfg)


# A spun text: the span search and the decoder build their tables too (the multiword
# originals, the word table), not only the detection evidence.
_WARM_TEXT = ("The metropolis council accredited a brand new finances on Tuesday after a "
              "protracted debate about faculty funding. The mayor stated the plan would rent "
              "three hundred academics.")


# The cyclic collector's youngest generation is walked every 700 container allocations;
# analysing a batch makes hundreds of thousands (token lists, candidate tuples) that
# reference counting frees anyway, and the passes were about 5 % of `check_many` in a scan
# (in-process A/B, session 11). A scan's processes are our own: collect less often.
GC_THRESHOLD = (50_000, 20, 20)


def tune_gc() -> None:
    """Set this process's collector thresholds for analysing batches (`GC_THRESHOLD`)."""
    if gc.get_threshold() != GC_THRESHOLD:
        gc.set_threshold(*GC_THRESHOLD)


def warm_up(cfg: ScanConfig) -> None:
    """Load the models (and the detector) and build their lazy tables in this process, so
    forked workers share those pages (copy on write, never written) instead of each
    building its own copy: less memory, and less competition for the shared L3 cache."""
    analyse_one({}, "The council approved the budget on Tuesday.", None, cfg)
    analyse_one({}, _WARM_TEXT, None, cfg)
    from .models import get_models

    get_models(cfg.table).decoder.build_tables()
    from .clean import _ftfy

    _ftfy()  # imported once here rather than in each worker at its first mojibake (40 ms)
    # The models live as long as the process: keep them out of the cyclic collector's full
    # passes, here and in the forked workers (which would also write to the shared pages).
    gc.collect()  # nothing unreachable is frozen for good
    gc.freeze()


# --------------------------------------------------------------------------- engines

Batch = list[tuple[dict[str, Any], str | None, str | None]]


@dataclass(slots=True)
class _Marker:
    """End of input file ``file`` (passes through the engine in order)."""

    file: int


def _lost_batch(batch: Batch, reason: str) -> list[Result]:
    """Error records for a batch that broke its worker twice (``reason``: how)."""
    return [_error_record(_ordered(meta), f"internal error: {reason}") for meta, _, _ in batch]


def _can_fork() -> bool:
    return "fork" in multiprocessing.get_all_start_methods()


# Seconds a worker gets beyond twice its batch's document time limits before the parent
# takes it for stuck (a loop in C code, where the per-document alarm cannot reach).
STUCK_GRACE_S = 60.0


def _stuck_after(cfg: ScanConfig, batch: Batch) -> float | None:
    """Seconds after which a worker still on ``batch`` is taken for stuck (None: never).

    The per-document alarm ends slow documents inside the worker; this is the backstop
    for a worker stuck where the alarm cannot reach (C code).
    """
    if not cfg.doc_timeout:
        return None
    return cfg.doc_timeout * len(batch) * 2 + STUCK_GRACE_S


class LocalEngine:
    """Worker processes, order preserved, a bounded number of batches in flight."""

    def __init__(self, cfg: ScanConfig, workers: int, in_flight: int | None = None,
                 pipes: bool | None = None) -> None:
        self.cfg = cfg
        self.workers = max(1, workers)
        self.in_flight = in_flight or 4 * self.workers
        # Forked workers fed through pipes where the system can fork (`_ForkedWorkers`);
        # a process pool elsewhere.
        self.pipes = _can_fork() if pipes is None else pipes
        self.pool: ProcessPoolExecutor | None = None

    def _new_pool(self) -> ProcessPoolExecutor:
        methods = multiprocessing.get_all_start_methods()
        ctx = multiprocessing.get_context("fork" if "fork" in methods else "spawn")
        return ProcessPoolExecutor(self.workers, mp_context=ctx, initializer=_init_worker,
                                   initargs=(self.cfg,))

    def _kill_pool(self) -> None:
        if self.pool is None:
            return
        for proc in list(getattr(self.pool, "_processes", {}).values()):
            try:
                proc.kill()
            except Exception:  # noqa: BLE001 - already gone
                pass
        self.pool.shutdown(wait=False, cancel_futures=True)
        self.pool = None

    def _wait(self, fut: Future, batch: Batch) -> list[Result]:
        return fut.result(timeout=_stuck_after(self.cfg, batch))

    def run(self, stream: Iterable[Batch | _Marker]) -> Iterator[list[Result] | _Marker]:
        """Analyse the batches of ``stream``; yield results and markers in stream order."""
        if self.workers == 1:
            # In the caller's process (a library call too): its thresholds come back after.
            before = gc.get_threshold()
            tune_gc()
            try:
                for entry in stream:
                    yield entry if isinstance(entry, _Marker) else analyse_batch(entry, self.cfg)
            finally:
                gc.set_threshold(*before)
            return
        warm_up(self.cfg)
        if self.pipes:
            workers = _ForkedWorkers(self.cfg, self.workers, self.in_flight)
            try:
                yield from workers.run(stream)
            finally:
                workers.close()
            return
        self.pool = self._new_pool()
        pending: collections.deque = collections.deque()
        try:
            it = iter(stream)
            exhausted = False
            while True:
                while not exhausted and sum(1 for p in pending if p[0] is not None) \
                        < self.in_flight:
                    entry = next(it, None)
                    if entry is None:
                        exhausted = True
                    elif isinstance(entry, _Marker):
                        pending.append((None, entry, 0))
                    else:
                        pending.append((self.pool.submit(_worker_batch, entry), entry, 0))
                if not pending:
                    return
                fut, entry, tries = pending.popleft()
                if fut is None:
                    yield entry
                    continue
                try:
                    yield self._wait(fut, entry)
                except (BrokenProcessPool, TimeoutError) as exc:
                    yield from self._recover(pending, entry, tries, exc)
        finally:
            if self.pool is not None:
                self.pool.shutdown(wait=True, cancel_futures=True)
                self.pool = None

    def _recover(self, pending: collections.deque, batch: Batch, tries: int,
                 exc: BaseException) -> Iterator[list[Result]]:
        """A worker died or hung: restart the pool, retry once, then give error records."""
        self._kill_pool()
        self.pool = self._new_pool()
        reason = "worker process died" if isinstance(exc, BrokenProcessPool) \
            else "worker stopped responding"
        if tries >= 1:
            yield _lost_batch(batch, reason)
        else:
            pending.appendleft((self.pool.submit(_worker_batch, batch), batch, tries + 1))
        # Everything else in flight was lost with the pool: submit it again.
        for k, (fut, entry, t) in enumerate(list(pending)):
            if fut is not None and not (tries == 0 and k == 0):
                pending[k] = (self.pool.submit(_worker_batch, entry), entry, t)
        if tries == 0:
            fut, entry, t = pending.popleft()
            try:
                yield self._wait(fut, entry)
            except (BrokenProcessPool, TimeoutError) as again:
                yield from self._recover(pending, entry, t, again)


# --------------------------------------------------------------------------- forked workers

# A frame on a worker pipe: the payload's length, then the payload (a pickle).
_FRAME = struct.Struct("<Q")
# Linux lets a pipe hold up to 1 MB without privileges: a batch (about 150 KB of text)
# then goes across in one write instead of three, and the parent wakes up less often.
_PIPE_BYTES = 1 << 20
# Workers that may die in a row with no batch in hand (and no result between) before the
# scan stops with an error: more means they cannot run here at all.
MAX_IDLE_DEATHS = 5
# Batches sent to a worker ahead of its results: two keep it busy (the next one is in its
# pipe when it ends one); more would leave one worker a longer tail at the end of a scan
# while the other waits (the rest of the batches in flight wait in the parent).
QUEUED_PER_WORKER = 2


def _grow_pipe(fd: int) -> None:
    setsize = getattr(fcntl, "F_SETPIPE_SZ", None) if fcntl is not None else None
    if setsize is not None:
        try:
            fcntl.fcntl(fd, setsize, _PIPE_BYTES)
        except OSError:  # a lower system limit: the default size works, only slower
            pass


def _read_exactly(fd: int, n: int) -> bytes | None:
    """``n`` bytes from a blocking pipe, or None at its end (the parent is gone)."""
    chunks = []
    while n:
        chunk = os.read(fd, min(n, _PIPE_BYTES))
        if not chunk:
            return None
        chunks.append(chunk)
        n -= len(chunk)
    return b"".join(chunks)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def _pipe_worker(cfg: ScanConfig, batches_fd: int, results_fd: int,
                 foreign_fds: list[int]) -> None:
    """A forked worker's loop: read a batch, analyse it, write its results; stop at the
    end of the batch pipe (the parent closed it, or died)."""
    for fd in foreign_fds:  # the parent's ends of every pipe: this worker must not hold
        try:                # them open (its own batch pipe would never reach its end)
            os.close(fd)
        except OSError:
            pass
    _init_worker(cfg)
    while True:
        head = _read_exactly(batches_fd, _FRAME.size)
        if head is None:
            return
        payload = _read_exactly(batches_fd, _FRAME.unpack(head)[0])
        if payload is None:
            return
        seq, items = pickle.loads(payload)
        out = pickle.dumps((seq, _worker_batch(items)), protocol=pickle.HIGHEST_PROTOCOL)
        try:
            _write_all(results_fd, _FRAME.pack(len(out)) + out)
        except BrokenPipeError:  # the parent stopped reading: the scan is over
            return


class _Worker:
    """A forked worker seen from the parent: its process, the parent's ends of its two
    pipes (both non-blocking), the bytes still to send, and its batches in order."""

    def __init__(self, proc: Any, batches_fd: int, results_fd: int) -> None:
        self.proc = proc
        self.batches_fd = batches_fd
        self.results_fd = results_fd
        self.outgoing = bytearray()
        self.incoming = bytearray()
        self.queue: collections.deque[int] = collections.deque()
        self.since = 0.0  # when it started on the first batch of its queue
        self.alive = True
        self.watching = False  # registered for room in its batch pipe


class _ForkedWorkers:
    """Worker processes fed through pipes by the parent's one thread.

    Cheaper than a process pool: no feeder or manager threads, no futures; a batch and its
    results cross as one pickle each way. A worker that dies (its pipe ends) or stops
    answering is replaced; the batch it was working on is tried once more, then becomes
    error records; its other batches go to the new worker as they were.
    """

    def __init__(self, cfg: ScanConfig, workers: int, in_flight: int) -> None:
        self.cfg = cfg
        self.size = workers
        self.in_flight = in_flight
        self.ctx = multiprocessing.get_context("fork")
        self.sel = selectors.DefaultSelector()
        self.workers: list[_Worker] = []
        self.batches: dict[int, list[Any]] = {}  # seq -> [batch, tries], until yielded
        self.done: dict[int, list[Result]] = {}
        self.idle_deaths = 0  # workers lost with no batch in hand since the last result
        self.unsent: collections.deque[int] = collections.deque()  # read, not yet sent

    # ------------------------------------------------------------------ processes

    def _start(self) -> _Worker:
        batches_r, batches_w = os.pipe()
        results_r, results_w = os.pipe()
        _grow_pipe(batches_w)
        _grow_pipe(results_w)
        foreign = [fd for w in self.workers if w.alive
                   for fd in (w.batches_fd, w.results_fd)] + [batches_w, results_r]
        proc = self.ctx.Process(target=_pipe_worker, name="unspin-scan-worker", daemon=True,
                                args=(self.cfg, batches_r, results_w, foreign))
        try:
            proc.start()
        finally:
            os.close(batches_r)
            os.close(results_w)
        os.set_blocking(batches_w, False)
        os.set_blocking(results_r, False)
        worker = _Worker(proc, batches_w, results_r)
        self.sel.register(results_r, selectors.EVENT_READ, worker)
        return worker

    def _hang_up(self, worker: _Worker) -> None:
        """Close the parent's ends of a worker's pipes: at the end of its batch pipe the
        worker leaves."""
        worker.alive = False
        self.sel.unregister(worker.results_fd)
        if worker.watching:
            self.sel.unregister(worker.batches_fd)
        os.close(worker.batches_fd)
        os.close(worker.results_fd)

    def _kill(self, worker: _Worker) -> None:
        worker.proc.kill()
        self._hang_up(worker)
        worker.proc.join()

    def close(self) -> None:
        """Stop the workers: idle ones leave at once, busy ones (a scan that stopped
        early) are not waited for."""
        for worker in self.workers:
            if worker.alive:
                self._hang_up(worker)
        for worker in self.workers:
            worker.proc.join(1.0)
            if worker.proc.is_alive():
                worker.proc.kill()
                worker.proc.join()
        self.workers = []
        self.sel.close()

    # ------------------------------------------------------------------ batches

    def _send(self, worker: _Worker, seq: int) -> None:
        payload = pickle.dumps((seq, self.batches[seq][0]), protocol=pickle.HIGHEST_PROTOCOL)
        if not worker.queue:
            worker.since = time.monotonic()
        worker.queue.append(seq)
        pending = bool(worker.outgoing)
        worker.outgoing += _FRAME.pack(len(payload))
        worker.outgoing += payload
        if not pending:
            self._flush(worker)

    def _flush(self, worker: _Worker) -> None:
        """Write what the pipe takes now; watch for room while anything is left."""
        try:
            n = os.write(worker.batches_fd, worker.outgoing)
        except BlockingIOError:
            n = 0
        except BrokenPipeError:
            self._replace(worker, "worker process died")
            return
        del worker.outgoing[:n]
        if worker.outgoing and not worker.watching:
            self.sel.register(worker.batches_fd, selectors.EVENT_WRITE, worker)
            worker.watching = True
        elif not worker.outgoing and worker.watching:
            self.sel.unregister(worker.batches_fd)
            worker.watching = False

    def submit(self, batch: Batch, seq: int) -> None:
        self.batches[seq] = [batch, 0]
        self.unsent.append(seq)
        self._dispatch()

    def _dispatch(self) -> None:
        """Send waiting batches to the workers with room in their queues, emptiest first."""
        while self.unsent:
            worker = min(self.workers, key=lambda w: len(w.queue))
            if len(worker.queue) >= QUEUED_PER_WORKER:
                return
            self._send(worker, self.unsent.popleft())

    def _receive(self, worker: _Worker) -> None:
        try:
            data = os.read(worker.results_fd, _PIPE_BYTES)
        except BlockingIOError:
            return
        if not data:
            self._replace(worker, "worker process died")
            return
        buf = worker.incoming
        buf += data
        start = 0
        with memoryview(buf) as view:  # released before the bytes read are dropped
            while len(buf) - start >= _FRAME.size:
                (n,) = _FRAME.unpack_from(buf, start)
                end = start + _FRAME.size + n
                if len(buf) < end:
                    break
                seq, results = pickle.loads(view[start + _FRAME.size:end])
                start = end
                if worker.queue and worker.queue[0] == seq:
                    worker.queue.popleft()
                self.done[seq] = results
                worker.since = time.monotonic()
                self.idle_deaths = 0
        del buf[:start]
        self._dispatch()

    def _replace(self, worker: _Worker, reason: str) -> None:
        """Replace a dead or stuck worker; its batches go to the new one.

        Raises:
            ScanError: workers keep dying with no batch in hand (killed from outside, or
                failing as they start): replacing them again would not end.
        """
        lost = list(worker.queue)
        self._kill(worker)
        self.idle_deaths = 0 if lost else self.idle_deaths + 1
        if self.idle_deaths > MAX_IDLE_DEATHS:
            raise ScanError(f"worker processes keep dying before they get any work "
                            f"({self.idle_deaths} in a row; last: {reason})")
        self.workers = [w for w in self.workers if w is not worker]
        new = self._start()
        self.workers.append(new)
        for k, seq in enumerate(lost):
            entry = self.batches[seq]
            if k == 0:  # the batch it was working on
                if entry[1] >= 1:
                    self.done[seq] = _lost_batch(entry[0], reason)
                    continue
                entry[1] += 1
            self._send(new, seq)
        self._dispatch()

    def wait(self) -> None:
        """Block until some pipe can be read or written (or a worker is overdue)."""
        now = time.monotonic()
        timeout = None
        for worker in list(self.workers):
            if not worker.queue:
                continue
            limit = _stuck_after(self.cfg, self.batches[worker.queue[0]][0])
            if limit is None:
                continue
            left = worker.since + limit - now
            if left <= 0:
                self._replace(worker, "worker stopped responding")
                return
            timeout = left if timeout is None else min(timeout, left)
        for key, mask in self.sel.select(timeout):
            worker = key.data
            if not worker.alive:
                continue
            if mask & selectors.EVENT_WRITE and key.fd == worker.batches_fd:
                self._flush(worker)
            elif mask & selectors.EVENT_READ:
                self._receive(worker)

    def run(self, stream: Iterable[Batch | _Marker]) -> Iterator[list[Result] | _Marker]:
        """Analyse the batches of ``stream``; yield results and markers in stream order."""
        for _ in range(self.size):  # one by one: each closes the pipes of those before it
            self.workers.append(self._start())
        order: collections.deque[int | _Marker] = collections.deque()
        it = iter(stream)
        exhausted = False
        seq = 0
        while True:
            while order:
                head = order[0]
                if isinstance(head, _Marker):
                    order.popleft()
                    yield head
                elif head in self.done:
                    order.popleft()
                    del self.batches[head]
                    yield self.done.pop(head)
                else:
                    break
            while not exhausted and len(self.batches) < self.in_flight:
                entry = next(it, None)
                if entry is None:
                    exhausted = True
                elif isinstance(entry, _Marker):
                    order.append(entry)
                else:
                    seq += 1
                    order.append(seq)
                    self.submit(entry, seq)
            if not order:
                return
            if isinstance(order[0], _Marker) or order[0] in self.done:
                continue
            self.wait()


def _ray_udf(batch: dict[str, Any], cfg_json: str) -> dict[str, Any]:
    """Ray Data UDF: columns meta (JSON), text, error -> column line."""
    import numpy as np

    cfg = ScanConfig(**json.loads(cfg_json))
    tune_gc()  # a Ray worker process runs only our tasks
    results = analyse_batch([
        (json.loads(m), t if isinstance(t, str) else None, e if isinstance(e, str) else None)
        for m, t, e in zip(batch["meta"], batch["text"], batch["error"], strict=True)
    ], cfg)
    # Status as JSON: a verdict (true/false) or an error message.
    return {"line": np.array([r[0] for r in results], dtype=object),
            "status": np.array([json.dumps(r[1]) for r in results], dtype=object)}


# Ray engine: documents per block (one Ray task) in batches, and tasks in flight per worker.
RAY_BATCHES_PER_BLOCK = 16
RAY_TASKS_PER_WORKER = 2
# Chunks (datasets) running at once: while one ends (its last blocks leave a worker idle)
# and the driver writes its results and reads the next, the next one already runs.
RAY_CHUNKS_IN_FLIGHT = 2


class _InThread:
    """``fn(*args)`` run in a daemon thread (a Ray dataset's execution blocks its caller;
    a daemon thread does not hold the process up on Ctrl-C); `result` waits for it."""

    def __init__(self, fn: Any, *args: Any) -> None:
        self._out: Any = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, args=(fn, args), daemon=True,
                                        name="unspin-ray-chunk")
        self._thread.start()

    def _run(self, fn: Any, args: tuple) -> None:
        try:
            self._out = fn(*args)
        except BaseException as exc:  # noqa: BLE001 - handed to the caller of `result`
            self._error = exc

    def result(self) -> Any:
        self._thread.join()
        if self._error is not None:
            raise self._error
        return self._out


class RayEngine:
    """The same batches on Ray Data: chunks of batches become a dataset, ``map_batches``
    analyses them (models cached per Ray worker process), results come back in order."""

    def __init__(self, cfg: ScanConfig, workers: int, batch_size: int,
                 chunk_docs: int | None = None) -> None:
        try:
            import ray
        except ImportError as exc:
            raise ScanError("--engine ray needs Ray: pip install 'unspin[ray]'") from exc
        self.ray = ray
        self.cfg = cfg
        self.workers = max(1, workers)
        self.batch_size = batch_size
        self.chunk_docs = chunk_docs or max(2048, 64 * self.workers * batch_size)

    def _run_chunk(self, batches: list[Batch]) -> list[Result]:
        import ray.data

        ctx = ray.data.DataContext.get_current()
        ctx.execution_options.preserve_order = True
        ctx.enable_progress_bars = False
        # Ray Data's per-operator resource reservation held the second task of every
        # dataset back for about a second (one map operator here: nothing to reserve for).
        ctx.op_resource_reservation_enabled = False
        rows = [{"meta": json.dumps(meta, ensure_ascii=False), "text": text, "error": error}
                for batch in batches for meta, text, error in batch]
        # A few blocks per worker, each of several batches: a block is one Ray task, and
        # per-task overhead (scheduling, object transfers) on one block per batch cost more
        # than a quarter of the analysis once check batches got fast.
        blocks = max(min(RAY_TASKS_PER_WORKER * self.workers, len(rows)),
                     -(-len(rows) // (RAY_BATCHES_PER_BLOCK * self.batch_size)))
        ds = ray.data.from_items(rows, override_num_blocks=blocks)
        # Twice as many tasks in flight as workers (each takes a CPU, so no more run at
        # once): a worker's next block waits in Ray's own queue and starts when its last
        # one ends, not a round trip of the driver's scheduling loop later (0.15-0.4 s
        # between tasks on a busy driver).
        tasks = max(1, min(RAY_TASKS_PER_WORKER * self.workers, blocks))
        kwargs: dict[str, Any] = {}
        if hasattr(ray.data, "TaskPoolStrategy"):  # Ray >= 2.51 deprecates concurrency=
            kwargs["compute"] = ray.data.TaskPoolStrategy(size=tasks)
        else:  # pragma: no cover - older Ray
            kwargs["concurrency"] = tasks
        # A function (not a class) UDF: Ray reuses its worker processes, and the models,
        # loaded once per process and cached, stay loaded from chunk to chunk.
        out = ds.map_batches(_ray_udf, batch_size=self.batch_size, batch_format="numpy",
                             fn_kwargs={"cfg_json": json.dumps(asdict(self.cfg))},
                             num_cpus=1, **kwargs)
        return [(row["line"], json.loads(row["status"])) for row in out.iter_rows()]

    def run(self, stream: Iterable[Batch | _Marker]) -> Iterator[list[Result] | _Marker]:
        """Analyse the batches of ``stream``; yield results and markers in stream order."""
        import logging

        if not self.ray.is_initialized():
            if os.environ.get("RAY_ADDRESS"):  # join the cluster; it has its own CPUs
                self.ray.init(log_to_driver=False, configure_logging=False)
            else:
                self.ray.init(num_cpus=self.workers, include_dashboard=False,
                              log_to_driver=False, configure_logging=False)
        import ray.data  # noqa: F401 - configures Ray Data's loggers, which we then quieten

        # Ray Data logs every dataset it runs; the scan has its own progress line.
        logging.getLogger("ray.data").setLevel(logging.ERROR)
        chunk: list[Batch | _Marker] = []
        docs = 0
        running: collections.deque = collections.deque()  # (chunk, its _InThread), in order
        for entry in stream:
            chunk.append(entry)
            if not isinstance(entry, _Marker):
                docs += len(entry)
            if docs >= self.chunk_docs:
                running.append((chunk, self._start(chunk)))
                chunk, docs = [], 0
                while len(running) >= RAY_CHUNKS_IN_FLIGHT:
                    yield from self._flush(*running.popleft())
        running.append((chunk, self._start(chunk)))
        while running:
            yield from self._flush(*running.popleft())

    def _start(self, chunk: list[Batch | _Marker]) -> _InThread | None:
        batches = [e for e in chunk if not isinstance(e, _Marker)]
        return _InThread(self._run_chunk, batches) if batches else None

    def _flush(self, chunk: list[Batch | _Marker],
               job: _InThread | None) -> Iterator[list[Result] | _Marker]:
        lines = job.result() if job is not None else []
        pos = 0
        for entry in chunk:
            if isinstance(entry, _Marker):
                yield entry
            else:
                yield lines[pos:pos + len(entry)]
                pos += len(entry)


# --------------------------------------------------------------------------- state


def _fsync_dir(path: str) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


class _State:
    """Committed progress of a scan: per input file, records and shard bytes written."""

    def __init__(self, parts: str, fingerprint: str, files: list[str]) -> None:
        self.parts = parts
        self.fingerprint = fingerprint
        self.files = files
        self.records = [0] * len(files)
        self.bytes = [0] * len(files)
        self.done = [False] * len(files)

    def shard(self, i: int) -> str:
        return os.path.join(self.parts, f"{i:06d}.jsonl")

    @classmethod
    def open(cls, parts: str, fingerprint: str, files: list[str], resume: bool) -> _State:
        state = cls(parts, fingerprint, files)
        path = os.path.join(parts, STATE_FILE)
        if resume and os.path.isfile(path):
            with open(path, encoding="utf-8") as fh:
                saved = json.load(fh)
            if saved.get("version") != STATE_VERSION or saved.get("fingerprint") != fingerprint:
                raise ScanError(
                    f"cannot resume: {parts} belongs to a scan with other inputs or options "
                    "(run without --resume to start over)")
            state.records = saved["records"]
            state.bytes = saved["bytes"]
            state.done = saved["done"]
            for i in range(len(files)):
                shard = state.shard(i)
                if os.path.exists(shard):
                    # Drop what was written after the last commit: it is redone.
                    with open(shard, "r+b") as fh:
                        fh.truncate(state.bytes[i])
                elif state.bytes[i]:
                    raise ScanError(f"cannot resume: {shard} is missing")
        else:
            if resume:
                # A finished scan leaves no state behind: say why everything runs again.
                print(f"unspin scan: no interrupted scan to resume ({path} not found); "
                      "scanning from the start", file=sys.stderr)
            if os.path.isdir(parts):
                shutil.rmtree(parts)
            os.makedirs(parts)
            state.commit()
        return state

    def commit(self) -> None:
        tmp = os.path.join(self.parts, STATE_FILE + ".tmp")
        with open(tmp, "w", encoding="utf-8") as fh:
            json.dump({"version": STATE_VERSION, "fingerprint": self.fingerprint,
                       "files": self.files, "records": self.records, "bytes": self.bytes,
                       "done": self.done}, fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, os.path.join(self.parts, STATE_FILE))
        _fsync_dir(self.parts)


def _fingerprint(files: list[str], cfg: ScanConfig, opts: ReadOptions) -> str:
    parts: list[Any] = [STATE_VERSION, asdict(cfg), opts.text_field, opts.id_field,
                        opts.max_chars]
    for f in files:
        st = os.stat(f)
        parts.append([os.path.abspath(f), st.st_size, st.st_mtime_ns])
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()


# --------------------------------------------------------------------------- output


def _parquet_schema(mode: str):
    import pyarrow as pa

    span = pa.struct([("start", pa.int64()), ("end", pa.int64()), ("text", pa.string()),
                      ("suggestion", pa.string()), ("confidence", pa.float64())])
    fields = [("id", pa.string()), ("source", pa.string()), ("index", pa.int64()),
              ("url", pa.string()), ("error", pa.string()), ("score", pa.float64()),
              ("spun", pa.bool_()), ("supported", pa.bool_())]
    if mode == "restore":
        edit = pa.struct([("start", pa.int64()), ("end", pa.int64()), ("text", pa.string()),
                          ("replacement", pa.string()), ("confidence", pa.float64()),
                          ("kind", pa.string())])
        fields += [("text", pa.string()), ("edits", pa.list_(edit))]
    else:
        fields += [("threshold", pa.float64()), ("language", pa.string()),
                   ("words", pa.int64()), ("terms", pa.int64()),
                   ("familiarity", pa.float64())]
    fields += [("spans", pa.list_(span)),
               ("version", pa.struct([("package", pa.string()), ("data", pa.string())]))]
    return pa.schema(fields)


def _parquet_row(line: str) -> dict[str, Any]:
    rec = json.loads(line)
    if "id" in rec and not isinstance(rec["id"], str):
        # Parquet columns have one type: non-string ids are kept as their JSON text.
        rec["id"] = json.dumps(rec["id"], ensure_ascii=False)
    return rec


def _assemble(state: _State, output: str, mode: str) -> None:
    """Concatenate the shards, in input order, into the output (written atomically)."""
    tmp = output + ".tmp"
    lower = output.lower()
    if lower.endswith(".parquet"):
        import pyarrow as pa
        import pyarrow.parquet as pq

        schema = _parquet_schema(mode)
        with pq.ParquetWriter(tmp, schema) as writer:
            rows: list[dict[str, Any]] = []
            for i in range(len(state.files)):
                with open(state.shard(i), encoding="utf-8") as fh:
                    for line in fh:
                        rows.append(_parquet_row(line))
                        if len(rows) >= 10_000:
                            writer.write_table(pa.Table.from_pylist(rows, schema=schema))
                            rows = []
            if rows or not any(state.records):
                writer.write_table(pa.Table.from_pylist(rows, schema=schema))
    else:
        raw = open(tmp, "wb")  # noqa: SIM115 - closed below
        # No mtime, no file name in the header: the same records give the same bytes.
        out = (gzip.GzipFile(filename="", fileobj=raw, mode="wb", mtime=0)
               if lower.endswith(".gz") else raw)
        try:
            for i in range(len(state.files)):
                with open(state.shard(i), "rb") as fh:
                    shutil.copyfileobj(fh, out, 1 << 20)
        finally:
            if out is not raw:
                out.close()
            raw.flush()
            os.fsync(raw.fileno())
            raw.close()
    os.replace(tmp, output)
    _fsync_dir(os.path.dirname(os.path.abspath(output)))


# --------------------------------------------------------------------------- progress


class _Progress:
    """A one-line progress display on stderr (docs/s, MB/s, ETA), rate-limited."""

    def __init__(self, enabled: bool, total_bytes: int, done_bytes: int) -> None:
        self.enabled = enabled
        self.total = max(1, total_bytes)
        self.base = done_bytes
        self.start = time.monotonic()
        self.last = 0.0
        self.docs = 0
        self.bytes = 0
        self.read_bytes = 0

    def update(self, docs: int, nbytes: int, force: bool = False) -> None:
        self.docs += docs
        self.bytes += nbytes
        if not self.enabled:
            return
        now = time.monotonic()
        if not force and now - self.last < 0.5:
            return
        self.last = now
        dt = max(now - self.start, 1e-9)
        rate = self.bytes / dt
        frac = min(1.0, (self.base + self.bytes) / self.total)
        eta = (self.total - self.base - self.bytes) / rate if rate > 0 else float("inf")
        eta_s = "--" if eta == float("inf") else time.strftime("%H:%M:%S", time.gmtime(eta))
        sys.stderr.write(f"\runspin scan: {self.docs} docs, {self.docs / dt:.1f} docs/s, "
                         f"{rate / 1e6:.3f} MB/s, {100 * frac:.1f}%, ETA {eta_s}   ")
        sys.stderr.flush()

    def close(self) -> None:
        if self.enabled:
            sys.stderr.write("\n")
            sys.stderr.flush()


# --------------------------------------------------------------------------- driver


def _stream(state: _State, opts: ReadOptions, batch_size: int, max_batch_chars: int,
            owners: collections.deque, read_bytes: list[int]) -> Iterator[Batch | _Marker]:
    """Batches of items in input order, with an end marker after each file.

    A batch never spans two files; the file of each batch is appended to ``owners`` (the
    engine returns results in the same order, so the writer pops them in step).
    """
    for i, path in enumerate(state.files):
        if state.done[i]:
            continue
        batch: Batch = []
        chars = 0
        for item in read_items(path, opts, start=state.records[i]):
            read_bytes[0] += item.nbytes
            batch.append((item.meta, item.text, item.error))
            chars += len(item.text) if item.text else 0
            if len(batch) >= batch_size or chars >= max_batch_chars:
                owners.append(i)
                yield batch
                batch, chars = [], 0
        if batch:
            owners.append(i)
            yield batch
        yield _Marker(i)


def scan(
    inputs: list[str],
    output: str,
    *,
    mode: str = "check",
    workers: int = 1,
    engine: str = "local",
    resume: bool = False,
    max_chars: int | None = 1_000_000,
    doc_timeout: float | None = 60.0,
    text_field: str = "text",
    id_field: str = "id",
    table: str | None = None,
    threshold: float | None = None,
    batch_size: int = BATCH_DOCS,
    progress: bool = False,
    spans: bool = True,
    two_step: bool = False,
) -> ScanSummary:
    """Scan corpora: one output record per input record, in input order per file.

    Args:
        inputs: Files, directories or globs (JSONL, .gz/.zst, Parquet, WARC, text, HTML).
        output: Output file: ``.jsonl`` (or ``.jsonl.gz``) or ``.parquet``.
        mode: ``"check"`` (score and spans) or ``"restore"`` (also restored text, edits).
        workers: Worker processes (local) or Ray workers.
        engine: ``"local"`` or ``"ray"``.
        resume: Continue an interrupted scan of the same inputs into the same output.
        max_chars: Longer texts become error records (None: no limit).
        doc_timeout: Seconds per document before it becomes an error record (None: none).
        text_field: Text field (JSONL) or column (Parquet).
        id_field: Identifier field or column, echoed as ``id``.
        table: A learned substitution table to use as well.
        threshold: Decision threshold (default: calibrated).
        batch_size: Documents per batch sent to a worker.
        progress: Show a progress line on stderr.
        spans: With ``mode="check"``, also find the spun spans; False writes the score and
            verdict only (``spans`` empty), several times cheaper on spun documents.
        two_step: With ``mode="restore"``, also originals two steps into the candidate
            table (`unspin.restore`'s ``two_step``; about a sixth slower).

    Returns:
        A `ScanSummary`.

    Raises:
        ScanError: bad inputs or options, unwritable output, or a resume that does not
            match the interrupted scan.
    """
    if mode not in ("check", "restore"):
        raise ScanError(f"unknown mode {mode!r}")
    if two_step and mode != "restore":
        raise ScanError("two-step candidates are for restoring: use mode 'restore'")
    if engine not in ("local", "ray"):
        raise ScanError(f"unknown engine {engine!r}")
    # Standard input and output are streams: a scan reads its inputs by file (to resume at
    # a record, to know their size) and assembles its output from shards at the end.
    if "-" in inputs and not os.path.exists("-"):
        raise ScanError("scan reads files, not standard input (it resumes by file): save the "
                        "stream to a file, or pipe it through 'unspin check -', which reads "
                        "JSONL on standard input and writes JSONL to standard output")
    if output == "-":
        raise ScanError("scan writes a file, not standard output (it assembles its output "
                        "at the end): give -o FILE.jsonl, or use 'unspin check', which "
                        "writes JSONL to standard output")
    out_lower = output.lower()
    if not out_lower.endswith((".jsonl", ".ndjson", ".jsonl.gz", ".ndjson.gz", ".parquet")):
        raise ScanError(f"cannot tell the output format of {output}: use .jsonl, .jsonl.gz "
                        "or .parquet")
    if out_lower.endswith(".parquet"):
        try:
            import pyarrow  # noqa: F401
        except ImportError:
            raise ScanError("Parquet output needs pyarrow: pip install 'unspin[scan]'") \
                from None
    out_dir = os.path.dirname(os.path.abspath(output))
    if not os.path.isdir(out_dir):
        raise ScanError(f"cannot write {output}: no such directory {out_dir}")
    if os.path.isdir(output):
        raise ScanError(f"cannot write {output}: is a directory")
    parts = output + ".parts"
    from .formats import InputError

    try:
        files = expand_inputs(list(inputs), exclude=(os.path.abspath(output),
                                                     os.path.abspath(parts)))
    except InputError as exc:
        raise ScanError(str(exc)) from None
    if not files:
        raise ScanError("no input files found")
    cfg = ScanConfig(mode=mode, table=table, threshold=threshold, doc_timeout=doc_timeout,
                     spans=spans, two_step=two_step)
    opts = ReadOptions(text_field=text_field, id_field=id_field, max_chars=max_chars)
    state = _State.open(parts, _fingerprint(files, cfg, opts), files, resume)

    started = time.monotonic()
    summary = ScanSummary(files=len(files), output=output,
                          resumed_records=sum(state.records))
    reasons: collections.Counter[str] = collections.Counter()
    sizes = [os.path.getsize(f) for f in files]
    done_bytes = sum(s for s, d in zip(sizes, state.done, strict=True) if d)
    show = progress
    bar = _Progress(show, sum(sizes), done_bytes)
    read_bytes = [0]
    eng: Any = (LocalEngine(cfg, workers) if engine == "local"
                else RayEngine(cfg, workers, batch_size))
    handles: dict[int, Any] = {}
    last_commit = time.monotonic()

    def commit() -> None:
        for i, fh in handles.items():
            fh.flush()
            os.fsync(fh.fileno())
            state.bytes[i] = fh.tell()
        state.commit()

    owners: collections.deque[int] = collections.deque()
    try:
        stream = _stream(state, opts, batch_size, 256_000, owners, read_bytes)
        for result in eng.run(stream):
            if isinstance(result, _Marker):
                i = result.file
                fh = handles.pop(i, None) or open(state.shard(i), "ab")  # noqa: SIM115
                fh.flush()
                os.fsync(fh.fileno())
                state.bytes[i] = fh.tell()
                fh.close()
                state.done[i] = True
                commit()
                last_commit = time.monotonic()
                continue
            i = owners.popleft()
            fh = handles.get(i)
            if fh is None:
                fh = handles[i] = open(state.shard(i), "ab")  # noqa: SIM115
            fh.write("".join(line + "\n" for line, _ in result).encode("utf-8"))
            state.records[i] += len(result)
            summary.records += len(result)
            for _, status in result:
                if isinstance(status, str):
                    summary.errors += 1
                    reasons[_reason(status)] += 1
                else:
                    summary.analysed += 1
                    summary.spun += status
            bar.update(len(result), read_bytes[0] - bar.bytes)
            if time.monotonic() - last_commit >= COMMIT_INTERVAL_S:
                commit()
                last_commit = time.monotonic()
        commit()
    finally:
        for fh in handles.values():
            fh.close()
        bar.close()
    _assemble(state, output, mode)
    shutil.rmtree(parts, ignore_errors=True)
    summary.text_bytes = read_bytes[0]
    summary.seconds = time.monotonic() - started
    summary.error_reasons = dict(reasons.most_common())
    return summary


def _reason(error: str) -> str:
    """The kind of an error message, for the summary ("invalid JSON", "empty text")."""
    return re.split(r"[:(]| at byte", error, maxsplit=1)[0].strip()
