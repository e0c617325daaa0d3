"""Bad input gives a result or a clear error, never a crash (timings: bench/robustness.py)."""

from __future__ import annotations

import json
import random

import pytest

import unspin
from unspin.cli import main
from unspin.report import Report, Restoration

SENTENCES = [
    "The committee met on Tuesday and approved the new budget for the library.",
    "A local farmer said the rain came too late for most of the crops this year.",
    "The city council discussed a plan to repair the old bridge near the river.",
    "Our neighbour opened a small shop that sells bread and coffee in the morning.",
    "The school board reviewed the results of the survey after a long meeting.",
]
# A spinner's rewrite (the shipped model finds spans in it) and cleanup bait (mojibake,
# an entity, a no-break space), so the offsets checked below are not trivially empty.
SPUN = (
    "The Supreme Courtroom stated on Monday that the committee additionally declared a "
    "new policy that would cost greater than expected."
)
BAIT = "They donâ€™t know &amp; they\u00a0said so."


def single_line(n_chars: int, every: int = 7) -> str:
    """English words on one line, no newline: plain sentences, and every ``every``-th
    sentence a spun one or bait (alternately)."""
    parts, size, k = [], 0, 0
    while size < n_chars:
        s = SENTENCES[k % len(SENTENCES)] if k % every else (SPUN if k % (2 * every) else BAIT)
        parts.append(s)
        size += len(s) + 1
        k += 1
    return " ".join(parts)


def html_soup(depth: int) -> str:
    """Broken HTML: unclosed tags, scripts, entities, a run of unclosed divs."""
    body = "".join(
        f"<p class=x{k}>{SENTENCES[k % 5]} &amp; &bogus; &#99999999; <b><i>{SENTENCES[(k + 1) % 5]}"
        f"</b></i><script>if (a < 1) {{ document.write('<p>') }}</script><table><tr><td>cell"
        for k in range(60)
    )
    return (
        "<html><head><title>Soup</title><style>p { color: red }</style></head><body>"
        + "<div>" * depth
        + body
        + "<!-- an unterminated comment <p>"
    )


def assert_offsets(text: str, items) -> None:
    for it in items:
        assert 0 <= it.start <= it.end <= len(text)
        assert text[it.start : it.end] == it.text


# --------------------------------------------------------------------------- API


@pytest.mark.parametrize("text", ["", " ", "\n\n\t \r\n", "\u00a0\u2003 \u3000"])
def test_empty_and_whitespace_are_not_analysed(text):
    rep = unspin.check(text)
    assert isinstance(rep, Report)
    assert (rep.supported, rep.language, rep.spun, rep.score, rep.spans) == (
        False,
        "empty",
        False,
        0.0,
        [],
    )
    res = unspin.restore(text)
    assert (res.report.supported, res.report.language) == (False, "empty")
    assert not [e for e in res.edits if e.kind == "spin"]


def test_binary_with_nuls_is_binary():
    rng = random.Random(0)
    raw = bytearray(rng.randbytes(20_000))
    raw[::3] = bytes(len(raw[::3]))
    for data in (bytes(raw), bytes(raw).decode("utf-8", "replace")):
        rep = unspin.check(data)
        assert (rep.supported, rep.language) == (False, "binary")
        res = unspin.restore(data)
        assert (res.report.supported, res.report.language) == (False, "binary")


def test_random_latin1_junk_is_not_supported():
    junk = random.Random(1).randbytes(20_000).decode("latin-1")
    rep = unspin.check(junk)
    assert rep.supported is False
    assert rep.language in ("binary", "unsupported")
    res = unspin.restore(junk)
    assert res.report.supported is False
    assert_offsets(junk, res.edits)


def test_invalid_utf8_bytes_give_a_supported_result():
    good = " ".join(SENTENCES * 4).encode("utf-8")
    bad = [b"\xff", b"\xc0\xaf", b"\xe2\x82", b"\x80", b"\xed\xa0\x80"]
    data = b"".join(
        good[i : i + 40] + bad[k % len(bad)] for k, i in enumerate(range(0, len(good), 40))
    )
    with pytest.raises(UnicodeDecodeError):
        data.decode("utf-8")
    rep = unspin.check(data)
    assert rep.supported is True and rep.language == "en"
    assert 0.0 <= rep.score <= 1.0
    text = data.decode("utf-8", "replace")  # offsets refer to the decoded text
    assert_offsets(text, rep.spans)
    res = unspin.restore(data)
    assert res.report.supported is True
    assert_offsets(text, res.edits)


@pytest.mark.parametrize(
    "text",
    [
        "!?.,;:-- ... ((()))" * 40,
        "- * / = + # @ %",
        "...",
        " ".join(str(i) for i in range(500)),
        "3.14 2,718 -1 42 100%",
        "\ufffd" * 50,
        "\u200b\u200d\ufeff",
    ],
)
def test_punctuation_or_numbers_only_give_a_result(text):
    rep = unspin.check(text)
    assert isinstance(rep, Report) and rep.supported is False
    res = unspin.restore(text)
    assert isinstance(res, Restoration) and res.report.supported is False
    assert_offsets(text, res.edits)


def test_wrong_type_is_a_clear_error():
    for bad in (None, 42, ["text"]):
        with pytest.raises(TypeError, match="text must be str"):
            unspin.check(bad)


def test_long_single_line_offsets_are_valid():
    # Spun often enough for the document to be judged spun: check reports spans only then.
    text = single_line(300_000, every=2)
    assert "\n" not in text and len(text) >= 300_000
    rep = unspin.check(text)
    assert rep.score >= 0.2
    assert rep.supported is True and rep.words > 40_000
    assert rep.spans
    assert_offsets(text, rep.spans)


def test_long_single_line_restore_edits_rebuild_the_text():
    text = single_line(300_000, every=2)  # spun enough to pass `SPAN_GATE`: spin edits
    res = unspin.restore(text)
    assert res.report.supported is True
    assert {e.kind for e in res.edits} >= {"spin", "cleanup"}
    assert_offsets(text, res.edits)
    assert_offsets(text, res.report.spans)
    pos, parts = 0, []
    for e in res.edits:  # in order and disjoint, and they rebuild the restored text
        assert e.start >= pos
        parts += [text[pos : e.start], e.replacement]
        pos = e.end
    assert "".join(parts) + text[pos:] == res.text


def test_long_line_without_punctuation_gives_a_result():
    text = single_line(100_000).replace(".", "").replace(",", "")
    rep = unspin.check(text)
    assert rep.supported is True
    assert_offsets(text, rep.spans)


# --------------------------------------------------------------------------- CLI


@pytest.mark.parametrize("depth", [0, 3000])  # 3000: past libxml2's nesting limit
def test_cli_html_soup_gives_json(tmp_path, capsys, depth):
    path = tmp_path / "soup.html"
    path.write_text(html_soup(depth), encoding="utf-8")
    assert main(["check", str(path), "--format", "json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["supported"] is True and out["words"] > 500
    assert 0.0 <= out["score"] <= 1.0


def test_cli_invalid_utf8_file_warns_and_gives_json(tmp_path, capsys):
    path = tmp_path / "bad.txt"
    path.write_bytes(" ".join(SENTENCES).encode() + b"\xff\xfe\xc0" + SENTENCES[0].encode())
    assert main(["check", str(path), "--format", "json"]) == 0
    captured = capsys.readouterr()
    assert json.loads(captured.out)["supported"] is True
    assert "not valid UTF-8" in captured.err


@pytest.mark.parametrize("command", ["check", "restore"])
def test_cli_directory_is_a_one_line_error(tmp_path, capsys, command):
    assert main([command, str(tmp_path), "--format", "json"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("unspin: error:")
    assert "directory" in lines[0]


@pytest.mark.parametrize("data", [b"", b"\x00" * 1000, b"\xff\xfe" * 500])
def test_cli_empty_and_binary_files_give_json(tmp_path, capsys, data):
    path = tmp_path / "junk.bin"
    path.write_bytes(data)
    assert main(["check", str(path), "--format", "json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["supported"] is False and out["spun"] is False


def test_binary_input_is_left_as_it_is():
    # Judged binary before cleaning: no cleanup edits (deleting the controls of binary data
    # restores nothing), the text comes back unchanged, offsets stay true.
    junk = random.Random(2).randbytes(30_000).decode("latin-1")
    res = unspin.restore(junk)
    assert (res.report.supported, res.report.language) == (False, "binary")
    assert res.edits == [] and res.text == junk
