"""Bad-input robustness benchmark: ``python -m bench.robustness [--sizes 0.5,1,2,5]``.

The bar (from the issue): empty, binary, invalid UTF-8, a multi-megabyte single line and
HTML soup each give a result or a clear error, in time linear in the input size. This
module feeds such inputs to ``unspin.check`` and ``unspin.restore`` (and to the CLI,
in-process through ``unspin.cli.main``, for the file-based cases), and records for each
case the outcome, seconds, MB/s and the growth of the peak RSS. For the single-line
cases it reports seconds per MB at each size: the time is called linear when the per-MB
time at the largest size is within 1.5x of that at the smallest.

``restore`` is several times slower than ``check``, so its single-line series uses
smaller sizes (``RESTORE_SIZES_MB``) to keep the whole run to a few minutes.

Timing goals live here, never in the tests (``tests/test_robustness.py`` checks only
behaviour).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import math
import os
import random
import re
import resource
import signal
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

CHECK_SIZES_MB = (0.5, 1, 2, 5)
RESTORE_SIZES_MB = (0.1, 0.25, 0.5, 1)
LINEAR_RATIO = 1.5  # per-MB time at the largest size / at the smallest, to count as linear
MB = 1_000_000


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------------------
# Inputs

_SUBJECTS = (
    "The committee",
    "A local farmer",
    "The new mayor",
    "Our neighbour",
    "The school board",
    "A young doctor",
    "The city council",
    "The old library",
    "A small company",
    "The weather service",
    "My sister",
    "The museum",
)
_VERBS = (
    "approved",
    "discussed",
    "rejected",
    "announced",
    "reviewed",
    "praised",
    "questioned",
    "opened",
    "planned",
    "described",
    "explained",
    "supported",
)
_OBJECTS = (
    "the budget for next year",
    "a plan to repair the bridge",
    "the results of the survey",
    "a new park near the river",
    "the cost of the project",
    "changes to the bus routes",
    "a report on local schools",
    "the hours of the market",
    "a program for older residents",
    "the rules for parking",
    "the story of the old mill",
    "a proposal for more bike lanes",
)
_TAILS = (
    "on Tuesday",
    "after a long meeting",
    "in the morning",
    "last week",
    "without much debate",
    "with some concern",
    "at the town hall",
    "before the holiday",
    "during the spring",
    "for the first time",
    "because the roads were closed",
    "while the children were at school",
)


def english_sentences(n: int = 400, seed: int = 0) -> list[str]:
    """``n`` distinct plain English sentences (deterministic)."""
    rng = random.Random(seed)
    combos = [(s, v, o, t) for s in _SUBJECTS for v in _VERBS for o in _OBJECTS for t in _TAILS]
    rng.shuffle(combos)
    out = []
    for k, (s, v, o, t) in enumerate(combos[:n]):
        if k % 3 == 1:
            out.append(f"{s} {v} {o} {t}, and most people seemed happy with it.")
        elif k % 7 == 3:
            out.append(f"Why has {s[0].lower() + s[1:]} {v} {o} {t}?")
        else:
            out.append(f"{s} {v} {o} {t}.")
    return out


# Swaps of a spinner, applied to the sentences of `single_line`, so that the text
# scores as spun and `check`'s span search and `restore`'s decoder run on all of it (a clean
# text stops after the detection evidence).
_SPINS = {"approved": "accredited", "city": "metropolis", "budget": "finances",
          "announced": "introduced", "discussed": "mentioned", "long": "prolonged",
          "meeting": "assembly", "new": "brand new", "near": "close to", "old": "outdated",
          "cost": "price", "week": "seven days", "morning": "early morning hours",
          "school": "faculty", "first": "primary", "people": "individuals",
          "happy": "completely satisfied", "seemed": "appeared", "local": "native",
          "young": "younger", "small": "tiny", "company": "firm", "repair": "restore",
          "results": "outcomes", "routes": "paths", "rules": "guidelines"}
# Sentences of a spun news article (as in examples/spun_news.txt), one after every other
# sentence: a long text of mildly spun sentences alone scores as clean.
_SPUN = ("The metropolis council accredited a brand new finances after a protracted debate.",
         "The mayor stated the plan would rent 3 hundred academics throughout the district.",
         "The Supreme Courtroom is predicted to rule on a associated case within the spring.",
         "Critics argued the proposal was too costly, however supporters identified it.")
_SPIN_RE = re.compile(r"\b(" + "|".join(_SPINS) + r")\b")


def single_line(n_bytes: int, *, punctuation: bool = True, seed: int = 0) -> str:
    """About ``n_bytes`` of English words on one line (no newline), cut at a word boundary;
    spun (`_SPINS`)."""
    sents = english_sentences(seed=seed)
    sents = [t if k % 2 else _SPIN_RE.sub(lambda m: _SPINS[m.group(1)], t) + " " + _SPUN[k % 4]
             for k, t in enumerate(sents)]
    if not punctuation:
        table = str.maketrans("", "", ".,?!;:")
        sents = [s.translate(table) for s in sents]
    parts: list[str] = []
    size = 0
    k = 0
    while size < n_bytes:
        s = sents[k % len(sents)]
        parts.append(s)
        size += len(s) + 1
        k += 1
    text = " ".join(parts)[:n_bytes]
    return text[: text.rfind(" ")] if " " in text else text


def dense_mojibake(n_bytes: int) -> str:
    """A single line of English with an accented letter or curly quote in most words,
    written as UTF-8 and read back as Windows-1252 ("cafÃ©", "donâ€™t"): the cleaner's
    mojibake stage at its busiest."""
    text = single_line(n_bytes)
    for plain, fancy in (("e ", "é "), ("a ", "à "), ("o ", "ô "), ("'", "’"), ("n ", "ñ ")):
        text = text.replace(plain, fancy)
    return text.encode("utf-8").decode("cp1252", "replace")[:n_bytes]


def latin1_junk(n_bytes: int, seed: int = 1) -> str:
    """Random bytes decoded as Latin-1 (C0/C1 controls, symbols, accented letters)."""
    return random.Random(seed).randbytes(n_bytes).decode("latin-1")


def nul_junk(n_bytes: int, seed: int = 2) -> bytes:
    """Binary-file-like bytes: a third NULs, the rest random."""
    rng = random.Random(seed)
    raw = bytearray(rng.randbytes(n_bytes))
    for i in range(0, n_bytes, 3):
        raw[i] = 0
    return bytes(raw)


def utf16_english(n_bytes: int) -> bytes:
    """English text encoded as UTF-16-LE: a NUL after every ASCII character."""
    return single_line(n_bytes // 2).encode("utf-16-le")


_BAD_SEQUENCES = (
    b"\xff",
    b"\xfe\xfe",
    b"\xc0\xaf",
    b"\xe2\x82",
    b"\x80\x80",
    b"\xed\xa0\x80",
    b"\xf8\x88\x80\x80\x80",
    b"\xc3",
)


def invalid_utf8(n_bytes: int) -> bytes:
    """English text with an invalid UTF-8 sequence every ~60 bytes."""
    text = single_line(n_bytes).encode("utf-8")
    out = bytearray()
    for k, i in enumerate(range(0, len(text), 60)):
        out += text[i : i + 60]
        out += _BAD_SEQUENCES[k % len(_BAD_SEQUENCES)]
    return bytes(out)


def html_soup(n_bytes: int, depth: int = 3000) -> str:
    """Broken HTML: unclosed tags, scripts, deep div nesting, odd entities, no closing."""
    sents = english_sentences()
    parts = [
        "<html><head><title>Soup &amp; more</title><script>var a = '<div>'; "
        "if (a < 3 && b > 2) { document.write('</p><p>'); }</script>"
        "<style>p { color: red } </style></head><body>",
        "<div>" * depth,
    ]
    size = sum(len(p) for p in parts)
    k = 0
    entities = (
        "&amp;",
        "&nbsp;",
        "&#8217;",
        "&bogus;",
        "&#xD800;",
        "&#99999999;",
        "&lt;",
        "&#0;",
        "&",
        "&#x1F600;",
    )
    while size < n_bytes:
        s = sents[k % len(sents)]
        quote = "" if k % 13 == 0 else "'"  # now and then an attribute quote left open
        piece = (
            f"<p class=x{k} data-y='{k}{quote}>{s} {entities[k % len(entities)]} "
            f"<b><i>{sents[(k + 1) % len(sents)]}</b></i>"
        )
        if k % 5 == 0:
            piece += "<script>for (var i = 0; i < 10; i++) { x += '<p>' }</script>"
        if k % 7 == 0:
            piece += "<table><tr><td>cell<td>cell<tr><td>"
        if k % 11 == 0:
            piece += "<![CDATA[ raw ]]><?php echo 1 ?></span></div></div>"
        parts.append(piece)
        size += len(piece)
        k += 1
    parts.append("<!-- an unterminated comment <p>never closed")
    return "".join(parts)


_FOREIGN = {
    "Cyrillic": (
        "Комитет обсудил бюджет на следующий год во вторник после долгого "
        "заседания. Новый мэр объявил о плане ремонта моста через реку. "
        "Жители города поддержали проект, хотя расходы оказались выше."
    ),
    "CJK": (
        "委员会在星期二的长时间会议后讨论了明年的预算。新市长宣布了修复河上桥梁的计划。"
        "市民支持这个项目，虽然费用比预期高。"
    ),
}


def foreign_text(n_bytes: int, script: str) -> str:
    """About ``n_bytes`` UTF-8 bytes of text in a non-Latin script, as one paragraph."""
    unit = _FOREIGN[script]
    per = len(unit.encode("utf-8")) + 1
    return " ".join([unit] * max(1, n_bytes // per))


# ---------------------------------------------------------------------------------------
# Measuring


def _maxrss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


class _Timeout(Exception):
    pass


@contextlib.contextmanager
def _deadline(seconds: float | None):
    """Raise _Timeout after ``seconds`` (main thread only; else no limit)."""
    if not seconds or os.name != "posix" or not _in_main_thread():
        yield
        return

    def handler(signum, frame):
        raise _Timeout(f"no result after {seconds:.0f} s")

    old = signal.signal(signal.SIGALRM, handler)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


def _in_main_thread() -> bool:
    import threading

    return threading.current_thread() is threading.main_thread()


def _as_str(data: str | bytes) -> str:
    """The text the API analyses: bytes decoded as it decodes them (UTF-16 detected)."""
    from unspin.api import utf16_codec

    if isinstance(data, bytes):
        return data.decode(utf16_codec(data) or "utf-8", "replace")
    return data


def _offsets_ok(text: str, items, restored: str | None = None) -> bool:
    """Every span/edit has 0 <= start <= end <= len and text[start:end] == its text; for a
    restoration, the edits are disjoint and rebuild the restored text."""
    pos = 0
    parts = []
    for it in items:
        if not (0 <= it.start <= it.end <= len(text)) or text[it.start : it.end] != it.text:
            return False
        if restored is not None:
            if it.start < pos:
                return False
            parts.append(text[pos : it.start])
            parts.append(it.replacement)
            pos = it.end
    if restored is not None:
        parts.append(text[pos:])
        return "".join(parts) == restored
    return True


def _api_outcome(entry: str, data, out) -> dict:
    text = _as_str(data)
    if entry == "restore":
        rep = out.report
        ok_offsets = _offsets_ok(text, out.edits, out.text) and _offsets_ok(text, rep.spans)
        n = f"{len(out.edits)} edits"
    else:
        rep = out
        ok_offsets = _offsets_ok(text, rep.spans)
        n = f"{len(rep.spans)} spans"
    if rep.supported:
        desc = f"result: supported, score {rep.score:.3f}, {rep.words} words, {n}"
    else:
        desc = f"result: not supported ({rep.language}), {n}"
    if not ok_offsets:
        desc += "; BAD OFFSETS"
    return {
        "outcome": "result",
        "ok": ok_offsets,
        "supported": bool(rep.supported),
        "language": rep.language,
        "score": float(rep.score),
        "words": int(rep.words),
        "offsets_ok": ok_offsets,
        "description": desc,
    }


# Exceptions the API documents (a clear error), as opposed to a crash.
_CLEAR_ERRORS = (TypeError, ValueError, MemoryError)


def _measure(
    name: str,
    entry: str,
    data,
    call: Callable[[], object],
    timeout_s: float | None,
    outcome: Callable[[object], dict],
) -> dict:
    size = len(data.encode("utf-8", "surrogatepass")) if isinstance(data, str) else len(data)
    rec: dict = {"case": name, "entry": entry, "bytes": size, "mb": size / MB}
    rss0 = _maxrss_mb()
    t0 = time.perf_counter()
    try:
        with _deadline(timeout_s):
            out = call()
    except _Timeout as exc:
        rec.update(outcome="timeout", ok=False, description=f"TIMEOUT: {exc}")
    except Exception as exc:  # noqa: BLE001 - recorded, not raised
        msg = f"{type(exc).__name__}: {exc}"[:300]
        clear = isinstance(exc, _CLEAR_ERRORS) and bool(str(exc))
        tb = exc.__traceback__
        while tb is not None and tb.tb_next is not None:
            tb = tb.tb_next
        where = f"{tb.tb_frame.f_code.co_filename}:{tb.tb_lineno}" if tb else "?"
        rec.update(
            outcome="error" if clear else "crash",
            ok=clear,
            error=msg,
            where=where,
            description=("error: " if clear else "CRASH: ") + msg,
        )
    else:
        rec["seconds"] = time.perf_counter() - t0
        try:
            rec.update(outcome(out))
        except Exception as exc:  # noqa: BLE001 - a malformed result is a finding too
            rec.update(
                outcome="bad result",
                ok=False,
                description=f"BAD RESULT: {type(exc).__name__}: {exc}"[:300],
            )
    rec.setdefault("seconds", time.perf_counter() - t0)
    rec["mb_per_s"] = rec["mb"] / rec["seconds"] if rec["seconds"] > 0 else None
    rec["rss_growth_mb"] = max(0.0, _maxrss_mb() - rss0)
    return rec


def api_case(name: str, entry: str, data, timeout_s: float | None = None) -> dict:
    import unspin

    fn = unspin.restore if entry == "restore" else unspin.check
    return _measure(
        name, entry, data, lambda: fn(data), timeout_s, lambda out: _api_outcome(entry, data, out)
    )


def cli_case(
    name: str, command: str, data: str | bytes, timeout_s: float | None = None, suffix: str = ".txt"
) -> dict:
    """``unspin COMMAND FILE --format json`` in-process, on a temporary file."""
    from unspin.cli import main as cli_main

    raw = data.encode("utf-8") if isinstance(data, str) else data
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"input{suffix}"
        path.write_bytes(raw)
        out, err = io.StringIO(), io.StringIO()

        def call() -> int:
            with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
                return cli_main([command, str(path), "--format", "json"])

        def outcome(code) -> dict:
            stderr = err.getvalue().strip()
            first = stderr.splitlines()[0] if stderr else ""
            rec: dict = {"exit": code, "stderr": stderr[:300]}
            if code in (0, 1):
                try:
                    obj = json.loads(out.getvalue())
                except ValueError as exc:
                    return {
                        **rec,
                        "outcome": "bad output",
                        "ok": False,
                        "description": f"exit {code} but stdout is not JSON ({exc})",
                    }
                sup = obj.get("supported", obj.get("report", {}).get("supported"))
                desc = f"exit {code}, JSON ok, supported={sup}, score {obj.get('score')}"
                if first:
                    desc += f"; stderr: {first[:80]}"
                return {
                    **rec,
                    "outcome": "result",
                    "ok": True,
                    "supported": sup,
                    "score": obj.get("score"),
                    "description": desc,
                }
            one_line = len(stderr.splitlines()) == 1 and first.startswith("unspin: error:")
            kind = "error" if code == 2 and one_line else "crash"
            return {
                **rec,
                "outcome": kind,
                "ok": kind == "error",
                "description": f"exit {code}: {first[:120]}",
            }

        return _measure(name, f"cli {command}", raw, call, timeout_s, outcome)


# ---------------------------------------------------------------------------------------
# The benchmark


def scaling(rows: list[dict]) -> dict:
    """Seconds per MB at each size of one series, the ratio largest/smallest and the
    fitted exponent of time ~ size^k (1 = linear)."""
    rows = sorted((r for r in rows if r.get("outcome") == "result"), key=lambda r: r["mb"])
    if len(rows) < 2:
        return {"sizes_mb": [r["mb"] for r in rows], "linear": None}
    per = [r["seconds"] / r["mb"] for r in rows]
    xs = [math.log(r["mb"]) for r in rows]
    ys = [math.log(max(r["seconds"], 1e-9)) for r in rows]
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    k = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / sum(
        (x - mx) ** 2 for x in xs
    )
    ratio = per[-1] / per[0]
    return {
        "sizes_mb": [round(r["mb"], 3) for r in rows],
        "seconds": [round(r["seconds"], 3) for r in rows],
        "s_per_mb": [round(p, 3) for p in per],
        "ratio": round(ratio, 3),
        "exponent": round(k, 3),
        "linear": ratio <= LINEAR_RATIO,
    }


def run(
    sizes_mb: Sequence[float] = CHECK_SIZES_MB,
    restore_sizes_mb: Sequence[float] = RESTORE_SIZES_MB,
    *,
    html_kb: int = 300,
    junk_mb: float = 0.5,
    foreign_mb: float = 2.0,
    timeout_s: float | None = 180.0,
    verbose: bool = True,
) -> dict:
    """Run every bad-input case; return a JSON-ready dict (``markdown`` holds the table).

    Args:
        sizes_mb: Sizes of the single-line inputs for ``check``.
        restore_sizes_mb: Sizes of the single-line inputs for ``restore`` (smaller: it is
            several times slower).
        html_kb: Size of the HTML soup.
        junk_mb: Size of the binary junk inputs.
        foreign_mb: Size of the non-English-script inputs.
        timeout_s: Per-case limit; a case over it is recorded as a timeout.
        verbose: Log each case to stderr.
    """
    import unspin

    t_start = time.perf_counter()
    t0 = time.perf_counter()
    unspin.check("Hello world.")
    unspin.restore("Hello world.")
    warmup = time.perf_counter() - t0
    cases: list[dict] = []

    def add(rec: dict) -> None:
        cases.append(rec)
        if verbose:
            log(
                f"  {rec['case']} [{rec['entry']}] {rec['mb']:.3f} MB: "
                f"{rec['seconds']:.2f} s, {rec['description']}"
            )

    both = ("check", "restore")
    junk = int(junk_mb * MB)
    small: list[tuple[str, object]] = [
        ("empty string", ""),
        ("whitespace", " \t\n\r\n  \u00a0\u2003\n"),
        ("whitespace 1 MB", " \n\t" * (MB // 3)),
        ("punctuation only", "!?.,;:-- ... ((()))" * 50),
        ("numbers only", " ".join(str(i) for i in range(2000))),
        ("random bytes as Latin-1", latin1_junk(junk)),
        ("binary bytes with NULs", nul_junk(junk)),
        ("English as UTF-16-LE bytes", utf16_english(junk)),
        ("invalid UTF-8 bytes (API)", invalid_utf8(200_000)),
        ("only invalid UTF-8 bytes (API)", b"\xff\xfe\xc0\x80" * 25_000),
    ]
    for name, data in small:
        for entry in both:
            add(api_case(name, entry, data, timeout_s))

    soup = html_soup(html_kb * 1000)
    for entry in both:
        add(api_case("HTML soup (API, raw markup)", entry, soup, timeout_s))
        add(cli_case("HTML soup (CLI file)", entry, soup, timeout_s, suffix=".html"))
        add(cli_case("invalid UTF-8 (CLI file)", entry, invalid_utf8(200_000), timeout_s))
    for script in _FOREIGN:
        text = foreign_text(int(foreign_mb * MB), script)
        for entry in both:
            add(api_case(f"{script} script", entry, text, timeout_s))

    series: dict[str, list[dict]] = {}
    for entry, sizes in (("check", sizes_mb), ("restore", restore_sizes_mb)):
        for punct in (True, False):
            label = f"{entry} single line{'' if punct else ', no punctuation'}"
            for mb in sizes:
                text = single_line(int(mb * MB), punctuation=punct)
                name = f"single line{'' if punct else ', no punctuation'}"
                rec = api_case(name, entry, text, timeout_s)
                add(rec)
                series.setdefault(label, []).append(rec)

    # Dense mojibake (a diff of whole windows was quadratic here: 35 s for 110 KB).
    label = "check dense mojibake"
    for mb in [x for x in restore_sizes_mb if x <= 0.5]:
        rec = api_case("dense mojibake", "check", dense_mojibake(int(mb * MB)), timeout_s)
        add(rec)
        series.setdefault(label, []).append(rec)

    result = {
        "sizes_mb": list(sizes_mb),
        "restore_sizes_mb": list(restore_sizes_mb),
        "linear_ratio": LINEAR_RATIO,
        "warmup_seconds": round(warmup, 3),
        "cases": cases,
        "scaling": {label: scaling(rows) for label, rows in series.items()},
    }
    result["problems"] = problems(result)
    result["wall_seconds"] = round(time.perf_counter() - t_start, 1)
    result["markdown"] = report_md(result)
    return result


def problems(r: dict) -> list[str]:
    out = [f"{c['case']} [{c['entry']}]: {c['description']}" for c in r["cases"] if not c["ok"]]
    for label, s in r["scaling"].items():
        if s.get("linear") is False:
            out.append(
                f"{label}: per-MB time grows {s['ratio']:.2f}x from "
                f"{s['sizes_mb'][0]} to {s['sizes_mb'][-1]} MB (exponent "
                f"{s['exponent']:.2f})"
            )
    return out


def _fmt(x, spec: str) -> str:
    return "n/a" if x is None else format(x, spec)


def report_md(r: dict) -> str:
    """Markdown tables of one `run` result."""
    out = [
        "## Robustness on bad input",
        "",
        f"Each case feeds one input to the entry point named; `ok` is a result (valid "
        f"offsets) or a clear error, never a crash or a traceback. RSS + is the growth of "
        f"the process's peak RSS during the case (0 when an earlier case peaked higher). "
        f"`restore`'s single-line series uses smaller sizes "
        f"({', '.join(f'{s:g}' for s in r['restore_sizes_mb'])} MB) than `check`'s "
        f"({', '.join(f'{s:g}' for s in r['sizes_mb'])} MB) because it is several "
        f"times slower.",
        "",
        "| case | entry | MB | ok | outcome | s | MB/s | RSS + MB |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for c in r["cases"]:
        out.append(
            f"| {c['case']} | {c['entry']} | {c['mb']:.3f} | "
            f"{'yes' if c['ok'] else '**NO**'} | {c['description'].replace('|', '/')} "
            f"| {c['seconds']:.2f} | {_fmt(c['mb_per_s'], '.3f')} "
            f"| {c['rss_growth_mb']:.0f} |"
        )
    out += [
        "",
        f"### Time vs size, single line (linear if the s/MB ratio largest/smallest "
        f"is at most {r['linear_ratio']})",
        "",
        "| series | sizes MB | seconds | s per MB | ratio | exponent | linear |",
        "|---|---|---|---|---|---|---|",
    ]
    for label, s in r["scaling"].items():
        lin = {True: "yes", False: "**NO**", None: "n/a"}[s.get("linear")]
        out.append(
            f"| {label} | {', '.join(f'{x:g}' for x in s['sizes_mb'])} "
            f"| {', '.join(f'{x:.2f}' for x in s.get('seconds', []))} "
            f"| {', '.join(f'{x:.2f}' for x in s.get('s_per_mb', []))} "
            f"| {_fmt(s.get('ratio'), '.2f')} | {_fmt(s.get('exponent'), '.2f')} "
            f"| {lin} |"
        )
    out += ["", f"Problems: {len(r['problems'])}" + ("" if not r["problems"] else ":")]
    out += [f"- {p}" for p in r["problems"]]
    out += [
        "",
        f"Wall time {r['wall_seconds']:.0f} s (model load {r['warmup_seconds']:.1f} s, "
        f"not counted in any case).",
        "",
    ]
    return "\n".join(out)


def _sizes(value: str) -> tuple[float, ...]:
    return tuple(float(v) for v in value.split(",") if v.strip())


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        prog="python -m bench.robustness", description=__doc__.split("\n")[0]
    )
    ap.add_argument(
        "--sizes",
        type=_sizes,
        default=CHECK_SIZES_MB,
        help="single-line sizes in MB for check (default: 0.5,1,2,5)",
    )
    ap.add_argument(
        "--restore-sizes",
        type=_sizes,
        default=RESTORE_SIZES_MB,
        help="single-line sizes in MB for restore (default: 0.1,0.25,0.5,1)",
    )
    ap.add_argument("--json", metavar="PATH", help="also write the result as JSON")
    ap.add_argument("--quiet", action="store_true", help="no per-case log on stderr")
    args = ap.parse_args(argv)
    r = run(args.sizes, args.restore_sizes, verbose=not args.quiet)
    if args.json:
        Path(args.json).write_text(json.dumps(r, indent=1) + "\n")
    print(r["markdown"])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
