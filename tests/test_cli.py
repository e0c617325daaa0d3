"""Tests for the ``unspin`` command line (in-process through ``main`` and one subprocess)."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import unspin
from unspin import cli
from unspin.cli import main
from unspin.report import Edit, Report, Restoration

PLAIN = "The committee met on Tuesday and approved the new budget for the library."
# A typical spinner rewrite of plain sentences (restorable by the shipped model).
SPUN = ("The Supreme Courtroom stated on Monday that the committee additionally declared a "
        "new policy that would cost greater than expected.")

# The originals of SPUN and PLAIN, for a tiny language model built by the real `build_lm`.
CORPUS_SENTENCES = [
    "We use this method to help the purchase of books.",
    "We use the method to help the children.",
    "The committee met on Tuesday and approved the new budget for the library.",
    "The cat sat on the mat.",
    "The library opened a new reading room.",
]


def write_corpus(path: Path, copies: int = 30) -> Path:
    with path.open("w") as fh:
        for i in range(copies):
            for sentence in CORPUS_SENTENCES:
                fh.write(json.dumps({"id": i, "text": sentence}) + "\n")
    return path


@pytest.fixture(scope="session")
def tiny_lm(tmp_path_factory) -> Path:
    """A language model file built with the real `unspin.lm.build_lm` from a tiny corpus."""
    from unspin.lm import build_lm

    tmp = tmp_path_factory.mktemp("lm")
    out = tmp / "tiny.lm"
    build_lm([str(write_corpus(tmp / "corpus.jsonl"))], str(out), progress=False)
    return out


@pytest.fixture(autouse=True)
def _reset_lm():
    """Every test runs the real check/restore on the shipped model; `--lm` changes are undone."""
    from unspin import models

    models.set_default_lm(None)
    models.set_default_terms(None)
    yield
    models.set_default_lm(None)
    models.set_default_terms(None)


@pytest.fixture
def stdin(monkeypatch):
    """Feed bytes (or str) to standard input, through a binary buffer like a real stdin."""

    def feed(data: bytes | str) -> None:
        if isinstance(data, str):
            data = data.encode("utf-8")
        monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(data), encoding="utf-8"))

    return feed


def run(args, capsys):
    code = main(args)
    out, err = capsys.readouterr()
    return code, out, err


def jsonl(out: str) -> list[dict]:
    return [json.loads(line) for line in out.splitlines()]


# ---------------------------------------------------------------------------- usage


def test_help_has_groups_and_examples(capsys):
    code, out, _ = run(["check", "--help"], capsys)
    assert code == 0
    for heading in ("input:", "output:", "model:", "examples:"):
        assert heading in out
    assert "--fail-on-spun" in out and "--input-format" in out
    code, out, _ = run(["restore", "--help"], capsys)
    assert code == 0 and "--min-confidence" in out and "diff" in out
    code, out, _ = run(["lm", "build", "--help"], capsys)
    assert code == 0 and "--vocab-size" in out and "examples:" in out


def test_top_level_help_and_version(capsys):
    code, out, _ = run(["--help"], capsys)
    assert code == 0 and "check" in out and "restore" in out and "lm" in out
    code, out, _ = run(["--version"], capsys)
    assert code == 0 and unspin.__version__ in out


@pytest.mark.parametrize("args", [[], ["lm"]])
def test_missing_command_is_usage_error(args, capsys):
    code, _, err = run(args, capsys)
    assert code == 2
    assert "usage:" in err


@pytest.mark.parametrize(
    "args",
    [
        ["check", "--format", "xml"],
        ["check", "--threshold", "1.5"],
        ["check", "--threshold", "abc"],
        ["restore", "--min-confidence", "-0.1"],
        ["restore", "--bogus"],
        ["frobnicate"],
        ["lm", "build", "corpus.txt"],  # -o is required
        ["lm", "build", "corpus.txt", "-o", "x.lm", "--order", "0"],
    ],
)
def test_bad_usage_one_line(args, capsys):
    code, out, err = run(args, capsys)
    assert code == 2
    assert out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("unspin: error: ")


@pytest.mark.parametrize("command", ["check", "restore"])
def test_missing_file(command, tmp_path, capsys):
    missing = tmp_path / "nope.txt"
    code, out, err = run([command, str(missing)], capsys)
    assert code == 2
    assert out == ""
    assert err.strip().splitlines() == [
        f"unspin: error: cannot read {missing}: No such file or directory"
    ]


def test_directory_input(tmp_path, capsys):
    code, _, err = run(["check", str(tmp_path)], capsys)
    assert code == 2
    assert err.strip().splitlines() == [f"unspin: error: cannot read {tmp_path}: is a directory"]


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="needs a non-root POSIX user")
def test_unreadable_file(tmp_path, capsys):
    path = tmp_path / "secret.txt"
    path.write_text(PLAIN)
    path.chmod(0)
    try:
        code, _, err = run(["check", str(path)], capsys)
    finally:
        path.chmod(0o600)
    assert code == 2
    assert err.strip().splitlines() == [f"unspin: error: cannot read {path}: Permission denied"]


# ---------------------------------------------------------------------------- check


def test_check_text_from_stdin(stdin, capsys):
    stdin(PLAIN)
    code, out, err = run(["check"], capsys)
    assert code == 0
    assert out.startswith("verdict: ")
    assert "score" in out and "threshold" in out
    assert err == ""


def test_check_text_says_when_a_text_is_too_short_for_its_score(stdin, capsys):
    stdin("Hello world.")
    code, out, _ = run(["check"], capsys)
    assert code == 0 and "verdict: not spun" in out
    assert "note: a short text (2 words)" in out
    stdin(SPUN)
    _, out, _ = run(["check"], capsys)
    assert "short text" not in out


def test_check_text_says_when_the_tables_hardly_know_the_spinner(stdin, capsys, monkeypatch):
    import unspin.api as api
    import unspin.detect as detect

    stdin(SPUN)
    _, out, _ = run(["check"], capsys)
    assert "verdict: SPUN" in out and "familiarity" not in out
    # The same text, its familiarity read below the line: the summary says so.
    low = api.UNFAMILIAR_BELOW - 0.05
    monkeypatch.setattr(api, "document_familiarity", lambda features: low)
    stdin(SPUN)
    _, out, _ = run(["check"], capsys)
    assert f"note: the shipped tables explain little of this text's unusual wording " \
        f"(familiarity {low:.2f})" in out
    assert detect.document_familiarity({"spun_mass": 0.1, "surprise_share": 0.2}) == 0.5


def test_check_json_contract(tmp_path, capsys):
    path = tmp_path / "doc.txt"
    path.write_text(SPUN)
    code, out, _ = run(["check", str(path), "--format", "json", "--threshold", "0.5"], capsys)
    assert code == 0
    doc = json.loads(out)
    expected = unspin.check(SPUN, threshold=0.5)
    assert doc["score"] == pytest.approx(expected.score)
    assert doc["spun"] == expected.spun
    assert isinstance(doc["spans"], list) and doc["spans"]
    for span in doc["spans"]:
        assert set(span) == {"start", "end", "text", "suggestion", "confidence"}
        assert SPUN[span["start"] : span["end"]] == span["text"]
    assert "id" not in doc
    assert {"version", "language", "supported"} <= set(doc)
    assert out.count("\n") > 1  # pretty printed


def test_check_text_lists_spans(stdin, capsys):
    stdin(SPUN)
    code, out, _ = run(["check", "--threshold", "0"], capsys)
    assert code == 0
    assert "verdict: SPUN" in out
    report = unspin.check(SPUN, threshold=0.0)
    for span in report.spans:
        assert f"{span.text} -> {span.suggestion} ({span.confidence:.2f})" in out


def test_check_jsonl_format_single_document(stdin, capsys):
    stdin(PLAIN)
    code, out, _ = run(["check", "--format", "jsonl"], capsys)
    assert code == 0
    assert len(out.splitlines()) == 1
    assert set(json.loads(out)) >= {"score", "spun", "spans"}


def test_fail_on_spun_exit_codes(stdin, capsys):
    stdin(SPUN)
    assert run(["check", "--fail-on-spun", "--threshold", "0"], capsys)[0] == 1
    stdin(SPUN)
    assert run(["check", "--threshold", "0"], capsys)[0] == 0  # no flag: always 0
    for threshold in (0.5, 0.999):
        stdin(PLAIN)
        expected = 1 if unspin.check(PLAIN, threshold=threshold).spun else 0
        args = ["check", "--fail-on-spun", "--threshold", str(threshold)]
        assert run(args, capsys)[0] == expected
    stdin(b"")  # no verdict on empty input: never spun
    assert run(["check", "--fail-on-spun", "--threshold", "0"], capsys)[0] == 0


def test_table_is_passed_through(stdin, capsys, monkeypatch):
    seen = {}
    real = unspin.check

    def spy(text, **kwargs):
        seen.update(kwargs)
        return real(text, **{k: v for k, v in kwargs.items() if k != "table"})

    monkeypatch.setattr(unspin, "check", spy)
    stdin(PLAIN)
    code, _, _ = run(["check", "--table", "my-table.tsv", "--threshold", "0.3"], capsys)
    assert code == 0
    assert seen == {"table": "my-table.tsv", "threshold": 0.3}


def test_unsupported_language_prints_normally(stdin, capsys):
    german = (
        "Der Ausschuss trat am Dienstag zusammen und genehmigte den neuen Haushalt für die "
        "Bibliothek. Die Sitzung dauerte drei Stunden und wurde von vielen Bürgern besucht."
    )
    stdin(german)
    code, out, _ = run(["check", "--format", "json", "--fail-on-spun"], capsys)
    assert code == 0
    doc = json.loads(out)
    assert doc["supported"] is False and doc["spun"] is False
    stdin(german)
    code, out, _ = run(["check"], capsys)
    assert code == 0 and "not analysed" in out


def test_empty_input(stdin, capsys):
    stdin(b"")
    code, out, _ = run(["check", "--format", "json"], capsys)
    assert code == 0
    doc = json.loads(out)
    assert doc["spun"] is False and doc["spans"] == []
    stdin(b"")
    code, out, _ = run(["restore"], capsys)
    assert code == 0 and out.strip() == ""
    stdin(b"")
    code, out, _ = run(["check", "--input-format", "jsonl"], capsys)
    assert code == 0 and out == ""


def test_invalid_utf8_file(tmp_path, capsys):
    path = tmp_path / "bad.txt"
    path.write_bytes(PLAIN.encode() + b" \xff\xfe\xc3 " + PLAIN.encode())
    code, out, err = run(["check", str(path), "--format", "json"], capsys)
    assert code == 0
    json.loads(out)
    warnings = [line for line in err.splitlines() if "not valid UTF-8" in line]
    assert len(warnings) == 1 and warnings[0].startswith("unspin: warning: ")


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-le"])
def test_utf16_file_is_read_as_text(tmp_path, capsys, encoding):
    path = tmp_path / "utf16.txt"
    path.write_bytes(PLAIN.encode(encoding))
    code, out, err = run(["check", str(path), "--format", "json"], capsys)
    assert code == 0 and "not valid UTF-8" not in err
    assert json.loads(out)["score"] == unspin.check(PLAIN).score
    code, out, _ = run(["restore", str(path), "--format", "text"], capsys)
    assert code == 0 and "\x00" not in out and PLAIN.split()[0] in out


def test_invalid_utf8_jsonl_warns_once(tmp_path, capsys):
    path = tmp_path / "bad.jsonl"
    line = b'{"id": 1, "text": "caf\xe9 \xff ' + PLAIN.encode() + b'"}\n'
    path.write_bytes(line * 3)
    code, out, err = run(["check", str(path)], capsys)
    assert code == 0
    records = jsonl(out)
    assert [r["id"] for r in records] == [1, 1, 1]
    assert all("error" not in r for r in records)
    assert err.count("not valid UTF-8") == 1


def test_bom_is_ignored(stdin, capsys):
    stdin(b"\xef\xbb\xbf" + PLAIN.encode())
    code, out, _ = run(["restore", "--format", "json"], capsys)
    assert code == 0
    assert not json.loads(out)["text"].startswith("\ufeff")


# ---------------------------------------------------------------------------- JSONL


def jsonl_input() -> tuple[str, list]:
    lines = [
        json.dumps({"id": "a", "text": PLAIN}),
        "this is {not json",
        json.dumps({"id": 7, "body": "no text field"}),
        "",
        json.dumps({"id": None, "text": 42}),
        json.dumps(["not", "an", "object"]),
        json.dumps({"text": SPUN, "meta": {"x": 1}}),
        json.dumps({"id": "z", "text": ""}),
        json.dumps({"id": "last", "text": SPUN}),
    ]
    expected_ids = ["a", None, 7, None, None, None, None, "z", "last"]
    return "\n".join(lines) + "\n", expected_ids


def check_jsonl_records(records: list[dict], expected_ids: list) -> None:
    assert len(records) == len(expected_ids)
    for rec, rid in zip(records, expected_ids, strict=True):
        if rid is None:
            assert "id" not in rec or rec["id"] is None
        else:
            assert rec["id"] == rid
    errors = [i for i, rec in enumerate(records) if "error" in rec]
    assert errors == [1, 2, 3, 4, 5]
    assert records[1]["error"].startswith("invalid JSON")
    assert "text" in records[2]["error"] and records[2]["id"] == 7
    assert records[3]["error"] == "blank line"
    assert "not a string" in records[4]["error"] and records[4]["id"] is None
    assert "not a JSON object" in records[5]["error"]
    assert set(records[1]) == {"error"}


def test_check_jsonl_order_ids_and_errors(stdin, capsys):
    data, ids = jsonl_input()
    stdin(data)
    code, out, err = run(["check"], capsys)  # auto-detected from the first line
    assert code == 0
    records = jsonl(out)
    check_jsonl_records(records, ids)
    for i in (0, 6, 7, 8):
        assert {"score", "spun", "spans"} <= set(records[i])
    assert records[8]["spans"]
    assert "id" not in records[6]


def test_restore_jsonl_order_ids_and_errors(tmp_path, capsys):
    data, ids = jsonl_input()
    path = tmp_path / "docs.ndjson"
    path.write_text(data)
    code, out, _ = run(["restore", str(path), "--format", "json"], capsys)
    assert code == 0
    records = jsonl(out)
    check_jsonl_records(records, ids)
    for i in (0, 6, 7, 8):
        assert {"text", "edits", "score"} <= set(records[i])
    assert records[8]["text"] == unspin.restore(SPUN).text
    for edit in records[8]["edits"]:
        assert set(edit) == {"start", "end", "text", "replacement", "confidence", "kind"}


def test_jsonl_fail_on_spun_any_record(tmp_path, capsys):
    path = tmp_path / "docs.jsonl"
    path.write_text(
        json.dumps({"id": 1, "text": PLAIN}) + "\n" + json.dumps({"id": 2, "text": SPUN}) + "\n"
    )
    code, out, _ = run(["check", str(path), "--fail-on-spun", "--threshold", "0"], capsys)
    assert code == 1
    assert [r["id"] for r in jsonl(out)] == [1, 2]
    path.write_text(json.dumps({"id": 1, "text": ""}) + "\nnot json\n")
    code, _, _ = run(["check", str(path), "--fail-on-spun", "--threshold", "0"], capsys)
    assert code == 0


def test_gzip_jsonl_and_truncated_gzip(tmp_path, capsys):
    import gzip

    lines = "".join(json.dumps({"id": i, "text": SPUN}) + "\n" for i in range(3))
    path = tmp_path / "docs.jsonl.gz"
    path.write_bytes(gzip.compress(lines.encode()))
    code, out, _ = run(["check", str(path)], capsys)
    assert code == 0
    assert [r["id"] for r in jsonl(out)] == [0, 1, 2]
    truncated = tmp_path / "cut.jsonl.gz"
    truncated.write_bytes(path.read_bytes()[:-12])
    code, _, err = run(["check", str(truncated)], capsys)
    assert code == 2
    assert err.strip().splitlines()[-1].startswith(f"unspin: error: cannot read {truncated}")


def test_jsonl_custom_fields(stdin, capsys):
    stdin(json.dumps({"url": "u1", "content": PLAIN}) + "\n")
    code, out, _ = run(["check", "--text-field", "content", "--id-field", "url"], capsys)
    assert code == 0
    (rec,) = jsonl(out)
    assert rec["id"] == "u1"
    assert "error" not in rec


def test_jsonl_nested_fields(stdin, capsys):
    stdin(json.dumps({"meta": {"url": "u1"}, "body": {"text": PLAIN}}) + "\n"
          + json.dumps({"meta": {"url": "u2"}, "body": {}}) + "\n")
    code, out, _ = run(["check", "--text-field", "body.text", "--id-field", "meta.url"],
                       capsys)
    assert code == 0
    first, second = jsonl(out)
    assert first["id"] == "u1" and "error" not in first
    assert second["id"] == "u2" and second["error"] == "missing 'body.text' field"


def test_jsonl_library_exception_becomes_error_record(stdin, capsys, monkeypatch):
    real = unspin.check

    def flaky(text, **kwargs):
        if "BOOM" in text:
            raise RuntimeError("kaboom")
        return real(text, **kwargs)

    monkeypatch.setattr(unspin, "check", flaky)
    stdin(
        json.dumps({"id": 1, "text": PLAIN})
        + "\n"
        + json.dumps({"id": 2, "text": "BOOM"})
        + "\n"
        + json.dumps({"id": 3, "text": PLAIN})
        + "\n"
    )
    code, out, _ = run(["check"], capsys)
    assert code == 0
    records = jsonl(out)
    assert [r["id"] for r in records] == [1, 2, 3]
    assert records[1] == {"id": 2, "error": "RuntimeError: kaboom"}


def test_jsonl_text_format_has_headers(stdin, capsys):
    stdin(json.dumps({"id": "x", "text": PLAIN}) + "\nnot json\n")
    code, out, _ = run(["check", "--format", "text"], capsys)
    assert code == 0
    assert '==> line 1 (id "x") <==' in out
    assert "==> line 2 (no id) <==\nerror: invalid JSON" in out


def test_forced_text_format_ignores_json_look(stdin, capsys):
    stdin(json.dumps({"text": PLAIN}) + "\n")
    code, out, _ = run(["check", "--input-format", "text", "--format", "jsonl"], capsys)
    assert code == 0
    assert len(jsonl(out)) == 1


# ---------------------------------------------------------------------------- restore


def test_restore_text_prints_only_restored_text(stdin, capsys):
    stdin(SPUN)
    code, out, err = run(["restore"], capsys)
    assert code == 0
    assert out == unspin.restore(SPUN).text.rstrip("\n") + "\n"
    assert err == ""


def test_restore_json_contract(stdin, capsys):
    stdin(SPUN)
    code, out, _ = run(["restore", "--format", "json", "--min-confidence", "0"], capsys)
    assert code == 0
    doc = json.loads(out)
    expected = unspin.restore(SPUN, min_confidence=0.0)
    assert doc["text"] == expected.text
    assert doc["score"] == pytest.approx(expected.score)
    assert doc["edits"]
    for edit in doc["edits"]:
        assert set(edit) == {"start", "end", "text", "replacement", "confidence", "kind"}
        assert SPUN[edit["start"] : edit["end"]] == edit["text"]


def test_restore_diff_markers_without_color(stdin, capsys):
    stdin(SPUN)
    code, out, _ = run(["restore", "--format", "diff"], capsys)  # captured stdout: no TTY
    assert code == 0
    assert "\x1b[" not in out
    result = unspin.restore(SPUN)
    assert result.edits
    for edit in result.edits:
        assert f"[-{edit.text}-]{{+{edit.replacement}+}}" in out


@pytest.mark.parametrize(
    ("env", "flag", "colored"),
    [({}, [], True), ({"NO_COLOR": "1"}, [], False), ({}, ["--no-color"], False)],
)
def test_restore_diff_color_rules(env, flag, colored, stdin, capsys, monkeypatch):
    monkeypatch.delenv("NO_COLOR", raising=False)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setattr(cli, "_use_color", _tty_use_color)
    stdin(SPUN)
    code, out, _ = run(["restore", "--format", "diff", *flag], capsys)
    assert code == 0
    assert ("\x1b[" in out) is colored
    assert ("[-" in out) is not colored


_real_use_color = cli._use_color


def _tty_use_color(args):
    """`_use_color` as if stdout were a terminal."""

    class TTY(io.StringIO):
        def isatty(self):
            return True

    saved = sys.stdout
    sys.stdout = TTY()
    try:
        return _real_use_color(args)
    finally:
        sys.stdout = saved


def test_word_diff_falls_back_to_difflib():
    report = Report(score=0.9, spun=True)
    result = Restoration("the big cat sat", [Edit(99, 100, "x", "y", 0.5, "spin")], report)
    assert (
        cli.word_diff("the large cat sat", result, color=False)
        == "the [-large-]{+big+} cat sat"
    )
    good = Restoration("the big cat sat", [Edit(4, 9, "large", "big", 0.9, "spin")], report)
    assert cli.word_diff("the large cat sat", good, color=True) == (
        "the \x1b[31;9mlarge\x1b[0m\x1b[32mbig\x1b[0m cat sat"
    )


# ---------------------------------------------------------------------------- HTML


HTML_PAGE = (
    "<!DOCTYPE html><html><head><title>T</title>"
    "<script>var SECRET_SCRIPT = 'do not analyse me';</script></head>"
    "<body><nav>Home | About</nav><article><p>{body}</p></article>"
    "<footer>Copyright</footer></body></html>"
)


def test_html_input_is_extracted(tmp_path, capsys):
    path = tmp_path / "page.html"
    path.write_text(HTML_PAGE.format(body=SPUN))
    code, out, _ = run(["restore", str(path)], capsys)
    assert code == 0
    assert "SECRET_SCRIPT" not in out and "<p>" not in out and "Home" not in out
    assert out == unspin.restore(SPUN).text.rstrip("\n") + "\n"
    code, out, _ = run(["check", str(path), "--format", "json"], capsys)
    doc = json.loads(out)
    assert doc == json.loads(json.dumps(unspin.check(SPUN).to_dict()))


def test_html_forced_and_disabled(stdin, capsys):
    stdin("<b>" + PLAIN + "</b>")  # too little markup for the sniff
    code, out, _ = run(["restore", "--input-format", "html"], capsys)
    assert code == 0 and "<b>" not in out
    stdin(HTML_PAGE.format(body=PLAIN))
    code, out, _ = run(["check", "--input-format", "text", "--format", "json"], capsys)
    assert code == 0


# ---------------------------------------------------------------------------- language models


@pytest.fixture
def corpus(tmp_path):
    return write_corpus(tmp_path / "corpus.jsonl", copies=20)


def test_lm_build_then_check_with_it(corpus, tmp_path, capsys, stdin):
    out_path = tmp_path / "tiny.lm"
    code, out, err = run(["lm", "build", str(corpus), "-o", str(out_path), "-q"], capsys)
    assert code == 0, err
    assert out_path.is_file() and out_path.stat().st_size > 0
    stats = json.loads(out)
    assert isinstance(stats, dict) and stats
    stdin("The cat sat on the rug.")
    code, out, err = run(["check", "--lm", str(out_path), "--format", "json"], capsys)
    assert code == 0, err
    assert 0.0 <= json.loads(out)["score"] <= 1.0


def test_lm_build_errors(corpus, tmp_path, capsys):
    code, _, err = run(["lm", "build", str(tmp_path / "missing.jsonl"), "-o", "x.lm"], capsys)
    assert code == 2 and err.startswith("unspin: error: cannot read")
    code, _, err = run(
        ["lm", "build", str(corpus), "-o", str(tmp_path / "no" / "dir" / "x.lm")], capsys
    )
    assert code == 2 and len(err.strip().splitlines()) == 1
    code, _, err = run(
        ["lm", "build", str(corpus), "-o", str(tmp_path / "x.lm"), "--order", "4", "-q"], capsys
    )
    assert code == 2 and err.startswith("unspin: error: ")


def test_bad_lm_file(tmp_path, capsys, stdin):
    garbage = tmp_path / "garbage.lm"
    garbage.write_bytes(b"not a model" * 100)
    stdin(PLAIN)
    code, out, err = run(["check", "--lm", str(garbage)], capsys)
    assert code == 2 and out == ""
    assert len(err.strip().splitlines()) == 1 and err.startswith("unspin: error: ")
    code, _, err = run(["restore", "--lm", str(tmp_path / "missing.lm")], capsys)
    assert code == 2 and "missing.lm" in err


TORTURED = ("In this study we apply counterfeit consciousness to images of bosom malignancy "
            "collected at two sites between 2015 and 2019.")


def test_terms_option_replaces_the_shipped_term_table(tmp_path, capsys, stdin):
    stdin(TORTURED)
    code, out, _ = run(["check", "--format", "json"], capsys)
    assert code == 0
    assert {s["suggestion"] for s in json.loads(out)["spans"]} >= {
        "artificial intelligence", "breast cancer"}
    mine = tmp_path / "terms.tsv"
    mine.write_text("# my list\nbosom malignancy\tbreast cancer\n", encoding="utf-8")
    stdin(TORTURED)
    code, out, _ = run(["restore", "--terms", str(mine), "--format", "text"], capsys)
    assert code == 0
    assert "breast cancer" in out and "counterfeit consciousness" in out


@pytest.mark.parametrize("content, says", [
    (None, "No such file"), ("bosom\tbreast\n", "terms.tsv:1:"), ("a b\tc\td\te\n", ":1:")])
def test_bad_term_table(tmp_path, capsys, stdin, content, says):
    path = tmp_path / "terms.tsv"
    if content is not None:
        path.write_text(content, encoding="utf-8")
    stdin(TORTURED)
    code, out, err = run(["check", "--terms", str(path)], capsys)
    assert code == 2 and out == ""
    assert len(err.strip().splitlines()) == 1 and says in err


# ---------------------------------------------------------------------------- subprocess


def test_python_m_unspin_subprocess(tmp_path, tiny_lm):
    env = dict(os.environ, NO_COLOR="1")
    proc = subprocess.run(
        [sys.executable, "-m", "unspin", "check", "--format", "json"],
        input=SPUN.encode(),
        capture_output=True,
        timeout=300,
        env=env,
    )
    assert proc.returncode == 0, proc.stderr.decode()
    doc = json.loads(proc.stdout)
    assert {"score", "spun", "spans"} <= set(doc)
    assert doc["spans"]
    proc = subprocess.run(
        [sys.executable, "-m", "unspin", "check", "--lm", str(tiny_lm), "--format", "json"],
        input=SPUN.encode(),
        capture_output=True,
        timeout=300,
        env=env,
    )
    assert proc.returncode == 0, proc.stderr.decode()
    assert {"score", "spun", "spans"} <= set(json.loads(proc.stdout))
    proc = subprocess.run(
        [sys.executable, "-m", "unspin", "check", str(tmp_path / "missing.txt")],
        capture_output=True,
        timeout=300,
        env=env,
    )
    assert proc.returncode == 2
    assert proc.stderr.decode().strip().splitlines() == [
        f"unspin: error: cannot read {tmp_path / 'missing.txt'}: No such file or directory"
    ]
    assert b"Traceback" not in proc.stderr


def _shipped_lm_present() -> bool:
    from unspin.models import data_path

    return data_path("lm.bin").is_file()


@pytest.mark.skipif(not _shipped_lm_present(), reason="shipped language model not built")
def test_shipped_model_end_to_end(stdin, capsys):
    from unspin import models

    models.set_default_lm(None)
    stdin(SPUN)
    code, out, err = run(["restore", "--format", "json"], capsys)
    assert code == 0, err
    doc = json.loads(out)
    assert doc["text"] == unspin.restore(SPUN).text
    assert 0.0 <= doc["score"] <= 1.0


@pytest.mark.parametrize("command", ["check", "restore"])
def test_jsonl_file_in_batches_gives_what_stdin_gives_one_by_one(tmp_path, command):
    """Records from a file are analysed in batches (check_many, restore_many); from
    standard input one at a time. Same records, same order, errors included."""
    spun = ("The metropolis council accredited a brand new finances on Tuesday after a "
            "protracted debate about faculty funding.")
    lines = [json.dumps({"id": i, "text": spun if i % 3 else "The council met on Monday."})
             for i in range(40)]
    lines[5] = "{not json"
    lines[7] = json.dumps({"id": 7, "body": "no text field"})
    lines[9] = json.dumps({"id": 9, "text": "Le conseil municipal a voté le budget."})
    path = tmp_path / "in.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    cmd = [sys.executable, "-m", "unspin", command]
    from_file = subprocess.run([*cmd, str(path), "--format", "jsonl"], capture_output=True,
                               text=True)
    with open(path, "rb") as fh:
        from_stdin = subprocess.run([*cmd, "-", "--format", "jsonl"], stdin=fh,
                                    capture_output=True, text=True)
    assert from_file.returncode == from_stdin.returncode == 0
    assert from_file.stdout == from_stdin.stdout
    records = [json.loads(x) for x in from_file.stdout.splitlines()]
    assert len(records) == 40 and "error" in records[5] and "error" in records[7]
    if command == "check":
        assert records[1]["spun"] is True and records[0]["spun"] is False
    else:
        assert "city council" in records[1]["text"] and records[0]["edits"] == []


def test_restore_two_step_option(stdin, capsys):
    text = ("The Wright Flyer was the anterior aircraft to fly under its own power, and it "
            "changed travel forever.")
    stdin(text)
    code, out, _ = run(["restore", "--two-step"], capsys)
    assert code == 0
    assert out == unspin.restore(text, two_step=True).text + "\n"
    assert "the first aircraft" in out
