"""Context model: the numpy inference, its vocabulary map, and its use in `restore`."""

from __future__ import annotations

import numpy as np
import pytest

import unspin
import unspin.context as context_module
from unspin.context import FIRST_WORD, FORMAT, ContextModel
from unspin.lm import BOS, EOS, NONE, SPECIALS, UNK, ArrayFile
from unspin.models import data_path, get_models

WORDS = SPECIALS + ["the", "film", "played", "depicted", "role", "lead", "in", "he"]
OFFSETS = [-4, -3, -2, -1, 1, 2, 3, 4]


def write_model(path, dim: int = 6, hidden: int = 5, seed: int = 0) -> dict:
    """A random model in the shipped format; returns its float arrays for reference."""
    rng = np.random.default_rng(seed)
    v = len(WORDS)
    emb = rng.normal(size=(v, dim)).astype(np.float32)
    scale = np.abs(emb).max(axis=1) / 127.0
    q = np.rint(emb / scale[:, None]).astype(np.int8)
    arrays = {
        "vocab": np.frombuffer("\n".join(WORDS).encode("utf-8"), dtype=np.uint8),
        "emb": q,
        "scale": scale.astype(np.float32),
        "bias": rng.normal(size=v).astype(np.float32),
        "w1": rng.normal(size=(len(OFFSETS) * dim, hidden)).astype(np.float32),
        "b1": rng.normal(size=hidden).astype(np.float32),
        "w2": rng.normal(size=(hidden, dim)).astype(np.float32),
        "b2": rng.normal(size=dim).astype(np.float32),
    }
    ArrayFile.save(path, arrays, {"format": FORMAT, "vocab": v, "dim": dim, "hidden": hidden,
                                  "offsets": OFFSETS})
    return {**arrays, "emb_f": q.astype(np.float32) * scale[:, None].astype(np.float32)}


def reference_scores(a: dict, g: np.ndarray, slot: int) -> np.ndarray:
    """Scores of every word for one slot, written out plainly."""
    sentence = np.cumsum(g == NONE)
    ctx = [int(g[slot + o]) if 0 <= slot + o < len(g) and sentence[slot + o] == sentence[slot]
           else NONE for o in OFFSETS]
    x = np.concatenate([a["emb_f"][c] for c in ctx])
    h = np.maximum(x @ a["w1"] + a["b1"], 0.0)
    out = h @ a["w2"] + a["b2"]
    return a["emb_f"] @ out


@pytest.fixture()
def tiny(tmp_path):
    path = tmp_path / "ctx.bin"
    arrays = write_model(path)
    return ContextModel(path), arrays


def test_delta_matches_a_plain_computation(tiny):
    model, a = tiny
    # "he depicted the lead role in the film" laid out as the decoder does.
    g = np.array([NONE, BOS, 11, 7, 4, 9, EOS, NONE, BOS, 8, 10, 4, 5, EOS])
    at = np.array([3, 3, 5, 2, 9, 10])
    orig = np.array([6, 4, 10, 5, 7, 6])
    got = model.delta(g, at, orig, bias=0.5)
    for k in range(len(at)):
        s = reference_scores(a, g, int(at[k]))
        want = (s[orig[k]] + 0.5 * a["bias"][orig[k]]) - (s[g[at[k]]] + 0.5 * a["bias"][g[at[k]]])
        assert got[k] == pytest.approx(want, rel=1e-4, abs=1e-4)


def test_specials_and_unknown_words_get_no_evidence(tiny):
    model, _ = tiny
    g = np.array([NONE, BOS, UNK, 7, EOS])
    d = model.delta(g, np.array([2, 3, 3, 4]), np.array([6, UNK, 6, 6]))
    assert d[0] == 0.0  # the observed word is unknown
    assert d[1] == 0.0  # the original is unknown
    assert d[2] != 0.0
    assert d[3] == 0.0  # the slot holds </s>


def test_blocks_give_the_same_result(tiny, monkeypatch):
    model, _ = tiny
    rng = np.random.default_rng(3)
    g = rng.integers(FIRST_WORD, len(WORDS), size=60)
    at = rng.integers(0, len(g), size=200)
    orig = rng.integers(0, len(WORDS), size=200)
    whole = model.delta(g, at, orig)
    monkeypatch.setattr(context_module, "SLOT_BLOCK", 3)
    assert np.allclose(model.delta(g, at, orig), whole)
    assert np.array_equal(model.delta(g, at[:0], orig[:0]), np.zeros(0))


def test_id_map_translates_another_vocabulary(tiny):
    model, _ = tiny
    other = SPECIALS + ["role", "zebra", "the"]
    m = model.id_map(other)
    assert m.tolist() == [0, 1, 2, 3, WORDS.index("role"), UNK, WORDS.index("the")]


def test_not_a_context_model(tmp_path):
    path = tmp_path / "x.bin"
    ArrayFile.save(path, {"a": np.zeros(3)}, {"format": "something else"})
    with pytest.raises(ValueError, match="not an unspin context model"):
        ContextModel(path)


shipped = pytest.mark.skipif(not data_path("context.bin").is_file(),
                             reason="no shipped context model")


@shipped
def test_shipped_model_prefers_the_word_that_fits():
    dec = get_models().decoder
    model, ids = dec._context_model()
    assert model is not None
    lm = dec.lm
    words = "he depicted the lead role in the new film".split()
    g = ids[np.concatenate(([NONE, BOS], lm.ids(words), [EOS]))]
    slot = 2 + words.index("depicted")
    cands = lm.ids(["played", "painted"])
    d = model.delta(g, np.array([slot, slot]), ids[cands], bias=0.0)
    assert d[0] > 2.0  # "played the lead role"
    assert d[0] > d[1]


# Spun by hand: "histrion" (actor), "cinema" (film), "metropolis" (city), "aforesaid" (said).
FILM_TEXT = ("The histrion depicted the lead role in the new cinema, which was shot in the "
             "metropolis over three calendar months. Critics aforesaid the performance was "
             "brilliant.")
NO_WIDER_EVIDENCE = {"context_weight": 0.0, "topic_weight": 0.0, "repeat_weight": 0.0}


def analyse_with(text: str, **weights: float) -> tuple[dict, set]:
    """`check`'s report and `restore`'s edits with some decoder weights set (then reset)."""
    params = get_models().decoder.params
    saved = {k: getattr(params, k) for k in weights}
    try:
        for k, v in weights.items():
            setattr(params, k, v)
        edits = {(e.text, e.replacement) for e in unspin.restore(text).edits}
        return unspin.check(text).to_dict(), edits
    finally:
        for k, v in saved.items():
            setattr(params, k, v)


@shipped
def test_check_is_untouched_and_restore_gains_an_edit():
    check_off, off = analyse_with(FILM_TEXT, **NO_WIDER_EVIDENCE)
    # The context model alone (the topic also finds "film" here).
    check_on, on = analyse_with(FILM_TEXT, topic_weight=0.0, repeat_weight=0.0)
    assert check_on == check_off  # only restore uses the context model
    # "the new cinema, which was shot": the trigram model sees "the new cinema" and keeps
    # it; four words on each side say "film".
    assert ("cinema", "film") in on - off
    assert off <= on


@shipped
def test_learned_one_word_pairs_get_the_context_evidence():
    from unspin.candidates import LearnedTable
    from unspin.tokens import segments, tokenize

    table = LearnedTable()
    table.add(("cinema",), ("film",), 3)
    table.add(("cinema",), ("painting",), 3)
    dec = get_models(table).decoder
    text = "The actor played the lead role in the new cinema, which was shot in the city."
    sents, shapes = segments(tokenize(text))
    norms = [[t.norm for t in s] for s in sents]
    states = dec.prepare(norms, [[int(x) for x in sh] for sh in shapes])

    def scores(context: bool) -> dict:
        loc = dec.local(states, context=context)
        out = {}
        for n in range(len(loc.pos)):
            r = int(loc.pref[n])
            if r >= 0:
                spec = loc.phrase_specs[int(loc.phrase_entry[r])]
                out[spec[1]] = float(loc.score[n])
        return out

    off, on = scores(False), scores(True)
    assert ("film",) in on and ("painting",) in on
    gain_film = on[("film",)] - off[("film",)]
    gain_painting = on[("painting",)] - off[("painting",)]
    assert gain_film > 0  # no evidence at all before: learned pairs took the phrase path
    assert gain_film > gain_painting


def topic_fixture():
    """Unit vectors for a few words at rows past `TOPIC_SKIP`, plus one frequent word."""
    skip = context_module.TOPIC_SKIP
    vectors = np.zeros((skip + 5, 3), dtype=np.float16)
    # rows: film, actor, role (one topic), cinema (between), the (frequent), tree (other)
    named = {"film": skip, "actor": skip + 1, "role": skip + 2, "cinema": skip + 3,
             "tree": skip + 4, "the": 0}
    vectors[skip] = vectors[skip + 1] = vectors[skip + 2] = (1, 0, 0)
    vectors[skip + 3] = (0.6, 0.8, 0)
    vectors[skip + 4] = (0, 0, 1)
    vectors[0] = (0, 0, 1)
    words = ["film", "actor", "role", "cinema", "tree", "the", "zzz"]
    ids = {w: i for i, w in enumerate(words)}
    rows = np.array([named.get(w, -1) for w in words], dtype=np.int64)
    return vectors, rows, ids


def test_topic_delta_favours_the_original_that_fits_the_text():
    vectors, rows, ids = topic_fixture()
    text = np.array([ids[w] for w in ["the", "actor", "role", "the", "cinema", "the"]])
    topic = context_module.text_topic(vectors, rows, text)
    assert np.allclose(context_module.DocumentWords(text, vectors, rows).topic, topic)
    orig = np.array([ids["film"], ids["tree"], ids["zzz"], ids["cinema"]])
    d = context_module.topic_delta(vectors, rows, topic, np.full(4, ids["cinema"]), orig)
    # The topic is actor + role (the slot's own "cinema" left out, "the" too frequent).
    assert d[0] == pytest.approx(1.0 - 0.6, abs=1e-3)
    assert d[1] == pytest.approx(0.0 - 0.6, abs=1e-3)
    assert d[2] == 0.0  # no vector: no evidence either way
    assert d[3] == 0.0  # the observed word itself
    # "the" would point the topic at "tree" if frequent words counted.
    many = np.array([ids[w] for w in ["the"] * 50 + ["actor", "cinema"]])
    topic = context_module.text_topic(vectors, rows, many)
    d2 = context_module.topic_delta(vectors, rows, topic, np.array([ids["cinema"]]),
                                    np.array([ids["film"]]))
    assert d2[0] == pytest.approx(0.4, abs=1e-3)


def test_topic_delta_without_candidates_or_vectors():
    vectors, rows, ids = topic_fixture()
    text = np.array([ids["actor"], ids["cinema"]])
    topic = context_module.text_topic(vectors, rows, text)
    empty = np.zeros(0, dtype=np.int64)
    assert context_module.topic_delta(vectors, rows, topic, empty, empty).shape == (0,)
    none = np.full(len(rows), -1, dtype=np.int64)
    nothing = context_module.text_topic(vectors, none, text)
    assert nothing.shape == (3,) and not nothing.any()
    assert not context_module.topic_delta(vectors, none, nothing, np.array([ids["cinema"]]),
                                          np.array([ids["film"]])).any()


def test_document_words_count_and_repeat_delta():
    doc = context_module.DocumentWords(np.array([5, 7, 5, 9, 5, 7]))
    assert doc.topic is None
    assert doc.count(np.array([5, 7, 9, 8, 100])).tolist() == [3, 2, 1, 0, 0]
    # The original 5 occurs three times; the observed 9 nowhere else, the observed 7 once.
    d = doc.repeat_delta(np.array([9, 7, 9]), np.array([5, 5, 8]))
    assert d == pytest.approx([np.log(4), np.log(4) - np.log(2), 0.0])
    empty = context_module.DocumentWords(np.zeros(0, dtype=np.int64))
    assert empty.count(np.array([1, 2])).tolist() == [0, 0]
    assert empty.repeat_delta(np.array([1]), np.array([2])).tolist() == [0.0]


@shipped
def test_topic_alone_restores_a_word_the_trigram_keeps():
    check_off, off = analyse_with(FILM_TEXT, **NO_WIDER_EVIDENCE)
    check_on, on = analyse_with(FILM_TEXT, context_weight=0.0, repeat_weight=0.0)
    assert check_on == check_off  # restore only
    # "actor", "role", "critics", "performance": the text is about films.
    assert on - off == {("cinema", "film")}


@shipped
def test_restore_counts_the_original_already_in_the_document():
    dec = get_models().decoder
    params = dec.params
    sents = [["the", "film", "was", "shot", "in", "rome", "over", "three", "months", "."],
             ["critics", "said", "the", "new", "cinema", "was", "brilliant", "."]]
    film = dec.lm.ids(["film"])[0]
    saved = params.context_weight, params.topic_weight, params.repeat_weight
    scores = []
    try:
        params.context_weight = params.topic_weight = 0.0
        for weight in (0.0, 0.5):
            params.repeat_weight = weight
            _, loc, _ = dec.decode(sents)
            at = np.flatnonzero((loc.orig == film) & (loc.sent_of[loc.pos] == 1)
                                & (loc.tok_of[loc.pos] == 4))
            assert len(at) == 1  # "film" for "cinema"
            scores.append(float(loc.score[at[0]]))
    finally:
        params.context_weight, params.topic_weight, params.repeat_weight = saved
    # "film" is once in the document, "cinema" nowhere else: 0.5 * log(2) more.
    assert scores[1] - scores[0] == pytest.approx(0.5 * np.log(2))


# Two-step candidates (`Decoder._two_step_candidates`): "anterior" is no candidate of
# "first" in any shipped source, but it is a candidate of a candidate ("anterior" -> "former"
# / "prior" -> "first"), and the context model ranks "first" best in the slot.
TWO_STEP_TEXT = ("The Wright Flyer was the anterior aircraft to fly under its own power, and "
                 "it changed travel forever.")


def _edits(text: str, **kwargs) -> set:
    return {(e.text, e.replacement) for e in unspin.restore(text, **kwargs).edits}


@shipped
def test_restore_reaches_an_original_two_steps_away_when_asked():
    assert ("anterior", "first") in _edits(TWO_STEP_TEXT, two_step=True)
    assert ("anterior", "first") not in _edits(TWO_STEP_TEXT)  # off by default
    dec = get_models().decoder
    table = dec.table()
    anterior, first = (int(i) for i in dec.lm.ids(["anterior", "first"]))
    assert first not in table.orig[table.offsets[anterior]:table.offsets[anterior + 1]]
    assert first in dec._two_step_originals(anterior)


@shipped
def test_restore_looks_two_steps_by_itself_in_a_spun_document_the_tables_hardly_explain(
        monkeypatch):
    import dataclasses

    import unspin.api as api

    report = unspin.check(TWO_STEP_TEXT)
    assert report.familiarity < api.UNFAMILIAR_BELOW and not report.spun
    assert ("anterior", "first") not in _edits(TWO_STEP_TEXT)  # not judged spun: not here
    # Judged spun (a threshold below its score): the two-step search runs by itself.
    lenient = dataclasses.replace(api.detector(), threshold=report.score - 0.01)
    monkeypatch.setattr(api, "detector", lambda: lenient)
    assert ("anterior", "first") in _edits(TWO_STEP_TEXT)
    assert _edits(TWO_STEP_TEXT) == _edits(TWO_STEP_TEXT, two_step=True)
    monkeypatch.setattr(api, "TWO_STEP_WHEN_UNFAMILIAR", False)
    assert ("anterior", "first") not in _edits(TWO_STEP_TEXT)
    monkeypatch.setattr(api, "TWO_STEP_WHEN_UNFAMILIAR", True)
    # A familiar document (familiarity read above the line) is left to one step.
    monkeypatch.setattr(api, "UNFAMILIAR_BELOW", report.familiarity - 0.01)
    assert ("anterior", "first") not in _edits(TWO_STEP_TEXT)


@shipped
def test_two_step_matches_in_numpy_and_compiled(monkeypatch):
    from unspin.lm import native_available

    if not native_available():
        pytest.skip("no compiled helper")
    fast = unspin.restore(TWO_STEP_TEXT, two_step=True).to_dict()
    monkeypatch.setenv("UNSPIN_NATIVE", "0")
    assert unspin.restore(TWO_STEP_TEXT, two_step=True).to_dict() == fast


@shipped
def test_two_step_leaves_well_predicted_words_alone():
    text = "The city council met on Monday to discuss the new budget for the next year."
    assert _edits(text, two_step=True) == set()


@pytest.mark.parametrize("seed", range(6))
def test_best_fillers_keeps_the_best_few_above_the_floor(tmp_path, seed):
    write_model(tmp_path / "m.bin", dim=11, seed=seed)
    model = ContextModel(tmp_path / "m.bin")
    rng = np.random.default_rng(seed)
    n = 5
    vec = rng.normal(size=(n, 11)).astype(np.float32)
    observed = rng.normal(size=n).astype(np.float32)
    lens = rng.integers(0, 7, size=n)
    ids = rng.integers(FIRST_WORD, len(WORDS), size=int(lens.sum())).astype(np.int64)
    bounds = np.concatenate(([0], np.cumsum(lens))).astype(np.int64)
    emb = model.emb.astype(np.float32) * model.scale[:, None]
    for top, floor in ((1, -1e9), (3, 0.0), (8, -0.5)):
        got = model.best_fillers(vec, observed, ids, bounds, top, floor)
        assert got.shape == (n, top)
        for k in range(n):
            d = emb[ids[bounds[k]:bounds[k + 1]]] @ vec[k] - observed[k]
            want = [int(i) + int(bounds[k]) for i in np.argsort(-d, kind="stable")
                    if d[i] >= floor][:top]
            row = [int(i) for i in got[k] if i >= 0]
            # The same picks (scores rounded differently may swap near-ties only).
            assert row == want or np.allclose(
                np.sort(d[np.array(row) - bounds[k]]), np.sort(d[np.array(want) - bounds[k]]),
                atol=1e-4)
            assert all(i == -1 for i in got[k][len(row):])


@shipped
def test_two_step_best_compiled_equals_numpy(monkeypatch):
    from unspin.lm import native_available

    if not native_available():
        pytest.skip("no compiled helper")
    dec = get_models().decoder
    model, cids = dec._context_model()
    words = np.array([w for w in dec.lm.ids("the anterior aircraft voiced congenital house "
                                            "manipulated xylophone rife tail".split())
                      if cids[w] >= FIRST_WORD], dtype=np.int64)
    rng = np.random.default_rng(3)
    vec = rng.normal(scale=0.5, size=(len(words), model.emb.shape[1])).astype(np.float32)
    observed = np.zeros(len(words), dtype=np.float32)
    params = dec.params
    saved = params.two_step_top, params.two_step_min
    try:
        params.two_step_top, params.two_step_min = 3, -1.0
        fast = dec._two_step_best(words, vec, observed)
        monkeypatch.setenv("UNSPIN_NATIVE", "0")
        slow = dec._two_step_best(words, vec, observed)
    finally:
        params.two_step_top, params.two_step_min = saved
    assert (fast >= 0).sum() > 10  # most words have a two-step set
    assert np.array_equal(fast, slow)
    assert (dec._two_step_stamp == -1).all()  # the scratch is left clean


def test_two_step_best_rejects_bad_ids():
    from unspin.lm import native_available

    if not native_available():
        pytest.skip("no compiled helper")
    from unspin import _native

    offsets = np.array([0, 1, 2], dtype=np.int64)
    orig = np.array([1, 0], dtype=np.int32)
    cids = np.array([4, 5], dtype=np.int64)
    emb = np.ones((6, 2), dtype=np.int8)
    scale = np.ones(6, dtype=np.float32)
    stamp = np.full(2, -1, dtype=np.int64)
    out = np.empty((1, 1), dtype=np.int64)
    vec = np.ones((1, 2), dtype=np.float32)
    obs = np.zeros(1, dtype=np.float32)
    with pytest.raises(ValueError, match="word id"):
        _native.two_step_best(offsets, orig, 2, 15, 15, 0, cids, 4, emb, scale, 6, 2,
                              np.array([7], dtype=np.int64), vec, obs, 1, 1, 0.0, stamp, out)
    bad = np.array([0, 1, 2], dtype=np.int32)  # an original id past the vocabulary
    with pytest.raises(ValueError, match="out of range"):
        _native.two_step_best(offsets, bad[:2] + 1, 2, 15, 15, 0, cids, 4, emb, scale, 6, 2,
                              np.array([1], dtype=np.int64), vec, obs, 1, 1, 0.0, stamp, out)
    assert (stamp == -1).all()


@shipped
def test_two_step_restores_the_same_from_threads():
    # The compiled helper's scratch is the decoder's: threads (the server's thread pool)
    # must not see each other's marks.
    from concurrent.futures import ThreadPoolExecutor

    texts = [TWO_STEP_TEXT, FILM_TEXT, TWO_STEP_TEXT.replace("Wright", "Avro"),
             FILM_TEXT.replace("histrion", "actor")] * 3
    alone = [unspin.restore(t, two_step=True).to_dict() for t in texts]
    with ThreadPoolExecutor(4) as pool:
        together = list(pool.map(lambda t: unspin.restore(t, two_step=True).to_dict(), texts))
    assert together == alone
