"""Tests of the candidate tables, run against the shipped data in unspin/data."""

from __future__ import annotations

import time

import pytest

from unspin.candidates import (
    FLAG_LEARNED,
    FLAG_NUMBER,
    FLAG_PHRASE,
    FLAG_VECTOR,
    FLAG_WN_LOOSE,
    FLAG_WN_SYN,
    Candidate,
    CandidateSource,
    LearnedTable,
    get_source,
)
from unspin.tokens import tokenize


@pytest.fixture(scope="module")
def src() -> CandidateSource:
    return get_source()


def originals(src: CandidateSource, text: str, pos: int = 0, length: int | None = None):
    norms = [t.norm for t in tokenize(text)]
    cands = src.for_tokens(norms)[pos]
    return {" ".join(c.original): c for c in cands if length is None or c.length == length}


def test_default_source_is_shared() -> None:
    assert get_source() is get_source()


def test_inflection_is_carried(src: CandidateSource) -> None:
    got = originals(src, "introduced")
    assert "presented" in got
    assert "present" not in got and "presents" not in got
    assert "presents" in originals(src, "introduces")
    plural = originals(src, "courtrooms")
    assert "courts" in plural and "court" not in plural


def test_sense_blind_and_name_words(src: CandidateSource) -> None:
    assert "court" in originals(src, "courtroom")
    assert "invoice" in originals(src, "bill") or "bill" in originals(src, "invoice")
    assert "bill" in originals(src, "invoice")
    got = originals(src, "stated")
    assert "said" in got
    assert got["said"].flags & (FLAG_WN_SYN | FLAG_WN_LOOSE | FLAG_PHRASE)


def test_numbers_both_ways(src: CandidateSource) -> None:
    three = originals(src, "3")["three"]
    assert three.flags & FLAG_NUMBER
    assert originals(src, "three")["3"].flags & FLAG_NUMBER
    assert "21" in originals(src, "twenty-one")
    first = originals(src, "1st", length=2)
    assert "first" in first and first["first"].length == 2


def test_phrase_to_word(src: CandidateSource) -> None:
    got = originals(src, "as a result of the storm", length=4)
    assert "because" in got
    c = got["because"]
    assert c.start == 0 and c.length == 4 and c.original == ("because",)
    assert c.flags & FLAG_PHRASE
    # word -> phrase and function words
    assert "but" in originals(src, "however")
    assert "because" in originals(src, "since")


def test_wordnet_collocations(src: CandidateSource) -> None:
    got = originals(src, "took part in the race", length=2)
    assert "participated" in got
    assert "take part" in originals(src, "participate")


@pytest.mark.parametrize("observed,forbidden", [
    ("lowest", "highest"), ("highest", "lowest"), ("rising", "falling"),
    ("falling", "rising"), ("increase", "decrease"), ("decreased", "increased"),
    ("before", "after"), ("north", "south"), ("eastern", "western"),
    ("first", "last"), ("won", "lost"), ("early", "late"), ("up", "down"),
    ("more", "less"), ("men", "women"), ("january", "february"),
])
def test_no_antonyms(src: CandidateSource, observed: str, forbidden: str) -> None:
    assert forbidden not in originals(src, observed)


def test_no_identity_no_inflectional_variant(src: CandidateSource) -> None:
    for w in ("said", "court", "running", "bills", "3"):
        got = originals(src, w)
        assert w not in got
    assert "say" not in originals(src, "said")
    assert "runs" not in originals(src, "running")


def test_stop_words_not_proposed_for_content_words(src: CandidateSource) -> None:
    for w in ("court", "announced", "house"):
        got = originals(src, w)
        assert not {"the", "of", "and", "it", "he"} & set(got)


def test_punctuation_gets_nothing(src: CandidateSource) -> None:
    norms = [".", ",", "(", "said", "!", "'s"]
    out = src.for_tokens(norms)
    assert len(out) == len(norms)
    for i in (0, 1, 2, 4):
        assert out[i] == []
    assert out[3]


def test_positions_and_fields(src: CandidateSource) -> None:
    norms = ["the", "judge", "stated", "that", "3", "men", "as", "a", "result", "of", "it"]
    out = src.for_tokens(norms)
    assert len(out) == len(norms)
    for i, cands in enumerate(out):
        for c in cands:
            assert isinstance(c, Candidate)
            assert c.start == i
            assert 1 <= c.length <= 4 and i + c.length <= len(norms)
            assert 1 <= len(c.original) <= 4
            assert c.original != tuple(norms[i:i + c.length])
            assert c.fanout >= 1
            assert -1.0 <= c.cosine <= 1.0
            assert c.count == 0
    # fresh lists per call: callers may mutate them
    out[2].clear()
    assert src.for_tokens(norms)[2]
    # same word at another position gets candidates with that start
    again = src.for_tokens(["he", "stated"])[1]
    assert again and all(c.start == 1 for c in again)


def test_cosine(src: CandidateSource) -> None:
    if not src.has_vector("said"):
        pytest.skip("shipped data built without vectors")
    assert src.cosine("said", "stated") > src.cosine("said", "banana")
    assert src.cosine("said", "said") == pytest.approx(1.0, abs=1e-2)
    assert src.cosine("said", "no-such-word-xyz") == 0.0
    vec = [c for c in src.for_tokens(["stated"])[0] if c.flags & FLAG_VECTOR]
    assert vec and all(c.cosine > 0 for c in vec)


def test_learned_table_round_trip_and_merge(tmp_path) -> None:
    t = LearnedTable()
    t.add(("excellent", "courtroom"), ("supreme", "court"), 3)
    t.add(("stated",), ("said",), 2)
    t.add(("stated",), ("said",), 1)
    t.add(("frobnicated",), ("announced",))
    t.add(("same",), ("same",))  # identity ignored
    path = tmp_path / "learned.tsv"
    t.save(path)
    text = path.read_text(encoding="utf-8")
    assert text.startswith("#")
    back = LearnedTable.load(path)
    assert sorted(back.items()) == sorted(t.items())
    assert len(back) == 3

    src = CandidateSource(path)
    out = src.for_tokens(["the", "excellent", "courtroom", "stated", "frobnicated"])
    phrase = [c for c in out[1] if c.original == ("supreme", "court")]
    assert phrase and phrase[0].length == 2 and phrase[0].count == 3
    assert phrase[0].flags & FLAG_LEARNED
    said = [c for c in out[3] if c.original == ("said",)]
    assert len(said) == 1
    assert said[0].count == 3
    assert said[0].flags & FLAG_LEARNED and said[0].flags & ~FLAG_LEARNED  # merged flags
    new = [c for c in out[4] if c.original == ("announced",)]
    assert new and new[0].flags == FLAG_LEARNED and new[0].fanout >= 1
    # the shared default instance is not affected by a learned table
    assert not any(c.flags & FLAG_LEARNED for c in get_source().for_tokens(["stated"])[0])


def test_learned_table_rejects_bad_lines(tmp_path) -> None:
    path = tmp_path / "bad.tsv"
    path.write_text("# comment\nonly-one-column\n", encoding="utf-8")
    with pytest.raises(ValueError):
        LearnedTable.load(path)


def test_load_is_fast() -> None:
    t = time.perf_counter()
    CandidateSource()
    assert time.perf_counter() - t < 2.0  # target < 0.2 s; loose bound for busy CI
