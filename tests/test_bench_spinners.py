"""Benchmark spinners and metrics, on hand-written text (no corpus files needed)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repo root holds bench/

from bench import metrics as M  # noqa: E402
from bench.spinners import (  # noqa: E402
    AIKSAURUS_DIR,
    HAND_AIKSAURUS,
    HAND_WORDNET,
    MYTHES_PATH,
    WORDNET_DIR,
    SpunDoc,
    Swap,
    match_case,
    unspin_swaps,
)
from unspin.tokens import tokenize  # noqa: E402

HAVE_WORDNET = (WORDNET_DIR / "index.noun").exists()
HAVE_AIKSAURUS = (AIKSAURUS_DIR / "words.dat").exists()
need_wordnet = pytest.mark.skipif(not HAVE_WORDNET, reason="WordNet data not installed")
need_aiksaurus = pytest.mark.skipif(not HAVE_AIKSAURUS, reason="Aiksaurus data not installed")
HAVE_MYTHES = MYTHES_PATH.exists()

PARAGRAPH = (
    "The Supreme Court said on Monday that three women had been hired by the White House "
    "because the staff was too small. But the committee also announced a new policy, while "
    "critics argued that the bill would cost 1,200 dollars and 3.5 per cent more.\n"
    "Since the meeting, officials have given up on the plan as well as the earlier proposals. "
    "An old house in the town was abandoned in order to build a larger hospital, and the "
    "children moved to another school near the river."
)


@pytest.fixture(scope="module")
def wordnet():
    if not HAVE_WORDNET:
        pytest.skip("WordNet data not installed")
    from bench.spinners import WordNetSpinner

    return WordNetSpinner()


@pytest.fixture(scope="module")
def aiksaurus():
    if not HAVE_AIKSAURUS:
        pytest.skip("Aiksaurus data not installed")
    from bench.spinners import AiksaurusSpinner

    return AiksaurusSpinner()


@pytest.fixture(scope="module")
def mythes():
    if not HAVE_MYTHES:
        pytest.skip("MyThes data not installed")
    from bench.spinners import MyThesSpinner

    return MyThesSpinner()


@pytest.fixture(params=["wordnet", "aiksaurus", "mythes"])
def spinner(request):
    return request.getfixturevalue(request.param)


# ---------------------------------------------------------------------------------------
# Spinners


def test_swaps_reproduce_original(spinner):
    for seed in range(8):
        for rate in (0.1, 0.2, 0.35, 0.9):
            doc = spinner.spin(PARAGRAPH, rate, seed)
            assert unspin_swaps(doc) == PARAGRAPH
            for s in doc.swaps:
                assert PARAGRAPH[s.orig_start : s.orig_end] == s.orig_text
                assert doc.spun[s.spun_start : s.spun_end] == s.spun_text
                assert s.orig_text != s.spun_text


def test_deterministic(spinner):
    assert spinner.spin(PARAGRAPH, 0.2, 5) == spinner.spin(PARAGRAPH, 0.2, 5)
    assert spinner.spin(PARAGRAPH, 0.2, 5).spun != spinner.spin(PARAGRAPH, 0.2, 6).spun


@need_wordnet
def test_every_occurrence_spinner_swaps_all_occurrences_alike():
    import re

    from bench.spinners import SPINNERS

    text = ("The doctor bought a house near the river. Later the doctor sold the house, and "
            "the doctor built a bigger house by the river. The river flooded the house, so "
            "the doctor left the river and the house for good.")
    words = ("doctor", "house", "river")
    occurrences = {w: len(re.findall(rf"\b{w}\b", text)) for w in words}

    def partly_swapped(doc) -> int:
        """Words some but not all of whose occurrences were swapped."""
        out = 0
        for w in words:
            swaps = [s for s in doc.swaps if s.orig_text.lower() == w]
            assert len({s.spun_text.lower() for s in swaps}) <= 1  # one synonym per word
            out += 0 < len(swaps) < occurrences[w]
        return out

    every, partial = SPINNERS["wordnet-every"](), SPINNERS["wordnet"]()
    for seed in range(12):
        doc = every.spin(text, 0.3, seed)
        assert unspin_swaps(doc) == text
        # Only the last word picked can be cut short, when the rate's target is reached.
        assert partly_swapped(doc) <= 1
    assert max(partly_swapped(partial.spin(text, 0.3, seed)) for seed in range(12)) >= 2


def test_rate_roughly_respected(spinner):
    for rate in (0.1, 0.2, 0.35):
        swapped = total = 0
        for seed in range(10):
            doc = spinner.spin(PARAGRAPH, rate, seed)
            total += doc.n_words
            swapped += sum(M.n_words(s.orig_text) for s in doc.swaps)
        assert abs(swapped / total - rate) < 0.05, (rate, swapped / total)


def test_numbers_punctuation_and_spacing_kept(spinner):
    doc = spinner.spin(PARAGRAPH, 0.9, 1)
    for keep in ("1,200", "3.5", ".\n", ", "):
        assert keep in doc.spun
    orig_punct = [t.text for t in tokenize(PARAGRAPH) if t.kind == "punct"]
    for s in doc.swaps:  # swaps never touch punctuation or digits
        assert not any(ch.isdigit() for ch in s.orig_text)
        assert all(t.kind == "word" for t in tokenize(s.orig_text))
    assert orig_punct == [t.text for t in tokenize(doc.spun) if t.kind == "punct"]


def test_capitalisation_carried(spinner):
    for seed in range(20):
        doc = spinner.spin(PARAGRAPH, 0.5, seed)
        for s in doc.swaps:
            if s.orig_text[0].isupper():
                assert s.spun_text[0].isupper(), s
            elif s.orig_text[0].islower():
                assert s.spun_text[0].islower() or s.spun_text[0].isdigit(), s


def test_names_spun_word_by_word(spinner):
    text = "The Supreme Court met. The White House said no. Wall Street fell."
    hit = set()
    for seed in range(40):
        doc = spinner.spin(text, 0.6, seed)
        for s in doc.swaps:
            assert " " not in s.orig_text.strip() or not s.orig_text[0].isupper() or (
                s.orig_text.split()[0].lower() in ("a", "an")), s
            hit.add(s.orig_text)
    assert hit & {"Supreme", "Court", "House", "Street"}


def test_inflection_carried(wordnet):
    assert "stated" in wordnet.word_candidates("said")
    assert all(c.endswith("s") for c in wordnet.word_candidates("houses") if " " not in c)
    doc = wordnet.spin("Said the man.", 1.0, 0)
    assert doc.spun.split()[0][0].isupper()


def test_function_words_and_numbers(wordnet, aiksaurus):
    text = "Three women left because it rained, but two men stayed while others also did."
    for sp in (wordnet, aiksaurus):
        doc = sp.spin(text, 1.0, 0)
        assert unspin_swaps(doc) == text
        assert doc.spun.startswith("3 ")
        assert "because" not in doc.spun
    assert "3 females" in wordnet.spin(text, 1.0, 0).spun


def test_phrases_both_ways(wordnet, aiksaurus):
    assert wordnet.word_candidates("because")[0].count(" ") >= 2
    assert aiksaurus.phrase_candidates(["due", "to", "the", "fact", "that"]) == ["because"]
    assert aiksaurus.phrase_candidates(["give", "up"])  # thesaurus phrase -> word/phrase
    assert all(c.endswith("ed") or " " in c for c in wordnet.phrase_candidates(["gave", "up"]))


def test_tables_differ(wordnet, aiksaurus):
    assert HAND_WORDNET != HAND_AIKSAURUS
    words = ["said", "court", "house", "policy", "staff", "announced", "because", "but"]
    differ = sum(wordnet.word_candidates(w) != aiksaurus.word_candidates(w) for w in words)
    assert differ >= len(words) - 1
    assert wordnet.spin(PARAGRAPH, 0.3, 0).spun != aiksaurus.spin(PARAGRAPH, 0.3, 0).spun


@need_aiksaurus
def test_aiksaurus_decoding():
    from bench.spinners import read_aiksaurus

    words, word_meanings, meaning_words, _ = read_aiksaurus()
    k = words.index("abandon")
    syn = {words[w] for m in word_meanings[k] for w in meaning_words[m]}
    assert {"abandon", "give up", "desert"} <= syn or {"abandon", "give up"} <= syn


@need_wordnet
def test_wordnet_sense_pooling(wordnet):
    # "bill": invoice and legislation senses both feed the candidates.
    cands = set(wordnet.base_candidates("bill", "NOUN"))
    assert len(cands) >= 2


# ---------------------------------------------------------------------------------------
# Metrics (never skipped)


def test_match_case():
    assert match_case("Said", "stated") == "Stated"
    assert match_case("NASA", "agency") == "AGENCY"
    assert match_case("said", "stated") == "stated"


def test_unspin_swaps_handmade():
    doc = SpunDoc("a big dog", "a large hound", [Swap(2, 5, "big", 2, 7, "large"),
                                                 Swap(6, 9, "dog", 8, 13, "hound")], 3)
    assert unspin_swaps(doc) == "a big dog"


def test_roc_auc_and_tpr():
    assert M.roc_auc([0, 0, 1, 1], [0.1, 0.2, 0.8, 0.9]) == 1.0
    assert M.roc_auc([0, 0, 1, 1], [0.9, 0.8, 0.2, 0.1]) == 0.0
    assert M.roc_auc([0, 1], [0.5, 0.5]) == 0.5
    assert M.roc_auc([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8]) == 0.75
    fpr, tpr, thr = M.roc_curve([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8])
    assert fpr == [0, 0, 0.5, 0.5, 1] and tpr == [0, 0.5, 0.5, 1, 1]
    labels = [0] * 100 + [1] * 10
    scores = [i / 100 for i in range(100)] + [0.995] * 5 + [0.5] * 5
    assert M.tpr_at_fpr(labels, scores, 0.01) == 0.5
    assert M.tpr_at_fpr(labels, scores, 0.5) == 1.0
    assert M.flagged_share([0.2, 0.6, 0.5], 0.5) == 2 / 3
    with pytest.raises(ValueError):
        M.roc_auc([1, 1], [0.1, 0.2])


def test_span_scores():
    swaps = [{"spun_start": 0, "spun_end": 5}, {"spun_start": 10, "spun_end": 14}]
    pred = [{"start": 2, "end": 7}, {"start": 20, "end": 22}]
    s = M.span_scores(pred, swaps)
    assert s["char_overlap"] == 3 and s["char_pred"] == 7 and s["char_true"] == 9
    assert s["swap_recall"] == 0.5 and s["span_precision"] == 0.5
    assert M.span_scores([], swaps)["char_recall"] == 0.0
    assert M.span_scores([], [])["char_precision"] == 1.0


def _doc():
    # original: "The big dog barked because it was hungry."
    spun = "The large hound barked as a result of it was hungry."
    swaps = [
        Swap(4, 7, "big", 4, 9, "large"),
        Swap(8, 11, "dog", 10, 15, "hound"),
        Swap(19, 26, "because", 23, 37, "as a result of"),
    ]
    return SpunDoc("The big dog barked because it was hungry.", spun, swaps, 8)


def _edit(start, end, repl, kind="spin"):
    return {"start": start, "end": end, "replacement": repl, "kind": kind}


def test_restoration_scores():
    d = _doc()
    assert d.spun[23:37] == "as a result of"
    edits = [
        _edit(4, 9, "big"),  # exact
        _edit(10, 15, "Puppy"),  # wrong
        _edit(23, 37, "Because"),  # exact (case-insensitive), 1 word
        _edit(42, 45, "is"),  # false: "was" was not swapped
        _edit(0, 3, "the", kind="cleanup"),  # ignored
    ]
    r = M.restoration_scores(d, edits)
    assert r["swaps"] == 3 and r["swaps_restored"] == 2
    assert r["swapped_words"] == 3 and r["restored_words"] == 2
    assert r["false_edits"] == 1 and r["wrong_edits"] == 1 and r["edits"] == 4
    assert r["false_edits_per_100w"] == pytest.approx(12.5)
    none = M.restoration_scores(d, [])
    assert none["restored_share"] == 0 and none["false_edits"] == 0


def test_restoration_partial_edits_inside_phrase():
    # Two edits inside one phrase swap together restore it; whitespace normalised.
    d = SpunDoc("so as to win", "in order to win",
                [Swap(0, 8, "so as to", 0, 11, "in order to")], 4)
    edits = [_edit(0, 2, "so"), _edit(3, 8, " as ")]
    r = M.restoration_scores(d, edits)
    assert r["restored_share"] == 1.0 and r["wrong_edits"] == 0 and r["false_edits"] == 0
    assert r["swapped_words"] == 3


def test_false_edits_clean():
    r = M.false_edits_clean("one two three four", [_edit(0, 3, "1"), _edit(4, 7, "x", "cleanup")])
    assert r["false_edits"] == 1 and r["false_edits_per_100w"] == 25.0


def test_chrf():
    assert M.chrf("the cat sat", "the cat sat") == pytest.approx(100.0)
    assert M.chrf("abc", "xyz") == 0.0
    assert M.chrf("", "abc") == 0.0
    a = M.chrf("the cat sat on the mat", "the cat sat on a mat")
    b = M.chrf("the dog lay on a rug", "the cat sat on a mat")
    assert 0 < b < a < 100
    # whitespace is ignored
    assert M.chrf("thecat", "the cat") == pytest.approx(100.0)
    # hand-computed: hyp "ab", ref "abc": n=1 P=1 R=2/3 F=(5*2/3)/(4+2/3)=0.714..;
    # n=2 P=1 R=1/2 F=(5*0.5)/(4+0.5)=0.5555..; n>=3: hyp has no n-grams -> skipped
    f1, f2 = (5 * 2 / 3) / (4 + 2 / 3), 2.5 / 4.5
    assert M.chrf("ab", "abc") == pytest.approx(100 * (f1 + f2) / 2)


def test_mythes_spinner_reads_loose_terms_first_and_no_antonyms(tmp_path):
    # A tiny file in MyThes' format: the looser terms (annotated) of each meaning come
    # before its plain synonyms, meanings round-robin, antonyms never.
    from bench.spinners import MyThesSpinner

    path = tmp_path / "th.dat"
    path.write_text("UTF-8\nhappy|2\n(adj)|glad|felicitous (similar term)|unhappy (antonym)\n"
                    "(adj)|well-chosen|fortunate (related term)\nbig deal|1\n(noun)|matter\n",
                    encoding="utf-8")
    sp = MyThesSpinner(path)
    assert sp.base_candidates("happy", "ADJ") == ["felicitous", "fortunate", "glad"]
    assert "unhappy" not in sp.surface_candidates("happy")
    assert sp.is_phrase("big deal") and not sp.is_phrase("happy")
    with pytest.raises(FileNotFoundError):
        MyThesSpinner(tmp_path / "missing.dat")
