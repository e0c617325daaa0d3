"""The public API on the shipped models: contracts, invariants and real restorations."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import unspin
from unspin.report import Edit

SPUN = (
    "The Supreme Courtroom stated on Monday that the committee additionally declared a "
    "new policy. Critics argued that the bill would cost greater than expected, and the "
    "metropolis council will vote next week."
)
CLEAN = (
    "The city council approved the budget on Tuesday. The mayor said the plan would "
    "create jobs and repair roads across the district. Critics said the cost was too high."
)


def apply(text: str, edits: list[Edit]) -> str:
    out, pos = [], 0
    for e in sorted(edits, key=lambda e: e.start):
        out.append(text[pos:e.start])
        out.append(e.replacement)
        pos = e.end
    return "".join(out) + text[pos:]


def test_restores_typical_spins():
    r = unspin.restore(SPUN)
    assert "Supreme Court " in r.text
    assert "also" in r.text and "additionally" not in r.text
    assert r.report.spun and r.score > 0.5
    kinds = {e.kind for e in r.edits}
    assert kinds == {"spin"}


def test_clean_text_is_left_alone():
    r = unspin.restore(CLEAN)
    assert r.text == CLEAN
    assert r.edits == []
    assert not unspin.check(CLEAN).spun


def test_edits_are_in_input_offsets_and_reproduce_the_text():
    text = "[ad_1]\n" + SPUN.replace("policy", "policyâ€™s")
    r = unspin.restore(text)
    for e in r.edits:
        assert text[e.start:e.end] == e.text
        assert 0 <= e.confidence <= 1
    assert apply(text, r.edits) == r.text
    assert any(e.kind == "cleanup" for e in r.edits)
    assert "[ad_1]" not in r.text


def test_check_spans_are_ordered_disjoint_and_true_to_the_input():
    rep = unspin.check(SPUN)
    assert rep.spans
    last = -1
    for s in rep.spans:
        assert SPUN[s.start:s.end] == s.text
        assert s.start >= last and s.end > s.start
        assert s.suggestion and s.suggestion != s.text
        last = s.end
    assert 0.0 <= rep.score <= 1.0 and rep.spun == (rep.score >= rep.threshold)


def test_json_contracts():
    rep = json.loads(unspin.check(SPUN).to_json())
    assert {"score", "spun", "spans", "version"} <= rep.keys()
    assert set(rep["spans"][0]) == {"start", "end", "text", "suggestion", "confidence"}
    res = json.loads(unspin.restore(SPUN).to_json())
    assert {"text", "edits", "score", "version"} <= res.keys()
    assert set(res["edits"][0]) == {"start", "end", "text", "replacement", "confidence", "kind"}
    assert set(res["version"]) == {"package", "data"}


@pytest.mark.parametrize("text,reason", [
    ("", "empty"),
    ("   \n\t ", "empty"),
    ("Der Ausschuss hat am Montag eine neue Politik beschlossen, aber die Kritiker sagen, "
     "dass das Gesetz mehr kosten wird als erwartet.", "unsupported"),
    ("委员会周一宣布了一项新政策，但批评者认为该法案的成本将高于预期。", "unsupported"),
    ("\x00\x01\x02\x03\x04\x05\x06\x07" * 50, "binary"),
])
def test_unsupported_input_gets_no_verdict(text, reason):
    rep = unspin.check(text)
    assert not rep.supported and not rep.spun and rep.score == 0.0
    assert rep.language == reason
    assert unspin.restore(text).report.supported is False


def test_bytes_are_decoded_and_other_types_rejected():
    rep = unspin.check(SPUN.encode("utf-8") + b"\xff\xfe")
    assert rep.supported
    with pytest.raises(TypeError):
        unspin.check(123)  # type: ignore[arg-type]


def test_threshold_and_min_confidence_are_honoured():
    assert unspin.check(SPUN, threshold=1.01).spun is False
    assert unspin.check(SPUN, threshold=0.0).spun is True
    strict = unspin.restore(SPUN, min_confidence=1.01)
    assert [e for e in strict.edits if e.kind == "spin"] == []


def test_long_run_on_line_is_handled():
    text = ("the committee additionally declared a new policy " * 3000).strip()
    r = unspin.restore(text)
    assert r.report.supported and len(r.text) > 0.8 * len(text)


@settings(max_examples=40, deadline=None)
@given(st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=300))
def test_any_text_gives_a_result_with_valid_offsets(text):
    r = unspin.restore(text)
    for e in r.edits:
        assert 0 <= e.start <= e.end <= len(text)
        assert text[e.start:e.end] == e.text
    assert apply(text, r.edits) == r.text


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-le"])
def test_utf16_bytes_are_decoded_as_utf16(encoding):
    r = unspin.restore(SPUN.encode(encoding))
    assert "\x00" not in r.text and not any(e.kind == "cleanup" for e in r.edits)
    assert "Supreme Court " in r.text


def test_learned_table_restores_what_the_shipped_tables_cannot(tmp_path, monkeypatch):
    from unspin.candidates import LearnedTable

    text = ("The engineers said the new gizmo would be ready by Monday, and the rapid auto "
            "was tested on the track.")
    table = LearnedTable()
    table.add(("gizmo",), ("device",), 8)
    table.add(("rapid", "auto"), ("fast", "car"), 5)
    path = tmp_path / "table.tsv"
    table.save(path)
    assert unspin.restore(text).text == text
    for t in (table, str(path)):
        restored = unspin.restore(text, table=t).text
        assert "new device" in restored and "fast car" in restored
    assert unspin.check(text, table=table).spans
    # The document's familiarity reads the shipped tables only (blind to the learned
    # pairs): with a learned table the confidences are not moved by it.
    import unspin.api as api
    from unspin.detect import ConfidenceMap

    edits = [e for e in unspin.restore(text, table=table).edits if e.kind == "spin"]
    spans = unspin.check(text, table=table).spans
    shipped = api.edit_confidence_map()
    # Every familiarity below 5 gets a shift of -3.
    harsh = ConfidenceMap(shipped.x, shipped.y, [5.0, 6.0], [-3.0, 0.0])
    monkeypatch.setattr(api, "edit_confidence_map", lambda: harsh)
    monkeypatch.setattr(api, "span_confidence_map",
                        lambda: ConfidenceMap([0.0, 1.0], [0.0, 1.0], [5.0, 6.0], [-3.0, 0.0]))
    assert edits and [(e.start, e.confidence) for e in unspin.restore(text, table=table).edits
                      if e.kind == "spin"] == [(e.start, e.confidence) for e in edits]
    assert spans and unspin.check(text, table=table).spans == spans
    assert unspin.check(text, table=table).familiarity is None


def test_random_bytes_read_as_latin1_are_binary_not_a_language():
    import random

    junk = random.Random(1).randbytes(20000).decode("latin-1")
    rep = unspin.check(junk)
    assert (rep.supported, rep.language) == (False, "binary")


def test_check_and_restore_report_the_same_score():
    for text in (SPUN, CLEAN, SPUN + " " + CLEAN):
        assert unspin.check(text).score == unspin.restore(text).report.score


def test_spans_are_looked_for_only_above_the_gate():
    from unspin.api import SPAN_GATE

    clean = unspin.check(CLEAN)
    assert clean.score < SPAN_GATE and clean.spans == []
    spun = unspin.check(SPUN)
    assert spun.score >= SPAN_GATE and spun.spans
    # restore makes no spin edits where check shows no spans, but still cleans up.
    restored = unspin.restore(CLEAN + " [ad_1]")
    assert restored.report.score < SPAN_GATE
    assert [e.kind for e in restored.edits] == ["cleanup"]
    assert unspin.restore(SPUN).edits


def test_evidence_scores_candidates_of_words_the_lm_does_not_know(monkeypatch):
    from unspin.lm import UNK
    from unspin.models import get_models
    from unspin.tokens import segment_ids, shape_codes

    dec = get_models().decoder
    texts = "The committee reached an unexampled agreement on the budget .".split()
    norms = [t.lower() for t in texts]
    ids = dec.lm.ids(norms)
    assert ids[4] == UNK and dec._unknown_originals("unexampled")
    seg = segment_ids(texts)
    shapes = shape_codes(texts, seg)
    lp, post = dec.evidence(norms, ids, seg, shapes)
    assert len(lp) == len(texts) and np.all(lp <= 0)
    assert np.all((post >= 0) & (post <= 1))
    monkeypatch.setattr(dec, "_unknown_arrays",
                        lambda word: (np.zeros(0, dtype=np.int64), np.zeros(0)))
    _, post_without = dec.evidence(norms, ids, seg, shapes)
    assert len(post_without) == len(post) - 1


def test_check_without_spans_gives_the_same_verdict():
    for text in (SPUN, CLEAN):
        full, bare = unspin.check(text), unspin.check(text, spans=False)
        assert (bare.score, bare.spun, bare.words) == (full.score, full.spun, full.words)
        assert bare.spans == []
    assert unspin.check(SPUN).spans


def test_check_many_gives_the_reports_check_gives_one_by_one():
    texts = [SPUN, CLEAN, "", "Das ist ein deutscher Satz und kein englischer Text.",
             SPUN + "\n\n" + CLEAN, b"The council met on Monday.", "Word"]
    one_by_one = [unspin.check(t).to_dict() for t in texts]
    assert [r.to_dict() for r in unspin.check_many(texts)] == one_by_one
    bare = unspin.check_many(texts, spans=False)
    assert [r.score for r in bare] == [r["score"] for r in one_by_one]
    assert any(r["spans"] for r in one_by_one) and not any(r.spans for r in bare)
    assert unspin.check_many([]) == []


def test_check_many_names_the_bad_item():
    with pytest.raises(TypeError, match=r"texts\[1\]: text must be str"):
        unspin.check_many([CLEAN, 42])


def test_restore_many_gives_the_restorations_restore_gives_one_by_one():
    tortured = ("Recent advances in counterfeit consciousness have changed how clinics screen "
                "patients for bosom malignancy, and the results are promising.")
    texts = [SPUN, CLEAN, "", "Das ist ein deutscher Satz und kein englischer Text.", tortured,
             SPUN + "\n\n" + CLEAN, b"The council met on Monday.", "[ad_1] " + SPUN, "Word"]
    for options in ({}, {"min_confidence": 0.3}, {"two_step": True}, {"threshold": 0.99}):
        one_by_one = [unspin.restore(t, **options).to_dict() for t in texts]
        assert [r.to_dict() for r in unspin.restore_many(texts, **options)] == one_by_one
    assert any(e["kind"] == "spin" for r in one_by_one for e in r["edits"])
    assert any(e["kind"] == "cleanup" for r in one_by_one for e in r["edits"])
    assert unspin.restore_many([]) == []
    with pytest.raises(TypeError, match=r"texts\[1\]: text must be str"):
        unspin.restore_many([CLEAN, None])


@settings(max_examples=25, deadline=None)
@given(st.lists(st.sampled_from([SPUN, CLEAN, "Hello.", "", "? ! .", "A B C D", "42"]),
                max_size=6))
def test_check_many_never_mixes_documents_up(texts):
    assert [r.to_dict() for r in unspin.check_many(texts)] == \
        [unspin.check(t).to_dict() for t in texts]


def test_the_same_rate_of_evidence_counts_less_in_a_short_text():
    from unspin.detect import features

    # One confident swap in ten words, and thirty in three hundred: the short text's shares
    # are pulled further towards those of a clean document.
    short = features(10, np.full(12, -2.5), [0.99])
    article = features(300, np.full(345, -2.5), [0.99] * 30)
    for name in ("spun_mass", "confident_share", "strong_share"):
        assert short[name] < article[name] < 0.1
    assert features(0, np.zeros(0), [])["spun_mass"] >= 0  # no words: defined, no error


SHORT_CLEAN = [
    "The bridge was closed for repairs after the storm damaged its supports.",
    "Officials said the new school would open in September.",
    "The company reported higher profits for the third quarter.",
    "Residents were asked to leave their homes as the river rose.",
    "Police arrested two men after a robbery at a petrol station.",
    "Heavy rain caused flooding in several parts of the city on Tuesday.",
    "The film was praised by critics and became a commercial success.",
    "Farmers warned that the drought would hurt this year's harvest.",
    "The court rejected the appeal and upheld the original sentence.",
]


def test_ordinary_short_sentences_are_not_called_spun():
    reports = unspin.check_many(SHORT_CLEAN)
    assert [r.spun for r in reports] == [False] * len(SHORT_CLEAN)
    assert all(r.supported for r in reports)


def test_results_serialise_as_asdict_would():
    from dataclasses import asdict

    report = unspin.check(SPUN)
    assert report.spans
    assert report.to_dict() == asdict(report)
    assert list(report.to_dict()) == list(asdict(report))  # same key order in JSON
    restoration = unspin.restore(SPUN)
    assert [e.to_dict() for e in restoration.edits] == [asdict(e) for e in restoration.edits]


def test_document_length_counts_only_up_to_the_calibrated_length():
    # The detector saw articles of up to 400 words: longer ones are not scored as if their
    # length alone made them less likely spun.
    from unspin.detect import MAX_CALIBRATED_WORDS, features

    lp = np.full(3000, -2.5)
    post = [0.2] * 300
    short, calibrated, long = (features(n, lp[:n], post)["log_words"]
                               for n in (100, MAX_CALIBRATED_WORDS, 3000))
    assert short < calibrated == long


def test_names_spun_word_by_word_get_title_case_with_small_words_lower() -> None:
    from unspin.api import _match_case

    assert _match_case(["Commerce", "Secretary"], ("secretary", "of", "commerce")) == \
        "Secretary of Commerce"
    assert _match_case(["Excellent", "Courtroom"], ("supreme", "court")) == "Supreme Court"
    # The first word is capitalised whatever it is; capitals stay capitals.
    assert _match_case(["Of", "Course"], ("the", "way")) == "The Way"
    assert _match_case(["HOUSE", "RULES"], ("rules", "of", "the", "house")) == \
        "RULES OF THE HOUSE"


def test_the_decoders_prior_comes_from_the_documents_own_evidence(monkeypatch):
    from unspin.api import _analyse
    from unspin.candidates import LearnedTable
    from unspin.decode import DecodeParams

    text = ("The histrion depicted the lead role in the new cinema, which was shot in the "
            "metropolis over three calendar months. Critics aforesaid the performance was "
            "brilliant.")
    masses = []
    real = DecodeParams.document_rate

    def spy(self, p_spun, spun_mass):
        masses.append(spun_mass)
        return real(self, p_spun, spun_mass)

    monkeypatch.setattr(DecodeParams, "document_rate", spy)
    assert unspin.restore(text).edits
    expected = _analyse([text], None, "score")[0].features["spun_mass"]
    assert masses == [expected] and expected > 0
    # A learned table's swaps are invisible to the evidence: the fixed rate instead.
    masses.clear()
    table = LearnedTable()
    table.add(("histrion",), ("actor",), 3)
    unspin.restore(text, table=table)
    assert masses == [None]


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 500),
                          st.lists(st.floats(-9.0, 0.0), max_size=30),
                          st.lists(st.sampled_from([0.0, 0.1, 0.5, 0.49999, 0.9, 0.95, 1.0]),
                                   max_size=12)),
                min_size=1, max_size=6))
def test_features_of_a_batch_are_each_documents_features(docs):
    from unspin.detect import features, features_many

    lp = np.array([x for _, lps, _ in docs for x in lps], dtype=np.float64)
    post = np.array([x for _, _, ps in docs for x in ps], dtype=np.float64)
    bounds = np.concatenate(([0], np.cumsum([len(d[1]) for d in docs]))).tolist()
    cuts = np.concatenate(([0], np.cumsum([len(d[2]) for d in docs]))).tolist()
    many = features_many([d[0] for d in docs], lp, bounds, post, cuts)
    for k, (words, lps, ps) in enumerate(docs):
        assert many[k] == features(words, np.array(lps), np.array(ps))  # to the last bit


# ------------------------------------------------------------- restore's edit confidences


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.sampled_from([0.1, 0.3, 0.5, 0.5, 0.7, 0.9, 0.99, 1.0]),
                          st.booleans()), min_size=120, max_size=400))
def test_fitted_confidence_map_is_increasing_and_keeps_the_share_right(rows):
    from unspin.detect import fit_confidence_map

    raw, right = [r for r, _ in rows], [y for _, y in rows]
    try:
        cmap = fit_confidence_map(raw, right, min_block=20)
    except ValueError:  # everything pooled into one block: refused, not a flat map
        return
    assert np.all(np.diff(cmap.x) > 0) and np.all(np.diff(cmap.y) > 0)
    assert all(0.0 <= v <= 1.0 for v in cmap.y)
    # Each point is a pool of edits: its raw confidence and share right are averages of
    # theirs, so they lie within the range of the raw values and of their groups' shares.
    x, y = np.array(raw), np.array(right, dtype=float)
    shares = [y[x == v].mean() for v in np.unique(x)]
    assert x.min() - 1e-12 <= cmap.x[0] and cmap.x[-1] <= x.max() + 1e-12
    assert min(shares) - 1e-12 <= cmap.y[0] and cmap.y[-1] <= max(shares) + 1e-12


def test_confidence_map_pools_violators():
    from unspin.detect import ConfidenceMap, fit_confidence_map

    # 0.5-edits right 80 %, 0.9-edits right 60 %: a violation, pooled into one share
    # between them; 1.0-edits right 95 %.
    raw = [0.5] * 100 + [0.9] * 100 + [1.0] * 100
    right = [1] * 80 + [0] * 20 + [1] * 60 + [0] * 40 + [1] * 95 + [0] * 5
    cmap = fit_confidence_map(raw, right, min_block=10)
    assert cmap.x == pytest.approx([0.7, 1.0]) and cmap.y == pytest.approx([0.7, 0.95])
    assert cmap(0.5) == pytest.approx(0.7) and cmap(0.85) == pytest.approx(0.825)
    assert cmap(0.0) == pytest.approx(0.7) and cmap(1.0) == pytest.approx(0.95)  # flat ends
    assert ConfidenceMap.identity()(0.37) == pytest.approx(0.37)
    with pytest.raises(ValueError):
        fit_confidence_map([], [])


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(st.lists(st.floats(0.0, 1.0), max_size=6),
                          st.one_of(st.none(), st.floats(0.0, 8.0))), max_size=6))
def test_confidence_map_of_many_documents_is_the_map_of_each(docs):
    """`ConfidenceMap.many_each` (all documents' confidences at once) gives what `many`
    gives document by document, to the last bit: without and with the familiarity shift."""
    from unspin.detect import ConfidenceMap

    for cmap in (ConfidenceMap([0.2, 0.9], [0.1, 0.8], [5.0, 6.0], [-3.0, 0.5]),
                 ConfidenceMap([0.0, 1.0], [0.0, 1.0])):
        raw = [c for cs, _ in docs for c in cs]
        fam = [np.nan if f is None else f for cs, f in docs for _ in cs]
        gates, moved = cmap.many_each(raw, fam)
        want_gates = [v for cs, _ in docs for v in cmap.many(cs).tolist()]
        want_moved = [v for cs, f in docs for v in cmap.many(cs, f).tolist()]
        assert gates.tolist() == want_gates and moved.tolist() == want_moved


def _raw_and_familiarity(monkeypatch, text):
    """The decoder's own confidence of every spin edit of ``text`` (no map), and the
    document's familiarity."""
    import unspin.api as api
    from unspin.detect import ConfidenceMap, document_familiarity, document_features

    with monkeypatch.context() as m:
        m.setattr(api, "edit_confidence_map", ConfidenceMap.identity)
        raw = [e for e in unspin.restore(text, min_confidence=0.0).edits if e.kind == "spin"]
    return raw, document_familiarity(document_features(text))


def test_restore_reports_mapped_confidences_and_filters_on_them(monkeypatch):
    from unspin.api import _default_min_confidence, edit_confidence_map

    cmap = edit_confidence_map()
    assert len(cmap.x) > 2 and np.all(np.diff(cmap.y) > 0)
    assert len(cmap.shift) > 1 and np.all(np.diff(cmap.shift) >= 0)
    raw, fam = _raw_and_familiarity(monkeypatch, SPUN)
    every = [e for e in unspin.restore(SPUN, min_confidence=0.0).edits if e.kind == "spin"]
    assert [(e.start, e.replacement) for e in every] == \
        [(e.start, e.replacement) for e in raw]
    # Reported: the map's value, moved by the document's familiarity (the raw values here
    # are rounded to 4 decimals: off by up to the map's steepest slope times 5e-5).
    slope = float(np.max(np.diff(cmap.y) / np.diff(cmap.x)))
    assert [e.confidence for e in every] == pytest.approx(
        cmap.many([e.confidence for e in raw], fam).tolist(), abs=2 * slope * 6e-5 + 2e-4)
    # The default keeps what the decoder's tuned threshold keeps, on the map's scale
    # before the document's adjustment.
    default = [e for e in unspin.restore(SPUN).edits if e.kind == "spin"]
    cut = cmap(_default_min_confidence())
    assert default and [(e.start, e.replacement) for e in default] == \
        [(e.start, e.replacement) for e in raw if cmap(e.confidence) >= cut]
    # An explicit threshold is on the reported scale.
    mid = sorted(e.confidence for e in every)[len(every) // 2]
    kept = [e for e in unspin.restore(SPUN, min_confidence=mid).edits if e.kind == "spin"]
    assert [(e.start, e.confidence) for e in kept] == \
        [(e.start, e.confidence) for e in every if e.confidence >= mid]
    # The report's spans are the edits.
    r = unspin.restore(SPUN)
    assert sorted((s.start, s.confidence) for s in r.report.spans) == \
        sorted((e.start, e.confidence) for e in r.edits if e.kind == "spin")


def test_unfamiliar_document_lowers_confidences_not_the_default_edits(monkeypatch):
    import unspin.api as api
    from unspin.detect import ConfidenceMap

    shipped = api.edit_confidence_map()
    _, fam = _raw_and_familiarity(monkeypatch, SPUN)
    plain = [e for e in unspin.restore(SPUN).edits if e.kind == "spin"]
    # A map whose shift takes two units of log-odds off every document this familiar.
    harsh = ConfidenceMap(shipped.x, shipped.y, [fam + 1.0, fam + 2.0], [-2.0, 0.0])
    monkeypatch.setattr(api, "edit_confidence_map", lambda: harsh)
    lowered = [e for e in unspin.restore(SPUN).edits if e.kind == "spin"]
    assert [(e.start, e.replacement) for e in lowered] == \
        [(e.start, e.replacement) for e in plain]
    assert all(b.confidence < a.confidence for a, b in zip(plain, lowered, strict=True))
    # ... and an explicit threshold sees the lowered values.
    top = max(e.confidence for e in lowered)
    assert [e.start for e in unspin.restore(SPUN, min_confidence=top).edits
            if e.kind == "spin"] == [e.start for e in lowered if e.confidence >= top]


def test_familiarity_shift_fits_the_share_right_by_document():
    from unspin.detect import ConfidenceMap, fit_familiarity_shift

    # Every edit mapped to 0.9; in documents of familiarity 0.1 right half the time, in
    # those of 0.4 nine times in ten: shifts of about logit(0.5) - logit(0.9) and 0.
    mapped = [0.9] * 2000
    right = ([1, 0] * 500) + ([1] * 9 + [0]) * 100
    fam = [0.1] * 1000 + [0.4] * 1000
    xs, shifts = fit_familiarity_shift(mapped, right, fam, min_block=300)
    assert xs == pytest.approx([0.1, 0.4])
    assert shifts == pytest.approx([np.log(1.0) - np.log(9.0), 0.0], abs=1e-6)
    cmap = ConfidenceMap([0.0, 1.0], [0.0, 1.0], xs, shifts)
    assert cmap.many([0.9], 0.1)[0] == pytest.approx(0.5)
    assert cmap.many([0.9], 0.4)[0] == pytest.approx(0.9)
    assert cmap.many([0.9], None)[0] == pytest.approx(0.9)  # no document: the map alone
    # A violation (less familiar documents right more often) is pooled: one shift.
    xs, shifts = fit_familiarity_shift(mapped, list(reversed(right)), fam, min_block=300)
    assert len(shifts) == 1
    with pytest.raises(ValueError):
        fit_familiarity_shift([0.9] * 10, [1] * 10, [0.2] * 10, min_block=300)


@settings(max_examples=25, deadline=None)
@given(st.lists(st.tuples(st.floats(0.05, 0.99), st.booleans(), st.integers(0, 30)),
                min_size=40, max_size=300))
def test_familiarity_shift_is_nondecreasing(rows):
    from unspin.detect import fit_familiarity_shift

    xs, shifts = fit_familiarity_shift([r[0] for r in rows], [r[1] for r in rows],
                                       [r[2] / 60 for r in rows], min_block=20)
    assert np.all(np.diff(xs) > 0) and np.all(np.diff(shifts) > 0)


def test_document_familiarity_is_bounded():
    from unspin.detect import FAMILIARITY_CAP, document_familiarity

    assert document_familiarity({"spun_mass": 0.05, "surprise_share": 0.2}) == \
        pytest.approx(0.25)
    assert document_familiarity({"spun_mass": 0.05, "surprise_share": 0.0}) == \
        FAMILIARITY_CAP  # no surprise at all: a guard, not a division by zero
    assert document_familiarity({}) == 0.0


@pytest.mark.parametrize("name", ["edit_confidence.json", "span_confidence.json"])
def test_shipped_edit_confidence_map_was_fitted_with_the_shipped_decoder(name):
    # Rebuilt tables, a new language model or refitted weights change what a confidence
    # means: refit the maps with them (`python -m bench.confidence --docs 200 --fit`).
    from unspin.models import data_path, decoder_fingerprint

    with open(data_path(name), encoding="utf-8") as fh:
        fitted_with = json.load(fh)["decoder"]
    assert fitted_with == decoder_fingerprint(), \
        f"{name} is stale: python -m bench.confidence --docs 200 --fit"


def test_reports_carry_the_document_familiarity():
    from unspin.detect import document_familiarity, document_features

    fam = round(document_familiarity(document_features(SPUN)), 4)
    checked, restored = unspin.check(SPUN), unspin.restore(SPUN).report
    assert checked.familiarity == restored.familiarity == fam and 0.0 < fam <= 1.0
    assert checked.to_dict()["familiarity"] == fam
    assert unspin.check("").familiarity is None  # not analysed: nothing to read


def test_check_reports_span_confidences_moved_by_familiarity_same_spans(monkeypatch):
    import unspin.api as api
    from unspin.detect import ConfidenceMap, document_familiarity, document_features

    smap = api.span_confidence_map()
    assert smap.x == [0.0, 1.0] and len(smap.shift) > 1 and np.all(np.diff(smap.shift) >= 0)
    shown = unspin.check(SPUN).spans
    fam = document_familiarity(document_features(SPUN))
    with monkeypatch.context() as m:
        m.setattr(api, "span_confidence_map", ConfidenceMap.identity)
        posterior = unspin.check(SPUN).spans
    assert shown and [(s.start, s.suggestion) for s in shown] == \
        [(s.start, s.suggestion) for s in posterior]
    assert [s.confidence for s in shown] == pytest.approx(
        smap.many([s.confidence for s in posterior], fam).tolist(), abs=2e-4)
    # A map that takes two units of log-odds off: the same spans (the posterior is the
    # gate), every confidence lower; check_many agrees with check.
    harsh = ConfidenceMap([0.0, 1.0], [0.0, 1.0], [fam + 1.0, fam + 2.0], [-2.0, 0.0])
    monkeypatch.setattr(api, "span_confidence_map", lambda: harsh)
    lowered = unspin.check(SPUN).spans
    assert [(s.start, s.suggestion) for s in lowered] == \
        [(s.start, s.suggestion) for s in posterior]
    assert all(b.confidence < a.confidence for a, b in zip(posterior, lowered, strict=True))
    assert unspin.check_many([SPUN, "A plain sentence."])[0].spans == lowered


def test_decoder_fingerprint_follows_the_decoders_weights(monkeypatch):
    from unspin import models
    from unspin.decode import DecodeParams

    before = models.decoder_fingerprint()
    fitted = DecodeParams.fitted

    def shifted(path):
        params = fitted(path)
        params.offset += 0.01
        return params

    monkeypatch.setattr(models.DecodeParams, "fitted", classmethod(lambda cls, p: shifted(p)))
    assert models.decoder_fingerprint() != before


def test_check_decisions_as_arrays_give_the_spans_decision_objects_give():
    # `check` keeps a batch's decisions as arrays (`DecisionArrays`); the same decisions
    # as `Decision` objects through `located` must give the same spans: phrases, tortured
    # phrases kept below the gate, the article put back, offsets through cleaning edits.
    import unspin.api as api

    texts = [
        SPUN,
        "Recent advances in counterfeit consciousness have changed how clinics screen "
        "patients for bosom malignancy, and the results are promising.",
        "Don\u00e2\u20ac\u2122t worry: the metropolis council will vote next week, as a result "
        "of the storm the mayor stated an unexampled plan.",
        CLEAN + " Still, counterfeit consciousness is a term.",
        "He bought an automobile and a auto for the household; it was an unprecedented "
        "occasion for an vehicle.",
        CLEAN,
    ]
    conf = api._default_min_confidence()
    analyses = api._analyse(texts, None, "check", min_confidence=conf)
    reports = [a.report(None, conf).to_dict() for a in analyses]
    spans = [s for r in reports for s in r["spans"]]
    assert any(" " in s["text"] for s in spans)  # a phrase
    assert any(s["text"].startswith("an ") and s["suggestion"].startswith("a ")
               for s in spans)  # the article fixed back
    assert analyses[2].cleaned.edits and reports[2]["spans"]  # offsets through the edits
    assert analyses[3].p_spun < api.SPAN_GATE and reports[3]["spans"]  # a term, below it
    decided = 0
    for a, want in zip(analyses, reports, strict=True):
        if a.found is None:
            continue
        floors = (0.0, 0.5, 0.9)
        by_arrays = [a.located_found(x, by_gate=True) for x in floors]
        a.decisions, a.found = a.found.decisions(), None
        a.gates = None if a.gates is None else list(a.gates)
        decided += len(a.decisions)
        assert a.report(None, conf).to_dict() == want
        for x, got in zip(floors, by_arrays, strict=True):
            assert got == [(d.confidence, *rest) for d, *rest in a.located(x, by_gate=True)]
    assert decided >= 8


def test_decisions_as_arrays_are_the_decision_objects():
    from unspin.models import get_models

    dec = get_models().decoder
    analyses = [unspin.api._Analysis(t) for t in (SPUN, CLEAN + " " + SPUN)]
    unspin.api._score_all(analyses, dec)
    sents, shapes = [], []
    for a in analyses:
        s, sh = a.sentences()
        sents += s
        shapes += sh
    rates = np.full(len(sents), 0.2)
    listed, _, _ = dec.decode(sents, fast=True, shapes=shapes, prior=rates)
    arrays, _, _ = dec.decode(sents, fast=True, shapes=shapes, prior=rates, as_arrays=True)
    assert len(listed) >= 4 and arrays.decisions() == listed  # (originals included)


def test_check_keeps_the_confidence_of_tortured_phrases_whatever_the_familiarity(
        monkeypatch):
    import unspin.api as api
    from unspin.detect import ConfidenceMap

    tortured = ("Recent advances in counterfeit consciousness have changed how clinics "
                "screen patients for bosom malignancy, and the results are promising.")
    monkeypatch.setattr(api, "span_confidence_map", ConfidenceMap.identity)
    plain = unspin.check_many([tortured, SPUN])
    harsh = ConfidenceMap([0.0, 1.0], [0.0, 1.0], [-1e9, 1e9], [-3.0, -3.0])
    monkeypatch.setattr(api, "span_confidence_map", lambda: harsh)
    moved = unspin.check_many([tortured, SPUN])
    assert plain[0].spans and moved[0].spans == plain[0].spans  # terms: the gate itself
    assert plain[1].spans and [s.start for s in moved[1].spans] == \
        [s.start for s in plain[1].spans]
    assert all(b.confidence < a.confidence
               for a, b in zip(plain[1].spans, moved[1].spans, strict=True))


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(st.floats(0, 1), st.floats(allow_nan=True, allow_infinity=True),
                          st.integers(0, 10**5).map(lambda k: k / 1e4 + 5e-5),
                          st.integers(0, 10**5).map(lambda k: (k + 0.5) / 1e4)),
                max_size=40))
def test_confidences_are_rounded_as_python_rounds_them(values):
    from unspin.api import round4

    got = round4(np.array(values, dtype=np.float64))
    want = [round(v, 4) for v in values]
    assert len(got) == len(want)
    for a, b in zip(got, want, strict=True):
        assert (a == b and np.signbit(a) == np.signbit(b)) or (a != a and b != b)


@pytest.mark.parametrize("chunk", [20_000, 25])
def test_batch_evidence_for_several_documents_is_theirs_one_after_the_other(
        monkeypatch, chunk):
    # `check` takes the decoder's inputs for all its documents from the batch's evidence
    # at once (`_BatchEvidence`): they must be the documents' own, laid end to end, also
    # when the evidence cut the batch into chunks inside a document, and when documents in
    # between are left out.
    import unspin.api as api
    import unspin.decode as decode_mod
    from unspin.models import get_models

    monkeypatch.setattr(decode_mod, "CHUNK_TOKENS", chunk)
    dec = get_models().decoder
    texts = [SPUN, CLEAN, SPUN + " " + CLEAN, "Hello there.", CLEAN + "\n\n" + SPUN]
    analyses = [api._Analysis(t) for t in texts]
    api._score_all(analyses, dec, keep_words=True)
    ev = analyses[0]._evidence[0]
    for docs in ([0, 1, 2, 3, 4], [0, 2, 4], [1, 2], [3]):
        known, padded = ev.known(docs), ev.padded(docs)
        own = [api._BatchEvidence.known(ev, [k]) for k in docs]
        n = 0
        for k, w in zip(docs, own, strict=True):
            w.sent = w.sent + n
            n += len(analyses[k].segment_starts())
        for f in ("sent", "tok", "entry", "orig", "channel", "score"):
            assert np.array_equal(getattr(known, f),
                                  np.concatenate([getattr(w, f) for w in own])), f
        each = [api.padded_range(ev.chunks, ev.bounds[k], ev.bounds[k + 1]) for k in docs]
        for i in range(4):
            want = np.concatenate([p[i] for p in each])
            assert padded[i].dtype == want.dtype and np.array_equal(padded[i], want), i
    assert len(ev.chunks) > 1 or chunk > 1000
