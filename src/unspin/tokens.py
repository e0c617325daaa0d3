"""Tokenisation: split cleaned text into word, number and punctuation tokens with offsets.

The same rules serve the language-model builder and the analyser, so that the statistics
and the text they score agree on what a token is. Tokens keep character offsets into the
text they were cut from; the normalised form (lower case, straight apostrophe) is what the
language model and the candidate tables see.
"""

from __future__ import annotations

import os
import re
from typing import NamedTuple

import numpy as np

# The compiled text passes (`_ctext.c`: the same tokens and flags as the regular expressions
# and `_code_of` below, several times faster); None when not built or ``UNSPIN_NATIVE=0``.
_ctext = None
if os.environ.get("UNSPIN_NATIVE", "1") != "0":
    try:
        from . import _ctext
    except ImportError:  # pragma: no cover - depends on the build
        _ctext = None

# A word is a run of letters, optionally joined by hyphens or apostrophes ("well-known",
# "don't"); a trailing possessive "'s" is its own token, as spinners keep it while swapping
# the noun. Numbers keep their inner separators ("1,200", "3.5"). Anything else that is not
# space is a one-character punctuation token.
TOKEN_RE = re.compile(
    r"[^\W\d_]+(?:[-'’](?![sS]\b)[^\W\d_]+)*"
    r"|['’][sS]\b"
    r"|\d+(?:[.,:]\d+)*"
    r"|[^\w\s]|_",
    re.UNICODE,
)
# TOKEN_RE for text that is all ASCII, with ASCII classes: the same tokens (Unicode ``\s``
# also matches \x1c-\x1f, hence the class), about 2.5 times faster (`find_tokens`).
_TOKEN_RE_ASCII = re.compile(
    r"[A-Za-z]+(?:[-'](?![sS]\b)[A-Za-z]+)*"
    r"|'[sS]\b"
    r"|\d+(?:[.,:]\d+)*"
    r"|[^\w\s\x1c-\x1f]|_",
    re.ASCII,
)
# The same alternatives with named groups, so that a match says its kind.
_KIND_RE = re.compile(
    r"(?P<word>[^\W\d_]+(?:[-'’](?![sS]\b)[^\W\d_]+)*|['’][sS]\b)"
    r"|(?P<number>\d+(?:[.,:]\d+)*)"
    r"|(?P<punct>[^\w\s]|_)",
    re.UNICODE,
)

SENTENCE_END = frozenset({".", "!", "?"})

WORD, NUMBER, PUNCT = "word", "number", "punct"


class Token(NamedTuple):
    """One token of a text (a named tuple: cheap to make by the million).

    Attributes:
        start: Offset of the first character in the text it was cut from.
        end: Offset one past the last character.
        text: The characters as they appear.
        norm: Normalised form: lower case, straight apostrophe.
        kind: ``"word"``, ``"number"`` or ``"punct"``.
    """

    start: int
    end: int
    text: str
    norm: str
    kind: str


# Which code points are white space (str.isspace, what the tokenizer's \\s means): none above
# U+3000, so a table up to there answers for every character.
_SPACE_TABLE = np.array([chr(i).isspace() for i in range(0x3002)], dtype=bool)


def find_tokens(text: str) -> list[str]:
    """The token strings of a text: ``TOKEN_RE.findall(text)`` (compiled when built)."""
    if _ctext is not None:
        return _ctext.find_tokens(text)
    return find_tokens_re(text)


def find_tokens_re(text: str) -> list[str]:
    """`find_tokens` by the regular expression (the reference), faster on ASCII text."""
    return (_TOKEN_RE_ASCII if text.isascii() else TOKEN_RE).findall(text)


def token_pass(texts: list[str], vocab: tuple | None = None
               ) -> tuple[list[list[str]], list[str], np.ndarray, np.ndarray | None, np.ndarray]:
    """The tokens of several texts and the facts the analyser needs of them, in one pass.

    Args:
        texts: The texts.
        vocab: ``(index, unk, table[, words])`` of a language model
            (`unspin.lm.NGramLM.lookup_spec`) to look the normalised tokens up in, or
            None. With ``words``, the compiled pass gives known ASCII tokens the
            vocabulary's own str objects as their forms (equal values, fewer new objects).

    Returns:
        ``(tokens, norms, codes, ids, starts)``: `find_tokens` of each text, and for all
        their tokens in order `lower_tokens` with straight quotes, `token_codes`, with
        ``vocab`` their ids (``index.get(norm, unk)``; None without ``vocab``), and
        `token_starts` (each in its own text). The compiled helper makes them in one pass
        over the texts (a pass over the batch's token list each cost more).
    """
    if _ctext is not None:
        extra = tuple(vocab[:4]) if vocab is not None else ()
        per, norms, codes, ids, starts = _ctext.token_pass(texts, True, *extra)
        return (per, norms, np.frombuffer(codes, dtype=np.uint8).astype(np.int64),
                None if ids is None else np.frombuffer(ids, dtype=np.int64),
                np.frombuffer(starts, dtype=np.int64))
    per = [find_tokens(t) for t in texts]
    flat = [t for toks in per for t in toks]
    norms = lower_tokens(flat, straight_quotes=True)
    ids = None
    if vocab is not None:
        index, unk = vocab[0], vocab[1]
        ids = np.fromiter((index.get(w, unk) for w in norms), dtype=np.int64, count=len(norms))
    starts = [token_starts(t, toks) for t, toks in zip(texts, per, strict=True)]
    return (per, norms, token_codes(flat), ids,
            np.concatenate(starts) if starts else np.zeros(0, dtype=np.int64))


def lower_tokens(texts: list[str], straight_quotes: bool = False) -> list[str]:
    """``[t.lower() for t in texts]`` in one call (tokens hold no newline); with
    ``straight_quotes``, curly apostrophes become straight ones as well (`normalise`)."""
    if not texts:
        return []
    if _ctext is not None:
        return _ctext.lower_tokens(texts, straight_quotes)
    return lower_tokens_py(texts, straight_quotes)


def lower_tokens_py(texts: list[str], straight_quotes: bool = False) -> list[str]:
    """`lower_tokens` in Python (the reference)."""
    if not texts:
        return []
    joined = "\n".join(texts).lower()
    if straight_quotes and "’" in joined:
        joined = joined.replace("’", "'")
    return joined.split("\n")


def token_starts(text: str, texts: list[str]) -> np.ndarray:
    """Offsets in ``text`` of its tokens, given their strings (``TOKEN_RE.findall(text)``).

    Every character that is not white space belongs to exactly one token and tokens hold
    no white space, so token ``k`` starts at the non-space character numbered by the total
    length of the tokens before it: a few numpy passes instead of a match object per token.
    With the compiled helper, the tokenizer's own scan gives the offsets.
    """
    if _ctext is not None and texts:
        starts = np.frombuffer(_ctext.token_starts(text), dtype=np.int64)
        if len(starts) == len(texts):
            return starts
    return token_starts_py(text, texts)


def token_starts_py(text: str, texts: list[str]) -> np.ndarray:
    """`token_starts` in numpy (the reference)."""
    codes = np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
    solid = np.flatnonzero(~_SPACE_TABLE[np.minimum(codes, len(_SPACE_TABLE) - 1)])
    lengths = np.fromiter(map(len, texts), dtype=np.int64, count=len(texts))
    return solid[np.cumsum(lengths) - lengths]


def normalise(word: str) -> str:
    """Return the form of a token that tables and the language model use."""
    return word.lower().replace("’", "'")


def tokenize(text: str) -> list[Token]:
    """Split text into tokens whose offsets map back into ``text``.

    Args:
        text: Any string.

    Returns:
        Tokens in order; ``text[t.start:t.end] == t.text`` for every token.
    """
    out = []
    append = out.append
    for m in _KIND_RE.finditer(text):
        t = m.group()
        append(Token(m.start(), m.end(), t, t.lower().replace("’", "'"), m.lastgroup))
    return out


def sentences(tokens: list[Token]) -> list[list[Token]]:
    """Group tokens into sentences, ending each at ``.``, ``!`` or ``?``.

    A full stop followed by a lower-case word (an abbreviation such as "approx. five") does
    not end the sentence.
    """
    out: list[list[Token]] = []
    current: list[Token] = []
    n = len(tokens)
    for i, tok in enumerate(tokens):
        current.append(tok)
        if tok.text in SENTENCE_END:
            nxt = tokens[i + 1] if i + 1 < n else None
            if nxt is None or not (nxt.kind == WORD and nxt.text[0].islower()):
                out.append(current)
                current = []
    if current:
        out.append(current)
    return out


# Sentences longer than this are analysed in pieces so that one run-on "sentence" (a 5 MB
# line without punctuation) costs linear time and bounded memory.
MAX_SENTENCE_TOKENS = 120

# Capitalised words after these tokens start a clause or a quote, not a name.
OPENERS = frozenset({'"', "'", "(", "[", "“", "‘", ":", "-", "–", "—"}) | SENTENCE_END


# Bit flags of `token_codes`.
CODE_END = 1  # ".", "!" or "?"
CODE_LOWER = 2  # starts with a lower-case letter
CODE_UPPER = 4  # starts with an upper-case letter
CODE_ACRONYM = 8  # two or more characters, all capitals
CODE_OPENER = 16  # in `OPENERS`
CODE_WORD = 32  # a word token (not a number or punctuation), as `tokenize` says


def _code_of(t: str) -> int:
    first = t[:1]
    code = 0
    if t in SENTENCE_END:
        code |= CODE_END
    if first.islower():
        code |= CODE_LOWER
    if first.isupper():
        code |= CODE_UPPER
        if len(t) > 1 and t.isupper():
            code |= CODE_ACRONYM
    if t in OPENERS:
        code |= CODE_OPENER
    if not first.isdecimal() and (len(t) > 1 or (t.isalnum() and t != "_")):
        code |= CODE_WORD
    return code


class _CodeCache(dict):
    """Token string -> `_code_of`, computed on first sight (tokens repeat: Zipf)."""

    def __missing__(self, t: str) -> int:
        if len(self) > 500_000:  # bounded however much text passes
            self.clear()
        code = self[t] = _code_of(t)
        return code


_CODES = _CodeCache()


def token_codes(texts: list[str]) -> np.ndarray:
    """Per token string, its `CODE_*` bit flags, in one pass (int64 array).

    `segment_ids`, `shape_codes` and the word count all need per-token facts; asking each
    of them of every token in Python cost more than the language model. The compiled pass
    computes them directly; the Python one caches the flags of each token string.
    """
    if _ctext is not None:
        texts = texts if isinstance(texts, list) else list(texts)
        return np.frombuffer(_ctext.token_codes(texts), dtype=np.uint8).astype(np.int64)
    return token_codes_py(texts)


def token_codes_py(texts: list[str]) -> np.ndarray:
    """`token_codes` in Python (the reference)."""
    return np.fromiter(map(_CODES.__getitem__, texts), dtype=np.int64, count=len(texts))


def segment_ids(texts: list[str], max_len: int = MAX_SENTENCE_TOKENS,
                codes: np.ndarray | None = None,
                doc_starts: np.ndarray | None = None) -> np.ndarray:
    """Segment number of every token: sentences as `sentences` cuts them, in pieces of at
    most ``max_len`` tokens.

    The vectorised twin of `sentences`, for the analyser's fast path: it needs only the
    token strings (``TOKEN_RE.findall`` gives the same tokens as `tokenize`).

    Args:
        texts: Token strings in order.
        max_len: Longest piece.
        codes: Their `token_codes`, if already computed.
        doc_starts: Token indices where a new segment starts whatever the text says: the
            first tokens of documents analysed together.

    Returns:
        Non-decreasing int64 array, one entry per token, starting at 0.
    """
    n = len(texts)
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    if codes is None:
        codes = token_codes(texts)
    is_end = (codes & CODE_END) != 0
    # A full stop before a lower-case word ("approx. five") does not end the sentence.
    lower = (codes & CODE_LOWER) != 0
    ends = is_end.copy()
    ends[:-1] &= ~lower[1:]
    if doc_starts is not None:
        b = doc_starts[(doc_starts > 0) & (doc_starts < n)]
        ends[b - 1] = True  # the token before a document's first one ends a segment
    sent = np.concatenate(([0], np.cumsum(ends[:-1])))
    starts = np.flatnonzero(np.concatenate(([True], sent[1:] != sent[:-1])))
    within = np.arange(n) - np.repeat(starts, np.diff(np.concatenate((starts, [n]))))
    piece = np.concatenate(([True], (sent[1:] != sent[:-1]) | (within[1:] % max_len == 0)))
    return np.cumsum(piece) - 1


def shape_codes(texts: list[str], seg: np.ndarray,
                codes: np.ndarray | None = None) -> np.ndarray:
    """Per token: 2 for an acronym, 1 for a capitalised word inside a sentence, else 0.

    A capitalised word at the start of a segment or after an opener (quote, bracket,
    colon, dash, sentence end) is ordinary; inside a sentence it is likely part of a name,
    and changing it needs more evidence. Acronyms are never changed.

    Args:
        texts: Token strings in order.
        seg: Their `segment_ids`.
        codes: Their `token_codes`, if already computed.
    """
    n = len(texts)
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    if codes is None:
        codes = token_codes(texts)
    upper = (codes & CODE_UPPER) != 0
    out = np.zeros(n, dtype=np.int64)
    if not upper.any():
        return out
    acronym = (codes & CODE_ACRONYM) != 0
    opener = (codes & CODE_OPENER) != 0
    after_start = np.concatenate(([False], (seg[1:] == seg[:-1]) & ~opener[:-1]))
    out[upper & after_start] = 1
    out[acronym & upper] = 2
    return out


def segments(tokens: list[Token]) -> tuple[list[list[Token]], list[list[int]]]:
    """Tokens grouped into the analyser's segments, with their `shape_codes`.

    Args:
        tokens: Tokens of one text, as `tokenize` gives them.

    Returns:
        ``(groups, shapes)``: the tokens of each segment and, per segment, each token's shape.
    """
    if not tokens:
        return [], []
    texts = [t.text for t in tokens]
    seg = segment_ids(texts)
    shape = shape_codes(texts, seg).tolist()
    groups: list[list[Token]] = []
    shapes: list[list[int]] = []
    starts = np.flatnonzero(np.concatenate(([True], seg[1:] != seg[:-1]))).tolist()
    for a, b in zip(starts, [*starts[1:], len(tokens)], strict=True):
        groups.append(tokens[a:b])
        shapes.append(shape[a:b])
    return groups, shapes


def norm_sentences(text: str) -> list[list[str]]:
    """Fast path: normalised token strings grouped into sentences, one per line of input.

    Used to build language-model statistics, where offsets are not needed.
    """
    out: list[list[str]] = []
    for line in text.split("\n"):
        words = TOKEN_RE.findall(line)
        if not words:
            continue
        current: list[str] = []
        for w in words:
            current.append(normalise(w))
            if w in SENTENCE_END:
                out.append(current)
                current = []
        if current:
            out.append(current)
    return out
