"""Decoder internals: channel rules, chunking, compaction and the document prior."""

from __future__ import annotations

import functools
import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import unspin.decode as decode_mod
from unspin.candidates import (
    FLAG_MYTHES,
    FLAG_PHRASE,
    FLAG_TWO_STEP,
    FLAG_WN_LOOSE,
    FLAG_WN_SYN,
    Candidate,
)
from unspin.decode import DecodeParams, Local, _channel
from unspin.models import get_models
from unspin.tokens import segments, tokenize

TEXT = (
    "The Supreme Courtroom stated on Monday that the committee additionally declared a "
    "new policy. The metropolis council will vote next week on the finances. Critics said "
    "the plan was too costly, however supporters identified savings elsewhere."
)


# A spun text whose swap ("metropolis") recurs: the document bonus pass has work to do.
REPEATED_SWAP = (TEXT + " The metropolis council additionally declared that the metropolis"
                 " will vote.")


def prepared(text: str):
    sents, shapes = segments(tokenize(text))
    return [[t.norm for t in s] for s in sents], shapes


def test_word_count_changes_need_a_trusted_source():
    p = DecodeParams()
    loose = Candidate(0, 2, ("lizard",), FLAG_WN_LOOSE | FLAG_MYTHES | FLAG_PHRASE, 0.5, 3)
    hand = Candidate(0, 4, ("because",), FLAG_PHRASE, 0.0, 3)
    synonym = Candidate(0, 1, ("also",), FLAG_WN_SYN, 0.6, 3)
    assert _channel(loose, p) == -30.0
    assert _channel(hand, p) > -30.0
    assert _channel(synonym, p) > -30.0


def test_channel_array_of_byte_flags_is_that_of_the_same_flags_as_wider_ints():
    # Byte flags take the sources' part from a table of all 256 values; it must give the
    # bits the element-wise sums give (the word table's order depends on them).
    from unspin.decode import _channel_array

    rng = np.random.default_rng(0)
    flags = np.concatenate((np.arange(256), rng.integers(0, 256, 5000))).astype(np.uint8)
    cos = rng.uniform(-0.2, 1.0, len(flags)).astype(np.float16)
    fan = rng.integers(0, 400, len(flags)).astype(np.uint16)
    p = get_models().decoder.params
    looked_up = _channel_array(flags, cos, fan, p)
    summed = _channel_array(flags.astype(np.int64), cos, fan, p)
    assert looked_up.dtype == summed.dtype == np.float64
    assert looked_up.tobytes() == summed.tobytes()
    assert (looked_up == -30.0).any() and (looked_up > -30.0).any()


def test_two_step_channel_is_its_own_weight():
    p = DecodeParams()
    two = Candidate(0, 1, ("first",), FLAG_TWO_STEP, 0.0, 1)
    assert _channel(two, p) == pytest.approx(p.offset + p.two_step)
    # One word for one word only: never a phrase.
    assert _channel(Candidate(0, 1, ("the", "first"), FLAG_TWO_STEP, 0.0, 1), p) == -30.0


def test_fitted_params_override_defaults_and_ignore_unknown_keys(tmp_path):
    path = tmp_path / "channel.json"
    path.write_text(json.dumps({"lm_weight": 0.5, "syn": 2.0, "not_a_param": 1}))
    p = DecodeParams.fitted(path)
    assert p.lm_weight == 0.5 and p.syn == 2.0
    assert DecodeParams.fitted(tmp_path / "missing.json").lm_weight == DecodeParams().lm_weight


def test_chunking_does_not_change_the_result(monkeypatch):
    dec = get_models().decoder
    norms, shapes = prepared(TEXT * 3)
    whole, _, _ = dec.decode(norms, shapes=shapes)
    monkeypatch.setattr(decode_mod, "CHUNK_TOKENS", 10)
    pieces, loc, states = dec.decode(norms, shapes=shapes)
    assert len(states) == len(norms)
    key = [(d.sentence, d.start, d.end, d.original, round(d.confidence, 6)) for d in whole]
    assert key == [(d.sentence, d.start, d.end, d.original, round(d.confidence, 6))
                   for d in pieces]


def test_fast_decisions_chunk_by_chunk_are_those_of_the_whole(monkeypatch):
    # With one rate per sentence as an array, `decode(fast=True)` decides each chunk alone.
    dec = get_models().decoder
    norms, shapes = prepared(TEXT * 4)
    rates = np.linspace(0.05, 0.6, len(norms))
    whole, loc, _ = dec.decode(norms, shapes=shapes, fast=True, prior=lambda local, states: rates)
    assert loc is not None and whole
    monkeypatch.setattr(decode_mod, "CHUNK_TOKENS", 10)
    pieces, loc, states = dec.decode(norms, shapes=shapes, fast=True, prior=rates)
    assert loc is None and len(states) == len(norms)
    assert pieces == whole


def test_compaction_keeps_the_posteriors():
    dec = get_models().decoder
    norms, shapes = prepared(TEXT)
    states = dec.prepare(norms, shapes)
    full = dec.local(states)
    small = full.compact(0.0)
    assert len(small.pos) < len(full.pos)
    assert np.allclose(dec.posteriors(full)[0], dec.posteriors(small)[0])
    merged = Local.merge([small])
    assert merged is small


@pytest.mark.parametrize("rate,expect_edits", [(1e-6, False), (0.5, True)])
def test_document_prior_moves_the_decisions(rate, expect_edits):
    dec = get_models().decoder
    norms, shapes = prepared(TEXT)
    decisions, _, _ = dec.decode(norms, shapes=shapes, prior=lambda loc, states: rate)
    confident = [d for d in decisions if d.confidence >= 0.5]
    assert bool(confident) == expect_edits


def test_fast_path_gives_disjoint_decisions_above_the_floor():
    dec = get_models().decoder
    norms, shapes = prepared(TEXT)
    decisions, _, _ = dec.decode(norms, shapes=shapes, fast=True, min_confidence=0.3,
                                 prior=lambda loc, states: 0.2)
    assert decisions and all(d.confidence >= 0.3 for d in decisions)
    used = set()
    for d in decisions:
        span = {(d.sentence, i) for i in range(d.start, d.end)}
        assert not span & used
        used |= span


# Words that start phrases of the shipped table ("as a result of", "in order to"), words
# with multiword originals, plain words, and words no model knows.
_PHRASE_WORDS = ("as a result of in order to because also however the court said on monday "
                 "for the reason that as well as qwzxv blorft metropolis , .").split()
# Up to four sentences of such words (the phrase look-up tests' texts).
_PHRASE_SENTENCES = st.lists(st.lists(st.sampled_from(_PHRASE_WORDS), min_size=1, max_size=14),
                             min_size=1, max_size=4)


@functools.cache
def _learned_decoder():
    from unspin.candidates import LearnedTable

    table = LearnedTable()
    table.add(("metropolis",), ("city",), 3)
    table.add(("court",), ("tribunal",), 1)
    table.add(("qwzxv",), ("storm",), 1)
    table.add(("as", "well", "as"), ("and",), 2)
    table.add(("the", "court", "said"), ("the", "judge", "said"), 1)
    table.add(("qwzxv", "blorft"), ("heavy", "rain"), 1)
    return get_models(table).decoder


def _padded_chunk(sentences: list[list[str]], dec=None):
    dec = dec or get_models().decoder
    states = dec.prepare(sentences)
    g = np.concatenate([st.padded for st in states])
    flat: list[str | None] = []
    end_of = []
    for state in states:
        flat += [None, None, *state.norms, None]
        end_of += [len(flat)] * len(state.padded)
    return dec, flat, g, np.asarray(end_of)


def _phrase_candidates_by_words(dec, flat, g, at, end_of):
    """Reference for `Decoder._phrase_candidates`: every position, and every phrase
    starting there, looked up by its words."""
    src = dec.source
    blocks = []
    for j in at:
        w = flat[j]
        if w in src._learned or g[j] == decode_mod.UNK:
            r = dec._entry_range(w, False)
        else:
            r = dec._multi_range(w)
        blocks.append((j, *r))
        key = w
        for ln in range(2, min(src._phrase_len.get(w, 0), int(end_of[j]) - 1 - j) + 1):
            key = key + " " + flat[j + ln - 1]
            if key in src._index or key in src._learned:
                blocks.append((j, *dec._entry_range(key, False)))
    pos = [j for j, lo, hi in blocks for _ in range(lo, hi)]
    entry = [e for _, lo, hi in blocks for e in range(lo, hi)]
    return pos, entry


@settings(max_examples=40, deadline=None)
@given(_PHRASE_SENTENCES, st.booleans())
def test_phrase_lookup_by_packed_ids_finds_what_the_word_lookup_finds(sentences, learned):
    dec, flat, g, end_of = _padded_chunk(sentences, _learned_decoder() if learned else None)
    at = [j for j, w in enumerate(flat) if w is not None]
    pos, entry = dec._phrase_candidates(flat, g, at, end_of)
    want_pos, want_entry = _phrase_candidates_by_words(dec, flat, g, at, end_of)
    assert pos.tolist() == want_pos
    assert entry.tolist() == want_entry


@settings(max_examples=25, deadline=None)
@given(_PHRASE_SENTENCES, st.booleans())
def test_phrase_keys_numbered_before_are_found_again_by_their_slots(sentences, learned):
    # The second look-up takes the numbers of keys met before from the packed slots
    # (no words joined); after the entries start afresh the slots must start afresh too.
    dec, flat, g, end_of = _padded_chunk(sentences, _learned_decoder() if learned else None)
    dec.build_tables()
    at = [j for j, w in enumerate(flat) if w is not None]
    for fresh in (False, False, True, False):
        if fresh:
            dec._reset_phrases()
        pos, entry = dec._phrase_candidates(flat, g, at, end_of)
        want_pos, want_entry = _phrase_candidates_by_words(dec, flat, g, at, end_of)
        assert pos.tolist() == want_pos
        assert entry.tolist() == want_entry
    _, _, slot = dec._phrase_hits(flat, g, np.asarray(at), end_of, slots=True)
    slot_lo, _ = dec._phrases.slot_ranges(dec._phrase_slot_count)
    assert np.all(slot_lo[slot[slot >= 0]] >= 0)  # every exact key's numbers were kept


def test_phrase_lookup_finds_phrases_and_unknown_words():
    sentences = [["it", "fell", "as", "a", "result", "of", "the", "qwzxv", "storm", "."]]
    dec, flat, g, end_of = _padded_chunk(sentences)
    at = [j for j, w in enumerate(flat) if w is not None]
    pos, entry = dec._phrase_candidates(flat, g, at, end_of)
    specs = dec._phrases.specs
    found = {(flat[j], specs[e][0], specs[e][1]) for j, e in zip(pos, entry, strict=True)}
    assert ("as", 4, ("because",)) in found  # "as a result of" -> "because"
    assert np.all(np.diff(pos) >= 0)  # by position
    _, length, mlength, originals = dec._phrases.arrays()
    for e in entry.tolist():  # the arrays agree with the specs
        assert length[e] == specs[e][0] and mlength[e] == len(specs[e][1])
        assert [dec.lm.words[i] for i in originals[e, :mlength[e]]] == list(specs[e][1])


@pytest.mark.parametrize("use_padded", [False, True])
def test_local_on_prepared_arrays_is_local_on_the_states_views(monkeypatch, use_padded):
    # `prepare` hands `local` its contiguous arrays; with a plain list of the same states
    # `local` concatenates their views: the same arrays, pair lookups and scores.
    dec = get_models().decoder
    sents, shapes = prepared(REPEATED_SWAP)
    padded = None
    if use_padded:
        flat = dec.prepare(sents, shapes)
        padded = (*flat.arrays[:2], *flat.arrays[2])
    chunk = dec.prepare(sents, shapes, padded=padded)
    assert isinstance(chunk, decode_mod.PreparedChunk) and len(chunk) > 2
    seen = []
    entries = decode_mod.Decoder._word_entries

    def record(self, g, base, end_of, shape, eligible, *a, own_pairs=None, **k):
        seen.append((g.copy(), base.copy(), None if own_pairs is None else
                     tuple(x.copy() for x in own_pairs)))
        return entries(self, g, base, end_of, shape, eligible, *a, own_pairs=own_pairs, **k)

    monkeypatch.setattr(decode_mod.Decoder, "_word_entries", record)
    fast = dec.local(chunk)
    slow = dec.local(list(chunk))
    (g1, b1, o1), (g2, b2, o2) = seen
    assert np.array_equal(g1, g2) and np.array_equal(b1, b2)
    assert o1 is not None and o2 is not None
    for x, y in zip(o1, o2, strict=True):
        assert x.dtype == y.dtype and np.array_equal(x, y)
    for name in ("pos", "score", "channel", "orig", "entry", "zpos", "zlse"):
        assert np.array_equal(getattr(fast, name), getattr(slow, name)), name


def test_phrase_numbers_start_afresh_past_the_limit_with_the_same_result(monkeypatch):
    dec = get_models().decoder
    sents, shapes = prepared(TEXT)
    first, _, _ = dec.decode(sents, shapes=shapes)
    monkeypatch.setattr(decode_mod.PhraseEntries, "LIMIT", 0)
    old = dec._phrases
    again, _, _ = dec.decode(sents, shapes=shapes)
    assert dec._phrases is not old
    assert again == first


def test_multiword_originals_built_alone_match_the_filtered_full_candidates():
    from unspin.decode import FLAG_NUMBER, FLAG_WN_SYN, _hand_phrase

    dec = get_models().decoder
    src = dec.source
    rows = np.flatnonzero(dec._multi_originals())
    assert len(rows) > 100
    for r in rows[:: max(1, len(rows) // 400)].tolist():
        word = src._words[r]
        want = tuple(sp for sp in src.specs(word) if len(sp[1]) > 1 and (
            _hand_phrase(sp[2]) or sp[2] & (FLAG_WN_SYN | FLAG_NUMBER)))
        assert dec._multiword_specs(word) == want
    assert dec._multiword_specs("qwzxv") == ()


def test_bonus_pass_keeps_untouched_clusters_exactly_as_decoding_them_again(monkeypatch):
    dec = get_models().decoder
    sents, shapes = prepared(REPEATED_SWAP)
    calls = []
    joint = decode_mod.Decoder.joint

    def full(self, states, by_pos, bonus, lm_cache=None, clusters_seen=None):
        calls.append(bool(bonus))
        return joint(self, states, by_pos, bonus, lm_cache)  # every cluster decoded

    monkeypatch.setattr(dec.lm, "compiled", lambda: None)  # the Python joint step
    kept, _, _ = dec.decode(sents, shapes=shapes, prior=lambda local, states: 0.3)
    monkeypatch.setattr(decode_mod.Decoder, "joint", full)
    again, _, _ = dec.decode(sents, shapes=shapes, prior=lambda local, states: 0.3)
    assert calls == [False, True]  # the bonus pass ran
    assert kept == again and kept


def test_phrase_lookup_finds_learned_phrases_and_words():
    sentences = [["the", "court", "said", "the", "metropolis", "saw", "qwzxv", "blorft", "."]]
    dec, flat, g, end_of = _padded_chunk(sentences, _learned_decoder())
    at = [j for j, w in enumerate(flat) if w is not None]
    pos, entry = dec._phrase_candidates(flat, g, at, end_of)
    specs = dec._phrases.specs
    found = {(flat[j], specs[e][0], specs[e][1]) for j, e in zip(pos, entry, strict=True)}
    assert ("the", 3, ("the", "judge", "said")) in found
    assert ("qwzxv", 2, ("heavy", "rain")) in found
    assert ("metropolis", 1, ("city",)) in found  # a learned single word: all its originals


@settings(max_examples=30, deadline=None)
@given(_PHRASE_SENTENCES, st.booleans())
def test_packed_phrase_keys_find_the_phrases_the_words_find(sentences, learned):
    dec, flat, g, end_of = _padded_chunk(sentences, _learned_decoder() if learned else None)
    dec.build_tables()
    at = np.array([j for j, w in enumerate(flat) if w is not None], dtype=np.int64)
    src = dec.source
    j, ln = dec._phrase_hits(flat, g, at, end_of)  # packed (built), a superset
    found = [(a, b) for a, b in zip(j.tolist(), ln.tolist(), strict=True)
             if " ".join(flat[a:a + b]) in src._index or " ".join(flat[a:a + b]) in src._learned]
    wj, wln = dec._phrase_hits_by_words(flat, at, end_of)
    assert found == list(zip(wj.tolist(), wln.tolist(), strict=True))


# ------------------------------------------------- compiled joint decoding (unspin._native)

_native_joint = pytest.mark.skipif(
    get_models().lm.compiled() is None,
    reason="unspin._native not built (no C compiler at install) or switched off")

_SPUN_WORDS = (TEXT.lower().replace(".", " .").replace(",", " ,").split()
               + "metropolis courtroom additionally finances identified moreover".split()
               + list(_PHRASE_WORDS))


def _same_decisions(compiled, python) -> bool:
    """The same decisions, confidences equal to the last bits: the compiled code sums in
    numpy's order, but uses the C library's exp, which numpy replaces by its own on CPUs
    with AVX-512 (on this project's machines they agree bit for bit)."""
    def key(ds):
        return [(d.sentence, d.start, d.end, d.original, d.flags) for d in ds]

    return key(compiled) == key(python) and all(
        a.confidence == pytest.approx(b.confidence, rel=1e-12, abs=1e-300)
        for a, b in zip(compiled, python, strict=True))


def _decode_both(dec, sentences, rate, **params):
    """Decisions of the compiled joint step and of the Python one, on the same input."""
    with pytest.MonkeyPatch.context() as m:
        for name, value in params.items():
            m.setattr(dec.params, name, value)
        compiled, _, _ = dec.decode(sentences, prior=lambda local, states: rate)
        m.setattr(dec.lm, "compiled", lambda: None)
        python, _, _ = dec.decode(sentences, prior=lambda local, states: rate)
    return compiled, python


@_native_joint
@settings(max_examples=80, deadline=None)
@given(st.lists(st.lists(st.sampled_from(_SPUN_WORDS), min_size=2, max_size=24),
                min_size=1, max_size=4),
       st.sampled_from([0.02, 0.2, 0.6]), st.sampled_from([64, 5, 2]), st.booleans())
def test_compiled_joint_gives_the_python_decisions(sentences, rate, combinations, learned):
    # Few combinations make the pruning (a stable sort by local score) run often; phrases
    # and learned pairs make options whose effects repeat (the Python loop of `_rows`).
    dec = _learned_decoder() if learned else get_models().decoder
    compiled, python = _decode_both(dec, sentences, rate, max_combinations=combinations)
    assert _same_decisions(compiled, python)


@_native_joint
def test_compiled_joint_decodes_the_clusters_of_a_spun_text(monkeypatch):
    dec = get_models().decoder
    sents, _ = prepared(REPEATED_SWAP)
    runs = []
    run = decode_mod._CompiledJoint._run

    def spy(self, clusters, *args):
        runs.append((len(clusters), int((self.c_npos[clusters] > 1).sum())))
        return run(self, clusters, *args)

    monkeypatch.setattr(decode_mod._CompiledJoint, "_run", spy)
    compiled, python = _decode_both(dec, sents, 0.3)
    assert len(runs) == 2  # without, then with the document bonus
    assert runs[0][1] >= 3  # clusters of several positions went to the compiled code
    assert 0 < runs[1][0] < runs[0][0]  # the bonus pass redid only the clusters it touched
    assert _same_decisions(compiled, python)
    assert any(d.original == ("city",) for d in compiled)  # the bonus pass ran on real work


@_native_joint
def test_compiled_joint_rejects_inconsistent_arrays():
    model = get_models().lm.compiled()
    i64 = functools.partial(np.array, dtype=np.int64)
    f64 = functools.partial(np.array, dtype=np.float64)
    row = i64([3, 1, 10, 11, 12, 2])

    def call(p_i=(0, 1), o_len=(1, 1), orig=(20, 21), rows=row, mass=2):
        o_i = list(p_i)
        model.joint(rows, i64([0]), i64([len(rows)]), i64([0]), i64([2]), i64(p_i), i64([0, 1]),
                    i64([1, 1]), i64(o_i), i64(o_len), i64([0, 1]), i64([1, 1]), i64(orig),
                    f64([1.0, 1.0]), f64([0.5, 0.5]), 64, 0.6, 2.3, 0, 5.5,
                    np.zeros(mass), np.zeros(2, dtype=np.uint8))

    call()  # consistent: runs
    with pytest.raises(ValueError, match="position out of range"):
        call(p_i=(1, 0))  # positions must be in order
    with pytest.raises(ValueError, match="option out of range"):
        call(o_len=(1, 9))  # an option running past the sentence
    with pytest.raises(IndexError):
        call(orig=(20, 10**9))  # an id the model does not have
    with pytest.raises(ValueError, match="mass"):
        call(mass=3)  # an output of the wrong size


@_native_joint
def test_compiled_joint_on_a_document_decoded_in_many_chunks(monkeypatch):
    # Positions are numbered across chunks: the compiled step must read the right rows.
    dec = get_models().decoder
    sents, _ = prepared(REPEATED_SWAP + " " + TEXT)
    whole, python = _decode_both(dec, sents, 0.3)
    monkeypatch.setattr(decode_mod, "CHUNK_TOKENS", 10)
    chunked, python_chunked = _decode_both(dec, sents, 0.3)
    assert _same_decisions(chunked, python_chunked) and chunked
    assert [(d.sentence, d.start, d.original) for d in chunked] == \
        [(d.sentence, d.start, d.original) for d in whole]


def test_a_name_keeps_its_number_of_words() -> None:
    # A learned pair shortens "secret service"; inside a sentence with capitals it is a
    # name, spun word by word if at all, and is never shortened (other edits go on).
    from unspin.candidates import LearnedTable
    from unspin.models import get_models

    table = LearnedTable()
    table.add(("secret", "service"), ("agency",), 50)
    table.add(("big",), ("large",), 50)
    dec = get_models(table).decoder
    sent = ["officers", "of", "the", "secret", "service", "said", "the", "big", "plan",
            "would", "work", "."]

    def edits(shapes: list[int]) -> set:
        found, _, _ = dec.decode([sent], shapes=[shapes], prior=lambda local, states: 0.5)
        return {(d.start, d.end, d.original) for d in found if d.confidence > 0.5}

    plain = [0] * len(sent)
    named = [0, 0, 0, 1, 1, 0, 0, 0, 0, 0, 0, 0]
    assert (3, 5, ("agency",)) in edits(plain)
    assert edits(named) == {(7, 8, ("large",))}


def test_document_rate_follows_the_documents_own_evidence():
    p = DecodeParams()
    # A clearly spun document: its rate from its expected share of swapped words.
    assert p.document_rate(1.0, 0.078) == pytest.approx(p.spun_rate_per_mass * 0.078)
    assert p.document_rate(1.0, 0.05) < p.document_rate(1.0, 0.1)
    assert p.document_rate(1.0, 0.0) == p.spun_rate_min
    assert p.document_rate(1.0, 1.0) == p.spun_rate_max
    # A clean one: the clean rate whatever its evidence; in between, a blend.
    assert p.document_rate(0.0, 0.5) == p.doc_clean_rate
    half = p.document_rate(0.5, 0.078)
    assert half == pytest.approx(0.5 * p.document_rate(1.0, 0.078) + 0.5 * p.doc_clean_rate)
    assert p.document_rate(1.0, None) == p.doc_spun_rate  # evidence blind to the swaps
    # Switched off: one rate for every spun document.
    p.spun_rate_per_mass = 0.0
    assert p.document_rate(1.0, 0.01) == p.document_rate(1.0, 0.3) == p.doc_spun_rate


@_native_joint
@settings(max_examples=60, deadline=None)
@given(st.lists(st.lists(st.sampled_from(_SPUN_WORDS + ["unexampled", "qwzxv", "Court"]),
                         min_size=1, max_size=24), min_size=1, max_size=4),
       st.booleans())
def test_compiled_word_entries_equal_the_numpy_ones(sentences, learned):
    """`Decoder._word_entries` through the compiled helper: the numpy code's rows and
    values to the last bit, in the span search / restore's local step and in the evidence."""
    dec = _learned_decoder() if learned else get_models().decoder
    norms = [[w.lower() for w in s] for s in sentences]
    shapes = [[1 if w[:1].isupper() else 0 for w in s] for s in sentences]

    def run():
        loc = dec.local(dec.prepare(norms, shapes))
        flat = [w for s in norms for w in s]
        seg = np.repeat(np.arange(len(norms)), [len(s) for s in norms])
        shape = np.array([x for s in shapes for x in s], dtype=np.int64)
        ev = dec.evidence(flat, dec.lm.ids(flat), seg, shape, positions=True, entries=True)
        return loc, ev

    loc_c, ev_c = run()
    with pytest.MonkeyPatch.context() as m:
        m.setattr(dec.lm, "compiled", lambda: None)
        loc_p, ev_p = run()
    for name in ("pos", "score", "channel", "orig", "entry", "zpos", "zlse"):
        assert np.array_equal(getattr(loc_c, name), getattr(loc_p, name)), name
    for a, b in zip(ev_c[:3], ev_p[:3], strict=True):
        assert np.array_equal(a, b)
    for name in ("sent", "tok", "entry", "orig", "channel", "score"):
        assert np.array_equal(getattr(ev_c[3], name), getattr(ev_p[3], name)), name


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 12), st.sampled_from([-np.inf, -2.0, 0.0, 0.5, 3.0])),
                min_size=1, max_size=60))
def test_best_by_position_is_what_lexsort_puts_first(rows):
    pos = np.array([r[0] for r in rows], dtype=np.int64)
    score = np.array([r[1] for r in rows])
    order = np.lexsort((-score, pos))
    first = np.flatnonzero(np.concatenate(([True], pos[order][1:] != pos[order][:-1])))
    best, positions = decode_mod._best_by(pos, score)
    assert np.array_equal(best, order[first])
    assert np.array_equal(positions, pos[order][first])


def test_multiword_specs_are_the_table_slices():
    """`_multiword_specs` from the lists built once gives what the numpy slices of each
    table row gave (every row with a trusted multiword original, and a few without)."""
    dec = get_models().decoder
    src = dec.source
    dec._multi_originals()

    def reference(key):
        i = src._index.get(key)
        if i is None:
            return ()
        a, b = src._offsets[i:i + 2].tolist()
        sel = np.flatnonzero(dec._trusted_multi[a:b]) + a
        if not len(sel):
            return ()
        origs = src._orig[sel]
        coss = src.cosines4()[src._cos[sel].view(np.uint16)].tolist()
        fans = src.fanouts1()[origs].tolist()
        merged = {}
        for o, f, c, fn in zip(origs.tolist(), src._flags[sel].tolist(), coss, fans,
                               strict=True):
            orig = tuple(src._words[o].split(" "))
            merged[orig] = (key.count(" ") + 1, orig, f, c, fn, 0)
        return tuple(merged.values())

    span = dec._trusted_multi_lists()[0]
    rows = sorted(span)
    assert len(rows) > 1000
    keys = [src._words[r] for r in rows[::7]] + ["the", "because", "however", "xqzv", "city"]
    for key in keys:
        assert dec._multiword_specs(key) == reference(key), key


def test_word_table_tries_frequent_originals_first():
    """A word's entries are ordered by channel score plus the original's unigram prior, so
    the first `max_candidates` hold the originals a spinner most likely replaced."""
    from unspin.decode import LN10, WordTable

    decoder = get_models().decoder
    lm, table, p = decoder.lm, decoder.table(), decoder.params
    assert p.order_prior > 0
    w = lm.id("stated")
    lo, hi = int(table.offsets[w]), int(table.offsets[w + 1])
    orig = table.orig[lo:hi]
    rank = table.channel[lo:hi] + p.order_prior * LN10 * lm.unigram_logprob(orig)
    assert np.all(np.diff(rank) <= 1e-3)  # best first (keys kept to 1/1000 of a nat)
    assert lm.words[int(orig[0])] == "said"  # by the channel alone: "posited"
    # Without the prior: the channel score alone decides, and the rows hold the same entries.
    plain = WordTable.build(lm, decoder.source, DecodeParams(**{
        **{f: getattr(p, f) for f in p.__slots__}, "order_prior": 0.0}))
    plo, phi = int(plain.offsets[w]), int(plain.offsets[w + 1])
    assert np.all(np.diff(plain.channel[plo:phi]) <= 1e-3)
    assert sorted(plain.orig[plo:phi].tolist()) == sorted(orig.tolist())
    assert lm.words[int(plain.orig[plo])] != "said"


@pytest.mark.parametrize("chunk", [20_000, 12])
def test_the_evidence_padded_arrays_are_what_prepare_computes(monkeypatch, chunk):
    # `check` and `restore` hand the detection evidence's padded ids, scores and pair
    # lookups to `decode` instead of scoring the text again: they must be the same arrays,
    # also for documents the evidence cut into several chunks.
    from unspin.tokens import find_tokens, lower_tokens, segment_ids, shape_codes

    monkeypatch.setattr(decode_mod, "CHUNK_TOKENS", chunk)
    dec = get_models().decoder
    texts = [TEXT, REPEATED_SWAP, "One more short text. It has two sentences."]
    toks, bounds = [], [0]
    for t in texts:
        toks += find_tokens(t)
        bounds.append(len(toks))
    norms = lower_tokens(toks, straight_quotes=True)
    seg = segment_ids(toks, doc_starts=np.asarray(bounds[:-1], dtype=np.int64))
    shape = shape_codes(toks, seg)
    ids = dec.lm.ids(norms)
    chunks = dec.evidence(norms, ids, seg, shape, padded=True)[-1]
    assert (len(chunks) > 1) == (chunk < 1000)
    for k in range(len(texts)):
        lo, hi = bounds[k], bounds[k + 1]
        starts = np.flatnonzero(np.concatenate(([True], seg[lo + 1:hi] != seg[lo:hi - 1])))
        cuts = [*starts.tolist(), hi - lo]
        sents = [norms[lo + a:lo + b] for a, b in zip(cuts, cuts[1:], strict=False)]
        fresh = dec.prepare(sents)
        reused = dec.prepare(sents, padded=decode_mod.padded_range(chunks, lo, hi))
        assert len(fresh) == len(reused) == len(sents)
        for x, y in zip(fresh, reused, strict=True):
            assert np.array_equal(x.padded, y.padded) and np.array_equal(x.base, y.base)
            assert all(np.array_equal(a, b) for a, b in zip(x.pairs, y.pairs, strict=True))
    assert decode_mod.padded_range(chunks, 3, 3) is None


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 3), st.integers(0, 12), st.integers(1, 4),
                          st.sampled_from([0.2, 0.5, 0.5, 0.7, 0.9, 0.95])),
                max_size=30))
def test_greedy_groups_keep_what_the_plain_greedy_rule_keeps(decisions):
    """`_greedy_kept` runs the greedy rule only inside groups of overlapping decisions:
    the same decisions as the rule over all of them (ties by confidence in index order)."""
    sent = np.array([d[0] for d in decisions], dtype=np.int64)
    start = np.array([d[1] for d in decisions], dtype=np.int64)
    end = start + np.array([d[2] for d in decisions], dtype=np.int64)
    conf = np.array([d[3] for d in decisions], dtype=np.float64)
    taken: set[tuple[int, int]] = set()
    ref = []
    for i in sorted(range(len(decisions)), key=lambda i: -conf[i]):
        span = {(int(sent[i]), k) for k in range(int(start[i]), int(end[i]))}
        if not span & taken:
            taken |= span
            ref.append(i)
    ref.sort(key=lambda i: (sent[i], start[i], i))
    assert decode_mod._greedy_kept(sent, start, end, conf).tolist() == ref


@pytest.mark.parametrize("floor", [0.0, 0.3, 0.62])
def test_local_decisions_are_the_greedy_choice_by_confidence(floor):
    # `_local_decisions` skips its greedy pass when no two decisions overlap; with or
    # without overlaps it must give what the plain greedy rule gives: the most confident
    # first, then any that overlaps a kept one dropped, the rest in text order.
    dec = get_models().decoder
    # The last sentence's phrase candidates overlap word candidates ("for the reason that"
    # -> "because" against "reason" -> "understanding"): the greedy pass has work to do.
    norms, shapes = prepared(REPEATED_SWAP + " " + TEXT + " The panel ruled on the case at "
                             "this point in time, for the reason that the law was clear.")
    loc = dec.local(dec.prepare(norms, shapes))
    _, best, conf, positions = dec.posteriors(loc)
    if floor == 0.0:
        spans = sorted((int(loc.sent_of[p]), dec.candidate(loc, n).start,
                        dec.candidate(loc, n).start + dec.candidate(loc, n).length)
                       for n, p in zip(best.tolist(), positions.tolist(), strict=True))
        assert any(a[0] == b[0] and b[1] < a[2] for a, b in zip(spans, spans[1:], strict=False))
    ref, taken = [], set()
    for n, c, pos in sorted(zip(best.tolist(), conf.tolist(), positions.tolist(), strict=True),
                            key=lambda x: -x[1]):
        if c < floor:
            continue
        cand = dec.candidate(loc, n)
        sent = int(loc.sent_of[pos])
        span = {(sent, k) for k in range(cand.start, cand.start + cand.length)}
        if span & taken:
            continue
        taken |= span
        ref.append((sent, cand.start, cand.start + cand.length, cand.original, c))
    ref.sort(key=lambda d: (d[0], d[1]))
    got = [(d.sentence, d.start, d.end, d.original, d.confidence)
           for d in dec._local_decisions(loc, floor)]
    assert got == ref and got


@pytest.mark.parametrize("learned", [False, True])
def test_new_keys_numbered_together_get_the_entries_of_one_by_one(learned):
    models = _learned_decoder() if learned else get_models().decoder
    src, lm, params = models.source, models.lm, models.params
    table = models.table()
    rows = np.arange(len(src._words))
    phrase_rows = rows[models._phrase_rows()]
    unknown_rows = rows[(table.row_ids == decode_mod.UNK) & ~models._phrase_rows()]
    keys = [src._words[r] for r in (*phrase_rows[::997].tolist(), *unknown_rows[::499].tolist())]
    keys += ["qwzxv", "blorft", "metropolis", "as well as", next(iter(src._terms))]
    keys = [k for k in keys if src.is_key(k) or " " not in k]
    rng = np.random.default_rng(7)
    keys = [keys[i] for i in rng.permutation(len(keys))]
    keys += keys[:5]  # met again in the same batch
    multi = [src._words[r] for r in np.flatnonzero(models._multi_originals())[::211].tolist()]
    assert len(keys) > 150 and len(multi) > 20

    def numbered(dec):
        return dec._phrases.specs, [a.tolist() for a in dec._phrases.arrays()], \
            dec._phrases.ranges

    one = decode_mod.Decoder(lm, src, params)
    for k in keys:
        one._entry_range(k, False)
    for w in multi:
        one._entry_range(w, True)
    together = decode_mod.Decoder(lm, src, params)
    together._number_keys(keys[:60])
    together._number_keys(keys[40:])  # some of them already numbered
    together._number_keys(multi, multi_only=True)
    assert numbered(together) == numbered(one)
    assert len(one._phrases.specs) > 1000


def test_unknown_words_originals_are_their_single_word_entries():
    shared = get_models().decoder
    dec = decode_mod.Decoder(shared.lm, shared.source, shared.params)
    src = dec.source
    unknown = (dec.table().row_ids == decode_mod.UNK) & ~dec._phrase_rows()
    words = [src._words[r] for r in np.flatnonzero(unknown)[::301].tolist()]
    assert len(words) > 20
    dec._number_keys(words[::2])  # some numbered with others, some alone
    for w in words:
        want = [(oids[0], ch) for _, oids, ch in dec._entries(w, False) if len(oids) == 1]
        assert dec._unknown_originals(w) == want
    assert any(dec._unknown_originals(w) for w in words)


@pytest.mark.parametrize("learned", [False, True])
def test_unknown_words_cached_together_get_the_originals_of_one_by_one(learned):
    # `_cache_unknown` scores the shipped table's single-word originals of many words in one
    # pass, without numbering their entries; each word must get what the key-by-key way
    # gives (`_unknown_originals` on its own), to the last bit, learned and term keys too.
    shared = _learned_decoder() if learned else get_models().decoder
    src = shared.source
    table = shared.table()
    unknown = (table.row_ids == decode_mod.UNK) & ~shared._phrase_rows()
    words = [src._words[r] for r in np.flatnonzero(unknown)[::173].tolist()]
    words += [next(iter(src._learned))] if learned else []
    words += [k for k in src._terms if " " not in k][:3] + ["qwzxv-not-a-key"]
    assert len(words) > 100
    together = decode_mod.Decoder(shared.lm, src, shared.params)
    together._cache_unknown(words[::2])
    together._cache_unknown(words)  # some of them already cached
    one = decode_mod.Decoder(shared.lm, src, shared.params)
    got = {w: together._unknown_originals(w) for w in words}
    want = {w: one._unknown_originals(w) for w in words if src.is_key(w)}
    assert {w: got[w] for w in want} == want
    assert sum(1 for v in want.values() if v) > 50
    assert not together._phrases.specs or learned  # nothing numbered for plain words


def test_a_key_listing_an_original_twice_is_merged_as_specs_merges_it(tmp_path):
    # The shipped table lists each original once per key; a rebuilt one might not. Such a
    # key goes the key-by-key way (`specs` keeps one entry, with the later values).
    from unspin.candidates import FLAG_VECTOR, CandidateSource

    words = ["qwzxv", "gathering", "meeting", "session", "as a result of", "because"]
    rows = {w: k for k, w in enumerate(words)}
    entries = [("qwzxv", "meeting", FLAG_WN_SYN), ("qwzxv", "session", FLAG_VECTOR),
               ("qwzxv", "meeting", FLAG_WN_LOOSE), ("gathering", "meeting", FLAG_WN_SYN),
               ("as a result of", "because", FLAG_PHRASE)]
    (tmp_path / "cand_words.txt").write_text("\n".join(words) + "\n", encoding="utf-8")
    counts = np.bincount([rows[o] for o, _, _ in entries], minlength=len(words))
    np.save(tmp_path / "cand_offsets.npy", np.concatenate(([0], np.cumsum(counts))))
    np.save(tmp_path / "cand_orig.npy", np.array([rows[g] for _, g, _ in entries], np.uint32))
    np.save(tmp_path / "cand_flags.npy", np.array([f for _, _, f in entries], np.uint8))
    np.save(tmp_path / "cand_cos.npy", np.array([0.5, 0.25, 0.75, 0.5, 0.0], np.float16))
    np.save(tmp_path / "cand_fanout.npy", np.array([1, 3, 2, 2, 1, 4], np.uint16))
    shared = get_models().decoder
    source = CandidateSource(data_dir=tmp_path, terms={})
    keys = ["gathering", "qwzxv", "as a result of", "nothing"]
    one = decode_mod.Decoder(shared.lm, source, shared.params)
    for k in keys:
        one._entry_range(k, False)
    together = decode_mod.Decoder(shared.lm, source, shared.params)
    together._number_keys(keys)
    assert together._phrases.specs == one._phrases.specs
    assert [a.tolist() for a in together._phrases.arrays()] == \
        [a.tolist() for a in one._phrases.arrays()]
    assert together._phrases.ranges == one._phrases.ranges
    lo, hi = together._phrases.ranges[("qwzxv", False)]
    assert [(s[1], s[2]) for s in together._phrases.specs[lo:hi]] == \
        [(("meeting",), FLAG_WN_LOOSE), (("session",), FLAG_VECTOR)]
    cached = decode_mod.Decoder(shared.lm, source, shared.params)
    cached._cache_unknown(["qwzxv", "gathering"])  # "qwzxv": the key-by-key way
    assert cached._unknown_originals("qwzxv") == one._unknown_originals("qwzxv")
    assert cached._unknown_originals("gathering") == one._unknown_originals("gathering")
    assert len(cached._unknown_originals("qwzxv")) == 2


def test_channel_heads_are_the_scalar_channel_base_everywhere():
    """The start-up's table of `_channel_base` (spread from one scalar call per flags value)
    holds the scalar code's value, or NaN where it rules the pair out, in every cell."""
    from dataclasses import replace

    from unspin.decode import DecodeParams, _channel_base, _channel_heads

    for p in (DecodeParams(), replace(DecodeParams(), syn=0.7, phrase=-1.3, offset=-2.0)):
        n, m = 7, 6
        heads = _channel_heads(n, m, p)
        for f in range(256):
            for ln in range(n):
                for ml in range(m):
                    want = _channel_base(f, ln, ml, p) if ln and ml else None
                    got = heads[f, ln, ml]
                    assert (np.isnan(got) if want is None else got == want), (f, ln, ml)


@_native_joint
@pytest.mark.parametrize("unk_penalty", [0.0, 1.5])
def test_compiled_phrase_scores_are_the_numpy_scores_bit_for_bit(monkeypatch, unk_penalty):
    """`_phrase_scores` through `Model.phrase_windows` (reading the text's own pair lookups)
    and through its numpy loop: the same scores, channels and mask, to the last bit, for
    every multiword candidate of spun text (originals of one to four words, windows cut by
    the end of a sentence, unknown words)."""
    from dataclasses import replace

    dec = get_models().decoder
    monkeypatch.setattr(dec, "params", replace(dec.params, unk_penalty=unk_penalty))
    seen = []
    seen_own = []  # the text's own pair lookups handed over (the compiled path reads them)
    scores = decode_mod.Decoder._phrase_scores

    def both(self, g, base, end_of, shape, pos, entry, own_pairs=None):
        got = scores(self, g, base, end_of, shape, pos, entry, own_pairs=own_pairs)
        seen_own.append(own_pairs is not None)
        with monkeypatch.context() as m:
            m.setattr(self.lm, "compiled", lambda: None)
            want = scores(self, g, base, end_of, shape, pos, entry)
        seen.append((len(pos), self._phrases.arrays()[2][entry].tolist()))
        for x, y in zip(got, want, strict=True):
            assert x.dtype == y.dtype and np.array_equal(x, y)
        return got

    monkeypatch.setattr(decode_mod.Decoder, "_phrase_scores", both)
    texts = [TEXT, REPEATED_SWAP, "Zorblax metropolis courtroom additionally . Finances",
             "a great deal of the folks in the metropolis stated so", "In spite of that .",
             "the council additionally qwzxv approved a great deal qwzxv zorblax of money",
             "as a result of zorblax the mayor stated qwzxv that the metropolis qwzxv"]
    for text in texts:
        sents, shapes = prepared(text)
        dec.decode(sents, shapes=shapes)
    assert sum(n for n, _ in seen) > 50
    assert {1, 2}.issubset({m for _, ms in seen for m in ms})  # one- and two-word originals
    assert all(seen_own)


@_native_joint
def test_compiled_phrase_windows_reject_bad_candidates_clearly():
    model = get_models().decoder.lm.compiled()
    g = np.array([3, 1, 5, 6, 7, 2], dtype=np.int64)
    end_of = np.full(6, 6, dtype=np.int64)
    orig = np.array([[5, 6, 0, 0]], dtype=np.int32)
    one = np.ones(1, dtype=np.int64)
    zero = np.zeros(1, dtype=np.int64)
    out = np.empty(1)

    def call(j, m=one, entry=zero, originals=orig):
        model.phrase_windows(g, 6, np.array([j], dtype=np.int64), one, m, entry, 1,
                             originals, len(originals), end_of, 0, 0.0, out)

    call(2)
    assert np.isfinite(out[0]) and out[0] < 0
    with pytest.raises(IndexError, match="out of range"):
        call(1)  # no two tokens before it
    with pytest.raises(IndexError, match="out of range"):
        call(2, m=np.array([5], dtype=np.int64))  # longer than the originals' width
    with pytest.raises(IndexError, match="out of range"):
        call(2, entry=np.array([1], dtype=np.int64))
    with pytest.raises(ValueError, match="originals"):
        call(2, originals=np.zeros((1, 61), dtype=np.int32))


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 2**31 - 1), st.integers(0, 2**32 - 1)), max_size=60),
       st.booleans())
def test_stable_order_is_the_stable_argsort(pairs, narrow):
    """`_stable_order` (positions packed into the keys and the values sorted, where they
    fit) gives the stable argsort's order, ties included; wide keys take the argsort."""
    from unspin.decode import _stable_order

    if narrow:  # a few distinct small keys: many ties, and the packed path
        pairs = [(a % 3, b % 5) for a, b in pairs]
    major = np.array([a for a, _ in pairs], dtype=np.int64)
    minor = np.array([b for _, b in pairs], dtype=np.int64)
    want = np.argsort((major << 32) | minor, kind="stable")
    assert _stable_order(major, minor).tolist() == want.tolist()


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 40),
                          st.one_of(st.floats(-60, 60), st.sampled_from([0.0, -0.0, 1.5,
                                                                         -np.inf]))),
                min_size=1, max_size=80), st.booleans())
def test_compiled_grouping_by_position_is_the_numpy_grouping(rows, in_order):
    # `_native.group_by_position` against the numpy code, bit for bit: unsorted and
    # sorted positions, repeated positions, tied and infinite scores.
    if not decode_mod.native_available():
        pytest.skip("compiled helper not built")
    if in_order:
        rows = sorted(rows, key=lambda r: r[0])
    pos = np.array([r[0] for r in rows], dtype=np.int64)
    score = np.array([r[1] for r in rows], dtype=np.float64)
    with np.errstate(invalid="ignore"), pytest.MonkeyPatch.context() as m:
        fast = decode_mod._logsumexp_by(pos, score), decode_mod._best_by(pos, score)
        m.setenv("UNSPIN_NATIVE", "0")
        slow = decode_mod._logsumexp_by(pos, score), decode_mod._best_by(pos, score)
    for got, want in zip(fast, slow, strict=True):
        for a, b in zip(got, want, strict=True):
            assert a.dtype == b.dtype
            assert np.array_equal(a, b, equal_nan=True)
            assert np.array_equal(np.signbit(a), np.signbit(b))


def test_compiled_grouping_refuses_negative_positions():
    if not decode_mod.native_available():
        pytest.skip("compiled helper not built")
    with pytest.raises(ValueError, match="negative"):
        decode_mod._best_by(np.array([3, -1], dtype=np.int64), np.zeros(2))


@pytest.mark.parametrize("chunk", [20_000, 10, 40])
def test_tokens_laid_end_to_end_decode_as_the_sentence_lists(monkeypatch, chunk):
    # `check` hands `decode` the shapes and words of all the sentences laid end to end
    # (no list per sentence): the same chunks, candidates and decisions as the lists.
    monkeypatch.setattr(decode_mod, "CHUNK_TOKENS", chunk)
    dec = get_models().decoder
    norms, shapes = prepared(REPEATED_SWAP + " " + TEXT.upper() + " " + TEXT)
    words = [w for s in norms for w in s]
    flat_shapes = np.array([x for s in shapes for x in s], dtype=np.int64)
    assert flat_shapes.any()
    rates = np.linspace(0.1, 0.7, len(norms))
    want, _, want_states = dec.decode(norms, shapes=shapes, fast=True, prior=rates)
    got, _, got_states = dec.decode(norms, fast=True, prior=rates, token_shapes=flat_shapes,
                                    token_words=words)
    assert want and got == want
    assert [st.shapes for st in got_states] == shapes  # made from the padded shapes
    assert [st.padded_len for st in got_states] == [st.padded_len for st in want_states]
    as_arrays, _, _ = dec.decode(norms, fast=True, prior=rates, token_shapes=flat_shapes,
                                 token_words=words, as_arrays=True)
    assert as_arrays.decisions() == want
    # `local` on such a chunk: the same scores as on the lists.
    a = dec.local(dec.prepare(norms, shapes))
    b = dec.local(dec.prepare(norms, token_shapes=flat_shapes, token_words=words))
    for name in ("pos", "score", "channel", "orig", "entry", "phrase_entry", "zpos", "zlse"):
        assert np.array_equal(getattr(a, name), getattr(b, name)), name


def test_padded_words_read_as_the_padded_list():
    dec = get_models().decoder
    norms, shapes = prepared(TEXT)
    words = [w for s in norms for w in s]
    chunk = dec.prepare(norms, token_words=words)
    flat = []
    for s in norms:
        flat += [None, None, *s, None]
    lazy = decode_mod._PaddedWords(chunk.words, chunk.word_at)
    assert len(lazy) == len(flat)
    assert [lazy[j] for j in range(len(flat))] == flat
    assert lazy[3:9] == flat[3:9] and lazy[len(flat) - 4:] == flat[len(flat) - 4:]
    js = np.array([0, 2, 5, 1, len(flat) - 1, 7], dtype=np.int64)
    assert decode_mod._words_at(lazy, js) == decode_mod._words_at(flat, js) == \
        [flat[j] for j in js]
    with pytest.raises(ValueError, match="token_words"):
        dec.prepare(norms, token_words=words[:-1])
    with pytest.raises(ValueError, match="token_shapes"):
        dec.prepare(norms, token_shapes=np.zeros(len(words) + 1, dtype=np.int64))
