"""Run the whole benchmark: ``python -m bench.run [--docs 200] [--out bench/out] [--quick]``.

Builds clean test documents from the held-out corpus (see `bench.data`), spins them with
the seen-table (WordNet) and unseen-table (Aiksaurus) spinners at 10/20/35 %, runs
``unspin.check`` and ``unspin.restore`` on clean and spun versions, and reports detection
(ROC AUC, TPR at 1 % FPR), localisation, restoration and speed, next to two baselines:
a perplexity-threshold detector under the same language model, and the identity restorer.

Detection pairs each spun document with its own clean original (same documents in the
clean and spun sets), so topic and style are held fixed and only the spinning differs.
Writes ``results.json``, ``report.md``, ``roc.png`` and ``restored_vs_rate.png`` to
``--out`` and copies the plots to ``docs/bench/``.
"""

from __future__ import annotations

import os

for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_v, "1")  # one core: speed figures are per core

import argparse  # noqa: E402
import datetime  # noqa: E402
import functools  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import shutil  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

from unspin.scan import BATCH_DOCS  # noqa: E402
from unspin.tokens import norm_sentences  # noqa: E402

from . import metrics as M  # noqa: E402
from .data import REPO, load_clean_docs, make_spun  # noqa: E402
from .spinners import SPINNERS, SpunDoc  # noqa: E402
from .yardstick import (  # noqa: E402
    YARDSTICK_MB_PER_S,
    bar_multiple,
    gopher_mb_per_s,
    times_yardstick,
)

RATES = (0.10, 0.20, 0.35)
SEEN, UNSEEN = "wordnet", "aiksaurus"


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------------------
# Systems under test


def load_unspin():
    """``(check, restore, error)``; the functions are None with a message if unavailable."""
    try:
        import unspin

        return unspin.check, unspin.restore, None
    except (ImportError, AttributeError) as exc:
        return None, None, f"unspin.check / unspin.restore not available ({exc!r})"


def load_lm():
    """``(lm, error)``: the language model that the perplexity baseline uses."""
    try:
        from unspin.models import get_models

        lm = get_models().lm
        lm.score_sentence(["hello", "world", "."])
        return lm, None
    except Exception as exc:  # noqa: BLE001 - any failure just disables the baseline
        return None, f"unspin.models.get_models().lm not available ({exc!r})"


def perplexity_score(lm, text: str) -> float:
    """Minus the mean log10 probability per token: higher = less fluent = more spun-like."""
    total, n = 0.0, 0
    for sent in norm_sentences(text):
        lp = lm.score_sentence(sent)
        total += float(sum(lp))
        n += len(lp)
    return -total / n if n else 0.0


class Timer:
    """CPU seconds of this process per byte: "per core", and steady when other processes
    share the machine (wall time is not)."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self.bytes = 0

    def run(self, fn, text: str):
        t = time.process_time()
        out = fn(text)
        self.seconds += time.process_time() - t
        self.bytes += len(text.encode("utf-8"))
        return out

    def mbps(self) -> float | None:
        return self.bytes / 1e6 / self.seconds if self.seconds else None


# Documents per `check_many` call: the scan's batches.
BATCH = BATCH_DOCS


def short_texts(docs: list[dict], seed: int) -> dict:
    """Detection on what people paste: the first one to three sentences of test documents,
    left clean or spun at 20 % by each spinner. Texts too short to call English get no
    verdict and are left out."""
    import random

    from unspin import check_many

    from .calib import excerpt

    rng = random.Random(seed + 5)
    clean = [excerpt(d["text"], rng.randint(1, 3)) for d in docs]
    rc = [r for r in check_many(clean) if r.supported]
    out: dict = {"texts": len(rc), "mean_words": sum(r.words for r in rc) / max(len(rc), 1),
                 "clean_flagged_share": sum(r.spun for r in rc) / max(len(rc), 1)}
    for name in (SEEN, UNSEEN):
        try:
            spinner = SPINNERS[name]()
        except FileNotFoundError:
            continue
        spun = [spinner.spin(t, 0.2, k).spun for k, t in enumerate(clean)]
        rs = [r for r in check_many(spun) if r.supported]
        labels = [0] * len(rc) + [1] * len(rs)
        scores = [r.score for r in rc] + [r.score for r in rs]
        out[name] = {"auc": M.roc_auc(labels, scores),
                     "tpr_at_1pct_fpr": M.tpr_at_fpr(labels, scores, 0.01),
                     "flagged_share": sum(r.spun for r in rs) / max(len(rs), 1)}
    return out


def _batched_seconds(name: str, texts: list[str]) -> float:
    """CPU seconds of ``unspin.<name>`` over ``texts`` in batches of `BATCH`."""
    import unspin

    run_many = getattr(unspin, name)
    t = time.process_time()
    for k in range(0, len(texts), BATCH):
        run_many(texts[k:k + BATCH])
    return time.process_time() - t


def _mb(texts: list[str]) -> float:
    return sum(len(x.encode("utf-8")) for x in texts) / 1e6


def paired_speeds(work: dict[str, tuple[list[str], list[str]]], gopher_texts: list[str],
                  rounds: int = 5) -> dict:
    """MB per CPU second of each ``unspin.<name>`` of ``work`` (``name -> (clean texts,
    spun texts)``: `check_many`, `restore_many`) over batches of `BATCH` documents, the
    way scan and the datatrove filter call them (the same results as one by one), each
    read against the yardstick in the same minute.

    The VM's speed drifts by a third within minutes, so the texts are cut into ``rounds``
    slices and every round times the yardstick (`gopher_mb_per_s` on ``gopher_texts``)
    and then each function on its slice: the bars read the median of the rounds' ratios.
    """
    import unspin

    names = [n for n in work if getattr(unspin, n, None) is not None]
    mb = {(n, kind): 0.0 for n in names for kind in ("clean", "spun")}
    seconds = dict.fromkeys(mb, 0.0)
    readings: list[float] = []
    ratios: dict[str, list[float]] = {n: [] for n in names}
    for r in range(rounds):
        g = gopher_mb_per_s(gopher_texts)
        for n in names:
            round_mb = round_s = 0.0
            for kind, texts in zip(("clean", "spun"), work[n], strict=True):
                part = texts[r::rounds]
                if part:
                    s, size = _batched_seconds(n, part), _mb(part)
                    mb[(n, kind)] += size
                    seconds[(n, kind)] += s
                    round_mb, round_s = round_mb + size, round_s + s
            if g is not None and round_s:
                ratios[n].append(times_yardstick(round_mb / round_s, g))
        if g is not None:
            readings.append(g)
    out: dict = {"gopher_mb_per_s": _median(readings) if readings else None,
                 "gopher_mb_per_s_readings": [round(g, 4) for g in readings]}
    for n in names:
        for kind in ("clean", "spun"):
            if seconds[(n, kind)]:
                out[f"{n}_{kind}_mb_per_s"] = mb[(n, kind)] / seconds[(n, kind)]
        total_s = seconds[(n, "clean")] + seconds[(n, "spun")]
        if total_s:
            out[f"{n}_mb_per_s"] = (mb[(n, "clean")] + mb[(n, "spun")]) / total_s
        if ratios[n]:
            out[f"{n}_over_gopher_rounds"] = [round(x, 3) for x in ratios[n]]
            out[f"{n}_over_gopher"] = _median(ratios[n])
    return out


def _combined(*timers: Timer) -> float | None:
    seconds = sum(t.seconds for t in timers)
    return sum(t.bytes for t in timers) / 1e6 / seconds if seconds else None


# ---------------------------------------------------------------------------------------
# Machine and process measurements


def machine() -> dict:
    info = {"nproc": os.cpu_count(), "python": platform.python_version(),
            "platform": platform.platform()}
    try:
        info["nproc_usable"] = len(os.sched_getaffinity(0))
    except AttributeError:
        pass
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                info["cpu"] = line.split(":", 1)[1].strip()
                break
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                info["ram_gb"] = round(int(line.split()[1]) / 1024**2, 1)
    except OSError:
        pass
    from unspin.lm import native_available
    from unspin.tokens import _ctext

    info["compiled_lookups"] = native_available()
    info["compiled_text"] = _ctext is not None
    return info


# Wall time, and CPU time of the process (steady when other processes share the machine).
STARTUP_CODE = (
    "import time;t=time.perf_counter();c=time.process_time();import unspin;"
    "unspin.check('Hello world.');print(time.perf_counter()-t, time.process_time()-c)"
)
# The child reports its own peak (VmHWM): the kernel carries a parent's peak RSS over
# into a forked child's ru_maxrss, so RUSAGE_CHILDREN measured the benchmark process too.
RSS_CODE = (
    "import json,resource,sys,unspin\n"
    "for t in json.load(sys.stdin): unspin.restore(t)\n"
    "try:\n"
    "    kb=[int(l.split()[1]) for l in open('/proc/self/status') if l.startswith('VmHWM')][0]\n"
    "except (OSError, IndexError):\n"
    "    kb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
    "print(kb)\n"
)


def startup_seconds(runs: int = 3) -> tuple[float, float] | None:
    """Median wall and CPU seconds of ``import unspin`` plus a first `check`, in fresh
    processes.

    Bytecode is written and a first process warms it up, as after ``pip install`` (which
    compiles the modules): this machine sets ``PYTHONDONTWRITEBYTECODE``, which would
    otherwise charge every start with compiling unspin's source (about 0.15 s).
    """
    env = dict(os.environ, PYTHONPATH=str(REPO / "src"))
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    found = []
    for k in range(runs + 1):
        p = subprocess.run([sys.executable, "-c", STARTUP_CODE], capture_output=True,
                           text=True, env=env, timeout=600)
        if p.returncode:
            log(f"start-up measurement failed: {p.stderr.strip()[-300:]}")
            return None
        if k:  # the first run only writes the bytecode
            wall, cpu = p.stdout.strip().splitlines()[-1].split()
            found.append((float(wall), float(cpu)))
    walls = sorted(w for w, _ in found)
    cpus = sorted(c for _, c in found)
    return walls[len(walls) // 2], cpus[len(cpus) // 2]


def peak_rss_mb(texts: list[str]) -> float | None:
    env = dict(os.environ, PYTHONPATH=str(REPO / "src"))
    p = subprocess.run([sys.executable, "-c", RSS_CODE], input=json.dumps(texts),
                       capture_output=True, text=True, env=env, timeout=600)
    if p.returncode:
        log(f"peak RSS measurement failed: {p.stderr.strip()[-300:]}")
        return None
    return int(p.stdout.strip().splitlines()[-1]) / 1024  # KiB


# ---------------------------------------------------------------------------------------
# The benchmark


def _attr(obj, name, default=None):
    return obj.get(name, default) if isinstance(obj, dict) else getattr(obj, name, default)


def _sum_dicts(rows: list[dict], keys: list[str]) -> dict:
    return {k: sum(r[k] for r in rows) for k in keys}


def _median(values: list[float]) -> float | None:
    return float(statistics.median(values)) if values else None


def _span_summary(rows: list[dict]) -> dict:
    """`span_scores` rows of many documents, micro-averaged."""
    sp = _sum_dicts(rows, ["char_overlap", "char_pred", "char_true", "swaps", "swaps_found",
                           "spans", "spans_right"])
    return {
        **sp,
        "char_precision": sp["char_overlap"] / sp["char_pred"] if sp["char_pred"] else 1.0,
        "char_recall": sp["char_overlap"] / sp["char_true"] if sp["char_true"] else 1.0,
        "swap_recall": sp["swaps_found"] / sp["swaps"] if sp["swaps"] else 1.0,
        "span_precision": sp["spans_right"] / sp["spans"] if sp["spans"] else 1.0,
    }


def evaluate_condition(spun: list[SpunDoc], clean_scores: dict, check, restore, lm,
                       timers: dict) -> dict:
    """Detection, localisation and restoration figures for one spinner and rate."""
    res: dict = {"n_docs": len(spun)}
    ppl_spun = [perplexity_score(lm, d.spun) for d in spun] if lm else None
    ident = [M.chrf(d.spun, d.original) for d in spun]
    res["identity"] = {"chrf": sum(ident) / len(ident), "restored_share": 0.0}
    if ppl_spun is not None:
        labels = [0] * len(clean_scores["ppl"]) + [1] * len(ppl_spun)
        scores = clean_scores["ppl"] + ppl_spun
        res["perplexity"] = {"auc": M.roc_auc(labels, scores),
                             "tpr_at_1pct_fpr": M.tpr_at_fpr(labels, scores, 0.01),
                             "roc": M.roc_curve(labels, scores)[:2]}
    if check is None:
        return res

    scores, flags, span_rows, rest_rows, chrfs, fams = [], [], [], [], [], []
    restore_span_rows = []  # restore's report: its edits as spans (joint decoding, context)
    for d in spun:
        rep = timers["check"].run(check, d.spun)
        scores.append(float(rep.score))
        flags.append(bool(rep.spun))
        if _attr(rep, "familiarity", None) is not None:
            fams.append(float(rep.familiarity))
        span_rows.append(M.span_scores(list(rep.spans), d.swaps))
        r = timers["restore"].run(restore, d.spun)
        rest_rows.append(M.restoration_scores(d, list(r.edits)))
        restore_span_rows.append(M.span_scores(list(r.report.spans), d.swaps))
        chrfs.append(M.chrf(r.text, d.original))
    labels = [0] * len(clean_scores["unspin"]) + [1] * len(scores)
    all_scores = clean_scores["unspin"] + scores
    rs = _sum_dicts(rest_rows, ["swaps", "swaps_restored", "swapped_words", "restored_words",
                                "edits", "false_edits", "wrong_edits", "words"])
    res["unspin"] = {
        "auc": M.roc_auc(labels, all_scores),
        "tpr_at_1pct_fpr": M.tpr_at_fpr(labels, all_scores, 0.01),
        "flagged_share": sum(flags) / len(flags),
        # How much of the documents' unusual wording the shipped tables explain (median).
        "familiarity": _median(fams),
        "roc": M.roc_curve(labels, all_scores)[:2],
        "spans": _span_summary(span_rows),
        "restore_spans": _span_summary(restore_span_rows),
        "restoration": {
            **rs,
            "restored_share": rs["restored_words"] / rs["swapped_words"]
            if rs["swapped_words"] else 1.0,
            "false_edits_per_100w": 100 * rs["false_edits"] / rs["words"],
            "wrong_edits_per_100w": 100 * rs["wrong_edits"] / rs["words"],
        },
        "chrf": sum(chrfs) / len(chrfs),
        "scores": scores,
    }
    return res


def run(args: argparse.Namespace) -> dict:
    t0 = time.perf_counter()
    check, restore, api_err = load_unspin()
    if restore is not None and getattr(args, "min_confidence", None) is not None:
        restore = functools.partial(restore, min_confidence=args.min_confidence)
    if restore is not None and getattr(args, "two_step", False):
        restore = functools.partial(restore, two_step=True)
    if api_err:
        log(f"WARNING: {api_err}; only the baselines are measured.")
    lm, lm_err = load_lm()
    if lm_err:
        log(f"WARNING: {lm_err}; the perplexity baseline is skipped.")
    # check on clean documents (most of a crawl) and on spun ones (spans cost more there).
    timers = {"check": Timer(), "check_clean": Timer(), "restore": Timer(),
              "restore_clean": Timer()}

    log(f"loading {args.clean_docs} clean test documents ...")
    clean_all = load_clean_docs(max(args.clean_docs, args.docs), "test", args.seed)
    docs = clean_all[: args.docs]
    n_words = sum(d["n_words"] for d in docs)
    log(f"{len(docs)} test documents, {n_words} words; {len(clean_all)} clean documents")

    results: dict = {
        "date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
        "command": " ".join([Path(sys.executable).name, "-m", "bench.run", *sys.argv[1:]]),
        "machine": machine(),
        "settings": {"docs": len(docs), "words": n_words, "clean_docs": len(clean_all),
                     "rates": list(args.rates), "seed": args.seed,
                     "pairing": "spun documents are paired with their own clean originals"},
        "errors": {k: v for k, v in (("unspin", api_err), ("lm", lm_err)) if v},
        "conditions": {},
    }

    # Clean documents: scores for detection, false edits, flagged share.
    clean_scores: dict = {"unspin": [], "ppl": []}
    if lm:
        clean_scores["ppl"] = [perplexity_score(lm, d["text"]) for d in docs]
    if check:
        flagged, fams = [], []
        for k, d in enumerate(clean_all):
            rep = timers["check_clean"].run(check, d["text"])
            flagged.append(bool(rep.spun))
            if _attr(rep, "familiarity", None) is not None:
                fams.append(float(rep.familiarity))
            if k < len(docs):
                clean_scores["unspin"].append(float(rep.score))
            if k == 0:
                results["threshold"] = float(_attr(rep, "threshold", 0.5))
        fe = [M.false_edits_clean(d["text"],
                                  list(timers["restore_clean"].run(restore, d["text"]).edits))
              for d in docs]
        fe_sum = _sum_dicts(fe, ["false_edits", "words"])
        results["clean"] = {
            "flagged_share": sum(flagged) / len(flagged),
            "flagged_docs": len(flagged),
            "false_edits": fe_sum["false_edits"],
            "false_edits_per_100w": 100 * fe_sum["false_edits"] / fe_sum["words"],
            "familiarity": _median(fams),
            "scores": clean_scores["unspin"],
        }

    spun_texts: list[str] = []
    for name in (SEEN, UNSEEN):
        try:
            spinner = SPINNERS[name]()
        except FileNotFoundError as exc:
            log(f"WARNING: spinner {name} skipped: {exc}")
            results["errors"][name] = str(exc)
            continue
        for rate in args.rates:
            log(f"{name} {rate:.0%} ...")
            spun = make_spun(spinner, docs, rate, args.seed)
            spun_texts += [d.spun for d in spun]
            res = evaluate_condition(spun, clean_scores, check, restore, lm, timers)
            res["swapped_word_share"] = (
                sum(M.n_words(s.orig_text) for d in spun for s in d.swaps) / n_words)
            res["spinner"], res["rate"] = name, rate
            results["conditions"][f"{name}@{rate:.2f}"] = res

    if check:
        # `restore_many` over what `restore` ran on one by one: the test documents and
        # every spun condition; the yardstick (`bench.yardstick`) on clean test documents.
        paired = paired_speeds(
            {"check_many": ([d["text"] for d in clean_all], spun_texts),
             "restore_many": ([d["text"] for d in docs], spun_texts)},
            [d["text"] for d in clean_all[:300]])
        results["speed"] = {
            **paired,
            "check_mb_per_s": _combined(timers["check"], timers["check_clean"]),
            "check_clean_mb_per_s": timers["check_clean"].mbps(),
            "check_spun_mb_per_s": timers["check"].mbps(),
            "restore_mb_per_s": _combined(timers["restore"], timers["restore_clean"]),
            "restore_spun_mb_per_s": timers["restore"].mbps(),
            "restore_clean_mb_per_s": timers["restore_clean"].mbps(),
            **dict(zip(("startup_s", "startup_cpu_s"), startup_seconds() or (None, None),
                       strict=True)),
            "peak_rss_mb": peak_rss_mb([d["text"] for d in docs[:5]]),
        }
    if check:
        log("short excerpts ...")
        results["short"] = short_texts(clean_all[:400], args.seed)
    if getattr(args, "robustness", False):
        from . import robustness

        log("robustness on bad input ...")
        results["robustness"] = robustness.run()
    results["wall_seconds"] = time.perf_counter() - t0
    return results


# ---------------------------------------------------------------------------------------
# Output


def _f(x, fmt="{:.3f}") -> str:
    return "n/a" if x is None else fmt.format(x)


def _pct(x) -> str:
    return _f(x if x is None else 100 * x, "{:.1f} %")


def report_md(r: dict) -> str:
    m = r["machine"]
    s = r["settings"]
    out = [
        "# unspin benchmark",
        "",
        f"- date: {r['date']}",
        f"- machine: {m.get('cpu', '?')}, {m.get('nproc')} CPUs, {m.get('ram_gb', '?')} GB RAM,"
        f" Python {m.get('python')}; compiled LM lookups"
        f" {'on' if m.get('compiled_lookups') else 'off (numpy)'}, compiled text passes"
        f" {'on' if m.get('compiled_text') else 'off (regular expressions)'}",
        f"- command: `{r['command']}`",
        f"- {s['docs']} held-out test documents ({s['words']} words), half Wikipedia, half"
        f" Wikinews; {s['pairing']}; {s['clean_docs']} clean documents for the flagged share",
        "- seen table: WordNet spinner; unseen table: Aiksaurus spinner",
        "",
    ]
    for k, v in r.get("errors", {}).items():
        out.append(f"> **{k} unavailable**: {v}")
    if r.get("errors"):
        out.append("")
    conds = r["conditions"]
    out += ["## Detection", "",
            "| spinner | rate | swapped | AUC | TPR@1%FPR | flagged | familiarity | ppl AUC "
            "| ppl TPR@1%FPR |",
            "|---|---|---|---|---|---|---|---|---|"]
    for c in conds.values():
        u, p = c.get("unspin", {}), c.get("perplexity", {})
        out.append(
            f"| {c['spinner']} | {c['rate']:.0%} | {_pct(c['swapped_word_share'])} "
            f"| {_f(u.get('auc'))} | {_pct(u.get('tpr_at_1pct_fpr'))} "
            f"| {_pct(u.get('flagged_share'))} | {_f(u.get('familiarity'), '{:.2f}')} "
            f"| {_f(p.get('auc'))} | {_pct(p.get('tpr_at_1pct_fpr'))} |")
    out += ["", "familiarity: median of `Report.familiarity` (how much of the unusual wording "
            "the shipped tables explain; clean documents: "
            f"{_f(r.get('clean', {}).get('familiarity'), '{:.2f}')})."]
    out += ["", "## Localisation (spans vs true swaps)", "",
            "`check`'s spans (local decisions), and the spans of `restore`'s report (its "
            "edits: joint decoding and the wider context; several times slower).", "",
            "| spinner | rate | char precision | char recall | swaps found | spans on a swap "
            "| restore: swaps found | restore: spans on a swap |",
            "|---|---|---|---|---|---|---|---|"]
    for c in conds.values():
        sp = c.get("unspin", {}).get("spans", {})
        rp = c.get("unspin", {}).get("restore_spans", {})
        out.append(f"| {c['spinner']} | {c['rate']:.0%} | {_pct(sp.get('char_precision'))} "
                   f"| {_pct(sp.get('char_recall'))} | {_pct(sp.get('swap_recall'))} "
                   f"| {_pct(sp.get('span_precision'))} | {_pct(rp.get('swap_recall'))} "
                   f"| {_pct(rp.get('span_precision'))} |")
    out += ["", "## Restoration", "",
            "| spinner | rate | words restored | false edits /100w | wrong edits /100w "
            "| chrF restored | chrF identity |",
            "|---|---|---|---|---|---|---|"]
    for c in conds.values():
        rs = c.get("unspin", {}).get("restoration", {})
        out.append(f"| {c['spinner']} | {c['rate']:.0%} | {_pct(rs.get('restored_share'))} "
                   f"| {_f(rs.get('false_edits_per_100w'), '{:.2f}')} "
                   f"| {_f(rs.get('wrong_edits_per_100w'), '{:.2f}')} "
                   f"| {_f(c.get('unspin', {}).get('chrf'), '{:.1f}')} "
                   f"| {c['identity']['chrf']:.1f} |")
    cl = r.get("clean", {})
    out += ["", "## Clean text", "",
            f"- false edits on clean test documents: "
            f"{_f(cl.get('false_edits_per_100w'), '{:.2f}')} per 100 words",
            f"- clean documents flagged at the default threshold ({_f(r.get('threshold'))}): "
            f"{_pct(cl.get('flagged_share'))} of {cl.get('flagged_docs', 'n/a')}",
            ""]
    sp = r.get("speed", {})
    out += ["## Speed (one core)", "",
            "CPU seconds of the benchmark process (`time.process_time`).", "",
            "| check MB/s (all) | check, clean docs | check, spun docs | restore MB/s "
            "| start-up s (wall / CPU) | peak RSS MB |", "|---|---|---|---|---|---|",
            f"| {_f(sp.get('check_mb_per_s'), '{:.3f}')} "
            f"| {_f(sp.get('check_clean_mb_per_s'), '{:.3f}')} "
            f"| {_f(sp.get('check_spun_mb_per_s'), '{:.3f}')} "
            f"| {_f(sp.get('restore_mb_per_s'), '{:.3f}')} "
            f"| {_f(sp.get('startup_s'), '{:.2f}')} / {_f(sp.get('startup_cpu_s'), '{:.2f}')} "
            f"| {_f(sp.get('peak_rss_mb'), '{:.0f}')} |",
            "",
            f"`check_many` in batches of {BATCH} (what scan and the datatrove filter use; "
            "the server's batches hold up to 32; the same reports): "
            f"{_f(sp.get('check_many_mb_per_s'), '{:.3f}')} MB/s over all documents, "
            f"{_f(sp.get('check_many_clean_mb_per_s'), '{:.3f}')} on clean ones, "
            f"{_f(sp.get('check_many_spun_mb_per_s'), '{:.3f}')} on spun ones.",
            "",
            "`restore` (the column above: all documents restored) on spun documents alone: "
            f"{_f(sp.get('restore_spun_mb_per_s'), '{:.3f}')} MB/s; on clean ones: "
            f"{_f(sp.get('restore_clean_mb_per_s'), '{:.3f}')} (a document scoring below the "
            "span gate is not decoded).",
            "",
            f"`restore_many` in batches of {BATCH} (what `unspin scan --mode restore` and "
            "`unspin restore` of a JSONL file use; the same restorations, each document "
            "still decoded on its own) over the same documents: "
            f"{_f(sp.get('restore_many_mb_per_s'), '{:.3f}')} MB/s over all, "
            f"{_f(sp.get('restore_many_clean_mb_per_s'), '{:.3f}')} on clean ones, "
            f"{_f(sp.get('restore_many_spun_mb_per_s'), '{:.3f}')} on spun ones.",
            ""]
    gopher = sp.get("gopher_mb_per_s")
    if gopher:
        def times(key: str) -> str:
            v = sp.get(key)
            return "n/a" if v is None else f"{times_yardstick(v, gopher):.2f}x"

        def paired(name: str) -> str:
            v, rounds = sp.get(f"{name}_over_gopher"), sp.get(f"{name}_over_gopher_rounds")
            if v is None:  # a run from before the paired rounds
                return times(f"{name}_mb_per_s")
            return f"{v:.2f}x (rounds {', '.join(f'{x:.2f}' for x in rounds)})"

        out += [f"Yardstick: datatrove's GopherQualityFilter ran at {gopher:.3f} MB/s on 300 "
                "clean test documents (median of "
                f"{len(sp.get('gopher_mb_per_s_readings') or [gopher])} readings, one before "
                "each round of the batched timings; `bench.yardstick`; the speed bars were "
                f"written where it ran at {YARDSTICK_MB_PER_S} MB/s). Each round's speed "
                "over that round's reading, median of the rounds: `check_many` "
                f"{paired('check_many')} (a bar of 2 MB/s asks {bar_multiple(2.0):g}x), "
                f"`restore_many` {paired('restore_many')} (200 KB/s asks "
                f"{bar_multiple(0.2):g}x); `restore` one by one, timed earlier in the run, "
                f"{times('restore_mb_per_s')} the median reading.", ""]
    sh = r.get("short")
    if sh:
        out += ["## Short texts (first 1-3 sentences of test documents)", "",
                f"{sh['texts']} excerpts, {sh['mean_words']:.0f} words on average; clean ones "
                f"flagged at the default threshold: {_pct(sh['clean_flagged_share'])}", "",
                "| spinner at 20 % | AUC | TPR@1%FPR | flagged |", "|---|---|---|---|"]
        for name in (SEEN, UNSEEN):
            if name in sh:
                c = sh[name]
                out.append(f"| {name} | {_f(c['auc'])} | {_pct(c['tpr_at_1pct_fpr'])} "
                           f"| {_pct(c['flagged_share'])} |")
        out.append("")
    if "robustness" in r:
        out += [r["robustness"]["markdown"]]
    out += [f"Benchmark wall time: {r['wall_seconds']:.0f} s.", ""]
    return "\n".join(out)


def plots(r: dict, out_dir: Path) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    paths = []
    c = r["conditions"].get(f"{UNSEEN}@0.20")
    fig, ax = plt.subplots(figsize=(4.5, 4.5))
    if c:
        for key, label in (("unspin", "unspin"), ("perplexity", "perplexity baseline")):
            if key in c:
                fpr, tpr = c[key]["roc"]
                ax.plot(fpr, tpr, label=f"{label} (AUC {c[key]['auc']:.3f})")
    ax.plot([0, 1], [0, 1], ls=":", c="grey")
    ax.set(xlabel="false-positive rate", ylabel="true-positive rate",
           title="ROC, unseen spinner (Aiksaurus) at 20 %")
    if ax.get_legend_handles_labels()[0]:
        ax.legend(loc="lower right")
    fig.tight_layout()
    paths.append(out_dir / "roc.png")
    fig.savefig(paths[-1], dpi=110)
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(5, 3.8))
    for name, label in ((SEEN, "seen table (WordNet)"), (UNSEEN, "unseen table (Aiksaurus)")):
        pts = [(c["rate"], c["unspin"]["restoration"]["restored_share"])
               for c in r["conditions"].values() if c["spinner"] == name and "unspin" in c]
        if pts:
            ax.plot([100 * x for x, _ in pts], [100 * y for _, y in pts], marker="o", label=label)
    ax.set(xlabel="substitution rate (%)", ylabel="swapped words restored (%)", ylim=(0, 100),
           title="Restoration vs spin rate")
    if ax.get_legend_handles_labels()[0]:
        ax.legend()
    fig.tight_layout()
    paths.append(out_dir / "restored_vs_rate.png")
    fig.savefig(paths[-1], dpi=110)
    plt.close(fig)
    return paths


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__.split("\n")[0])
    ap.add_argument("--docs", type=int, default=200, help="test documents to spin")
    ap.add_argument("--clean-docs", type=int, default=1000,
                    help="clean documents for the flagged share")
    ap.add_argument("--out", default="bench/out")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--quick", action="store_true", help="20 documents, 100 clean documents")
    ap.add_argument("--no-docs-copy", action="store_true", help="don't copy plots to docs/bench")
    ap.add_argument("--min-confidence", type=float, default=None,
                    help="restore's edit threshold (default: the shipped one), to measure "
                         "other points of the precision/recall trade-off")
    ap.add_argument("--two-step", action="store_true",
                    help="restore with two_step=True (originals two steps into the table)")
    ap.add_argument("--robustness", action="store_true",
                    help="also run the bad-input benchmark (bench.robustness, a few minutes)")
    args = ap.parse_args(argv)
    if args.quick:
        args.docs, args.clean_docs = min(args.docs, 20), min(args.clean_docs, 100)
    args.rates = RATES
    out_dir = Path(args.out)
    out_dir.mkdir(parents=True, exist_ok=True)

    results = run(args)
    (out_dir / "results.json").write_text(json.dumps(results, indent=1) + "\n")
    md = report_md(results)
    (out_dir / "report.md").write_text(md)
    paths = plots(results, out_dir)
    if not args.no_docs_copy:
        docs_dir = REPO / "docs" / "bench"
        docs_dir.mkdir(parents=True, exist_ok=True)
        for p in paths:
            shutil.copy(p, docs_dir / p.name)
    print(md)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
