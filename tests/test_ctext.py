"""The compiled text passes (`unspin._ctext`) give what the Python code they replace gives."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from unspin import clean as clean_module
from unspin import tokens as tokens_module
from unspin.lm import UNK

ctext = tokens_module._ctext
pytestmark = pytest.mark.skipif(ctext is None,
                                reason="unspin._ctext not built (no C compiler at install)")

# The regular expressions' edges: apostrophes before s and elsewhere, hyphens, digits with
# separators, underscores, letters that are numbers (², ½), title case (ǅ), a dotted
# capital whose lower case is two characters (İ), final sigma, combining marks, odd spaces
# (\x1c-\x1f are str.isspace), controls, a lone surrogate, characters beyond the BMP, and
# whole function words of both stop lists.
EDGES = st.lists(
    st.sampled_from(
        list("aAsSbZ'’-_.,:!?\"()[ 0123456789\t\n\r\x0b\x1c\x1f\x00\x7f\x85\xa0\xad")
        + ["é", "²", "½", "ǅ", "İ", "Σ", "\u0301", "\u200b", "\u201c", "\u2013", "\u2014",
           "\ud800", "日", "١", "𝔸", "\U0001f600", "the ", "THE ", "und ", "der "]
    ),
    max_size=50,
).map("".join)
ANY = st.one_of(EDGES, st.text(max_size=80))


def _codes_py(texts: list[str]) -> list[int]:
    return [tokens_module._code_of(t) for t in texts]


@settings(max_examples=400, deadline=None)
@given(ANY)
def test_tokens_are_the_regular_expression_tokens(text: str) -> None:
    assert ctext.find_tokens(text) == tokens_module.find_tokens_re(text)
    assert ctext.find_tokens(text) == tokens_module.TOKEN_RE.findall(text)


@settings(max_examples=400, deadline=None)
@given(ANY)
def test_token_codes_are_the_python_codes(text: str) -> None:
    toks = tokens_module.TOKEN_RE.findall(text) + [text, text[:1], text.upper()]
    got = np.frombuffer(ctext.token_codes(toks), dtype=np.uint8).tolist()
    assert got == _codes_py(toks)
    assert tokens_module.token_codes(toks).tolist() == tokens_module.token_codes_py(toks).tolist()


@settings(max_examples=400, deadline=None)
@given(ANY)
def test_control_test_agrees_with_the_control_stage(text: str) -> None:
    assert ctext.has_controls(text) == bool(clean_module._CONTROL.search(text))


@settings(max_examples=400, deadline=None)
@given(ANY)
def test_ascii_counts_are_those_of_the_ascii_characters(text: str) -> None:
    ascii_part = "".join(c for c in text if c < "\x80")
    visible, bad, letters, others = ctext.ascii_counts(text)
    assert (visible, bad, letters) == clean_module._ascii_counts(ascii_part)[:3]
    assert others == "".join(clean_module._NON_ASCII.findall(text))


def _stopword_counts_py(text: str) -> tuple[int, int, int]:
    """The counts as `clean` defines them, from the sets."""
    found = clean_module._WORD.findall(text)
    words = "\n".join(found).lower().split("\n") if found else []
    return (len(words), sum(w in clean_module._EN_STOP for w in words),
            sum(w in clean_module._FOREIGN_STOP for w in words))


@settings(max_examples=400, deadline=None)
@given(ANY)
def test_stopword_counts_are_the_python_counts(text: str) -> None:
    assert ctext.stopword_counts(text, clean_module._EN_STOP,
                                 clean_module._FOREIGN_STOP) == _stopword_counts_py(text)


_STOP_WORDS = sorted(clean_module._EN_STOP | clean_module._FOREIGN_STOP)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(st.sampled_from(_STOP_WORDS), st.text(min_size=1, max_size=18)),
                max_size=40),
       st.lists(st.booleans(), max_size=40))
def test_stopword_counts_of_function_words_in_any_case(words, upper) -> None:
    """The stop words' compiled tables (ASCII runs) count what the sets count."""
    text = " ".join(w.upper() if k < len(upper) and upper[k] else w
                    for k, w in enumerate(words))
    expected = _stopword_counts_py(text)
    assert ctext.stopword_counts(text, clean_module._EN_STOP, clean_module._FOREIGN_STOP,
                                 *clean_module._stop_tables()) == expected
    # Without the tables, the sets answer every run: the same counts.
    assert ctext.stopword_counts(text, clean_module._EN_STOP,
                                 clean_module._FOREIGN_STOP) == expected


_MOJI_ALPHABET = ("aÂÃâéð× Ã©\x1b\x80\x9f\xbf\xc1\xc2\xf4\xf5"
                  "\u0152\u2013\u2019\u201c\u20ac\ufb01\ufffd\ud800")


@settings(max_examples=600, deadline=None)
@given(st.one_of(ANY, st.text(alphabet=_MOJI_ALPHABET, max_size=12)))
def test_mojibake_test_agrees_with_the_hint_pattern(text: str) -> None:
    assert ctext.maybe_mojibake(text) == bool(clean_module._MOJI_HINT.search(text))


def test_every_character_alone_and_between_letters() -> None:
    # Each code point below U+3100 and a sample above it, where the classes (letter, digit,
    # space, word) change.
    points = list(range(0x3100)) + list(range(0x3100, 0x30000, 97))
    for cp in points:
        c = chr(cp)
        for text in (c, f"a{c}s", f"{c}s", f"1{c}2", f"ab{c} "):
            assert ctext.find_tokens(text) == tokens_module.TOKEN_RE.findall(text), hex(cp)
        assert ctext.has_controls(c) == bool(clean_module._CONTROL.search(c)), hex(cp)
        for text in (c, "\u00c3" + c, c + "\u00a9", "\u00e2" + c + "x", "\u00e9 " + c,
                     "\u00d7 " + c):
            assert ctext.maybe_mojibake(text) == bool(clean_module._MOJI_HINT.search(text)), \
                hex(cp)
        toks = [c, c + "A", "A" + c, c + c]
        assert np.frombuffer(ctext.token_codes(toks), dtype=np.uint8).tolist() == \
            _codes_py(toks), hex(cp)


def test_ids_are_dictionary_lookups() -> None:
    index = {"the": 5, "cat": 7}
    words = ["the", "dog", "cat", "", "the"]
    got = np.frombuffer(ctext.lookup_ids(index, words, UNK), dtype=np.int64).tolist()
    assert got == [index.get(w, UNK) for w in words]


def test_bad_arguments_raise_type_errors() -> None:
    with pytest.raises(TypeError):
        ctext.find_tokens(b"bytes")
    with pytest.raises(TypeError):
        ctext.token_codes(["ok", 3])
    with pytest.raises(TypeError):
        ctext.stopword_counts("text", ["a"], frozenset())
    with pytest.raises(TypeError):
        ctext.ascii_counts(b"bytes")
    with pytest.raises(TypeError):
        ctext.lookup_ids({}, ("a",), UNK)


def test_stopword_counts_follow_the_tables_they_are_given() -> None:
    text = "The cat and der Hund"
    en, foreign = {"cat"}, {"hund", "und"}
    tables = (ctext.vocab_table(sorted(en)), ctext.vocab_table(sorted(foreign)))
    assert ctext.stopword_counts(text, frozenset(en), frozenset(foreign), *tables) == (5, 1, 1)
    assert ctext.stopword_counts(text, clean_module._EN_STOP, clean_module._FOREIGN_STOP,
                                 *clean_module._stop_tables()) == (5, 2, 1)
    long_run = "x" * 300  # longer than any table word: the sets decide
    assert ctext.stopword_counts(long_run, {long_run}, set(),
                                 *(ctext.vocab_table([]),) * 2) == (1, 1, 0)
    with pytest.raises(TypeError, match="both tables"):
        ctext.stopword_counts(text, en, foreign, tables[0])
    with pytest.raises(TypeError, match="vocab_table"):
        ctext.stopword_counts(text, en, foreign, b"x", b"y")


# Words short enough to sit in a slot of the table and longer ones (their tail in its pool),
# from a small alphabet so that they share heads and repeat.
_WORDS = st.one_of(st.text(max_size=8), st.text(alphabet="abc", min_size=6, max_size=14))


@settings(max_examples=200, deadline=None)
@given(st.lists(_WORDS, min_size=1, max_size=60), st.lists(_WORDS, max_size=60))
def test_vocab_table_lookups_are_the_dict_lookups(vocab, words) -> None:
    """ASCII words through the compact table, the others through the dict: the dict's ids
    (a repeated vocabulary word keeps its last id, as ``dict(zip(...))`` does)."""
    index = dict(zip(vocab, range(len(vocab)), strict=True))
    table = ctext.vocab_table(vocab)
    query = words + vocab[:20] + ["x" * 300]
    got = np.frombuffer(ctext.lookup_ids(index, query, -7, table), dtype=np.int64)
    assert got.tolist() == [index.get(w, -7) for w in query]


def test_vocab_table_tells_long_words_apart_by_their_tails() -> None:
    """Words of one length that share their first eight bytes (the part held in the slot)
    differ only in the table's pool: probing past each other, they must not be confused."""
    import itertools

    tails = ["".join(t) for t in itertools.product("abcdefghijk", repeat=3)]
    vocab = ["longword" + t for t in tails[:700]]
    index = {w: i for i, w in enumerate(vocab)}
    query = ["longword" + t for t in tails] + ["longword", "longwor", "longwordab"]
    got = np.frombuffer(ctext.lookup_ids(index, query, -1, ctext.vocab_table(vocab)),
                        dtype=np.int64)
    assert got.tolist() == [index.get(w, -1) for w in query]


def test_lookup_ids_rejects_a_table_it_did_not_make() -> None:
    with pytest.raises(TypeError, match="vocab_table"):
        ctext.lookup_ids({"a": 0}, ["a"], 1, b"\x00" * 40)
    with pytest.raises(TypeError):
        ctext.vocab_table(["a", 3])


@settings(max_examples=300, deadline=None)
@given(st.lists(ANY, max_size=4), st.lists(st.text(max_size=6), max_size=30))
def test_token_pass_is_the_four_passes_it_replaces(texts, vocab) -> None:
    """Tokens per text, then their normalised forms, codes and ids: what `find_tokens`,
    `lower_tokens`, `token_codes` and `lookup_ids` give one after the other (the words of
    the texts are in the vocabulary too, so that some are found)."""
    flat = [t for text in texts for t in tokens_module.TOKEN_RE.findall(text)]
    norms = tokens_module.lower_tokens_py(flat, straight_quotes=True)
    words = vocab + norms[::2]
    index = dict(zip(words, range(len(words)), strict=True))
    # With the words by id (whose str objects it reuses), a wrong list of them (checked:
    # never a wrong form), and without.
    for table, by_id in ((ctext.vocab_table(words), words), (ctext.vocab_table(words), None),
                         (ctext.vocab_table(words), words[::-1] + ["x"] * 3), (None, words)):
        extra = () if by_id is None else (by_id,)
        per, got_norms, codes, ids, starts = ctext.token_pass(texts, True, index, -3, table,
                                                              *extra)
        assert per == [tokens_module.TOKEN_RE.findall(text) for text in texts]
        want = [m.start() for text in texts for m in tokens_module.TOKEN_RE.finditer(text)]
        assert np.frombuffer(starts, dtype=np.int64).tolist() == want
        assert got_norms == norms
        assert np.frombuffer(codes, dtype=np.uint8).tolist() == _codes_py(flat)
        assert np.frombuffer(ids, dtype=np.int64).tolist() == [index.get(w, -3) for w in norms]
    per, got_norms, codes, ids, _ = ctext.token_pass(texts, False)
    assert ids is None and got_norms == tokens_module.lower_tokens_py(flat)


def test_token_pass_matches_its_python_fallback(monkeypatch) -> None:
    texts = ["The Café’s CEO said: 3,000 “jobs” — İstanbul’s ΣΑΣ.", "", "don't STOP"]
    words = ["<unk>", "<s>", "</s>", "<none>", "x", "the", "café", "said", "don't"]
    index = {w: i for i, w in enumerate(words)}
    compiled = tokens_module.token_pass(texts, (index, UNK, ctext.vocab_table(words)))
    monkeypatch.setattr(tokens_module, "_ctext", None)
    python = tokens_module.token_pass(texts, (index, UNK, None))
    assert compiled[:2] == python[:2]
    assert compiled[2].tolist() == python[2].tolist()
    assert compiled[3].tolist() == python[3].tolist()
    assert compiled[4].tolist() == python[4].tolist()
    found = [w for w, i in zip(python[1], python[3].tolist(), strict=True) if i != UNK]
    assert found == ["the", "café", "said", "don't"]  # the dict for café
    assert tokens_module.token_pass(texts)[3] is None
    monkeypatch.undo()
    with pytest.raises(TypeError, match="token_pass"):
        ctext.token_pass(["a", 3], True)


def test_vocab_table_refuses_long_words_past_its_pool_clearly() -> None:
    # Long words keep their bytes after the eighth in a pool addressed by 24 bits.
    words = ["x" * 8 + f"{i:06d}" + "y" * 240 for i in range(70_000)]  # 17 MB of tails
    with pytest.raises(ValueError, match="too large"):
        ctext.vocab_table(words)
    assert ctext.vocab_table(words[:1000]) is not None


def test_token_pass_reuses_the_vocabularys_words_as_forms() -> None:
    """An ASCII token the table knows takes the vocabulary's own str as its form (and as
    the token when it has no capital); long tokens, unknown and non-ASCII ones get new
    ones, with the same values as without the list."""
    long_word = "b" * 70
    words = ["<unk>", "the", "cat", long_word, "café"]
    index = {w: i for i, w in enumerate(words)}
    text = f"The cat sat on the {long_word.upper()} café’s mat"
    table = ctext.vocab_table(words)
    per, norms, _, ids, _ = ctext.token_pass([text], True, index, 0, table, words)
    plain = ctext.token_pass([text], True, index, 0, table)
    assert per == plain[0] and norms == plain[1] and bytes(ids) == bytes(plain[3])
    assert norms[0] is words[1] and norms[4] is words[1] and norms[1] is words[2]
    assert per[0][1] is words[2] and per[0][0] == "The"
    assert norms[5] == long_word and norms[5] is not words[3]  # past the fast path
    # café by the dict (not ASCII), then ’s, which the vocabulary lacks
    assert norms[6:8] == ["café", "'s"]
    assert np.frombuffer(ids, dtype=np.int64).tolist()[5:8] == [3, 4, 0]
