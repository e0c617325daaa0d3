"""Language model: building, storage and the probabilities it gives."""

from __future__ import annotations

import json

import numpy as np
import pytest

from unspin.lm import BOS, EOS, NONE, UNK, ArrayFile, NGramLM, build_lm, fingerprint

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
