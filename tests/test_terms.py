"""The term table (tortured phrases): file format, shipped data, decoder prior, API."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import unspin
import unspin.api as api
from unspin.candidates import FLAG_TERM, CandidateSource, load_terms
from unspin.decode import Decoder, Local, _logsumexp_by
from unspin.models import data_path, get_models
from unspin.tokens import find_tokens, lower_tokens

# Science-style prose with two tortured phrases, otherwise ordinary wording.
PAPER = (
    "Counterfeit consciousness is now used in many hospitals. In this study we apply it "
    "to images of bosom malignancy collected at two sites. The data were collected "
    "between 2015 and 2019, and all measurements were repeated three times."
)
# One tortured phrase in a paragraph that the detector alone judges clean.
ONE_TERM = (
    "The data were collected between 2015 and 2019 at two sites. In this paper, we propose "
    "a new approach based on counterfeit consciousness for large-scale problems. The code "
    "and the data used in this study are publicly available."
)


def test_load_terms_reads_pairs_and_normalises(tmp_path):
    path = tmp_path / "terms.tsv"
    path.write_text("# comment\n\nProfound  Learning\tdeep learning\nbosom malignancy\t"
                    "breast cancer\nmalignant growth\tcancer\n", encoding="utf-8")
    terms = load_terms(path)
    assert terms == {"profound learning": {("deep", "learning"): 0},
                     "bosom malignancy": {("breast", "cancer"): 0},
                     "malignant growth": {("cancer",): 0}}


@pytest.mark.parametrize("line", [
    "profound\tdeep",  # one-token observed: the word table's job
    "profound learning",  # no original
    "a b c d e\tdeep learning",  # too long
    "deep learning\tdeep learning",  # no change
    "profound learning\tdeep learning\textra",
])
def test_load_terms_rejects_bad_lines_with_their_place(tmp_path, line):
    path = tmp_path / "terms.tsv"
    path.write_text("ok phrase\tfine\n" + line + "\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"terms\.tsv:2:"):
        load_terms(path)


def test_shipped_terms_are_all_usable():
    """Every original is known to the shipped language model (the decoder drops an
    original with an unknown word, so such a line would be dead)."""
    terms = load_terms(data_path("terms.tsv"))
    assert len(terms) >= 100
    lm = get_models().lm
    dead = [(k, o) for k, origs in terms.items() for o in origs if 0 in lm.ids(list(o))]
    assert dead == []
    # Observed phrases are written as the tokenizer splits text ("alzheimer 's sickness"),
    # or they would never match.
    unmatched = [k for k in terms
                 if lower_tokens(find_tokens(k), straight_quotes=True) != k.split(" ")]
    assert unmatched == []


def test_terms_are_candidates_with_their_flag_and_can_be_left_out():
    shipped = CandidateSource()
    specs = {s[1]: s[2] for s in shipped.specs("counterfeit consciousness")}
    assert specs[("artificial", "intelligence")] & FLAG_TERM
    assert shipped.is_key("counterfeit consciousness")
    none = CandidateSource(terms={})
    assert none.specs("counterfeit consciousness") == ()
    assert not none.is_key("counterfeit consciousness")


def test_restore_gives_the_terms_back_with_their_case():
    r = unspin.restore(PAPER)
    assert r.text.startswith("Artificial intelligence is now used")
    assert "images of breast cancer collected" in r.text
    spin = [e for e in r.edits if e.kind == "spin"]
    assert {(e.text, e.replacement) for e in spin} >= {
        ("Counterfeit consciousness", "Artificial intelligence"),
        ("bosom malignancy", "breast cancer")}


def test_one_term_opens_the_span_gate_and_lifts_the_score():
    models = get_models()
    plain = unspin.check(ONE_TERM, spans=False)
    report = unspin.check(ONE_TERM)
    assert [(s.text, s.suggestion) for s in report.spans] == [
        ("counterfeit consciousness", "artificial intelligence")]
    assert report.spun and report.score >= report.threshold
    # Every mode reports the same score, and counts the term.
    restored = unspin.restore(ONE_TERM).report
    assert plain.score == report.score == restored.score
    assert plain.terms == report.terms == restored.terms == 1
    assert report.to_dict()["terms"] == 1
    # Without the term the detector alone judges the paragraph clean.
    clean = ONE_TERM.replace("counterfeit consciousness", "artificial intelligence")
    assert not unspin.check(clean).spun and unspin.check(clean).terms == 0
    words = ["counterfeit", "consciousness", "and", "counterfeit", "consciousness", "."]
    assert models.decoder.term_hits(words, models.lm.ids(words)) == [(0, 2), (3, 2)]


def test_terms_are_counted_per_document_in_a_batch():
    """A batch finds each document's terms, and none across two documents."""
    texts = ["A note on counterfeit", "consciousness and more.", ONE_TERM, "", ONE_TERM]
    found = [a.terms for a in api._analyse(texts, None, "score")]
    assert found == [0, 0, 1, 0, 1]
    reports = unspin.check_many(texts)
    assert [r.spun for r in reports] == [False, False, True, False, True]


def test_below_the_gate_only_terms_are_edited(monkeypatch):
    """A paragraph decoded only for its tortured phrase keeps no other spin edit."""
    text = ("Results are reported as mean values with their standard deviations. Our "
            "experiments show that resistant framework improves the results on all three "
            "datasets. The first part of the study was carried out in the laboratory.")
    assert api._analyse([text], None, "score")[0].p_spun < api.SPAN_GATE
    start = text.index("resistant framework")
    r = unspin.restore(text)
    assert [(e.start, e.replacement) for e in r.edits] == [(start, "immune system")]
    assert [(s.start, s.suggestion) for s in unspin.check(text).spans] == [
        (start, "immune system")]
    # What the rule removes: the decoder's other edit ("mean values" -> "means").
    monkeypatch.setattr(api, "_only_terms_below_gate", lambda analyses: None)
    assert {e.text for e in unspin.restore(text).edits} == {"mean values",
                                                             "resistant framework"}


def test_ordinary_use_of_an_observed_phrase_stays():
    text = "He described the trip as a profound learning experience for the whole team."
    r = unspin.restore(text)
    assert r.text == text
    assert not unspin.check(text).spun


def test_a_term_table_file_can_replace_the_shipped_one(tmp_path):
    path = tmp_path / "terms.tsv"
    path.write_text("bosom malignancy\tbreast cancer\n", encoding="utf-8")
    src = CandidateSource(terms=path)
    assert src.is_key("bosom malignancy") and not src.is_key("counterfeit consciousness")
    dec = Decoder(get_models().lm, src)
    words = ["counterfeit", "consciousness"]
    assert dec.term_hits(words, get_models().lm.ids(words)) == []


def test_set_default_terms_checks_the_file_and_switches_tables(tmp_path):
    from unspin import models

    bad = tmp_path / "bad.tsv"
    bad.write_text("bosom\tbreast\n", encoding="utf-8")
    with pytest.raises(ValueError, match="bad.tsv:1:"):
        models.set_default_terms(bad)
    with pytest.raises(FileNotFoundError):
        models.set_default_terms(tmp_path / "missing.tsv")
    mine = tmp_path / "mine.tsv"
    mine.write_text("bosom malignancy\tbreast cancer\n", encoding="utf-8")
    try:
        models.set_default_terms(mine)
        spans = {s.text for s in unspin.check(PAPER).spans}
        assert "bosom malignancy" in spans and "Counterfeit consciousness" not in spans
    finally:
        models.set_default_terms(None)
    assert "Counterfeit consciousness" in {s.text for s in unspin.check(PAPER).spans}


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 5), st.floats(-8, 8)), min_size=1, max_size=25),
       st.data())
def test_shift_entries_keeps_the_summed_odds_exact(entries, data):
    pos = np.array([p for p, _ in entries], dtype=np.int64)
    score = np.array([s for _, s in entries], dtype=np.float64)
    zpos, zlse = _logsumexp_by(pos, score)
    n = len(pos)
    e = np.zeros(n, dtype=np.int64)
    loc = Local(pos, score.copy(), score.copy(), e, e, e - 1, e[:0], e[:0], [], e, e,
                zpos, zlse)
    at = np.array(sorted(data.draw(st.sets(st.integers(0, n - 1), min_size=1))),
                  dtype=np.int64)
    d = np.array(data.draw(st.lists(st.floats(-6, 6), min_size=len(at), max_size=len(at))))
    loc.shift_entries(at, d)
    want = score.copy()
    want[at] += d
    zp2, zl2 = _logsumexp_by(pos, want)
    assert np.array_equal(loc.score, want) and np.array_equal(loc.channel, want)
    assert np.array_equal(loc.zpos, zp2)
    assert np.allclose(loc.zlse, zl2, atol=1e-9)


_WORDS = ["bosom", "malignancy", "malignant", "growth", "lung", "the", "counterfeit",
          "consciousness", "of", ".", "profound", "learning", "unknownword"]


@settings(max_examples=80, deadline=None)
@given(st.lists(st.sampled_from(_WORDS), max_size=30))
def test_term_hits_finds_every_key_start(words):
    """Against a plain scan: each position where some observed phrase starts, once."""
    models = get_models()
    terms = models.source._terms
    want = []
    for i in range(len(words)):
        for ln in range(2, 5):
            if i + ln <= len(words) and " ".join(words[i:i + ln]) in terms:
                want.append(i)
                break
    got = models.decoder.term_hits(words, models.lm.ids(words))
    assert [i for i, _ in got] == want
    assert all(" ".join(words[i:i + ln]) in terms for i, ln in got)


def test_terms_keep_their_confidence_whatever_the_document_familiarity(monkeypatch):
    # The familiarity shift reads the word tables, which know nothing of tortured phrases:
    # a harsh shift lowers other spans and edits, never a term's.
    from unspin.detect import ConfidenceMap, document_familiarity, document_features

    terms = {"Counterfeit consciousness", "bosom malignancy"}
    before_c = {s.text: s.confidence for s in unspin.check(PAPER).spans}
    before_r = {e.text: e.confidence for e in unspin.restore(PAPER).edits if e.kind == "spin"}
    assert terms <= set(before_c) and terms <= set(before_r)
    fam = document_familiarity(document_features(PAPER))
    harsh = ConfidenceMap([0.0, 1.0], [0.0, 1.0], [fam + 1.0, fam + 2.0], [-3.0, 0.0])
    shipped = api.edit_confidence_map()
    harsh_edits = ConfidenceMap(shipped.x, shipped.y, harsh.familiarity, harsh.shift)
    monkeypatch.setattr(api, "span_confidence_map", lambda: harsh)
    monkeypatch.setattr(api, "edit_confidence_map", lambda: harsh_edits)
    after_c = {s.text: s.confidence for s in unspin.check(PAPER).spans}
    after_r = {e.text: e.confidence for e in unspin.restore(PAPER).edits if e.kind == "spin"}
    for t in terms:
        assert after_c[t] == before_c[t] and after_r[t] == before_r[t]
    assert set(after_c) == set(before_c) and set(after_r) == set(before_r)
    others = [t for t in before_c if t not in terms] + [t for t in before_r if t not in terms]
    assert all(after_c.get(t, 1.0) <= before_c.get(t, 1.0) for t in others)
