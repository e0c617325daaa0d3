"""Language model: building, storage and the probabilities it gives."""

from __future__ import annotations

import json
import pickle

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import unspin.lm as lm_module
from unspin.lm import BOS, EOS, NONE, UNK, ArrayFile, NGramLM, build_lm, fingerprint
from unspin.models import data_path

CORPUS = [
    "The committee met on Monday. The committee approved the budget.",
    "The council met on Tuesday and approved the plan.",
    "Officials said the plan would cost more than expected.",
    "The mayor said the budget would be approved on Monday.",
    "The ( ) committee of the , said nothing.",  # extraction holes
]


@pytest.fixture(scope="module")
def tiny_lm(tmp_path_factory) -> NGramLM:
    d = tmp_path_factory.mktemp("lm")
    src = d / "corpus.jsonl"
    src.write_text("\n".join(json.dumps({"text": t}) for t in CORPUS * 3), encoding="utf-8")
    out = d / "tiny.lm"
    stats = build_lm([str(src)], str(out), min_counts=(1, 1, 1), progress=False)
    assert stats["trigrams"] > 0 and out.stat().st_size == stats["bytes"]
    return NGramLM(out)


def test_build_reads_a_nested_text_field(tmp_path):
    src = tmp_path / "nested.jsonl"
    src.write_text("\n".join(json.dumps({"doc": {"body": t}}) for t in CORPUS * 3),
                   encoding="utf-8")
    out = tmp_path / "nested.lm"
    stats = build_lm([str(src)], str(out), text_field="doc.body", min_counts=(1, 1, 1),
                     progress=False)
    assert stats["trigrams"] > 0
    assert NGramLM(out).id("mayor") != UNK


def test_probabilities_sum_to_one_over_the_vocabulary(tiny_lm):
    vocab = np.arange(len(tiny_lm))
    for a, b in [("the", "committee"), ("<s>", "the"), ("said", "the"), ("zzz", "the")]:
        ia, ib = tiny_lm.id(a), tiny_lm.id(b)
        if a == "<s>":
            ia, ib = NONE, BOS
        lp = tiny_lm.logprob(np.full(len(vocab), ia), np.full(len(vocab), ib), vocab)
        mask = ~np.isin(vocab, [BOS, NONE])
        total = float(np.sum(10.0 ** lp[mask]))
        # Quantisation to 256 levels moves each value by at most ~3 %.
        assert 0.9 < total < 1.1, (a, b, total)


def test_seen_continuations_beat_unseen_ones(tiny_lm):
    lp = tiny_lm.score_sentence("the committee approved the budget .".split())
    lp_bad = tiny_lm.score_sentence("the budget approved the committee on .".split())
    assert lp.mean() > lp_bad.mean()
    assert len(lp) == 7  # one per token plus </s>


def test_unknown_words_map_to_unk_and_still_score(tiny_lm):
    assert tiny_lm.id("xylophone") == UNK
    lp = tiny_lm.score_sentence(["xylophone", "said", "."])
    assert np.all(np.isfinite(lp)) and np.all(lp <= 0)


def test_ngrams_do_not_span_extraction_holes(tiny_lm):
    # "of the ," is a hole ("the" followed by a comma): that trigram is never counted.
    the, of, comma = tiny_lm.id("the"), tiny_lm.id("of"), tiny_lm.id(",")
    key = (np.uint64(of) << np.uint64(42)) | (np.uint64(the) << np.uint64(21)) | np.uint64(comma)
    hit, _ = tiny_lm._find("_k3", fingerprint(np.array([key])))
    assert not hit[0]


def test_special_ids_are_reserved(tiny_lm):
    assert tiny_lm.words[:4] == ["<unk>", "<s>", "</s>", "<none>"]
    assert (UNK, BOS, EOS, NONE) == (0, 1, 2, 3)


def test_array_file_round_trip(tmp_path):
    arrays = {"a": np.arange(10, dtype=np.uint32), "b": np.linspace(0, 1, 7),
              "empty": np.zeros(0, dtype=np.uint8)}
    ArrayFile.save(tmp_path / "x.bin", arrays, {"k": 1})
    loaded, meta = ArrayFile.load(tmp_path / "x.bin")
    assert meta == {"k": 1}
    for k, v in arrays.items():
        assert np.array_equal(np.asarray(loaded[k]), v) and loaded[k].dtype == v.dtype


def test_loading_a_file_that_is_not_a_model_fails_clearly(tmp_path):
    p = tmp_path / "junk.bin"
    p.write_bytes(b"hello world, not a model")
    with pytest.raises(ValueError, match="not an unspin model file"):
        NGramLM(p)


def test_empty_corpus_is_a_clear_error(tmp_path):
    src = tmp_path / "empty.txt"
    src.write_text("", encoding="utf-8")
    with pytest.raises(ValueError, match="no text"):
        build_lm([str(src)], str(tmp_path / "x.lm"), progress=False)


def test_fingerprints_are_stable_and_spread():
    keys = np.arange(100_000, dtype=np.uint64)
    fp = fingerprint(keys)
    assert fp.dtype == np.uint32
    assert len(np.unique(fp)) > 99_990
    assert np.array_equal(fp, fingerprint(keys))


def test_bucketed_lookup_agrees_with_binary_search(tiny_lm):
    rng = np.random.default_rng(7)
    for name in ("_k2", "_k3"):
        keys = getattr(tiny_lm, name)
        stored = keys[rng.integers(0, len(keys), 200)]
        other = rng.integers(0, 2**32, 300, dtype=np.uint64).astype(np.uint32)
        query = np.concatenate((stored, other, np.array([0, 2**32 - 1], dtype=np.uint32)))
        hit, pos = tiny_lm._find(name, query)
        expected = np.isin(query, keys)
        assert np.array_equal(hit, expected)
        assert np.array_equal(keys[pos[hit]], query[hit])


def test_bucket_starts_count_the_keys_under_each_prefix():
    model = NGramLM(data_path("lm.bin"))  # the shipped model: millions of keys
    for name in ("_k2", "_k3"):
        keys, starts, shift, depth = model._buckets(name)
        counts = np.bincount((keys >> shift).astype(np.int64), minlength=len(starts) - 1)
        assert np.array_equal(starts, np.concatenate(([0], np.cumsum(counts))))
        assert depth == int(counts.max()).bit_length() and len(starts) > 1 << 15


def test_sequence_scoring_agrees_with_window_scoring(tiny_lm):
    rng = np.random.default_rng(3)
    sentence = tiny_lm.ids("the committee approved the budget on monday .".split())
    rows = np.concatenate([
        np.tile(np.concatenate(([NONE, BOS], sentence, [EOS])), (2, 1)),
        rng.integers(0, len(tiny_lm), (5, len(sentence) + 3)),  # mostly unseen n-grams
    ])
    got = tiny_lm.logprob_seq(rows)
    assert got.shape == (len(rows), rows.shape[1] - 2)
    for r, row in enumerate(rows):
        expected = tiny_lm.logprob(row[:-2], row[1:-1], row[2:])
        assert np.array_equal(got[r], expected)
    # A seen sentence gets trigram probabilities, not only backed-off ones.
    assert got[0].mean() > got[2:].mean()


# ---------------------------------------------------------------- compiled lookups

native = pytest.mark.skipif(not lm_module.native_available(),
                            reason="unspin._native not built (no C compiler at install)")


def _both(model: NGramLM, method: str, *args):
    """The same call through the compiled helper and through numpy."""
    model.native = True
    try:
        fast = getattr(model, method)(*args)
    finally:
        model.native = False
    try:
        slow = getattr(model, method)(*args)
    finally:
        model.native = lm_module.native_available()
    return fast, slow


@native
@settings(max_examples=60, deadline=None)
@given(rows=st.integers(1, 6), width=st.integers(3, 9), seed=st.integers(0, 2**32 - 1),
       seen=st.booleans())
def test_compiled_lookups_give_the_numpy_values_bit_for_bit(tiny_lm, rows, width, seed, seen):
    rng = np.random.default_rng(seed)
    if seen:  # windows of the training text: trigram and bigram hits
        text = tiny_lm.ids("the committee met on monday . the council approved the plan".split())
        starts = rng.integers(0, len(text) - width + 1, rows) if len(text) >= width else [0]
        seq = np.array([np.resize(text[s:], width) for s in starts], dtype=np.int64)
    else:
        seq = rng.integers(0, len(tiny_lm), (rows, width)).astype(np.int64)
    fast, slow = _both(tiny_lm, "logprob_seq", seq)
    assert fast.dtype == slow.dtype == np.float32
    assert np.array_equal(fast, slow)
    a, b, c = seq[:, 0], seq[:, 1], seq[:, 2]
    fast, slow = _both(tiny_lm, "logprob", a, b, c)
    assert np.array_equal(fast, slow)
    (fh, fp), (sh, sp) = _both(tiny_lm, "pairs", seq[:, 0], seq[:, 1])
    assert np.array_equal(fh, sh) and np.array_equal(fp[fh], sp[sh])
    hit, pos = tiny_lm.pairs(seq[:, :-1].ravel(), seq[:, 1:].ravel())
    fast, slow = _both(tiny_lm, "logprob_pairs", seq, hit.reshape(rows, width - 1),
                       pos.reshape(rows, width - 1))
    assert np.array_equal(fast, slow)


@native
def test_compiled_lookups_in_large_buckets_match_numpy(tiny_lm):
    """Buckets of a few keys are scanned, larger ones searched: force the large ones."""
    import copy

    model = copy.copy(tiny_lm)
    model._compiled = None
    model._bucket_cache = {}
    for name in ("_k2", "_k3"):
        keys = getattr(model, name)
        shift = 31  # two buckets
        counts = np.bincount((keys >> shift).astype(np.int32), minlength=2)
        starts = np.zeros(len(counts) + 1, dtype=np.int32)
        np.cumsum(counts, out=starts[1:])
        assert counts.max() > 16
        model._bucket_cache[name] = (keys, starts, shift, int(counts.max()).bit_length())
    rng = np.random.default_rng(5)
    text = model.ids("the committee met on monday . the council approved the plan".split())
    seq = np.concatenate([np.lib.stride_tricks.sliding_window_view(text, 5),
                          rng.integers(0, len(model), (100, 5))]).astype(np.int64)
    fast, slow = _both(model, "logprob_seq", seq)
    assert np.array_equal(fast, slow)
    (fh, fp), (sh, sp) = _both(model, "pairs", seq[:, 0], seq[:, 1])
    assert np.array_equal(fh, sh) and np.array_equal(fp, sp)
    assert fh.any()


def _crowded(fps: np.ndarray, extra: int, rng) -> tuple[np.ndarray, np.ndarray]:
    """Draws whose fingerprints share the most crowded bucket of the smallest compiled
    tables (the top 17 bits), four of them left out, plus ``extra`` others: ``(stored,
    absent)`` indices, stored sorted by fingerprint with one draw per fingerprint."""
    bucket = fps >> np.uint32(15)
    crowded = np.flatnonzero(bucket == np.bincount(bucket).argmax())
    assert len(crowded) > 26  # more than a line holds (16 bigrams, 21 trigrams)
    stored = np.concatenate((crowded[:-4], rng.choice(len(fps), extra, replace=False)))
    stored = stored[np.unique(fps[stored], return_index=True)[1]]
    absent = crowded[-4:][~np.isin(fps[crowded[-4:]], fps[stored])]  # (not drawn twice)
    assert len(absent)
    return stored, absent


@native
def test_compiled_lookups_find_every_key_of_a_bucket_that_overflows_its_line():
    """The compiled tables keep a bucket's first keys in its cache line and the rest in a
    side table: bigrams and trigrams crowded into one bucket are all found, with their
    values, and those left out are not."""
    from unspin import _native
    from unspin.lm import BITS, fingerprint

    rng = np.random.default_rng(3)
    vocab, draws = 5000, 3_000_000
    a, b, c = rng.integers(0, vocab, (3, draws), dtype=np.uint64)
    bits = np.uint64(BITS)
    tri = fingerprint((a << np.uint64(2 * BITS)) | (b << bits) | c)
    stored3, absent3 = _crowded(tri, 3000, rng)
    ask = np.concatenate((stored3, absent3))
    # The bigrams of those trigrams (a trigram is probed only where both are stored), and
    # bigrams crowded into one bucket of their own.
    pair = fingerprint((a << bits) | b)
    stored2, absent2 = _crowded(pair, 3000, rng)
    keys2 = np.unique(np.concatenate((pair[stored2], fingerprint((a[ask] << bits) | b[ask]),
                                      fingerprint((b[ask] << bits) | c[ask]))))
    keys2 = keys2[~np.isin(keys2, pair[absent2])]
    keys3 = tri[stored3]
    p2, bow2 = rng.integers(0, 256, (2, len(keys2)), dtype=np.uint8)
    p3 = rng.integers(0, 256, len(keys3), dtype=np.uint8)
    lp = np.arange(256, dtype=np.float32) - 300.0  # a value names its index
    model = _native.Model(keys2, keys3, np.zeros(vocab, np.float32),
                          np.zeros(vocab, np.float32), lp, np.zeros(256, np.float32), p2, bow2,
                          p3)
    with pytest.raises(ValueError, match="not sorted"):
        _native.Model(keys2[::-1].copy(), keys3, np.zeros(vocab, np.float32),
                      np.zeros(vocab, np.float32), lp, np.zeros(256, np.float32), p2, bow2, p3)
    q = np.concatenate((stored2, absent2))
    hit, pos = np.zeros(len(q), bool), np.zeros(len(q), np.int32)
    model.pairs(a[q].astype(np.int64), b[q].astype(np.int64), len(q), hit, pos)
    at = np.searchsorted(keys2, pair[stored2])
    assert hit[:len(stored2)].all() and not hit[len(stored2):].any()
    assert np.array_equal(pos[:len(stored2)], (p2[at].astype(np.int32) << 8) | bow2[at])
    out = np.zeros(len(ask), np.float32)
    model.logprob(*(x[ask].astype(np.int64) for x in (a, b, c)), len(ask), out)
    p2_bc = p2[np.searchsorted(keys2, fingerprint((b[ask] << bits) | c[ask]))]
    want = np.where(np.arange(len(ask)) < len(stored3), lp[np.concatenate(
        (p3, np.zeros(len(absent3), np.uint8)))], lp[p2_bc])
    assert np.array_equal(out, want)


@native
def test_compiled_lookups_on_the_shipped_model_match_numpy():
    from unspin.models import get_models

    model = get_models().lm
    rng = np.random.default_rng(11)
    words = "the court said on monday that the new law would come into force next year".split()
    ids = model.ids(words)
    seq = np.concatenate([np.lib.stride_tricks.sliding_window_view(ids, 5),
                          rng.integers(0, len(model), (200, 5))]).astype(np.int64)
    fast, slow = _both(model, "logprob_seq", seq)
    assert np.array_equal(fast, slow)
    assert (fast[:5] > -3).mean() > 0.5  # real text gets real probabilities


@native
def test_compiled_lookups_reject_bad_input_clearly(tiny_lm):
    with pytest.raises(IndexError):
        tiny_lm.logprob(np.array([0]), np.array([1]), np.array([len(tiny_lm)]))
    with pytest.raises(IndexError):
        tiny_lm.logprob_seq(np.array([[0, 1, -5]]))
    with pytest.raises(ValueError):  # output buffer of the wrong size
        tiny_lm._nat().logprob(np.zeros(3, np.int64), np.zeros(3, np.int64),
                               np.zeros(3, np.int64), 3, np.zeros(2, np.float32))


@native
def test_no_memory_for_the_compiled_view_falls_back_to_numpy(tiny_lm, monkeypatch):
    from unspin import _native

    class Short:
        def __init__(self, *args):
            raise MemoryError

    monkeypatch.setattr(_native, "Model", Short)
    with pytest.warns(RuntimeWarning, match="numpy lookups"):
        lm = NGramLM(tiny_lm.path)
    assert lm.native is False and lm.compiled() is None
    seq = np.array([[NONE, BOS, 5, 6, 7], [3, 4, 5, 6, 7]])
    assert np.array_equal(lm.logprob_seq(seq), tiny_lm.logprob_seq(seq))


def test_a_model_pickles_without_its_compiled_view(tiny_lm):
    before = tiny_lm.logprob_seq(np.array([[NONE, BOS, 5, 6, 7]]))
    copy = pickle.loads(pickle.dumps(tiny_lm))
    assert np.array_equal(copy.logprob_seq(np.array([[NONE, BOS, 5, 6, 7]])), before)


def test_a_vocabulary_too_large_for_the_compiled_table_is_looked_up_in_the_dict(
        tiny_lm, monkeypatch):
    """`_ctext.vocab_table` refuses a vocabulary whose long words' tails pass 16 MB: the
    model then answers from its dict (the same ids), for `ids` and for `token_pass`."""
    from unspin import lm as lm_module
    from unspin import tokens as tokens_module

    if lm_module._ctext is None:
        pytest.skip("unspin._ctext not built")

    def too_large(words):
        raise ValueError("vocab_table: vocabulary too large")

    monkeypatch.setattr(lm_module._ctext, "vocab_table", too_large)
    monkeypatch.setattr(tiny_lm, "_vocab_table", None)
    words = [*tiny_lm.words[:5], "qwzxv", "The"]
    assert tiny_lm.ids(words).tolist() == [tiny_lm.index.get(w, UNK) for w in words]
    index, unk, table, by_id = tiny_lm.lookup_spec()
    assert table is None and unk == UNK and by_id is tiny_lm.words
    per, norms, _, ids, _ = tokens_module.token_pass([" ".join(words)],
                                                     (index, unk, table, by_id))
    assert ids.tolist() == [tiny_lm.index.get(w, UNK) for w in norms]
