"""Tests for tracing and reference restoration: `unspin trace`, `unspin index`,
`unspin restore --index` and `unspin.trace`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tracefix import make_doc, partial, spin

import unspin
from unspin.cli import main
from unspin.trace import reference_edits, restore_with_reference, trace


@pytest.fixture(scope="module")
def index_path(tmp_path_factory) -> Path:
    tmp = tmp_path_factory.mktemp("trace")
    src = tmp / "originals.jsonl"
    with src.open("w") as fh:
        for i in range(60):
            fh.write(json.dumps({"id": f"d{i}", "text": make_doc(i)}) + "\n")
    path = tmp / "originals.idx"
    assert main(["index", "add", "--index", str(path), str(src), "-q"]) == 0
    return path


def run(capsys, argv: list[str]) -> tuple[int, str, str]:
    code = main(argv)
    out, err = capsys.readouterr()
    return code, out, err


def apply(text: str, edits) -> str:
    out, pos = [], 0
    for e in sorted(edits, key=lambda e: e.start):
        out += [text[pos:e.start], e.replacement]
        pos = e.end
    return "".join(out) + text[pos:]


def test_trace_json_contract(index_path, tmp_path, capsys):
    f = tmp_path / "copy.txt"
    f.write_text(spin(make_doc(12), 0.3, seed=1))
    code, out, _ = run(capsys, ["trace", str(f), "--index", str(index_path), "--format", "json"])
    assert code == 0
    data = json.loads(out)
    assert set(data) == {"matches"}
    assert data["matches"][0]["id"] == "d12"
    assert set(data["matches"][0]) == {"id", "score", "coverage"}
    assert 0.4 <= data["matches"][0]["score"] <= 1 and 0 < data["matches"][0]["coverage"] <= 1
    f.write_text(make_doc(4321))
    code, out, _ = run(capsys, ["trace", str(f), "--index", str(index_path), "--format", "json"])
    assert json.loads(out) == {"matches": []}
    code, out, _ = run(capsys, ["trace", str(f), "--index", str(index_path)])
    assert out == "no match\n"
    # --fail-on-match
    f.write_text(make_doc(3))
    assert main(["trace", str(f), "--index", str(index_path), "--fail-on-match"]) == 1
    assert capsys.readouterr().out.startswith("d3\tscore 1.000")


def test_trace_jsonl_keeps_order_and_reports_errors(index_path, tmp_path, capsys):
    lines = [
        json.dumps({"id": "a", "text": spin(make_doc(7), 0.4, seed=2)}),
        "{not json",
        json.dumps({"id": "b", "text": make_doc(9999)}),
        json.dumps({"id": 3, "body": "no text field"}),
        json.dumps({"id": "c", "text": partial(spin(make_doc(40), 0.2), 0.3)}),
        json.dumps({"text": make_doc(41)}),
    ]
    f = tmp_path / "q.jsonl"
    f.write_text("\n".join(lines) + "\n")
    code, out, _ = run(capsys, ["trace", str(f), "--index", str(index_path)])
    assert code == 0
    recs = [json.loads(x) for x in out.splitlines()]
    assert len(recs) == len(lines)
    assert recs[0]["id"] == "a" and recs[0]["matches"][0]["id"] == "d7"
    assert "error" in recs[1] and "id" not in recs[1]
    assert recs[2] == {"id": "b", "matches": []}
    assert recs[3]["id"] == 3 and "text" in recs[3]["error"]
    assert recs[4]["id"] == "c" and recs[4]["matches"][0]["id"] == "d40"
    assert recs[4]["matches"][0]["coverage"] < 0.5
    assert "id" not in recs[5] and recs[5]["matches"][0]["id"] == "d41"


def test_trace_pairs_feed_learn(index_path, tmp_path, capsys):
    f = tmp_path / "q.jsonl"
    copies = {i: spin(make_doc(i), 0.5, seed=i) for i in (1, 2, 3)}
    f.write_text("".join(json.dumps({"id": f"q{i}", "text": t}) + "\n"
                         for i, t in copies.items())
                 + json.dumps({"id": "u", "text": make_doc(5555)}) + "\n")
    pairs = tmp_path / "pairs.jsonl"
    code, out, _ = run(capsys, ["trace", str(f), "--index", str(index_path),
                                "--pairs", str(pairs)])
    assert code == 0 and len(out.splitlines()) == 4
    recs = [json.loads(x) for x in pairs.read_text().splitlines()]
    assert [(r["id"], r["spun"]) for r in recs] == [(f"d{i}", copies[i]) for i in (1, 2, 3)]
    assert recs[0]["original"] == make_doc(1)
    table = tmp_path / "t.tsv"
    assert main(["learn", str(pairs), "-o", str(table)]) == 0
    assert len(table.read_text().splitlines()) > 5


def test_trace_needs_an_existing_index(tmp_path, capsys):
    f = tmp_path / "x.txt"
    f.write_text("text")
    code, _, err = run(capsys, ["trace", str(f), "--index", str(tmp_path / "none.idx")])
    assert code == 2 and "cannot open index" in err
    assert not (tmp_path / "none.idx").exists()


def test_index_add_files_directories_and_jsonl(tmp_path, capsys):
    docs = tmp_path / "docs"
    (docs / "sub").mkdir(parents=True)
    (docs / "a.txt").write_text(make_doc(100))
    (docs / "sub" / "b.html").write_text(f"<html><body><p>{make_doc(101)}</p></body></html>")
    (docs / "skip.bin").write_bytes(b"\0\1")
    jl = tmp_path / "more.jsonl"
    jl.write_text(json.dumps({"id": "j1", "text": make_doc(102)}) + "\n"
                  + "{broken\n" + json.dumps({"id": "j2"}) + "\n"
                  + json.dumps({"id": 7, "text": make_doc(103)}) + "\n")
    idx = tmp_path / "i.idx"
    code, out, err = run(capsys, ["index", "add", "--index", str(idx), str(docs), str(jl)])
    assert code == 0
    summary = json.loads(out)
    assert summary == {"added": 4, "updated": 0, "unchanged": 0, "errors": 2, "documents": 4}
    assert "more.jsonl:2: invalid JSON" in err and "more.jsonl:3" in err
    assert "committed 4 documents" in err
    with unspin.Index(idx, create=False) as index:
        assert sorted(index.ids()) == sorted(
            [str(docs / "a.txt"), str(docs / "sub" / "b.html"), "j1", "7"])
        assert index.query(spin(make_doc(101), 0.3))[0].id == str(docs / "sub" / "b.html")
    # again: idempotent
    code, out, _ = run(capsys, ["index", "add", "--index", str(idx), str(docs), "-q"])
    assert json.loads(out)["unchanged"] == 2
    code, out, _ = run(capsys, ["index", "stats", "--index", str(idx)])
    stats = json.loads(out)
    assert stats["documents"] == 4 and stats["storage"] == "sqlite"
    code, out, _ = run(capsys, ["index", "remove", "--index", str(idx), "j1", "zzz"])
    assert json.loads(out) == {"removed": ["j1"], "missing": ["zzz"], "documents": 3}
    code, _, err = run(capsys, ["index", "add", "--index", str(idx), str(tmp_path / "nope")])
    assert code == 2 and "nope" in err


def test_index_add_reads_nested_fields(tmp_path, capsys):
    jl = tmp_path / "nested.jsonl"
    jl.write_text(json.dumps({"meta": {"url": "u1"}, "body": {"text": make_doc(104)}}) + "\n"
                  + json.dumps({"meta": {"url": "u2"}, "body": "flat"}) + "\n")
    idx = tmp_path / "n.idx"
    code, out, err = run(capsys, ["index", "add", "--index", str(idx), str(jl), "--text-field",
                                  "body.text", "--id-field", "meta.url"])
    assert code == 0
    assert json.loads(out)["added"] == 1 and "nested.jsonl:2: missing 'body.text'" in err
    with unspin.Index(idx, create=False) as index:
        assert list(index.ids()) == ["u1"]


def test_reference_edits_rebuild_the_original():
    original = make_doc(5)
    copy = spin(original, 0.4, seed=3)
    region, edits = reference_edits(copy, original, 0.9)
    assert region == (0, len(copy))
    assert edits and all(e.kind == "reference" and e.confidence == 0.9 for e in edits)
    assert all(copy[e.start:e.end] == e.text for e in edits)
    assert apply(copy, edits) == original
    # a phrase for a word and back, at the very start and end
    orig = "Big old ships sailed to the port in 1901 and in order to trade stayed long"
    spun = "Huge aged vessels sailed to the harbour in 1901 and to trade remained lengthy"
    _, edits = reference_edits(spun, orig)
    assert apply(spun, edits) == orig


def test_reference_edits_of_a_partial_copy_stay_inside_it():
    original = make_doc(8)
    copy = partial(spin(original, 0.3, seed=4), 0.3, seed=5)
    region, edits = reference_edits(copy, original)
    assert region is not None and region[1] - region[0] > 0.8 * len(copy)
    restored = apply(copy, edits)
    assert restored in original
    assert reference_edits("nothing alike here at all", original) == (None, [])


def test_restore_with_reference(index_path, tmp_path, capsys):
    original = make_doc(20)
    extra = " The weather was pleasant that whole summer, people said later."
    copy = spin(original, 0.3, seed=6) + extra
    with unspin.Index(index_path, create=False) as index:
        result = restore_with_reference(copy, index)
        assert trace(copy, index).matches[0].id == "d20"
    kinds = {e.kind for e in result.edits}
    assert "reference" in kinds
    assert result.text.startswith(original)
    ref_end = max(e.end for e in result.edits if e.kind == "reference")
    assert all(e.start >= ref_end for e in result.edits if e.kind == "spin")
    # no match: exactly the model's restoration
    with unspin.Index(index_path, create=False) as index:
        unrelated = make_doc(7777)
        assert restore_with_reference(unrelated, index).to_dict() == \
            unspin.restore(unrelated).to_dict()
    # the CLI
    f = tmp_path / "copy.txt"
    f.write_text(spin(original, 0.3, seed=6))
    code, out, _ = run(capsys, ["restore", str(f), "--index", str(index_path)])
    assert code == 0 and out == original + "\n"
    code, out, _ = run(capsys, ["restore", str(f), "--index", str(index_path),
                                "--format", "json"])
    edits = json.loads(out)["edits"]
    assert edits and {e["kind"] for e in edits} == {"reference"}
