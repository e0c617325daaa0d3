"""``unspin scan``: formats, records in = records out, order, resume, engines."""

from __future__ import annotations

import gzip
import io
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from unspin.cli import main
from unspin.formats import ReadOptions, expand_inputs, read_items
from unspin.scan import ScanError, scan

SRC = str(Path(__file__).resolve().parents[1] / "src")

SENTENCES = [
    "The city council approved a new budget on Tuesday after a long debate.",
    "The metropolis council accredited a brand new finances on Tuesday.",
    "The mayor said the plan would hire three hundred teachers next year.",
    "The mayor stated the plan would rent 3 hundred academics subsequent yr.",
    "Officials said the Supreme Court would hear the case in the spring.",
    "Officers stated the Supreme Courtroom would hear the case within the spring.",
]


def _docs(n: int) -> list[dict]:
    return [{"id": f"d{i}", "text": SENTENCES[i % len(SENTENCES)] + " " +
             SENTENCES[(i * 7 + 1) % len(SENTENCES)]} for i in range(n)]


def _write_jsonl(path: Path, docs: list[dict], extra: bytes = b"") -> Path:
    data = b"".join(json.dumps(d).encode() + b"\n" for d in docs) + extra
    if path.name.endswith(".gz"):
        path.write_bytes(gzip.compress(data))
    elif path.name.endswith(".zst"):
        zstandard = pytest.importorskip("zstandard")
        path.write_bytes(zstandard.ZstdCompressor().compress(data))
    else:
        path.write_bytes(data)
    return path


BAD_LINES = (
    b'{"id": "corrupt", "text": "unterminated\n'
    b'{"id": "utf8", "text": "caf\xff au lait"}\n'
    b'{"id": "empty", "text": ""}\n'
    b'{"id": "blank-text", "text": "   "}\n'
    b"\n"
    b'["not", "an", "object"]\n'
    b'{"id": "no-text"}\n'
    b'{"id": "num", "text": 42}\n'
    b'{"id": "fr", "text": "Le conseil municipal a adopt\xc3\xa9 un nouveau budget mardi."}\n'
)
BAD_ERRORS = ["invalid JSON", "invalid UTF-8", "empty text", "empty text", "blank line",
              "not a JSON object", "missing 'text' field", "is a number",
              "not English prose"]


def _read_out(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


# --------------------------------------------------------------------------- formats


def test_jsonl_plain_gz_zst_read_the_same(tmp_path):
    docs = _docs(5)
    opts = ReadOptions()
    seen = []
    for name in ("a.jsonl", "a.jsonl.gz", "a.jsonl.zst"):
        path = _write_jsonl(tmp_path / name, docs)
        items = list(read_items(str(path), opts))
        seen.append([(it.meta["id"], it.text) for it in items])
        assert [it.meta["index"] for it in items] == list(range(5))
    assert seen[0] == seen[1] == seen[2] == [(d["id"], d["text"]) for d in docs]


def test_bad_records_become_error_items_in_place(tmp_path):
    path = _write_jsonl(tmp_path / "bad.jsonl", _docs(2), BAD_LINES)
    items = list(read_items(str(path), ReadOptions(max_chars=10_000)))
    assert len(items) == 2 + BAD_LINES.count(b"\n")
    assert [it.error for it in items[:2]] == [None, None]
    errors = [it.error for it in items[2:]]
    # "fr" is only rejected by the analyser (language), not by the reader.
    for err, want in zip(errors[:-1], BAD_ERRORS[:-1], strict=True):
        assert want in err
    assert errors[-1] is None
    assert items[3].meta["id"] == "utf8"  # the id survives invalid bytes elsewhere


def test_max_chars_and_resume_offset(tmp_path):
    path = _write_jsonl(tmp_path / "a.jsonl", [{"text": "x" * 50}, {"text": "short text"}])
    items = list(read_items(str(path), ReadOptions(max_chars=20)))
    assert "too long" in items[0].error and items[1].error is None
    rest = list(read_items(str(path), ReadOptions(), start=1))
    assert [it.meta["index"] for it in rest] == [1]


def test_truncated_gzip_gives_one_error_record_for_the_rest(tmp_path):
    data = gzip.compress(b"".join(json.dumps(d).encode() + b"\n" for d in _docs(200)))
    path = tmp_path / "cut.jsonl.gz"
    path.write_bytes(data[: len(data) // 2])
    items = list(read_items(str(path), ReadOptions()))
    assert items[-1].error.startswith("cannot read the rest of the file")
    assert all(it.error is None for it in items[:-1])
    assert [it.meta["index"] for it in items] == list(range(len(items)))


def test_parquet_columns(tmp_path):
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    table = pa.table({"url": ["u0", "u1", "u2"],
                      "content": [SENTENCES[0], None, ""]})
    path = tmp_path / "a.parquet"
    pq.write_table(table, path)
    items = list(read_items(str(path), ReadOptions(text_field="content", id_field="url")))
    assert [it.meta["id"] for it in items] == ["u0", "u1", "u2"]
    assert items[0].text == SENTENCES[0]
    assert items[1].error == "text is null" and items[2].error == "empty text"
    with pytest.raises(StopIteration):
        it = read_items(str(path), ReadOptions(text_field="nope"))
        assert next(it).error.startswith("cannot read the rest")
        next(it)


def test_dotted_field_names_reach_into_nested_objects(tmp_path):
    """OSCAR keeps its ids in ``warc_headers``, Dolma its extras in ``metadata``: a dotted
    name reaches into nested objects, unless the record has a field of that exact name."""
    from unspin.formats import MISSING_FIELD, field_value

    rec = {"a": {"b": {"c": 1}}, "x.y": 2, "x": {"y": 3}, "s": "str"}
    assert field_value(rec, "a.b.c") == 1
    assert field_value(rec, "x.y") == 2  # the exact name first
    assert field_value(rec, "a") == {"b": {"c": 1}}
    for missing in ("a.b.d", "s.t", "a.b.c.d", "nope", "a..b"):
        assert field_value(rec, missing) is MISSING_FIELD
    docs = [{"warc_headers": {"warc-record-id": "<urn:1>"}, "content": {"text": SENTENCES[0]}},
            {"warc_headers": {}, "content": {"text": 42}},
            {"warc_headers": "flat", "content": "flat"}]
    path = _write_jsonl(tmp_path / "n.jsonl", docs)
    opts = ReadOptions(text_field="content.text", id_field="warc_headers.warc-record-id")
    items = list(read_items(str(path), opts))
    assert items[0].meta["id"] == "<urn:1>" and items[0].text == SENTENCES[0]
    assert "id" not in items[1].meta and "is a number" in items[1].error
    assert items[2].error == "missing 'content.text' field"
    out = tmp_path / "o.jsonl"
    assert main(["scan", str(path), "-o", str(out), "--workers", "1", "-q",
                 "--text-field", "content.text", "--id-field",
                 "warc_headers.warc-record-id"]) == 0
    recs = [json.loads(line) for line in out.read_text().splitlines()]
    assert recs[0]["id"] == "<urn:1>" and "score" in recs[0]
    assert [("error" in r) for r in recs] == [False, True, True]


def test_parquet_struct_fields(tmp_path):
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    table = pa.table({"meta": [{"url": "u0", "lang": "en"}, None, {"url": "u2", "lang": "en"}],
                      "body": [{"text": SENTENCES[0]}, {"text": SENTENCES[1]}, None]})
    path = tmp_path / "s.parquet"
    pq.write_table(table, path)
    items = list(read_items(str(path), ReadOptions(text_field="body.text",
                                                   id_field="meta.url")))
    assert [it.meta.get("id") for it in items] == ["u0", None, "u2"]
    assert [it.text for it in items[:2]] == SENTENCES[:2]
    assert items[2].error == "text is null"  # the struct itself is null there
    for bad in ("body.nope", "meta.url.more", "nope.text"):
        (only,) = read_items(str(path), ReadOptions(text_field=bad))  # one for the file
        assert only.error.startswith("cannot read the rest of the file") \
            and f"no {bad!r} column" in only.error


def _write_warc(path: Path) -> None:
    warcio = pytest.importorskip("warcio")
    from warcio.statusandheaders import StatusAndHeaders
    from warcio.warcwriter import WARCWriter

    with open(path, "wb") as fh:
        writer = WARCWriter(fh, gzip=True)
        pages = [
            ("http://a.example/", "text/html; charset=utf-8",
             f"<html><body><nav>Home | About</nav><article><p>{SENTENCES[1]}</p>"
             f"<p>{SENTENCES[3]}</p></article></body></html>".encode()),
            ("http://b.example/logo.png", "image/png", b"\x89PNG\r\n\x1a\n...."),
            ("http://c.example/", "text/plain", SENTENCES[0].encode()),
        ]
        for url, ctype, body in pages:
            meta = writer.create_warc_record(url, "metadata", payload=io.BytesIO(b"x: 1\n"),
                                             warc_content_type="application/warc-fields")
            writer.write_record(meta)  # not a document: skipped
            headers = StatusAndHeaders("200 OK", [("Content-Type", ctype)], protocol="HTTP/1.1")
            rec = writer.create_warc_record(url, "response", payload=io.BytesIO(body),
                                            http_headers=headers)
            writer.write_record(rec)
    assert warcio


def test_warc_html_records_become_main_text(tmp_path):
    path = tmp_path / "crawl.warc.gz"
    _write_warc(path)
    items = list(read_items(str(path), ReadOptions()))
    assert [it.meta["url"] for it in items] == ["http://a.example/", "http://b.example/logo.png",
                                                "http://c.example/"]
    assert items[0].text.split() == (SENTENCES[1] + " " + SENTENCES[3]).split()
    assert "Home" not in items[0].text
    assert items[1].error.startswith("not a text document")
    assert items[2].text == SENTENCES[0]
    assert items[0].meta["id"].startswith("<urn:uuid:")


def test_directories_and_globs_expand_in_stable_order(tmp_path):
    (tmp_path / "d" / "sub").mkdir(parents=True)
    for name in ("d/b.jsonl", "d/a.txt", "d/sub/c.jsonl.gz", "d/skip.bin", "d/.hidden.jsonl"):
        (tmp_path / name).write_bytes(b"")
    files = [os.path.relpath(f, tmp_path) for f in expand_inputs([str(tmp_path / "d")])]
    assert files == ["d/a.txt", "d/b.jsonl", "d/sub/c.jsonl.gz"]
    files = expand_inputs([str(tmp_path / "d" / "*.jsonl"), str(tmp_path / "d" / "b.jsonl")])
    assert [os.path.basename(f) for f in files] == ["b.jsonl"]


# --------------------------------------------------------------------------- scanning


def test_records_in_equal_records_out_in_order(tmp_path):
    path = _write_jsonl(tmp_path / "in.jsonl", _docs(6), BAD_LINES)
    out = tmp_path / "out.jsonl"
    summary = scan([str(path)], str(out), workers=1)
    recs = _read_out(out)
    n_in = 6 + BAD_LINES.count(b"\n")
    assert len(recs) == n_in == summary.records
    assert [r["index"] for r in recs] == list(range(n_in))
    assert [r.get("id") for r in recs[:6]] == [f"d{i}" for i in range(6)]
    for rec in recs[:6]:
        assert set(rec) >= {"id", "source", "index", "score", "spun", "spans", "version"}
        assert "error" not in rec
    for rec, want in zip(recs[6:], BAD_ERRORS, strict=True):
        assert want in rec["error"]
    assert summary.errors == len(BAD_ERRORS) and summary.analysed == 6
    assert summary.error_reasons["empty text"] == 2
    assert not (tmp_path / "out.jsonl.parts").exists()


def test_check_record_matches_check_command(tmp_path, capsys):
    """Field names and values follow the ``unspin check`` JSONL contract."""
    path = _write_jsonl(tmp_path / "in.jsonl", _docs(2))
    out = tmp_path / "out.jsonl"
    scan([str(path)], str(out), workers=1)
    assert main(["check", str(path)]) == 0
    expected = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    got = _read_out(out)
    for g, e in zip(got, expected, strict=True):
        assert {k: v for k, v in g.items() if k not in ("source", "index")} == e


def test_no_spans_keeps_scores_and_verdicts(tmp_path, capsys):
    docs = _docs(6)
    path = _write_jsonl(tmp_path / "in.jsonl", docs)
    full, bare = tmp_path / "full.jsonl", tmp_path / "bare.jsonl"
    scan([str(path)], str(full), workers=1)
    assert main(["scan", str(path), "-o", str(bare), "--no-spans", "-q"]) == 0
    with_spans, without = _read_out(full), _read_out(bare)
    assert any(r["spans"] for r in with_spans)
    for a, b in zip(with_spans, without, strict=True):
        assert (b["id"], b["score"], b["spun"]) == (a["id"], a["score"], a["spun"])
        assert b["spans"] == []


def test_restore_mode_has_text_edits_and_spans(tmp_path):
    path = _write_jsonl(tmp_path / "in.jsonl", [{"id": 1, "text": SENTENCES[5]}])
    out = tmp_path / "out.jsonl"
    scan([str(path)], str(out), mode="restore", workers=1)
    (rec,) = _read_out(out)
    assert {"text", "edits", "spans", "score", "spun"} <= set(rec)
    assert rec["text"] != SENTENCES[5]  # "Courtroom" -> "Court" at least
    assert "Court " in rec["text"]


def test_restore_mode_two_step(tmp_path):
    import unspin

    text = ("The Wright Flyer was the anterior aircraft to fly under its own power, and it "
            "changed travel forever.")
    path = _write_jsonl(tmp_path / "in.jsonl", [{"id": 1, "text": text}])
    out = tmp_path / "out.jsonl"
    assert main(["scan", str(path), "-o", str(out), "--mode", "restore", "--two-step",
                 "--workers", "1", "-q"]) == 0
    (rec,) = _read_out(out)
    assert rec["text"] == unspin.restore(text, two_step=True).text
    assert "the first aircraft" in rec["text"]
    with pytest.raises(ScanError, match="restore"):
        scan([str(path)], str(tmp_path / "c.jsonl"), mode="check", two_step=True)


# The two ways of running local workers: forked workers fed through pipes (where the system
# can fork) and the process pool (elsewhere); both are run here.
ENGINES = ["pipes", "pool"]


def _use_engine(monkeypatch, engine: str) -> None:
    from unspin import scan as scan_module

    if engine == "pool":
        monkeypatch.setattr(scan_module, "_can_fork", lambda: False)


@pytest.mark.parametrize("engine", ENGINES)
def test_workers_two_equal_workers_one(tmp_path, monkeypatch, engine):
    _use_engine(monkeypatch, engine)
    a = _write_jsonl(tmp_path / "a.jsonl", _docs(40), BAD_LINES)
    b = _write_jsonl(tmp_path / "b.jsonl.gz", _docs(13))
    one, two = tmp_path / "one.jsonl", tmp_path / "two.jsonl"
    scan([str(a), str(b)], str(one), workers=1)
    scan([str(a), str(b)], str(two), workers=2, batch_size=3)
    assert one.read_bytes() == two.read_bytes()


def test_all_formats_in_one_scan_and_parquet_output(tmp_path):
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    d = tmp_path / "corpus"
    d.mkdir()
    _write_jsonl(d / "a.jsonl.zst", _docs(3))
    pq.write_table(pa.table({"id": [7, 8], "text": [SENTENCES[2], SENTENCES[3]]}),
                   d / "b.parquet")
    _write_warc(d / "c.warc.gz")
    (d / "d.txt").write_text(SENTENCES[4], encoding="utf-8")
    out = tmp_path / "out.jsonl"
    summary = scan([str(d)], str(out), workers=1)
    recs = _read_out(out)
    assert summary.records == len(recs) == 3 + 2 + 3 + 1
    assert [os.path.basename(r["source"]) for r in recs] == \
        ["a.jsonl.zst"] * 3 + ["b.parquet"] * 2 + ["c.warc.gz"] * 3 + ["d.txt"]
    outp = tmp_path / "out.parquet"
    scan([str(d)], str(outp), workers=1)
    table = pq.read_table(outp).to_pylist()
    assert len(table) == len(recs)
    assert [r["score"] for r in table] == [r.get("score") for r in recs]
    assert table[3]["id"] == "7"  # Parquet ids are strings
    assert [s["suggestion"] for s in table[0]["spans"]] == \
        [s["suggestion"] for s in recs[0]["spans"]]
    # Every field of a JSONL record has its Parquet column (none silently dropped).
    analysed = next(r for r in recs if "score" in r)
    assert set(analysed) <= set(table[0]), set(analysed) - set(table[0])
    assert [r["familiarity"] for r in table] == [r.get("familiarity") for r in recs]


def test_doc_timeout_gives_an_error_record_and_the_scan_goes_on(tmp_path):
    long_text = " ".join(SENTENCES * 200)
    path = _write_jsonl(tmp_path / "in.jsonl",
                        [{"id": "slow", "text": long_text}, {"id": "ok", "text": SENTENCES[0]}])
    out = tmp_path / "out.jsonl"
    scan([str(path)], str(out), workers=1, doc_timeout=0.01)
    slow, ok = _read_out(out)
    assert slow["error"].startswith("timeout") and slow["id"] == "slow"
    assert "score" in ok


def test_resume_refuses_other_options(tmp_path):
    path = _write_jsonl(tmp_path / "in.jsonl", _docs(2))
    out = tmp_path / "out.jsonl"
    parts = tmp_path / "out.jsonl.parts"
    parts.mkdir()
    (parts / "state.json").write_text(json.dumps({"version": 1, "fingerprint": "other"}))
    with pytest.raises(ScanError, match="cannot resume"):
        scan([str(path)], str(out), resume=True)
    scan([str(path)], str(out))  # without --resume: starts over
    assert len(_read_out(out)) == 2


def test_cli_usage_errors(tmp_path, capsys):
    assert main(["scan", str(tmp_path / "missing.jsonl"), "-o", str(tmp_path / "o.jsonl")]) == 2
    assert "No such file" in capsys.readouterr().err
    path = _write_jsonl(tmp_path / "in.jsonl", _docs(1))
    assert main(["scan", str(path), "-o", str(tmp_path / "o.csv")]) == 2
    assert "output format" in capsys.readouterr().err


def test_standard_streams_get_a_clear_error_that_names_the_streaming_command(tmp_path, capsys,
                                                                             monkeypatch):
    monkeypatch.chdir(tmp_path)  # (no file named "-" there)
    path = _write_jsonl(tmp_path / "in.jsonl", _docs(1))
    assert main(["scan", "-", "-o", str(tmp_path / "o.jsonl")]) == 2
    err = capsys.readouterr().err
    assert "not standard input" in err and "unspin check -" in err
    assert main(["scan", str(path), "-o", "-"]) == 2
    err = capsys.readouterr().err
    assert "not standard output" in err and "unspin check" in err
    assert not (tmp_path / "o.jsonl").exists()


def test_cli_summary_on_stderr(tmp_path, capsys):
    path = _write_jsonl(tmp_path / "in.jsonl", _docs(3), b"\n")
    out = tmp_path / "o.jsonl"
    assert main(["scan", str(path), "-o", str(out), "--workers", "1"]) == 0
    err = capsys.readouterr().err
    assert "4 records" in err and "1 errors (blank line 1)" in err
    assert "\r" not in err  # no progress line when stderr is not a terminal


def test_cli_summary_names_the_five_commonest_error_reasons_and_counts_the_rest(
        tmp_path, capsys):
    path = _write_jsonl(tmp_path / "in.jsonl", [], BAD_LINES)  # 8 kinds of error, 9 records
    assert main(["scan", str(path), "-o", str(tmp_path / "o.jsonl"), "--workers", "1"]) == 0
    err = capsys.readouterr().err
    assert "9 errors (empty text 2, " in err  # the commonest first
    assert ", 3 more (3 other reasons))" in err  # 9 = 2 + 1 + 1 + 1 + 1 shown, 3 kinds left


def _scan_cmd(inputs: list[str], out: str, *extra: str) -> list[str]:
    return [sys.executable, "-m", "unspin", "scan", *inputs, "-o", out, "-q", *extra]


def test_kill_9_then_resume_gives_identical_output(tmp_path):
    path = _write_jsonl(tmp_path / "a.jsonl", _docs(700), BAD_LINES)
    # The second file keeps the scan busy after the first file's commit: on a fast machine
    # that commit can be the first one (they come at most once a second otherwise).
    other = _write_jsonl(tmp_path / "b.jsonl", _docs(400))
    inputs = [str(path), str(other)]
    env = {**os.environ, "PYTHONPATH": SRC}
    ref = tmp_path / "ref.jsonl"
    subprocess.run(_scan_cmd(inputs, str(ref), "--workers", "1"), env=env, check=True)

    out = tmp_path / "out.jsonl"
    state = tmp_path / "out.jsonl.parts" / "state.json"
    proc = subprocess.Popen(_scan_cmd(inputs, str(out), "--workers", "2", "--batch-size", "4"),
                            env=env)
    deadline = time.monotonic() + 60
    committed = 0
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            committed = sum(json.loads(state.read_text())["records"])
        except (OSError, ValueError, KeyError):
            committed = 0
        if committed > 0:
            break
        time.sleep(0.05)
    assert proc.poll() is None, "the scan finished before it could be interrupted"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert committed > 0 and not out.exists()
    shard = tmp_path / "out.jsonl.parts" / "000000.jsonl"
    with open(shard, "ab") as fh:  # a torn write after the last commit
        fh.write(b'{"id":"half-writ')
    subprocess.run(_scan_cmd(inputs, str(out), "--workers", "2", "--resume"), env=env,
                   check=True)
    assert out.read_bytes() == ref.read_bytes()
    assert len(_read_out(out)) == 700 + BAD_LINES.count(b"\n") + 400


@pytest.mark.parametrize("engine", ENGINES)
def test_a_worker_that_dies_costs_only_its_batch(tmp_path, monkeypatch, engine):
    """A worker process killed mid-batch: the pool restarts, the batch is retried, and a
    batch that kills its worker again gives error records; everything else is analysed."""
    from unspin import scan as scan_module

    _use_engine(monkeypatch, engine)

    real = scan_module.analyse_one

    def fragile(meta, text, error, cfg, *args):
        if text == "CRASH the worker now.":
            os._exit(1)
        if text == "RAISE in the worker.":
            raise RuntimeError("a bug")
        return real(meta, text, error, cfg, *args)

    # Workers are forked, so they inherit the patched function.
    monkeypatch.setattr(scan_module, "analyse_one", fragile)
    docs = _docs(6)
    docs[3]["text"] = "CRASH the worker now."
    docs[5]["text"] = "RAISE in the worker."
    path = _write_jsonl(tmp_path / "in.jsonl", docs)
    out = tmp_path / "out.jsonl"
    scan([str(path)], str(out), workers=2, batch_size=1)
    recs = _read_out(out)
    assert [r["id"] for r in recs] == [d["id"] for d in docs]
    assert recs[3]["error"] == "internal error: worker process died"
    assert out.read_text().splitlines()[3].startswith('{"id":')  # as every record
    assert recs[5]["error"] == "internal error: RuntimeError: a bug"
    assert all("score" in r for k, r in enumerate(recs) if k not in (3, 5))


@pytest.mark.parametrize("engine", ENGINES)
def test_a_stuck_worker_is_replaced_and_its_batch_becomes_error_records(tmp_path, monkeypatch,
                                                                       engine):
    """A worker stuck where the per-document alarm cannot reach it (SIGALRM blocked, as in
    a long C call) is killed after its batch's time; the batch is tried once more."""
    from unspin import scan as scan_module

    _use_engine(monkeypatch, engine)
    real = scan_module.analyse_one

    def stuck(meta, text, error, cfg, *args):
        if text == "STALL the worker.":
            signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGALRM})
            time.sleep(60)
        return real(meta, text, error, cfg, *args)

    monkeypatch.setattr(scan_module, "analyse_one", stuck)
    monkeypatch.setattr(scan_module, "STUCK_GRACE_S", 0.5)
    docs = _docs(5)
    docs[1]["text"] = "STALL the worker."
    path = _write_jsonl(tmp_path / "in.jsonl", docs)
    out = tmp_path / "out.jsonl"
    started = time.monotonic()
    scan([str(path)], str(out), workers=2, batch_size=1, doc_timeout=0.2)
    assert time.monotonic() - started < 30
    recs = _read_out(out)
    assert [r["id"] for r in recs] == [d["id"] for d in docs]
    assert recs[1]["error"] == "internal error: worker stopped responding"
    assert all("score" in r for k, r in enumerate(recs) if k != 1)


def _echo_batch(items):
    """A stand-in for a worker's analysis: each record echoes its text twice."""
    from unspin.scan import _dumps

    return [(_dumps({**meta, "echo": text * 2}), False) for meta, text, _ in items]


def test_forked_workers_carry_batches_and_results_larger_than_a_pipe(monkeypatch):
    """Frames of several megabytes cross the pipes in pieces (the parent never blocks on
    one worker's pipe while another waits), in order."""
    from unspin import scan as scan_module

    monkeypatch.setattr(scan_module, "_worker_batch", _echo_batch)
    cfg = scan_module.ScanConfig(mode="check")
    texts = [SENTENCES[k % len(SENTENCES)] * (1 + 9000 * (k % 3)) for k in range(12)]
    batches = [[({"index": k}, texts[k], None)] for k in range(12)]
    stream = [*batches[:5], scan_module._Marker(0), *batches[5:], scan_module._Marker(1)]
    workers = scan_module._ForkedWorkers(cfg, 2, in_flight=6)
    try:
        got = list(workers.run(iter(stream)))
    finally:
        workers.close()
    assert [g.file for g in got if isinstance(g, scan_module._Marker)] == [0, 1]
    assert isinstance(got[5], scan_module._Marker)
    recs = [json.loads(line) for g in got if not isinstance(g, scan_module._Marker)
            for line, _ in g]
    assert [r["index"] for r in recs] == list(range(12))
    assert all(r["echo"] == texts[r["index"]] * 2 for r in recs)
    assert max(len(t) for t in texts) * 2 > 1 << 20


def test_workers_that_keep_dying_without_work_stop_the_scan_clearly(monkeypatch):
    """The second worker and its replacements die as they start, before any batch reaches
    them: the scan ends with a `ScanError` instead of replacing them for ever."""
    from unspin import scan as scan_module

    starts = []
    real_start = scan_module._ForkedWorkers._start
    real_init = scan_module._init_worker

    def counting_start(self):
        starts.append(1)
        return real_start(self)

    def init(cfg):
        if len(starts) > 1:  # the fork's copy of the parent's count
            os._exit(3)
        real_init(cfg)

    def slow_batch(items):
        time.sleep(5)
        return _echo_batch(items)

    monkeypatch.setattr(scan_module._ForkedWorkers, "_start", counting_start)
    monkeypatch.setattr(scan_module, "_init_worker", init)
    monkeypatch.setattr(scan_module, "_worker_batch", slow_batch)
    workers = scan_module._ForkedWorkers(scan_module.ScanConfig(mode="check"), 2, 4)
    started = time.monotonic()
    try:
        with pytest.raises(ScanError, match="keep dying before they get any work"):
            list(workers.run(iter([[({"index": 0}, "A text.", None)]])))
    finally:
        workers.close()
    assert time.monotonic() - started < 5
    assert len(starts) == 2 + scan_module.MAX_IDLE_DEATHS  # then the next death stops it


@pytest.mark.parametrize("engine", ENGINES)
def test_a_scan_stopped_early_leaves_no_worker_behind(monkeypatch, engine):
    import multiprocessing

    from unspin import scan as scan_module

    _use_engine(monkeypatch, engine)
    eng = scan_module.LocalEngine(scan_module.ScanConfig(mode="check"), 2)
    batches = [[({"index": k}, SENTENCES[k % len(SENTENCES)], None)] for k in range(30)]
    before = set(multiprocessing.active_children())
    gen = eng.run(iter(batches))
    first = next(gen)
    assert json.loads(first[0][0])["index"] == 0
    children = [p for p in multiprocessing.active_children() if p not in before]
    assert len(children) == 2
    gen.close()
    assert not any(p.is_alive() for p in children)


def test_huge_text_file_is_rejected_without_reading_it_all(tmp_path):
    path = tmp_path / "big.txt"
    path.write_text(SENTENCES[0] * 100, encoding="utf-8")
    (item,) = read_items(str(path), ReadOptions(max_chars=50))
    assert item.error.startswith("text too long") and item.nbytes <= 4 * 50 + 4
    (item,) = read_items(str(path), ReadOptions(max_chars=100_000))
    assert item.error is None and item.text == SENTENCES[0] * 100


def test_restore_parquet_and_gzip_outputs(tmp_path):
    pq = pytest.importorskip("pyarrow.parquet")
    path = _write_jsonl(tmp_path / "in.jsonl", _docs(4), b"\n")
    out = tmp_path / "out.parquet"
    scan([str(path)], str(out), mode="restore", workers=1)
    rows = pq.read_table(out).to_pylist()
    assert len(rows) == 5 and rows[4]["error"] == "blank line"
    assert all(isinstance(r["text"], str) and r["edits"] is not None for r in rows[:4])
    gz1, gz2 = tmp_path / "a.jsonl.gz", tmp_path / "b.jsonl.gz"
    scan([str(path)], str(gz1), workers=1)
    time.sleep(1.1)  # a different mtime must not change the bytes
    scan([str(path)], str(gz2), workers=1)
    assert gz1.read_bytes() == gz2.read_bytes()
    assert len(gzip.decompress(gz1.read_bytes()).splitlines()) == 5


@pytest.mark.parametrize(("mode", "batch_call"), [("check", "check_many"),
                                                  ("restore", "restore_many")])
def test_batches_are_analysed_together_and_fall_back_one_by_one(tmp_path, monkeypatch, mode,
                                                                 batch_call):
    import unspin

    docs = _docs(5)
    path = _write_jsonl(tmp_path / "in.jsonl", docs, BAD_LINES)
    calls = []
    real = getattr(unspin, batch_call)

    def counting(texts, **kw):
        calls.append(len(texts))
        return real(texts, **kw)

    monkeypatch.setattr(unspin, batch_call, counting)
    together = tmp_path / "together.jsonl"
    scan([str(path)], str(together), mode=mode, workers=1, batch_size=20)
    # One call for the batch's readable texts: the five documents and the French one (the
    # reader makes error records of the other bad lines, the analysis of the French text).
    assert calls == [6]

    def broken(texts, **kw):
        raise RuntimeError("batch failed")

    monkeypatch.setattr(unspin, batch_call, broken)
    alone = tmp_path / "alone.jsonl"
    scan([str(path)], str(alone), mode=mode, workers=1, batch_size=20)
    # The same records either way: the fallback analyses each document by itself.
    monkeypatch.setattr(unspin, batch_call, real)
    assert _read_out(alone) == _read_out(together)
    assert [r.get("id") for r in _read_out(alone)][:5] == [d["id"] for d in docs]
    assert any(r.get("edits") if mode == "restore" else r.get("spans")
               for r in _read_out(together))


def test_resume_with_nothing_to_resume_says_so_and_scans(tmp_path, capsys):
    path = _write_jsonl(tmp_path / "in.jsonl", _docs(3))
    out = tmp_path / "out.jsonl"
    scan([str(path)], str(out), workers=1)
    first = out.read_bytes()
    capsys.readouterr()
    scan([str(path)], str(out), workers=1, resume=True)  # the first run finished
    assert "no interrupted scan to resume" in capsys.readouterr().err
    assert out.read_bytes() == first


def test_one_worker_scan_gives_the_callers_gc_thresholds_back(tmp_path):
    import gc

    from unspin.scan import GC_THRESHOLD

    src = tmp_path / "in.jsonl"
    src.write_text('{"id": 1, "text": "The council approved the budget on Tuesday."}\n')
    before = gc.get_threshold()
    assert before != GC_THRESHOLD
    seen = []
    import unspin.scan as scan_mod

    real = scan_mod.analyse_batch

    def spy(batch, cfg):
        seen.append(gc.get_threshold())
        return real(batch, cfg)

    scan_mod.analyse_batch = spy
    try:
        scan_mod.scan([str(src)], str(tmp_path / "out.jsonl"), workers=1)
    finally:
        scan_mod.analyse_batch = real
    assert seen and all(t == GC_THRESHOLD for t in seen)  # batches ran with fewer passes
    assert gc.get_threshold() == before


def test_the_cli_and_the_function_share_the_default_batch_size(capsys):
    """`--batch-size`'s default is written into the parser (the CLI does not import the scan
    module to build it): it must stay the scan's own default, and the help must say it."""
    import inspect

    from unspin import cli
    from unspin.scan import BATCH_DOCS

    args = cli.build_parser().parse_args(["scan", "in.jsonl", "-o", "out.jsonl"])
    assert args.batch_size == BATCH_DOCS
    assert inspect.signature(scan).parameters["batch_size"].default == BATCH_DOCS
    assert cli.BATCH_RECORDS == BATCH_DOCS  # `unspin check` of a JSONL file batches alike
    assert main(["scan", "--help"]) == 0  # (main returns the exit code)
    assert f"(default: {BATCH_DOCS})" in " ".join(capsys.readouterr().out.split())
