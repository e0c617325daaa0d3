"""Load benchmark of ``unspin serve``: concurrent clients posting ~3 KB spun texts.

    python -m bench.load                              # 50 clients x 20 requests, check+restore
    python -m bench.load --pool thread --workers 2    # compare worker kinds
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


def load_texts(n: int, chars: int) -> tuple[list[str], str]:
    """``n`` distinct-ish texts of about ``chars`` characters, and where they came from."""
    try:
        from .data import load_clean_docs, make_spun
        from .spinners import WordNetSpinner

        docs = load_clean_docs(n, split="test", min_words=300, max_words=700)
        if len(docs) >= max(1, n // 2):
            spun = make_spun(WordNetSpinner(), docs, 0.2, seed=0)
            texts = [_cut(d.spun, chars) for d in spun]
            return texts, f"{len(texts)} held-out documents spun by WordNetSpinner at 20 %"
    except (OSError, ImportError, ValueError) as exc:
        print(f"bench.load: held-out corpus unavailable ({exc}); using the example",
              file=sys.stderr)
    example = (REPO / "examples" / "spun_news.txt").read_text(encoding="utf-8")
    text = _cut((example + "\n\n") * (chars // len(example) + 2), chars)
    return [text], "examples/spun_news.txt repeated"


def start_server(port: int, args: argparse.Namespace) -> subprocess.Popen:
    """Start ``unspin serve`` and wait until /healthz answers (workers are then warm)."""
    cmd = [sys.executable, "-m", "unspin", "serve", "--port", str(port), "--pool", args.pool,
           "--log-level", "warning", "--max-pending", str(max(256, args.clients * 2))]
    if args.workers:
        cmd += ["--workers", str(args.workers)]
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(REPO / "src"), env.get("PYTHONPATH", "")) if p)
    proc = subprocess.Popen(cmd, env=env)
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


async def run_load(url: str, endpoint: str, texts: list[str], clients: int,
                   requests: int) -> dict:
    """Closed-loop load on one endpoint; latencies in milliseconds."""
    latencies: list[float] = []
    errors: dict[str, int] = {}
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=url, timeout=120, limits=limits) as client:

        async def one_client(k: int) -> None:
            for i in range(requests):
                text = texts[(k * requests + i) % len(texts)]
                t0 = time.perf_counter()
                try:
                    r = await client.post(endpoint, json={"text": text, "id": f"{k}-{i}"})
                    ok = r.status_code == 200 and "error" not in r.json()
                    key = None if ok else f"HTTP {r.status_code}"
                except httpx.HTTPError as exc:
                    key = type(exc).__name__
                latencies.append((time.perf_counter() - t0) * 1000)
                if key:
                    errors[key] = errors.get(key, 0) + 1

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
    parser.add_argument("--json", action="store_true", help="also print the results as JSON")
    args = parser.parse_args(argv)

    texts, origin = load_texts(args.texts, args.chars)
    sizes = [len(t.encode("utf-8")) for t in texts]
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
                   f"{platform.python_version()}",
        "server": "external" if args.url else f"{args.pool} pool, "
                  f"{args.workers or os.cpu_count()} workers",
        "clients": args.clients, "requests_per_client": args.requests,
        "texts": origin, "mean_bytes": round(statistics.fmean(sizes)),
    }
    print(f"\n{setup['date']}, {setup['machine']}; server: {setup['server']}; "
          f"{args.clients} clients x {args.requests} requests; texts: {origin}, "
          f"mean {setup['mean_bytes']} bytes\n")
    print("| endpoint | requests | errors | p50 ms | p95 ms | p99 ms | max ms | req/s |")
    print("|---|---|---|---|---|---|---|---|")
    for r in results:
        print(f"| {r['endpoint']} | {r['requests']} | {r['errors']} | {r['p50_ms']} | "
              f"{r['p95_ms']} | {r['p99_ms']} | {r['max_ms']} | {r['throughput_rps']} |")
    if args.json:
        print(json.dumps({"setup": setup, "results": results}, indent=2))
    return 1 if any(r["errors"] for r in results) else 0


if __name__ == "__main__":
    raise SystemExit(main())
