"""Load benchmark of ``unspin serve``: concurrent clients posting ~3 KB spun texts.

    python -m bench.load                              # 50 clients x 20 requests, check+restore
    python -m bench.load --pool thread --workers 2    # compare worker kinds
    python -m bench.load --clean | --mix              # clean texts, or half spun
    python -m bench.load --url http://host:8000       # an already running server

Starts a local server (``python -m unspin serve``) on a free port unless ``--url`` is given,
waits until it is warm, then runs ``--clients`` asyncio clients, each sending
``--requests`` requests one after the other (a closed loop: a client sends its next
request when the previous one is answered), per endpoint. Reports errors (any non-200
answer or transport failure) and latency percentiles, as a Markdown table and, with
``--json``, as JSON.

Texts are held-out documents (see `bench.data`) spun by the WordNet reference spinner at
20 %, cut to about ``--chars`` characters at a sentence end. Without the held-out corpus
it falls back to the bundled example article, repeated.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import json
import os
import platform
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

import httpx

from unspin.lm import native_available

REPO = Path(__file__).resolve().parents[1]


def free_port() -> int:
    """A TCP port that is free now on 127.0.0.1."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _cut(text: str, chars: int) -> str:
    """About ``chars`` characters of ``text``, ending at a sentence end when possible."""
    if len(text) <= chars:
        return text
    head = text[: chars + 200]
    end = max(head.rfind(". ", 0, chars + 200), head.rfind(".\n", 0, chars + 200))
    return head[: end + 1] if end > chars // 2 else text[:chars]


def load_texts(n: int, chars: int, clean: bool = False,
               mix: bool = False) -> tuple[list[str], str]:
    """``n`` distinct-ish texts of about ``chars`` characters, and where they came from.

    ``mix``: every other document spun (as in a crawl that is being screened), else all
    spun, or all clean with ``clean``.
    """
    try:
        from .data import load_clean_docs, make_spun
        from .spinners import WordNetSpinner

        docs = load_clean_docs(n, split="test", min_words=300, max_words=700)
        if len(docs) >= max(1, n // 2):
            if clean:
                texts = [_cut(d["text"], chars) for d in docs]
                return texts, f"{len(texts)} clean held-out documents"
            if mix:
                spun = make_spun(WordNetSpinner(), docs, 0.2, seed=0)
                texts = [_cut(d.spun if k % 2 else d.original, chars)
                         for k, d in enumerate(spun)]
                return texts, (f"{len(texts)} held-out documents, every other one spun by "
                               "WordNetSpinner at 20 %")
            spun = make_spun(WordNetSpinner(), docs, 0.2, seed=0)
            texts = [_cut(d.spun, chars) for d in spun]
            return texts, f"{len(texts)} held-out documents spun by WordNetSpinner at 20 %"
    except (OSError, ImportError, ValueError) as exc:
        print(f"bench.load: held-out corpus unavailable ({exc}); using the example",
              file=sys.stderr)
    example = (REPO / "examples" / "spun_news.txt").read_text(encoding="utf-8")
    text = _cut((example + "\n\n") * (chars // len(example) + 2), chars)
    return [text], "examples/spun_news.txt repeated"


def _null_job(kind: str, text: str, options: dict) -> dict:
    return {"score": 0.0, "spun": False, "spans": [], "words": len(text.split())}


def serve_null(port: int, workers: int) -> None:
    """The server with a model that does nothing: what the HTTP stack itself costs."""
    import uvicorn

    from unspin.server import ServerConfig, create_app

    config = ServerConfig(pool="thread", workers=workers, warm=False, work=_null_job,
                          max_pending=1024)
    uvicorn.run(create_app(config), host="127.0.0.1", port=port, log_level="warning")


def start_server(port: int, args: argparse.Namespace) -> subprocess.Popen:
    """Start ``unspin serve`` and wait until /healthz answers (workers are then warm)."""
    cmd = [sys.executable, "-m", "unspin", "serve", "--port", str(port), "--pool", args.pool,
           "--log-level", "warning", "--max-pending", str(max(256, args.clients * 2))]
    if args.workers:
        cmd += ["--workers", str(args.workers)]
    if args.null_model:
        cmd = [sys.executable, "-m", "bench.load", "--serve-null", str(port),
               "--workers", str(args.workers or os.cpu_count() or 1)]
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(REPO / "src"), str(REPO), env.get("PYTHONPATH", "")) if p)
    proc = subprocess.Popen(cmd, env=env, cwd=REPO)
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"server exited with status {proc.returncode}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200:
                return proc
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    proc.terminate()
    raise SystemExit("server did not start within 180 s")


class _Connection:
    """A minimal keep-alive HTTP/1.1 client connection.

    The clients share the server's two cores, so they must be cheap: a general-purpose
    client (httpx) costs a few milliseconds of CPU per request, which would be measured as
    server latency. This one writes the request bytes and reads a Content-Length body.
    """

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None
        self.timing: dict[str, float] = {}

    async def post(self, path: str, body: bytes) -> tuple[int, bytes]:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        head = (f"POST {path} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\n"
                f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n")
        self.writer.write(head.encode() + body)
        status_line = await self.reader.readline()
        if not status_line:
            raise ConnectionError("connection closed")
        status = int(status_line.split()[1])
        length = 0
        close = False
        while True:
            line = await self.reader.readline()
            if line in (b"\r\n", b""):
                break
            name, _, value = line.decode("latin-1").partition(":")
            if name.lower() == "content-length":
                length = int(value)
            elif name.lower() == "connection" and "close" in value.lower():
                close = True
            elif name.lower() == "server-timing":
                self.timing = _server_timing(value)
        data = await self.reader.readexactly(length)
        if close:
            self.close()
        return status, data

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None


def _server_timing(value: str) -> dict[str, float]:
    """``total;dur=1.5, batch;desc="3"`` -> ``{"total": 1.5, "batch": 3.0}``."""
    out: dict[str, float] = {}
    for part in value.split(","):
        name, *params = (x.strip() for x in part.split(";"))
        for param in params:
            key, _, v = param.partition("=")
            if key in ("dur", "desc"):
                try:
                    out[name] = float(v.strip('"'))
                except ValueError:
                    pass
    return out


async def run_load(url: str, endpoint: str, texts: list[str], clients: int,
                   requests: int) -> dict:
    """Closed-loop load on one endpoint; latencies in milliseconds."""
    latencies: list[float] = []
    work: list[float] = []  # the model's wall time per request, from Server-Timing
    cpu: list[float] = []  # and its CPU time
    batches: list[float] = []  # checks analysed together with this one (Server-Timing)
    errors: dict[str, int] = {}
    parsed = httpx.URL(url)
    bodies = [json.dumps({"text": t}).encode() for t in texts]

    async def one_client(k: int) -> None:
        conn = _Connection(parsed.host, parsed.port or 80)
        try:
            for i in range(requests):
                body = bodies[(k * requests + i) % len(bodies)]
                t0 = time.perf_counter()
                conn.timing = {}
                try:
                    status, data = await asyncio.wait_for(conn.post(endpoint, body), 300)
                    if "work" in conn.timing:
                        work.append(conn.timing["work"])
                        cpu.append(conn.timing.get("cpu", 0.0))
                    if "batch" in conn.timing:
                        batches.append(conn.timing["batch"])
                    ok = status == 200 and data.startswith(b"{") and b'"error"' not in data[:20]
                    key = None if ok else f"HTTP {status}"
                except (OSError, ValueError, asyncio.IncompleteReadError, TimeoutError) as exc:
                    key = type(exc).__name__
                    conn.close()
                latencies.append((time.perf_counter() - t0) * 1000)
                if key:
                    errors[key] = errors.get(key, 0) + 1
        finally:
            conn.close()

    t0 = time.perf_counter()
    await asyncio.gather(*(one_client(k) for k in range(clients)))
    wall = time.perf_counter() - t0
    q = statistics.quantiles(latencies, n=100, method="inclusive")
    return {
        "endpoint": endpoint, "requests": len(latencies), "errors": sum(errors.values()),
        "error_kinds": errors, "p50_ms": round(q[49], 1), "p95_ms": round(q[94], 1),
        "p99_ms": round(q[98], 1), "max_ms": round(max(latencies), 1),
        "mean_ms": round(statistics.fmean(latencies), 1), "wall_s": round(wall, 2),
        "throughput_rps": round(len(latencies) / wall, 1),
        "model_wall_ms_mean": round(statistics.fmean(work), 1) if work else None,
        "model_cpu_ms_mean": round(statistics.fmean(cpu), 1) if cpu else None,
        # Work and CPU times are those of the request's whole batch.
        "batch_mean": round(statistics.fmean(batches), 1) if batches else None,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.load", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", help="benchmark this running server instead of starting one")
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--requests", type=int, default=20, help="per client and endpoint")
    parser.add_argument("--endpoints", default="check,restore",
                        help="comma-separated: check, restore (default: both)")
    parser.add_argument("--chars", type=int, default=3000, help="text size (default 3000)")
    parser.add_argument("--texts", type=int, default=50, help="distinct texts (default 50)")
    parser.add_argument("--pool", choices=("process", "thread"), default="process")
    parser.add_argument("--workers", type=int, default=None)
    parser.add_argument("--clean", action="store_true",
                        help="clean held-out texts instead of spun ones")
    parser.add_argument("--mix", action="store_true",
                        help="every other text spun, the others clean")
    parser.add_argument("--null-model", action="store_true",
                        help="a server whose model does nothing: the HTTP stack's own cost")
    parser.add_argument("--serve-null", type=int, metavar="PORT", help=argparse.SUPPRESS)
    parser.add_argument("--json", action="store_true", help="also print the results as JSON")
    args = parser.parse_args(argv)
    if args.serve_null:
        serve_null(args.serve_null, args.workers or os.cpu_count() or 1)
        return 0

    texts, origin = load_texts(args.texts, args.chars, clean=args.clean, mix=args.mix)
    sizes = [len(t.encode("utf-8")) for t in texts]
    load_before = os.getloadavg()[0]  # the machine may be shared: say how busy it was
    proc = None
    url = args.url
    if url is None:
        port = free_port()
        proc = start_server(port, args)
        url = f"http://127.0.0.1:{port}"
    try:
        results = [
            asyncio.run(run_load(url, f"/v1/{name.strip()}", texts, args.clients,
                                 args.requests))
            for name in args.endpoints.split(",") if name.strip()
        ]
    finally:
        if proc is not None:
            proc.terminate()
            proc.wait(30)
    setup = {
        "date": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, Python "
                   f"{platform.python_version()}, compiled LM lookups "
                   f"{'on' if native_available() else 'off'}",
        "server": "external" if args.url else "null model (HTTP stack only), thread pool"
                  if args.null_model else f"{args.pool} pool, "
                  f"{args.workers or os.cpu_count()} workers",
        "load_average_before": round(load_before, 2),
        "clients": args.clients, "requests_per_client": args.requests,
        "texts": origin, "mean_bytes": round(statistics.fmean(sizes)),
    }
    print(f"\n{setup['date']}, {setup['machine']}; server: {setup['server']}; "
          f"{args.clients} clients x {args.requests} requests; texts: {origin}, "
          f"mean {setup['mean_bytes']} bytes; load average before {load_before:.2f}\n")
    print("| endpoint | requests | errors | p50 ms | p95 ms | p99 ms | max ms | req/s "
          "| model wall ms | model CPU ms | batch |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for r in results:
        print(f"| {r['endpoint']} | {r['requests']} | {r['errors']} | {r['p50_ms']} | "
              f"{r['p95_ms']} | {r['p99_ms']} | {r['max_ms']} | {r['throughput_rps']} | "
              f"{r['model_wall_ms_mean']} | {r['model_cpu_ms_mean']} | "
              f"{r['batch_mean'] or 1} |")
    if args.json:
        print(json.dumps({"setup": setup, "results": results}, indent=2))
    return 1 if any(r["errors"] for r in results) else 0


if __name__ == "__main__":
    raise SystemExit(main())
