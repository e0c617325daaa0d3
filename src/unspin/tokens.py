"""Tokenisation: split cleaned text into word, number and punctuation tokens with offsets.

The same rules serve the language-model builder and the analyser, so that the statistics
and the text they score agree on what a token is. Tokens keep character offsets into the
text they were cut from; the normalised form (lower case, straight apostrophe) is what the
language model and the candidate tables see.
"""

from __future__ import annotations

import re
from typing import NamedTuple

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
