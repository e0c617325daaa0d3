"""Tests for the tokenizer: offsets, coverage, and the splitting rules."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from unspin.tokens import (
    CODE_WORD,
    MAX_SENTENCE_TOKENS,
    NUMBER,
    PUNCT,
    TOKEN_RE,
    WORD,
    find_tokens,
    lower_tokens,
    lower_tokens_py,
    norm_sentences,
    normalise,
    segment_ids,
    segments,
    sentences,
    shape_codes,
    token_codes,
    token_starts,
    token_starts_py,
    tokenize,
)

# Text that exercises the regex's edges: letters of several scripts, apostrophes, hyphens,
# digits with separators, underscores, combining marks and odd spaces.
TRICKY = st.text(
    alphabet=st.sampled_from(
        list("aZsS'’-.,:_ 1907\t\n!?\"()") + ["é", "ß", "ж", "中", "\u0301", "\xa0", "²", "½", "٣"]
    ),
    max_size=60,
)


def _check_offsets(text: str) -> None:
    tokens = tokenize(text)
    pos = 0
    covered = [False] * len(text)
    for t in tokens:
        assert text[t.start : t.end] == t.text
        assert t.start >= pos, "tokens overlap or are out of order"
        assert t.end > t.start
        assert t.norm == normalise(t.text)
        assert t.kind in (WORD, NUMBER, PUNCT)
        for i in range(t.start, t.end):
            covered[i] = True
        pos = t.end
    for i, ch in enumerate(text):
        if covered[i]:
            assert not ch.isspace(), f"token covers space {ch!r}"
        else:
            assert ch.isspace(), f"non-space {ch!r} at {i} in {text!r} is in no token"


@settings(max_examples=200, deadline=None)
@given(st.text())
def test_offsets_and_coverage_any_text(text: str) -> None:
    _check_offsets(text)


@settings(max_examples=200, deadline=None)
@given(TRICKY)
def test_offsets_and_coverage_tricky_text(text: str) -> None:
    _check_offsets(text)


@settings(max_examples=200, deadline=None)
@given(TRICKY)
def test_sentences_partition_tokens(text: str) -> None:
    tokens = tokenize(text)
    groups = sentences(tokens)
    assert [t for g in groups for t in g] == tokens
    assert all(groups)
    for g in groups[:-1]:
        assert g[-1].text in ".!?"


def _texts(text: str) -> list[str]:
    return [t.text for t in tokenize(text)]


def test_possessive_split_off() -> None:
    assert _texts("the company's profits") == ["the", "company", "'s", "profits"]
    assert _texts("James’s car") == ["James", "’s", "car"]
    toks = tokenize("John's")
    assert [(t.text, t.kind, t.norm) for t in toks] == [
        ("John", WORD, "john"),
        ("'s", WORD, "'s"),
    ]


def test_contractions_kept_whole() -> None:
    assert _texts("don't can’t") == ["don't", "can’t"]
    assert tokenize("can’t")[0].norm == "can't"


def test_hyphenated_words_kept() -> None:
    assert _texts("a well-known long-term plan") == ["a", "well-known", "long-term", "plan"]
    # A dangling hyphen is punctuation, not part of a word.
    assert _texts("pre- and post-war") == ["pre", "-", "and", "post-war"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1,200 people", ["1,200", "people"]),
        ("3.5 percent", ["3.5", "percent"]),
        ("at 10:30.", ["at", "10:30", "."]),
        ("1,234,567.89", ["1,234,567.89"]),
        ("ends 2024.", ["ends", "2024", "."]),
    ],
)
def test_numbers_keep_separators(text: str, expected: list[str]) -> None:
    assert _texts(text) == expected


def test_kinds() -> None:
    toks = tokenize("Hello, 42 worlds!")
    assert [t.kind for t in toks] == [WORD, PUNCT, NUMBER, WORD, PUNCT]


def test_punctuation_one_char_each() -> None:
    assert _texts('"Hi"...') == ['"', "Hi", '"', ".", ".", "."]


def test_sentences_split_on_terminators() -> None:
    groups = sentences(tokenize("It rained. Did it? Yes! Then it stopped"))
    assert [" ".join(t.text for t in g) for g in groups] == [
        "It rained .",
        "Did it ?",
        "Yes !",
        "Then it stopped",
    ]


def test_sentences_not_split_before_lower_case() -> None:
    groups = sentences(tokenize("It weighs approx. five tons. The end."))
    assert len(groups) == 2
    assert [t.text for t in groups[0]] == ["It", "weighs", "approx", ".", "five", "tons", "."]


def test_sentences_split_before_number_and_quote() -> None:
    # Only a following lower-case word keeps the sentence going.
    assert len(sentences(tokenize("See page 4. 5 more follow."))) == 2


def test_norm_sentences_per_line() -> None:
    assert norm_sentences("One Two. Three\n\nFour’s") == [
        ["one", "two", "."],
        ["three"],
        ["four", "'s"],
    ]


def _reference_shapes(sent) -> list[int]:
    """Shapes spelled out token by token: the rule `shape_codes` vectorises."""
    out, prev = [], None
    for t in sent:
        if t.kind != "word" or not t.text[:1].isupper():
            out.append(0)
        elif len(t.text) > 1 and t.text.isupper():
            out.append(2)
        elif prev is None or prev.text in ('"', "'", "(", "[", "“", "‘", ":", "-", "–", "—",
                                           ".", "!", "?"):
            out.append(0)
        else:
            out.append(1)
        prev = t
    return out


WORDY = st.lists(st.sampled_from(
    ["The", "cat", ".", "approx", "NASA", "A", '"', "Paris", "'s", "!", "?", "(", "x", "5",
     "-", ":", "is", "Big", "Über", "über", "É", "e.g", "U.S."]), max_size=400).map(" ".join)


@given(st.one_of(TRICKY, WORDY))
@settings(max_examples=200)
def test_segments_are_sentences_cut_into_pieces(text: str) -> None:
    tokens = tokenize(text)
    expected_groups, expected_shapes = [], []
    for sent in sentences(tokens):
        for k in range(0, len(sent), MAX_SENTENCE_TOKENS):
            piece = sent[k:k + MAX_SENTENCE_TOKENS]
            expected_groups.append(piece)
            expected_shapes.append(_reference_shapes(piece))
    groups, shapes = segments(tokens)
    assert groups == expected_groups
    assert shapes == expected_shapes
    # The string-only fast path agrees with the token path.
    texts = TOKEN_RE.findall(text)
    assert texts == [t.text for t in tokens]
    seg = segment_ids(texts)
    assert [len(g) for g in groups] == [int(n) for n in np.bincount(seg)] if texts else not groups
    assert shape_codes(texts, seg).tolist() == [x for s in shapes for x in s]


def test_run_on_sentence_is_cut_every_max_tokens() -> None:
    texts = ["word"] * (2 * MAX_SENTENCE_TOKENS + 5)
    seg = segment_ids(texts)
    assert seg.tolist() == [0] * MAX_SENTENCE_TOKENS + [1] * MAX_SENTENCE_TOKENS + [2] * 5


def test_shapes_mark_names_and_acronyms_not_sentence_starts() -> None:
    texts = TOKEN_RE.findall('The NASA probe reached Mars. "Big news," said Ann Lee.')
    codes = dict(zip(texts, shape_codes(texts, segment_ids(texts)).tolist(), strict=False))
    assert codes["The"] == 0 and codes["NASA"] == 2 and codes["Mars"] == 1
    assert codes["Big"] == 0  # after an opening quote
    assert codes["Ann"] == 1 and codes["Lee"] == 1


@given(st.one_of(TRICKY, WORDY))
@settings(max_examples=200)
def test_token_codes_say_what_tokenize_says(text: str) -> None:
    tokens = tokenize(text)
    codes = token_codes([t.text for t in tokens])
    assert [bool(c & CODE_WORD) for c in codes.tolist()] == [t.kind == WORD for t in tokens]
    # Cached codes are the same on a second look.
    assert token_codes([t.text for t in tokens]).tolist() == codes.tolist()


@given(st.one_of(st.text(), TRICKY, WORDY))
@settings(max_examples=300)
def test_token_starts_are_the_offsets_tokenize_gives(text: str) -> None:
    tokens = tokenize(text)
    starts = token_starts(text, [t.text for t in tokens])
    assert starts.tolist() == [t.start for t in tokens]
    # The numpy reference (the compiled scan is used when built).
    assert token_starts_py(text, [t.text for t in tokens]).tolist() == starts.tolist()


def test_token_starts_with_lone_surrogates_and_wide_characters() -> None:
    text = "a \ud800 b\u3000c 𝔘𝔫 \U0001f600d"
    tokens = tokenize(text)
    assert token_starts(text, [t.text for t in tokens]).tolist() == [t.start for t in tokens]
    assert token_starts_py(text, [t.text for t in tokens]).tolist() == [t.start for t in tokens]


@given(st.text(alphabet=st.characters(max_codepoint=127), max_size=300))
def test_ascii_token_finder_gives_the_unicode_tokens(text):
    assert find_tokens(text) == TOKEN_RE.findall(text)


@given(st.text(max_size=300))
def test_token_finder_and_lowering_match_the_plain_versions(text):
    toks = find_tokens(text)
    assert toks == TOKEN_RE.findall(text)
    assert lower_tokens(toks) == [t.lower() for t in toks]
    assert lower_tokens(toks, straight_quotes=True) == [normalise(t) for t in toks]


def test_lowering_keeps_greek_final_sigma_per_token():
    toks = ["ΟΔΟΣ", "Σ", "ΣΑΣ", "it's", "İstanbul"]
    assert lower_tokens(toks) == [t.lower() for t in toks]


@given(st.lists(st.text(alphabet="Ab c.!?\"'( )-:", max_size=60), max_size=5),
       st.integers(2, 6))
def test_segments_of_documents_together_are_their_segments_alone(docs, max_len):
    toks = [TOKEN_RE.findall(d) for d in docs]
    flat = [t for ts in toks for t in ts]
    starts = np.array([sum(map(len, toks[:k])) for k in range(len(toks))], dtype=np.int64)
    together = segment_ids(flat, max_len=max_len, doc_starts=starts)
    shapes = shape_codes(flat, together)
    for ts, lo in zip(toks, starts.tolist(), strict=True):
        alone = segment_ids(ts, max_len=max_len)
        part = together[lo:lo + len(ts)]
        assert np.array_equal(part - (part[0] if len(part) else 0), alone)
        assert np.array_equal(shapes[lo:lo + len(ts)], shape_codes(ts, alone))


_LOWER_ALPHABET = "aZ'’ΣσΟΔİIıß-é9 \u0130\u03a3\u2019\u00c9"


@given(st.lists(st.text(alphabet=_LOWER_ALPHABET, min_size=1, max_size=8)
                .filter(lambda t: "\n" not in t), max_size=20), st.booleans())
@settings(max_examples=300)
def test_lower_tokens_is_the_python_reference(tokens, straight):
    # Final sigma, dotted capital I, curly apostrophes: per token as in the joined text.
    assert lower_tokens(tokens, straight) == lower_tokens_py(tokens, straight)
    assert lower_tokens(tokens, straight) == [
        (t.lower().replace("’", "'") if straight else t.lower()) for t in tokens]
