"""Noisy-channel decoder: which observed words were swapped, and what they said before.

For every token position the candidate sources propose possible originals (single words
and phrases). Each hypothesis is scored as

    log P_LM(sentence with the original) + log P(observed | original)

against the identity hypothesis log P_LM(sentence as observed) + log P(kept). The channel
P(observed | original) comes from which sources propose the pair, the vector similarity
and how many alternatives the original has (a spinner picks one of them).

Decoding runs in three steps, all batched into vectorised language-model calls:

1. *Local scores*: every candidate alone, the rest of the sentence as observed.
2. *Joint windows*: positions closer than the LM's reach interact ("Excellent Courtroom"
   becomes "Supreme Court" only as a whole), so clusters of nearby positions with
   promising candidates are decoded jointly by enumerating their best combinations; the
   posterior of each choice is summed over the combinations (confidence).
3. *Document evidence*: a spinner rewrites whole documents, so the detector's verdict on
   the local evidence sets the prior spin rate of every position (a document that looks
   clean is left alone); and a spinner reuses its table, so a substitution chosen
   confidently in one place raises its channel score everywhere else in the document,
   and the windows are decoded again.

The fast path used by `check` stops after step 1 and the prior. Steps 2 and 3 run in the
compiled helper when it is built (`_CompiledJoint`, over flat arrays); `Decoder._options`
and `Decoder.joint` are the same steps in Python, the reference and the fallback.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from dataclasses import dataclass
from itertools import chain, compress, repeat
from operator import attrgetter
from pathlib import Path

import numpy as np

from . import lm as _lm
from .candidates import (
    _SET,
    FLAG_LEARNED,
    FLAG_MYTHES,
    FLAG_NUMBER,
    FLAG_PHRASE,
    FLAG_TERM,
    FLAG_TWO_STEP,
    FLAG_VECTOR,
    FLAG_WN_LOOSE,
    FLAG_WN_SYN,
    MAX_PHRASE,
    Candidate,
    CandidateSource,
    _new,
)
from .context import CONTEXT_REACH, FIRST_WORD, TOPIC_REACH, DocumentWords, topic_delta
from .lm import BOS, EOS, NONE, UNK, native_available

LN10 = math.log(10.0)
CHUNK_TOKENS = 20_000
# Candidates per position that the detection evidence scores (the first in the word
# table's order: channel score and prior, `DecodeParams.order_prior`);
# the decoder itself takes up to `DecodeParams.max_candidates`.
EVIDENCE_CANDIDATES = 10
# ... at positions where the word or one of the next two is at most this likely (log10).
EVIDENCE_SUSPICION = -4.5


def pad_sentences(ids: np.ndarray, lens: np.ndarray,
                  dtype=np.int64) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Sentences' ids laid out as the decoder scores them: ``[NONE, BOS, ids..., EOS]``
    each, concatenated (the context model is trained on the same layout).

    Args:
        ids: All sentences' token ids, in order.
        lens: Tokens per sentence (at least one sentence).
        dtype: Of the returned ids.

    Returns:
        ``(g, starts, ends)``: the padded ids, and each sentence's first (its NONE) and one
        past its last (its EOS) index in ``g``.
    """
    ends = np.cumsum(lens + 3)
    starts = ends - lens - 3
    g = np.empty(int(ends[-1]), dtype=dtype)
    tok = np.ones(len(g), dtype=bool)
    tok[starts] = tok[starts + 1] = tok[ends - 1] = False
    g[tok] = ids
    g[starts] = NONE
    g[starts + 1] = BOS
    g[ends - 1] = EOS
    return g, starts, ends


@dataclass(slots=True)
class DecodeParams:
    """Weights of the channel model and decision rules (natural-log units).

    The channel weights (``lm_weight``, ``offset``, the source weights, ``cosine``,
    ``fanout``, ``name_penalty``, ``length_bonus``) are fitted by ``bench/fit_channel.py``
    on the calibration split, spun by the WordNet spinner only (so the Aiksaurus spinner
    stays an unseen table), and shipped in ``data/channel.json``; the values here are
    hand-set fallbacks for when no fitted file is present. The rest are decision rules
    tuned on the same split with ``bench/tune.py``.
    """

    spin_rate: float = 0.05
    # Document spin rates that the detector's verdict blends (`document_rate`, the prior of
    # `Decoder.decode`): a clean document has none swapped, but the rate stays above zero
    # so overwhelming evidence can still win. A spun one's rate is read from its own
    # evidence: ``spun_rate_per_mass`` times its expected share of swapped words
    # (`unspin.detect.features`' "spun_mass", which sees only the swaps the shipped tables
    # can propose), within [``spun_rate_min``, ``spun_rate_max``]. 2.6 gives the WordNet
    # spinner's calibration documents spun at 20 % a rate of 0.2 on average (mean spun_mass
    # 0.078; 0.050 at 10 %, 0.113 at 35 %), so a lightly spun document is restored less
    # boldly than a heavily spun one. With ``spun_rate_per_mass`` 0 every spun document
    # gets ``doc_spun_rate``.
    doc_spun_rate: float = 0.2
    doc_clean_rate: float = 0.002
    spun_rate_per_mass: float = 2.6
    spun_rate_min: float = 0.08
    spun_rate_max: float = 0.35
    syn: float = -0.5
    loose: float = -2.2
    mythes: float = -1.6
    vector: float = -4.0
    phrase: float = -0.7
    number: float = -1.2
    # Not fitted by bench/fit_channel.py (no learned tables there); chosen with
    # bench/learn.py among 2, 3 and 4 (BENCHMARKS.md): 3 keeps false edits near 1 per 100
    # words on the unseen spinner while restoring most of what the table holds.
    learned: float = 3.0
    # A pair of the shipped term table (`data/terms.tsv`, tortured phrases): not fitted
    # either (the benchmark spinners write no such terms). Its entries do not take the
    # document's prior spin rate but even odds (`Decoder._term_priors`): the detector
    # reads single words and cannot see tortured phrases, and the table's observed phrases
    # hardly occur in clean text (once in 10,255 held-out Wikipedia and Wikinews
    # documents), so a document that looks clean does not veto them; the language model
    # still decides in context ("a profound learning experience" stays).
    term: float = 1.5
    offset: float = 0.0
    cosine: float = 2.0
    fanout: float = 1.0
    lm_weight: float = 1.0
    keep_per_position: int = 3
    local_floor: float = -3.0
    channel_floor: float = -12.0
    # The decoder's; the detection evidence uses EVIDENCE_SUSPICION and `check`'s span search
    # `api.CHECK_SUSPICION`.
    suspicion: float = -2.0
    # Candidates scored per position: the first of the word's table entries in the order
    # below. 10 since that order (session 11): the same restorations as 15 on the
    # calibration split (seen 62.6 vs 62.6 %, unseen 14.5 vs 14.8 %) for a third fewer
    # language-model probes.
    max_candidates: int = 10
    # Order of a word's table entries: channel score plus this weight times the original's
    # log unigram probability (natural log: the prior of the noisy channel, which the
    # language model applies when it scores the candidates but which the pruning to the
    # first ``max_candidates`` ignored). Originals are ordinary words of the text and
    # spinners pick rarer synonyms: on the calibration split, 36 % instead of 21 % of the
    # unseen (Aiksaurus) spinner's swapped words have their original among a word's first
    # 15 entries, 89 % instead of 86 % of the WordNet spinner's (BENCHMARKS.md, "Candidate
    # order"). 0 orders by the channel score alone.
    order_prior: float = 1.0
    max_combinations: int = 64
    # 0.62 since the candidate order above (0.6 before): the WordNet spinner's false edits
    # on the calibration split back to where they were (0.93-1.00 per 100 words).
    min_confidence: float = 0.62
    doc_bonus: float = 3.0
    # About log10 of the number of word types the model has no entry for (415,000 in the
    # training corpus beyond its 200,000-word vocabulary): each gets its share of <unk>.
    unk_penalty: float = 5.5
    length_bonus: float = 1.5
    name_penalty: float = 4.0
    # Restore only: weight of the context model's score difference (original minus
    # observed, natural log, clipped to +-``context_clip``) added to a single-word
    # candidate's channel score; 0 switches the model off. Tuned with bench/tune.py.
    context_weight: float = 0.3
    context_clip: float = 10.0
    # Weight of the model's per-word bias (its unigram part) in the difference: the
    # trigram model already counts how frequent each word is (BENCHMARKS: 0 gives fewer
    # false edits for the same restorations).
    context_bias: float = 0.0
    # Restore only: weight of the topic evidence (`unspin.context.topic_delta`: the
    # original's cosine with the document's words minus the observed word's), added like
    # the context model's. Tuned with bench/tune.py; 0 switches it off.
    topic_weight: float = 6.0
    # Restore only: weight of the document's word counts (`DocumentWords.repeat_delta`:
    # the original already in the document, the observed word repeated in it). Tuned with
    # bench/tune.py (it mostly removes false and wrong edits); 0 switches it off.
    repeat_weight: float = 0.5
    # Restore with ``two_step=True`` only (`Decoder._two_step_candidates`): at a word whose
    # own log10 probability in context is below ``two_step_suspicion``, its next
    # ``two_step_own`` table entries past the first ``max_candidates`` and the originals of
    # those first entries' first ``two_step_width`` entries, the best
    # ``two_step_top`` of them by the context model (at least ``two_step_min`` above the
    # observed word), scored like any candidate with channel ``offset + two_step``.
    # ``two_step_top`` 0 switches them off even when asked for. Tuned with bench/tune.py
    # (BENCHMARKS.md, "Two-step candidates"). Width 10 and 20 own entries (15 and 45 before
    # the candidate order of session 11: the same restorations on 150 calibration
    # documents, 16.3 %, for a quarter less of `_native.two_step_best`'s time).
    two_step: float = -2.0
    two_step_top: int = 1
    two_step_width: int = 10
    two_step_min: float = 4.0
    two_step_suspicion: float = -4.5
    two_step_own: int = 20

    def document_rate(self, p_spun: float, spun_mass: float | None) -> float:
        """The spin rate of a document for the decoder's prior: the spun and clean rates
        blended by the detector's probability ``p_spun``; ``spun_mass`` is the document's
        "spun_mass" detection feature (None: unknown, or blind to the swaps the decoder can
        see, as with a learned table; then ``doc_spun_rate``)."""
        spun = self.doc_spun_rate
        if self.spun_rate_per_mass and spun_mass is not None:
            spun = min(max(self.spun_rate_per_mass * spun_mass, self.spun_rate_min),
                       self.spun_rate_max)
        return p_spun * spun + (1 - p_spun) * self.doc_clean_rate

    @classmethod
    def fitted(cls, path) -> DecodeParams:
        """Defaults overridden by the weights that ``bench/fit_channel.py`` wrote, if any."""
        params = cls()
        try:
            with open(path, encoding="utf-8") as fh:
                weights = json.load(fh)
        except FileNotFoundError:
            return params
        for name, value in weights.items():
            if name in cls.__slots__:
                setattr(params, name, float(value))
        return params


@dataclass(slots=True)
class Decision:
    """A proposed restoration of observed tokens ``[start, end)`` of a sentence."""

    sentence: int
    start: int
    end: int
    original: tuple[str, ...]
    confidence: float
    flags: int


# Setters of `Decision`'s slots, in field order (see `DecisionArrays.decisions`).
_DECISION_SET = tuple(getattr(Decision, f).__set__
                      for f in ("sentence", "start", "end", "original", "confidence", "flags"))


@dataclass(slots=True)
class DecisionArrays:
    """`Decision`s as arrays, one entry per decision (`Decoder._local_decision_arrays`):
    what `check` reads of a batch's dozens of decisions a document, without a Python
    object each. Decision ``n`` replaces tokens ``[start[n], end[n])`` of sentence
    ``sentence[n]``; its original is phrase entry ``number[n]``'s (``specs[number[n]][1]``)
    where ``phrase[n]``, else the one word ``words[orig[n]]``."""

    sentence: np.ndarray
    start: np.ndarray
    end: np.ndarray
    confidence: np.ndarray
    flags: np.ndarray
    phrase: np.ndarray
    orig: np.ndarray
    number: np.ndarray
    specs: list[tuple]
    words: list[str]

    _FIELDS = ("sentence", "start", "end", "confidence", "flags", "phrase", "orig", "number")

    def __len__(self) -> int:
        return len(self.sentence)

    def take(self, at) -> DecisionArrays:
        """The decisions ``at`` (a slice, indices or a mask)."""
        return DecisionArrays(*(getattr(self, f)[at] for f in self._FIELDS), self.specs,
                              self.words)

    @staticmethod
    def concat(parts: list[DecisionArrays], specs: list[tuple],
               words: list[str]) -> DecisionArrays:
        """The parts' decisions one after the other (an empty set without parts)."""
        if not parts:
            e = np.zeros(0, dtype=np.int64)
            return DecisionArrays(e, e, e, np.zeros(0), e, np.zeros(0, dtype=bool), e, e,
                                  specs, words)
        if len(parts) == 1:
            return parts[0]
        return DecisionArrays(*(np.concatenate([getattr(q, f) for q in parts])
                                for f in DecisionArrays._FIELDS), specs, words)

    def decisions(self) -> list[Decision]:
        """The `Decision` objects, in order."""
        found = []
        # Made through their slots' descriptors, as `_make` makes candidates: a spun
        # document has dozens of decisions, and the generated __init__ cost twice as much
        # (identical objects).
        new = _new
        d0, d1, d2, d3, d4, d5 = _DECISION_SET
        specs, words = self.specs, self.words
        for ph, t, en, o, fl, e, cf, si in zip(
                self.phrase.tolist(), self.start.tolist(), self.end.tolist(),
                self.orig.tolist(), self.flags.tolist(), self.number.tolist(),
                self.confidence.tolist(), self.sentence.tolist(), strict=True):
            d = new(Decision)
            d0(d, si)
            d1(d, t)
            d2(d, en)
            d4(d, cf)
            d5(d, fl)
            d3(d, specs[e][1] if ph else (words[o],))
            found.append(d)
        return found


@dataclass(slots=True)
class ScoredWords:
    """Single-word candidates already scored in observed context, located by sentence and
    token: what `Decoder.evidence` computed, handed to `Decoder.decode` so that `check`
    does not score the same candidates twice. Entry ``n`` is table entry ``entry[n]``
    (original ``orig[n]``) at token ``tok[n]`` of sentence ``sent[n]``, with channel
    ``channel[n]`` and local log-odds ``score[n]``; every candidate of a position is there
    or none is."""

    sent: np.ndarray
    tok: np.ndarray
    entry: np.ndarray
    orig: np.ndarray
    channel: np.ndarray
    score: np.ndarray

    def take(self, keep: np.ndarray) -> ScoredWords:
        """The entries selected by a mask or index array."""
        return ScoredWords(self.sent[keep], self.tok[keep], self.entry[keep], self.orig[keep],
                           self.channel[keep], self.score[keep])


@dataclass(slots=True)
class EvidenceChunk:
    """The padded arrays of one chunk of `Decoder.evidence`: tokens ``first`` on (of the
    evidence's input), at ``tok_at`` in ``g``; ``base`` and ``own`` as `SentenceState`'s
    ``base`` and ``pairs``, for the whole chunk (``own`` None if the model has no pairs)."""

    first: int
    tok_at: np.ndarray
    g: np.ndarray
    base: np.ndarray
    own: tuple[np.ndarray, np.ndarray] | None


def padded_range(chunks: list[EvidenceChunk], lo: int, hi: int) -> tuple | None:
    """`Decoder.decode`'s ``padded`` for the evidence's tokens ``[lo, hi)`` (whole
    segments): ``(g, base, hit, pos)``, the pair arrays as long as ``g`` (the pair after
    each piece's last EOS is a dummy, never read); None for no tokens or no pairs."""
    if hi <= lo:
        return None
    parts = []
    for c in chunks:
        a, b = max(lo, c.first) - c.first, min(hi, c.first + len(c.tok_at)) - c.first
        if b <= a:
            continue
        if c.own is None:
            return None
        p0, p1 = int(c.tok_at[a]) - 2, int(c.tok_at[b - 1]) + 2  # its NONE; past its EOS
        parts.append((c.g[p0:p1], c.base[p0:p1],
                      np.append(c.own[0][p0:p1 - 1], False),
                      np.append(c.own[1][p0:p1 - 1], np.int32(0))))
    if len(parts) == 1:
        return parts[0]
    return tuple(np.concatenate([p[k] for p in parts]) for k in range(4))


class PreparedChunk(list):
    """`Decoder.prepare`'s sentence states, with the contiguous arrays their views come
    from: ``(g, base, pairs)`` (``pairs``: the model's lookups of adjacent pairs, or None),
    so that `Decoder.local` need not concatenate the views back (copies of every array,
    a few per cent of a spun document's `check`).

    When `prepare` was given the tokens laid end to end (``token_shapes``, ``token_words``),
    also: ``lens``, the sentences' token counts; ``shape``, every padded position's shape
    (0 at the padding); ``words`` and ``word_at``, the chunk's tokens and each padded
    position's index among them (-1 at the padding), so that `local` reads the shapes and
    words without a Python list per sentence (a few per cent of checking spun text)."""

    arrays: tuple | None = None
    lens: np.ndarray | None = None
    shape: np.ndarray | None = None
    words: list[str] | None = None
    word_at: np.ndarray | None = None


class _PaddedWords:
    """The chunk's words by padded position (None at the padding), read where needed: what
    `Decoder.local` hands `_phrase_candidates` (a list in the padded layout otherwise)."""

    __slots__ = ("_words", "_at")

    def __init__(self, words: list[str], word_at: np.ndarray) -> None:
        self._words = words
        self._at = word_at

    def __getitem__(self, j):
        if isinstance(j, slice):
            return [self[k] for k in range(*j.indices(len(self._at)))]
        k = int(self._at[j])
        return self._words[k] if k >= 0 else None

    def __len__(self) -> int:
        return len(self._at)

    def take(self, js: np.ndarray) -> list[str | None]:
        """``[self[j] for j in js]``, by one array lookup."""
        words = self._words
        return [words[k] if k >= 0 else None for k in self._at[js].tolist()]


def _words_at(flat, js: np.ndarray) -> list[str | None]:
    """``flat``'s words at padded positions ``js`` (a list, or `_PaddedWords`)."""
    if isinstance(flat, _PaddedWords):
        return flat.take(js)
    return [flat[j] for j in js.tolist()]


class SentenceState:
    """One prepared sentence: its tokens and shapes, and views of its part of the chunk's
    arrays (`PreparedChunk.arrays`), made when first read: `check` reads the chunk's
    arrays whole, and making four views for each of a batch's thousands of sentences was
    a few per cent of checking spun documents.

    Attributes:
        norms: The normalised tokens.
        shapes: Per token: 0 plain, 1 capitalised inside a sentence, 2 an acronym.
        ids: Their LM ids.
        padded: ``[NONE, BOS, ids..., EOS]``.
        base: log10 P of ``padded[t]`` for ``t >= 2`` in observed context.
        pairs: The model's lookups of ``padded``'s adjacent pairs (`NGramLM.pairs`), or
            None when the model cannot share them.
    """

    __slots__ = ("norms", "_shapes", "_arrays", "_lo", "_hi", "_views")

    def __init__(self, norms: list[str], shapes: list[int] | None, arrays: tuple, lo: int,
                 hi: int) -> None:
        self.norms = norms
        # None: read from the chunk's padded shapes when first asked for (``arrays[3]``).
        self._shapes = shapes
        self._arrays = arrays  # (g, base, pairs or None, padded shapes or None) of the chunk
        self._lo, self._hi = lo, hi  # this sentence's padded part: g[lo:hi]
        self._views: tuple | None = None

    @property
    def shapes(self) -> list[int]:
        if self._shapes is None:
            self._shapes = self._arrays[3][self._lo + 2:self._hi - 1].tolist()
        return self._shapes

    @shapes.setter
    def shapes(self, value: list[int]) -> None:
        self._shapes = value

    def _view(self) -> tuple:
        if self._views is None:
            g, base, own = self._arrays[:3]
            lo, hi = self._lo, self._hi
            pairs = (own[0][lo:hi - 1], own[1][lo:hi - 1]) if own is not None else None
            self._views = (g[lo + 2:hi - 1], g[lo:hi], base[lo:hi], pairs)
        return self._views

    @property
    def ids(self) -> np.ndarray:
        return self._view()[0]

    @property
    def padded(self) -> np.ndarray:
        return self._view()[1]

    @property
    def base(self) -> np.ndarray:
        return self._view()[2]

    @property
    def pairs(self) -> tuple[np.ndarray, np.ndarray] | None:
        return self._view()[3]

    @property
    def padded_len(self) -> int:
        """``len(padded)``, without making the view."""
        return self._hi - self._lo


# The table marks every pair that involves a multiword expression with FLAG_PHRASE; only
# pairs from the hand-written phrase table carry it without a thesaurus flag.
LEXICAL = FLAG_WN_SYN | FLAG_WN_LOOSE | FLAG_MYTHES | FLAG_VECTOR


# Words that stay lower-case inside a name ("Secretary of Commerce").
NAME_SMALL_WORDS = frozenset(
    "a an and as at by de del der des du for from in into la le of on or the to van von "
    "with".split())


def _hand_phrase(f: int) -> bool:
    return bool(f & FLAG_PHRASE) and not f & LEXICAL


def _channel_base(flags: int, length: int, mlength: int, p: DecodeParams) -> float | None:
    """The part of `_channel` set by the sources and the lengths (None: ruled out)."""
    f = flags
    # Changing the number of words needs a trusted source: loose thesaurus relations and
    # vector neighbours propose multiword hyponyms ("academy" -> "national academy of
    # sciences", "legless lizard" -> "lizard") that no spinner produces.
    trusted = _hand_phrase(f) or f & (FLAG_LEARNED | FLAG_TERM | FLAG_WN_SYN | FLAG_NUMBER)
    if (mlength != length and not trusted) or (
            mlength > 3 and not (_hand_phrase(f) or f & (FLAG_LEARNED | FLAG_TERM))):
        return None
    if not _hand_phrase(f):
        f &= ~FLAG_PHRASE
    if not f & (LEXICAL | FLAG_PHRASE | FLAG_NUMBER | FLAG_LEARNED | FLAG_TERM | FLAG_TWO_STEP):
        return None
    # Additive in the sources that propose the pair (weights fitted by bench/fit_channel.py).
    s = p.offset
    for bit, name in _SOURCE_BITS:
        if f & bit:
            s += getattr(p, name)
    return s


def _channel_heads(n: int, m: int, p: DecodeParams) -> np.ndarray:
    """`_channel_base` of every (flags, length, original length) below (256, n, m), NaN
    where it rules the pair out (and at length 0).

    Its sum over the sources depends on the flags alone: worked out by the scalar code for
    each of the 256 values (so the values are its own), then spread over the lengths that
    its two length rules allow (a scalar call for each of the 6,400 cells was a tenth of
    the start-up).
    """
    base = np.full(256, np.nan)
    trusted = np.zeros(256, dtype=bool)  # may change the number of words
    strong = np.zeros(256, dtype=bool)  # may give an original of more than three words
    for f in range(256):
        h = _channel_base(f, 1, 1, p)  # one word for one: only the sources can rule out
        if h is not None:
            base[f] = h
        strong[f] = bool(_hand_phrase(f) or f & (FLAG_LEARNED | FLAG_TERM))
        trusted[f] = bool(strong[f] or f & (FLAG_WN_SYN | FLAG_NUMBER))
    ln = np.arange(n)[None, :, None]
    ml = np.arange(m)[None, None, :]
    ruled = ((ml != ln) & ~trusted[:, None, None]) | ((ml > 3) & ~strong[:, None, None]) | \
        (ln == 0) | (ml == 0)
    return np.where(ruled, np.nan, np.broadcast_to(base[:, None, None], (256, n, m)))


def _channel(c: Candidate, p: DecodeParams) -> float:
    s = _channel_base(c.flags, c.length, len(c.original), p)
    if s is None:
        return -30.0
    f = c.flags
    if f & FLAG_LEARNED:
        s += p.learned + math.log(c.count / (c.count + 1.0))
    if f & FLAG_TERM:
        s += p.term
    if f & FLAG_TWO_STEP:
        s += p.two_step
    s += p.cosine * max(c.cosine, 0.0)
    s -= p.fanout * math.log(max(c.fanout, 1))
    return s


_SOURCE_BITS = (
    (FLAG_WN_SYN, "syn"), (FLAG_MYTHES, "mythes"), (FLAG_WN_LOOSE, "loose"),
    (FLAG_VECTOR, "vector"), (FLAG_PHRASE, "phrase"), (FLAG_NUMBER, "number"),
)


def _source_part(flags: np.ndarray, p: DecodeParams) -> tuple[np.ndarray, np.ndarray]:
    """`_channel_array`'s sums over the sources (float32) and whether any source is set."""
    flags = np.where((flags & LEXICAL) != 0, flags & ~FLAG_PHRASE, flags)  # see _channel
    out = np.full(len(flags), np.float32(p.offset), dtype=np.float32)
    any_source = np.zeros(len(flags), dtype=bool)
    for bit, name in _SOURCE_BITS:
        has = (flags & bit) != 0
        out += np.float32(getattr(p, name)) * has
        any_source |= has
    return out, any_source


def _channel_array(flags: np.ndarray, cosine: np.ndarray, fanout: np.ndarray,
                   p: DecodeParams) -> np.ndarray:
    """`_channel` for arrays of single-word table entries (no learned counts)."""
    if flags.dtype == np.uint8:
        # The sources' part depends on the flags alone: worked out for each of the 256
        # values with the same float32 steps, then looked up (a fifth of the start-up's
        # word table build was these steps over a million entries).
        part, has_source = _source_part(np.arange(256, dtype=np.int64), p)
        out, any_source = part[flags], has_source[flags]
    else:
        out, any_source = _source_part(flags.astype(np.int64), p)
    out += np.float32(p.cosine) * np.maximum(cosine.astype(np.float32), 0.0)
    out -= np.float32(p.fanout) * np.log(np.maximum(fanout.astype(np.float32), 1.0))
    return np.where(any_source, out, np.float32(-30.0)).astype(np.float64)


def _stable_order(major: np.ndarray, minor: np.ndarray) -> np.ndarray:
    """The stable argsort of ``(major << 32) | minor`` (both non-negative, ``minor`` below
    2**32, ``major`` below 2**31).

    When the keys and each one's position fit in 63 bits together, the positions ride in
    the low bits of distinct keys and a plain sort of the values gives the same order (numpy
    sorts values several times faster than it argsorts stably: 40 ms of the start-up).
    """
    n = len(major)
    if n:
        lo, hi = int(minor.min()), int(minor.max())
        span_bits = max(hi - lo, 1).bit_length()
        pos_bits = max(n - 1, 1).bit_length()
        major_bits = max(int(major.max()), 1).bit_length()
        if major_bits + span_bits + pos_bits <= 63 and int(major.min()) >= 0:
            packed = (major << (span_bits + pos_bits)) | ((minor - lo) << pos_bits) | \
                np.arange(n, dtype=np.int64)
            return np.sort(packed) & ((1 << pos_bits) - 1)
    return np.argsort((major << 32) | minor, kind="stable")


@dataclass(slots=True)
class WordTable:
    """Single-word candidates re-indexed by language-model id, for vectorised scoring.

    ``offsets[w]:offsets[w + 1]`` are the entries of observed LM id ``w``; each entry has
    the LM id of the original, its source flags, cosine, fanout and channel score.
    """

    offsets: np.ndarray
    orig: np.ndarray
    flags: np.ndarray
    cosine: np.ndarray
    fanout: np.ndarray
    channel: np.ndarray
    row_ids: np.ndarray  # per row of the candidate table: its word's LM id (UNK: phrase)

    @classmethod
    def build(cls, lm, source: CandidateSource, params: DecodeParams) -> WordTable:
        # Phrases hold a space, which no LM word does: they map to UNK.
        lm_of = np.asarray(lm.ids(source._words), dtype=np.int32)
        offs = np.asarray(source._offsets, dtype=np.int64)
        rows = np.repeat(np.arange(len(offs) - 1, dtype=np.int32), np.diff(offs))
        orig_row = np.asarray(source._orig)
        obs = lm_of[rows]
        org = lm_of[orig_row]
        keep = np.flatnonzero((obs != UNK) & (org != UNK))
        obs, org = obs[keep], org[keep]
        flags = np.asarray(source._flags)[keep]
        cos = np.asarray(source._cos)[keep]
        fan = np.asarray(source._fanout)[orig_row[keep]]
        chan = _channel_array(flags, cos, fan, params)
        # Rows sorted by observed id, entries within a row by channel score plus the
        # original's prior (`DecodeParams.order_prior`; best first), so that the first k
        # entries of a row are its k most plausible originals. One sort of a combined key
        # (observed id high, the score in 1/1000 nats low) is five times faster than a
        # two-key lexsort, which matters at start-up.
        rank = chan
        unigram = getattr(lm, "unigram_logprob", None)
        if params.order_prior and unigram is not None:
            rank = chan + params.order_prior * LN10 * unigram(org).astype(np.float64)
        score_key = np.clip(np.rint(-rank * 1000), -(2**30), 2**30).astype(np.int64) + 2**31
        order = _stable_order(obs.astype(np.int64), score_key)
        obs, org, flags, cos, fan = obs[order], org[order], flags[order], cos[order], fan[order]
        chan = chan[order]
        offsets = np.zeros(len(lm) + 1, dtype=np.int64)
        offsets[1:] = np.cumsum(np.bincount(obs, minlength=len(lm)))
        # Compact types (ids fit 21 bits, flags 7): each worker process holds its own
        # table, and two workers share one L3 cache.
        return cls(offsets, org.astype(np.int32), flags.astype(np.int16), cos, fan, chan,
                   lm_of)


class PhraseEntries:
    """Every phrase candidate the decoder has met, numbered (position-free, see
    `Decoder._entries`).

    Chunks hold entry numbers in int arrays and scoring gathers the entries' facts by
    number: a candidate at a position costs no Python object. Append-only; the decoder
    starts a new one when it grows past `LIMIT` (between decodes).
    """

    # About 40 bytes of arrays an entry (plus the shared spec tuples): at most ~40 MB.
    LIMIT = 1_000_000

    def __init__(self) -> None:
        self.specs: list[tuple] = []  # `CandidateSource.specs` tuple: a Candidate sans start
        self.terms: list[int] = []  # numbers of the entries from the term table (FLAG_TERM)
        self.ranges: dict[tuple[str, bool], tuple[int, int]] = {}  # key -> its numbers
        self._new: list[tuple] = []  # (channel, observed length, original ids) not in arrays
        # Arrays with room to grow (doubling): a scan adds entries in most batches, and
        # copying every entry met so far each time cost 2 % of a 10,000-document scan.
        self._n = 0  # entries in the arrays
        self._channel = np.zeros(0, dtype=np.float64)
        self._length = np.zeros(0, dtype=np.int16)
        self._mlength = np.zeros(0, dtype=np.int16)
        self._orig = np.zeros((0, MAX_PHRASE), dtype=np.int32)  # LM ids fit 21 bits
        self._slot_lo: np.ndarray | None = None  # see `slot_ranges`
        self._slot_hi: np.ndarray | None = None

    def add(self, found: tuple) -> tuple[int, int]:
        """Number ``(spec, original ids, channel)`` entries; their range."""
        lo = len(self.specs)
        for spec, oids, ch in found:
            if spec[2] & FLAG_TERM:
                self.terms.append(len(self.specs))
            self.specs.append(spec)
            self._new.append((ch, spec[0], oids))
        return lo, len(self.specs)

    def extend(self, specs: list[tuple], channel: np.ndarray, length: np.ndarray,
               mlength: np.ndarray, originals: np.ndarray) -> None:
        """Number a block of entries made as arrays (`Decoder._table_entries`; none from
        the term table): specs, channel, observed and original lengths, original ids."""
        self.arrays()  # the entries added one by one before them first
        lo, hi = self._n, self._n + len(specs)
        if hi > len(self._channel):
            self._grow(hi)
        self._channel[lo:hi] = channel
        self._length[lo:hi] = length
        self._mlength[lo:hi] = mlength
        self._orig[lo:hi] = originals
        self._n = hi
        self.specs.extend(specs)

    def _grow(self, need: int) -> None:
        cap = max(need, 2 * len(self._channel), 1024)
        for name in ("_channel", "_length", "_mlength", "_orig"):
            old = getattr(self, name)
            new = np.zeros((cap, *old.shape[1:]), dtype=old.dtype)
            new[:self._n] = old[:self._n]
            setattr(self, name, new)

    def slot_ranges(self, n: int) -> tuple[np.ndarray, np.ndarray]:
        """Per packed phrase-key slot (`Decoder._phrase_hits`, ``n`` of them): the key's
        range in `ranges` once numbered, -1 before. Kept here so that a new
        `PhraseEntries` starts them afresh."""
        if self._slot_lo is None or len(self._slot_lo) != n:
            self._slot_lo = np.full(n, -1, dtype=np.int64)
            self._slot_hi = np.full(n, -1, dtype=np.int64)
        return self._slot_lo, self._slot_hi

    def arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Per entry: channel log-odds before position-dependent adjustments, the number
        of observed tokens replaced, the number of original words, and the original ids
        (padded with `UNK`). Views, valid until entries are added."""
        if self._new:
            n, lo = len(self._new), self._n
            if lo + n > len(self._channel):
                self._grow(lo + n)
            hi = lo + n
            self._channel[lo:hi] = np.fromiter((e[0] for e in self._new), np.float64, n)
            self._length[lo:hi] = np.fromiter((e[1] for e in self._new), np.int16, n)
            self._mlength[lo:hi] = np.fromiter((len(e[2]) for e in self._new), np.int16, n)
            orig = self._orig
            for k, e in enumerate(self._new, start=lo):
                orig[k, :len(e[2])] = e[2]
            self._n = hi
            self._new = []
        n = self._n
        return self._channel[:n], self._length[:n], self._mlength[:n], self._orig[:n]


@dataclass(slots=True)
class Local:
    """Local scores of candidates (step 1), as flat arrays over entries and positions.

    Entry ``n`` is a candidate at global padded index ``pos[n]`` with natural log-odds
    ``score[n]`` against keeping the observed words, channel part ``channel[n]``; a
    single-word entry has the LM id of its original in ``orig[n]`` and its table entry in
    ``entry[n]``, a phrase entry has its index ``pref[n]`` into ``phrase_start`` (its first
    token) and ``phrase_entry`` (its number in ``phrase_specs``). Low-scoring
    entries are dropped after scoring (`compact`), but ``zpos``/``zlse`` keep, for every
    position that had candidates, the log of the summed odds of all of them, which is what
    the posteriors need.
    """

    pos: np.ndarray
    score: np.ndarray
    channel: np.ndarray
    orig: np.ndarray
    entry: np.ndarray
    pref: np.ndarray
    phrase_start: np.ndarray
    phrase_entry: np.ndarray
    phrase_specs: list[tuple]  # `PhraseEntries.specs`, shared by the chunks of a decode
    sent_of: np.ndarray
    tok_of: np.ndarray
    zpos: np.ndarray
    zlse: np.ndarray

    def shift(self, d: float) -> None:
        """Add ``d`` to every candidate's prior log-odds."""
        self.score = self.score + d
        self.channel = self.channel + d
        self.zlse = self.zlse + d

    def shift_entries(self, at: np.ndarray, d: np.ndarray) -> None:
        """Add ``d`` to the prior log-odds of entries ``at`` (distinct) alone; the summed
        odds of their positions follow."""
        if not len(at):
            return
        old = self.score[at]
        self.score = self.score.copy()
        self.channel = self.channel.copy()
        self.score[at] += d
        self.channel[at] += d
        new = self.score[at]
        z, inv = np.unique(np.searchsorted(self.zpos, self.pos[at]), return_inverse=True)
        top = self.zlse[z]  # odds relative to each position's sum before the change
        mass = np.ones(len(z))
        np.add.at(mass, inv, np.exp(new - top[inv]) - np.exp(old - top[inv]))
        zlse = self.zlse.copy()
        zlse[z] = top + np.log(np.maximum(mass, 1e-300))
        self.zlse = zlse

    def shift_sentences(self, d: np.ndarray) -> None:
        """Add ``d[s]`` to the prior log-odds of every candidate in sentence ``s``."""
        by_entry = d[self.sent_of[self.pos]]
        self.score = self.score + by_entry
        self.channel = self.channel + by_entry
        self.zlse = self.zlse + d[self.sent_of[self.zpos]]

    def compact(self, floor: float) -> Local:
        """Drop entries scoring below ``floor`` (the per-position sums stay exact)."""
        keep = np.flatnonzero(self.score >= floor)  # (take by index: twice as fast as a mask)
        return Local(self.pos.take(keep), self.score.take(keep), self.channel.take(keep),
                     self.orig.take(keep), self.entry.take(keep), self.pref.take(keep),
                     self.phrase_start,
                     self.phrase_entry, self.phrase_specs, self.sent_of, self.tok_of,
                     self.zpos, self.zlse)

    @staticmethod
    def merge(parts: list[Local]) -> Local:
        """Concatenate chunks (their indices are already global)."""
        if len(parts) == 1:
            return parts[0]
        prefs = []
        n = 0
        for part in parts:
            prefs.append(np.where(part.pref >= 0, part.pref + n, -1))
            n += len(part.phrase_start)
        cat = np.concatenate
        return Local(cat([q.pos for q in parts]), cat([q.score for q in parts]),
                     cat([q.channel for q in parts]), cat([q.orig for q in parts]),
                     cat([q.entry for q in parts]), cat(prefs),
                     cat([q.phrase_start for q in parts]), cat([q.phrase_entry for q in parts]),
                     parts[0].phrase_specs,
                     cat([q.sent_of for q in parts]), cat([q.tok_of for q in parts]),
                     cat([q.zpos for q in parts]), cat([q.zlse for q in parts]))


def _expand_blocks(pos: np.ndarray, lo: np.ndarray,
                   hi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Blocks of consecutive numbers ``[lo, hi)`` at positions: one (position, number) pair
    per number, in block order."""
    cnt = (hi - lo).astype(np.int64)
    total = int(cnt.sum())
    start = np.concatenate(([0], np.cumsum(cnt)[:-1]))
    number = np.repeat(lo - start, cnt) + np.arange(total)
    return np.repeat(pos, cnt).astype(np.int64), number.astype(np.int64)


# Fewer positions than this to look up before the packed phrase keys exist: look them up
# word by word (`Decoder._phrase_hits`; building the keys costs about 0.1 s).
PACKED_LOOKUP_MIN = 2000
# Positions looked up word by word, in all, after which the keys are built anyway: word by
# word costs about 1.7 us a position more, so the 0.14 s build has paid for itself by then.
PACKED_LOOKUP_AFTER = 80_000

_PACK_MIX = np.uint64(0x9E3779B97F4A7C15)


def _pack_ids(cols: list[np.ndarray]) -> np.ndarray:
    """One uint64 per row of word ids (columns ``cols``, ids below 2**21): exact for up to
    three words, a hash for four (a match is always checked by the words)."""
    b = np.uint64(21)
    out = np.asarray(cols[0], dtype=np.uint64)
    for k, c in enumerate(cols[1:], start=1):
        c = np.asarray(c, dtype=np.uint64)
        out = (out << b) | c if k < 3 else (out * _PACK_MIX) ^ c
    return out


# Slots of the phrase keys' first-two-words filter (`Decoder._phrase_keys`): 1 MB, about 7 %
# of the text's pairs passing by collision.
PHRASE_PAIR_BITS = 20


def _pair_slot(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The filter slot of word-id pairs ``(a, b)`` (ids below 2**21)."""
    h = (np.asarray(a, dtype=np.uint64) << np.uint64(21)) | np.asarray(b, dtype=np.uint64)
    return ((h * _PACK_MIX) >> np.uint64(64 - PHRASE_PAIR_BITS)).astype(np.int64)


def _compiled_groups(pos: np.ndarray):
    """The compiled helper for `_best_by` and `_logsumexp_by`
    (`_native.group_by_position`), or None: not built, ``UNSPIN_NATIVE=0``, or positions
    that are not integers (the numpy code takes any sortable ones)."""
    if _lm._native is None or pos.dtype.kind not in "iu" or not native_available():
        return None
    return _lm._native


def _best_by(pos: np.ndarray, score: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per distinct position (ascending): the index of its highest score, the earliest
    index among equal scores (what ``np.lexsort((-score, pos))`` puts first), and the
    position. A stable sort by position and a maximum per group: the two-key lexsort was
    several times slower."""
    native = _compiled_groups(pos)
    if native is not None:  # the same grouping in one compiled pass (no sort when in order)
        n = len(pos)
        best, gpos = np.empty(n, dtype=np.int64), np.empty(n, dtype=np.int64)
        k = native.group_by_position(np.ascontiguousarray(pos, np.int64),
                                     np.ascontiguousarray(score, np.float64), n, gpos,
                                     None, None, None, best)
        return best[:k], gpos[:k].astype(pos.dtype, copy=False)
    order = np.argsort(pos, kind="stable")
    ps, ss = pos[order], score[order]
    starts = np.flatnonzero(np.concatenate(([True], ps[1:] != ps[:-1])))
    top = np.maximum.reduceat(ss, starts)
    sizes = np.diff(np.concatenate((starts, [len(ss)])))
    at_top = np.flatnonzero(ss == np.repeat(top, sizes))
    group = np.repeat(np.arange(len(starts)), sizes)[at_top]
    first = at_top[np.concatenate(([True], group[1:] != group[:-1]))]
    return order[first], ps[starts]


def _logsumexp_by(pos: np.ndarray, score: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per distinct position: log(sum(exp(score)))."""
    if len(pos) == 0:
        return pos, score
    native = _compiled_groups(pos)
    if native is not None:
        # Grouped, each group's maximum and the differences to it in one compiled pass (no
        # sort when in order); exp, the sums (numpy's summation order) and log in numpy.
        n = len(pos)
        gpos, starts = np.empty(n, dtype=np.int64), np.empty(n, dtype=np.int64)
        mx, dev = np.empty(n), np.empty(n)
        k = native.group_by_position(np.ascontiguousarray(pos, np.int64),
                                     np.ascontiguousarray(score, np.float64), n, gpos, starts,
                                     mx, dev, None)
        return gpos[:k].astype(pos.dtype, copy=False), \
            mx[:k] + np.log(np.add.reduceat(np.exp(dev), starts[:k]))
    if (pos[1:] >= pos[:-1]).all():  # often in order already: no sort
        ps, ss = pos, score
    else:
        order = np.argsort(pos, kind="stable")
        ps, ss = pos[order], score[order]
    starts = np.flatnonzero(np.concatenate(([True], ps[1:] != ps[:-1])))
    mx = np.maximum.reduceat(ss, starts)
    sizes = np.diff(np.concatenate((starts, [len(ss)])))
    sums = np.add.reduceat(np.exp(ss - np.repeat(mx, sizes)), starts)
    return ps[starts], mx + np.log(sums)


def _greedy_kept(sent: np.ndarray, start: np.ndarray, end: np.ndarray,
                 conf: np.ndarray) -> np.ndarray:
    """The decisions that the greedy rule keeps, in text order: the most confident first
    (ties in index order), dropping any that shares a token with one kept before.

    Decision ``i`` covers tokens ``[start[i], end[i])`` of sentence ``sent[i]``. The rule
    only has work where decisions overlap: one that overlaps none is kept whatever the
    others do, and keeping or dropping one only touches the tokens of those it overlaps.
    So the decisions, in text order, are cut into groups of overlapping ones; lone ones are
    kept as they are, and the greedy pass runs over the few groups of several (a phrase
    against the words it covers), not over the thousands of decisions of a batch.

    Returns:
        The indices kept, ordered by sentence and start.
    """
    order = np.lexsort((start, sent))
    if len(order) < 2:
        return order
    width = int(end.max()) + 1  # the sentences laid end to end: none overlaps the next
    g_start = sent[order] * width + start[order]
    reach = np.maximum.accumulate(sent[order] * width + end[order])
    group = np.cumsum(np.concatenate(([True], g_start[1:] >= reach[:-1]))) - 1
    crowded = np.bincount(group)[group] > 1
    if not crowded.any():
        return order
    members: dict[int, list[int]] = {}
    for gi, i in zip(group[crowded].tolist(), order[crowded].tolist(), strict=True):
        members.setdefault(gi, []).append(i)
    starts, ends, confs = start.tolist(), end.tolist(), conf.tolist()
    dropped = []
    for idx in members.values():
        used: set[int] = set()
        for i in sorted(sorted(idx), key=lambda i: -confs[i]):  # (a stable sort)
            span = range(starts[i], ends[i])
            if any(k in used for k in span):
                dropped.append(i)
            else:
                used.update(span)
    kept = np.ones(len(sent), dtype=bool)
    kept[dropped] = False
    return order[kept[order]]


class _CompiledJoint:
    """The joint step of `Decoder.decode` (`_options`, then `joint` twice, without and with
    the document bonus) over flat arrays, with the clusters decoded by the compiled helper.

    Gives the decisions of the Python code, in the same order and with the same
    confidences: the options are the same rows in the same order, and
    `unspin._native.Model.joint` enumerates, scores and sums in the Python code's order of
    floating-point operations (numpy's pairwise sums included), so the results agree to the
    last bit where numpy's exp is the C library's (on CPUs with AVX-512 numpy uses its own,
    which can differ in the last bit). The Python code stays the reference (tests compare
    the two) and runs when the helper is not built.
    """

    def __init__(self, dec: Decoder, model, loc: Local, states: list[SentenceState]):
        self.dec = dec
        self.model = model
        self.states = states
        self._rows(loc)

    # ---------------------------------------------------------------- options
    def _rows(self, loc: Local) -> None:
        """`Decoder._options` as rows: position group, token, length, scores, flags, and
        the original (LM ids; words on demand)."""
        dec, p, states = self.dec, self.dec.params, self.states
        good = np.flatnonzero(loc.score >= p.local_floor)
        order = good[np.lexsort((-loc.score[good], loc.pos[good]))]
        n = len(order)
        pos = loc.pos[order]
        first = np.ones(n, dtype=bool)
        first[1:] = pos[1:] != pos[:-1]
        gid = np.cumsum(first) - 1
        gstart = np.flatnonzero(first)
        rank = np.arange(n) - gstart[gid] if n else gid
        pref = loc.pref[order]
        orig = loc.orig[order]
        keep = p.keep_per_position
        top = rank < keep
        # `_options` drops a candidate whose effect repeats one kept at its position. Only
        # phrases can do that, or a word equal to the observed one or to another candidate:
        # such positions take the Python loop; at all others the first `keep` are the options.
        g_all = np.concatenate([st.padded for st in states]) if states else np.zeros(0, np.int64)
        slow = np.zeros(len(gstart), dtype=bool)
        slow[gid[pref >= 0]] = True
        slow[gid[top & (orig == g_all[pos])]] = True
        t = np.flatnonzero(top)
        pair = gid[t] * np.int64(len(dec.lm) + 1) + orig[t]
        pair.sort()
        dup = np.flatnonzero(pair[1:] == pair[:-1])
        slow[pair[dup] // np.int64(len(dec.lm) + 1)] = True
        fast = np.flatnonzero(top & ~slow[gid])
        table = dec._table
        si_all = loc.sent_of[pos]
        ti_all = loc.tok_of[pos]
        # Rows of the Python loop, in the order it keeps them.
        s_idx: list[int] = []
        s_len: list[int] = []
        s_orig: list[tuple[str, ...]] = []
        s_flags: list[int] = []
        words = dec.lm.words
        specs = loc.phrase_specs
        slow_entries = np.flatnonzero(slow[gid])
        if len(slow_entries):
            e_pref = pref[slow_entries].tolist()
            e_orig = orig[slow_entries].tolist()
            e_flags = table.flags[np.where(pref[slow_entries] < 0,
                                           loc.entry[order[slow_entries]], 0)].tolist()
            r_ok = np.maximum(pref[slow_entries], 0)
            e_pstart = loc.phrase_start[r_ok].tolist() if len(loc.phrase_start) else None
            e_pentry = loc.phrase_entry[r_ok].tolist() if len(loc.phrase_entry) else None
            e_si = si_all[slow_entries].tolist()
            e_ti = ti_all[slow_entries].tolist()
            e_gid = gid[slow_entries].tolist()
            kept: dict[int, list] = {}
            for k, idx in enumerate(slow_entries.tolist()):
                g = e_gid[k]
                done = kept.get(g)
                if done is None:
                    done = kept[g] = []
                elif len(done) >= keep:
                    continue
                r = e_pref[k]
                if r >= 0:
                    start = e_pstart[k]
                    length, original, flags = specs[e_pentry[k]][:3]
                else:
                    start, length, original, flags = e_ti[k], 1, (words[e_orig[k]],), e_flags[k]
                obs = states[e_si[k]].norms[start:start + length]
                o = list(original)
                while obs and o and obs[-1] == o[-1]:
                    obs = obs[:-1]
                    o.pop()
                effect = (len(obs), tuple(o))
                if effect in done:
                    continue
                done.append(effect)
                s_idx.append(idx)
                s_len.append(length)
                s_orig.append(original)
                s_flags.append(flags)
        # All rows, by position group (then in the order kept).
        idx = np.concatenate((fast, np.asarray(s_idx, dtype=np.int64)))
        seq = np.concatenate((rank[fast], np.arange(len(s_idx), dtype=np.int64)))
        by = np.lexsort((seq, gid[idx]))
        idx = idx[by]
        n_fast = len(fast)
        self.src = by  # < n_fast: a fast row (its words from `orig`); else a Python row
        self.n_fast = n_fast
        self.s_orig = s_orig
        self.gid = gid[idx]
        self.si = si_all[idx]
        self.ti = ti_all[idx]
        self.length = np.concatenate((np.ones(n_fast, dtype=np.int64),
                                      np.asarray(s_len, dtype=np.int64)))[by]
        fast_flags = table.flags[loc.entry[order[fast]]].astype(np.int64)
        self.flags = np.concatenate((fast_flags, np.asarray(s_flags, dtype=np.int64)))[by]
        self.score = loc.score[order[idx]]
        self.channel = loc.channel[order[idx]]
        self.orig_id = orig[idx]  # LM id of a single-word original (-1 for a phrase)
        self.g_all = g_all

    def original(self, r: int) -> tuple[str, ...]:
        k = int(self.src[r])
        if k < self.n_fast:
            return (self.dec.lm.words[int(self.orig_id[r])],)
        return self.s_orig[k - self.n_fast]

    # ---------------------------------------------------------------- clusters
    def _clusters(self) -> None:
        """Clusters of nearby positions, as `Decoder.joint` groups them."""
        gid, si, ti = self.gid, self.si, self.ti
        n = len(gid)
        if n == 0:
            self.c_first = np.zeros(0, dtype=np.int64)
            return
        g_first = np.flatnonzero(np.concatenate(([True], gid[1:] != gid[:-1])))
        g_n = np.diff(np.concatenate((g_first, [n])))
        g_si, g_ti = si[g_first], ti[g_first]
        g_long = np.maximum.reduceat(self.length, g_first)
        # A position joins the cluster before it when it is within the reach (its end + 1)
        # of an earlier position of the same sentence.
        big = np.int64(1) << 40
        reach = np.maximum.accumulate(g_ti + g_long + 1 + g_si * big)
        new_sent = np.concatenate(([True], g_si[1:] != g_si[:-1]))
        new = new_sent.copy()
        new[1:] |= g_ti[1:] > reach[:-1] - g_si[1:] * big
        c_first = np.flatnonzero(new)  # first position group of each cluster
        self.g_first, self.g_n, self.g_ti, self.g_si = g_first, g_n, g_ti, g_si
        self.c_first = c_first
        self.c_npos = np.diff(np.concatenate((c_first, [len(g_first)])))
        # Each cluster's sentence row in the concatenated padded arrays.
        lens = np.array([st.padded_len for st in self.states], dtype=np.int64)
        starts = np.concatenate(([0], np.cumsum(lens)[:-1]))
        c_si = g_si[c_first]
        self.c_row, self.c_rowlen = starts[c_si], lens[c_si]
        # Every row's cluster.
        g_cluster = np.repeat(np.arange(len(c_first)), self.c_npos)
        self.r_cluster = np.repeat(g_cluster, g_n)

    def _ids(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Each row's original as LM ids: offsets into the flat ids, counts, flat ids."""
        n_orig = np.ones(len(self.gid), dtype=np.int64)
        cache, lm_id = self.dec._orig_ids, self.dec.lm.id
        parts: dict[int, list[int]] = {}
        for r in np.flatnonzero(self.orig_id < 0).tolist():  # phrases
            original = self.original(r)
            got = cache.get(original)
            if got is None:
                if len(cache) > 200_000:  # bounded, like the other caches
                    cache.clear()
                got = cache[original] = [lm_id(w) for w in original]
            parts[r] = got
            n_orig[r] = len(got)
        offsets = np.concatenate(([0], np.cumsum(n_orig)[:-1])).astype(np.int64)
        flat = np.repeat(self.orig_id.astype(np.int64), n_orig)
        for r, got in parts.items():
            flat[offsets[r]:offsets[r] + len(got)] = got
        return offsets, n_orig, flat

    def _run(self, clusters: np.ndarray, score: np.ndarray, channel: np.ndarray,
             mass: np.ndarray, chosen: np.ndarray) -> None:
        """Decode the given clusters (numbers) into ``mass`` and ``chosen`` (their rows)."""
        if len(clusters) == 0:
            return
        p = self.dec.params
        c_g0 = self.c_first[clusters]
        c_np = self.c_npos[clusters]
        # Position groups and rows of these clusters, renumbered from 0.
        g_sel = np.repeat(c_g0, c_np) + (np.arange(int(c_np.sum())) -
                                          np.repeat(np.cumsum(c_np) - c_np, c_np))
        r_first = self.g_first[g_sel]
        r_n = self.g_n[g_sel]
        rows = np.repeat(r_first, r_n) + (np.arange(int(r_n.sum())) -
                                          np.repeat(np.cumsum(r_n) - r_n, r_n))
        c_pos0 = np.cumsum(c_np) - c_np
        p_opt0 = np.cumsum(r_n) - r_n
        m = np.zeros(len(rows), dtype=np.float64)
        ch = np.zeros(len(rows), dtype=np.uint8)
        i64 = np.int64
        self.model.joint(
            self.g_all, self.c_row[clusters].astype(i64), self.c_rowlen[clusters].astype(i64),
            c_pos0.astype(i64), c_np.astype(i64), self.g_ti[g_sel].astype(i64),
            p_opt0.astype(i64), r_n.astype(i64), self.ti[rows].astype(i64),
            self.length[rows], self.o_off[rows].astype(i64), self.o_n[rows].astype(i64),
            self.o_flat, np.ascontiguousarray(score[rows], dtype=np.float64),
            np.ascontiguousarray(channel[rows], dtype=np.float64),
            int(p.max_combinations), float(p.lm_weight), LN10, UNK, float(p.unk_penalty), m, ch)
        mass[rows] = m
        chosen[rows] = ch

    def _made(self, mass: np.ndarray, chosen: np.ndarray) -> list[Decision]:
        """Decisions of the chosen rows, in `Decoder.joint`'s order: lone positions first,
        then clusters of several, each in order."""
        rows = np.flatnonzero(chosen)
        multi = self.c_npos[self.r_cluster[rows]] > 1
        rows = rows[np.argsort(multi, kind="stable")]
        si, ti, ln, fl = (x[rows].tolist() for x in (self.si, self.ti, self.length, self.flags))
        conf = mass[rows].tolist()
        return [Decision(s, t, t + n, self.original(r), c, f)
                for r, s, t, n, c, f in zip(rows.tolist(), si, ti, ln, conf, fl, strict=True)]

    def decisions(self) -> list[Decision]:
        """The joint step's decisions: a pass without, then (where a decided pair recurs)
        a pass with the document bonus over the clusters the bonus touches."""
        if len(self.gid) == 0:
            return []
        p = self.dec.params
        self._clusters()
        self.o_off, self.o_n, self.o_flat = self._ids()
        n = len(self.gid)
        mass = np.zeros(n, dtype=np.float64)
        chosen = np.zeros(n, dtype=np.uint8)
        all_clusters = np.arange(len(self.c_first))
        self._run(all_clusters, self.score, self.channel, mass, chosen)
        made = self._made(mass, chosen)
        if not (p.doc_bonus > 0 and made):
            return made
        counts = Counter(
            (tuple(self.states[d.sentence].norms[d.start:d.end]), d.original)
            for d in made if d.confidence >= p.min_confidence)
        if not counts:
            return made
        bonus = {key: p.doc_bonus * math.log1p(k) for key, k in counts.items()}
        # Each row's bonus: rows whose (observed words, original) pair was decided.
        b = np.zeros(n, dtype=np.float64)
        has = np.zeros(n, dtype=bool)
        wanted = {key[0] for key in bonus}
        norms = [st.norms for st in self.states]
        for r, (s, t, ln) in enumerate(zip(self.si.tolist(), self.ti.tolist(),
                                           self.length.tolist(), strict=True)):
            obs = tuple(norms[s][t:t + ln])
            if obs in wanted:
                v = bonus.get((obs, self.original(r)))
                if v is not None:
                    b[r] = v
                    has[r] = True
        redo = np.unique(self.r_cluster[has])
        if len(redo) == 0:
            return made
        redo_rows = np.isin(self.r_cluster, redo)
        mass[redo_rows] = 0.0
        chosen[redo_rows] = 0
        self._run(redo, self.score + b, self.channel + b, mass, chosen)
        return self._made(mass, chosen)

# Every field of a DecodeParams in one C call (the word table is rebuilt when one changes;
# a generator over the fields cost 20 us per `check`).
_params_key = attrgetter(*DecodeParams.__slots__)


class Decoder:
    """Decodes tokenised sentences with a language model and candidate sources.

    Args:
        lm: A `unspin.lm.Scorer`.
        source: Candidate sources.
        params: Channel weights and decision rules.
        context: A `unspin.context.ContextModel`, or the path of one to load on first use
            (``restore`` only; None: no context model).
    """

    def __init__(self, lm, source: CandidateSource, params: DecodeParams | None = None,
                 context=None):
        self.lm = lm
        self.source = source
        self.params = params or DecodeParams()
        self.context = context
        self._context_ids: np.ndarray | None = None  # LM id -> context model id
        self._topic: tuple | None = None  # (vectors, LM id -> row), see `_context_bonus`
        self._channel_cache: dict[tuple, float] = {}
        self._entry_cache: dict[tuple[str, bool], tuple] = {}
        self._unknown_cache: dict[str, tuple[np.ndarray, np.ndarray]] = {}  # `_unknown_arrays`
        self._two_step_cache: dict[int, np.ndarray] = {}  # LM id -> its two-step originals
        self._two_step_entry: dict[int, int] = {}  # original LM id -> number in `_phrases`
        self._two_step_stamp: np.ndarray | None = None  # scratch of `_two_step_best`
        self._orig_ids: dict[tuple[str, ...], list[int]] = {}  # originals' LM ids (joint)
        # Per candidate-table row: its words' LM ids and number (0: not worked out yet;
        # see `_phrase_row_ids`).
        self._prow_ids: np.ndarray | None = None
        self._prow_len: np.ndarray | None = None
        self._row_words_kept: list | None = None  # see `_row_words`
        self._row_words_done: np.ndarray | None = None
        self._channel_table: tuple | None = None  # see `_channel_tables`
        self._phrases = PhraseEntries()
        # Per LM id: the range of its word's trusted multiword originals in `_phrases`
        # (`_multi_ranges`); -1 where not worked out yet.
        self._multi_lo: np.ndarray | None = None
        self._multi_hi: np.ndarray | None = None
        self._phrase_packed: dict[int, np.ndarray] | None = None
        self._phrase_slot_base: dict[int, int] = {}  # see `_phrase_keys`
        self._phrase_slot_count = 0
        self._phrase_pair_filter: np.ndarray | None = None  # see `_phrase_keys`
        self._learned_mask: np.ndarray | None = None
        self._term_first: np.ndarray | None = None  # see `term_hits`
        self._term_second: np.ndarray | None = None
        self._looked_up_by_words = 0  # positions, see `_phrase_hits`
        self._table: WordTable | None = None
        self._table_key: tuple | None = None
        self._multi: np.ndarray | None = None
        self._is_phrase: np.ndarray | None = None
        self._small: np.ndarray | None = None  # see `_name_small_words`
        self._trusted_multi: np.ndarray | None = None
        self._tm_lists: tuple | None = None  # see `_trusted_multi_lists`
        self._tm_span: dict | None = None  # see `_trusted_multi_span`
        self._tm_entries: np.ndarray | None = None  # their numbers in the table
        self._multi_rows: set[int] = set()  # rows of `_multi_originals`, for lookups by row

    # ------------------------------------------------------------------ helpers

    def _context_model(self):
        """The context model and the LM-id-to-model-id map, or (None, None)."""
        if self.context is None or not self.params.context_weight:
            return None, None
        if isinstance(self.context, (str, Path)):
            from .context import ContextModel

            self.context = ContextModel(self.context)
        if self._context_ids is None:
            self._context_ids = self.context.id_map(self.lm.words)
        return self.context, self._context_ids

    def _topic_vectors(self) -> tuple:
        """The shipped word vectors and the LM-id-to-row map (vectors None if not shipped)."""
        if self._topic is None:
            rows, vectors = self.source.vector_rows(self.lm.words)
            # float32 once (12 MB): converting every gathered row costs more per document.
            self._topic = (None if vectors is None else vectors.astype(np.float32), rows)
        return self._topic

    def _document(self, sentences: list[list[str]],
                  ids: np.ndarray | None) -> DocumentWords | None:
        """The whole document's `DocumentWords` (the same for every chunk of it), or None
        when the evidence that reads the whole document is off."""
        p = self.params
        if not p.topic_weight and not p.repeat_weight:
            return None
        vectors, rows = self._topic_vectors() if p.topic_weight else (None, None)
        if ids is None:
            ids = self.lm.ids(list(chain.from_iterable(sentences)))
        return DocumentWords(ids, vectors, rows)

    def _context_bonus(self, J: np.ndarray, g: np.ndarray, orig: np.ndarray,
                       score: np.ndarray, document: DocumentWords | None,
                       slots_out: list | None = None,
                       known_delta: np.ndarray | None = None) -> np.ndarray | None:
        """Per one-word-for-one-word candidate (at ``g[J]``), the evidence from beyond the
        trigram's window, weighted: the document's word counts
        (`DocumentWords.repeat_delta`), its topic (`topic_delta`) and the context model's
        clipped score difference (original minus observed); None when all are off.

        Each is computed only for candidates that the largest value of the next could
        still lift to `DecodeParams.local_floor`, cheapest first (for the topic and the
        context model, the largest value seen in practice: `TOPIC_REACH`,
        `CONTEXT_REACH`); the others get 0.

        ``slots_out`` (a list) receives the context model's slot vectors (see
        `ContextModel.delta`); ``known_delta``, the model's differences where the caller
        has them already (then the model is not run).
        """
        p = self.params
        model, ids = self._context_model()
        topic = document.topic if document is not None and p.topic_weight else None
        if (model is None and document is None) or len(J) == 0:
            return None
        ctx_top = abs(p.context_weight) * min(p.context_clip, CONTEXT_REACH) \
            if model is not None else 0.0
        topic_top = TOPIC_REACH * abs(p.topic_weight) if topic is not None else 0.0
        bonus = np.zeros(len(J))
        if document is not None and p.repeat_weight and len(document.counts):
            # The largest repeat evidence: the document's most frequent word as original.
            top = abs(p.repeat_weight) * math.log1p(int(document.counts.max()))
            look = np.flatnonzero(score + top + topic_top + ctx_top >= p.local_floor)
            bonus[look] = p.repeat_weight * document.repeat_delta(g[J[look]], orig[look])
        if topic is not None:
            look = np.flatnonzero(score + bonus + ctx_top + topic_top >= p.local_floor)
            vectors, rows = self._topic_vectors()
            bonus[look] += p.topic_weight * topic_delta(vectors, rows, topic, g[J[look]],
                                                        orig[look])
        if model is not None:
            look = np.flatnonzero(score + bonus + ctx_top >= p.local_floor)
            if len(look):
                d = known_delta[look] if known_delta is not None else \
                    model.delta(ids[g], J[look], ids[orig[look]], bias=p.context_bias,
                                slots_out=slots_out)
                bonus[look] += p.context_weight * np.clip(d, -p.context_clip, p.context_clip)
        return bonus

    def _term_priors(self, loc: Local, rate: float | np.ndarray) -> None:
        """Move the term table's entries from the document's prior spin rate ``rate`` (one
        per sentence, or one for all) to even odds (see `DecodeParams.term`)."""
        terms = self._phrases.terms
        if not terms or not len(loc.pref):
            return
        phrase = np.flatnonzero(loc.pref >= 0)
        at = phrase[np.isin(loc.phrase_entry[loc.pref[phrase]], terms)]
        if not len(at):
            return
        r = np.asarray(rate, dtype=np.float64)
        if r.ndim:
            r = r[loc.sent_of[loc.pos[at]]]
        loc.shift_entries(at, -np.log(r / (1 - r)))

    def term_hits(self, norms: list[str], ids: np.ndarray) -> list[tuple[int, int]]:
        """Where an observed phrase of the term table occurs in these tokens (normalised,
        with their LM ids): ``(start, length)`` of each, in order. Documents where one does
        are decoded whatever their detection score."""
        terms = self.source._terms
        if not terms or len(ids) < 2:
            return []
        if self._term_first is None:
            # Per LM id: is it the first / second word of an observed phrase (UNK stands for
            # the words the model does not know). Both must match to look a key up.
            first = np.zeros(len(self.lm.words), dtype=bool)
            second = np.zeros(len(self.lm.words), dtype=bool)
            for key in terms:
                w1, w2 = key.split(" ")[:2]
                first[self.lm.id(w1)] = second[self.lm.id(w2)] = True
            self._term_first, self._term_second = first, second
        at = np.flatnonzero(self._term_first[ids[:-1]] & self._term_second[ids[1:]]).tolist()
        if not at:
            return []  # most texts (and `_phrase_len` is built on first use)
        plen = self.source._phrase_len
        n = len(norms)
        found = []
        for i in at:
            key = norms[i]
            for ln in range(2, min(plen.get(key, 0), n - i) + 1):
                key = key + " " + norms[i + ln - 1]
                if key in terms:
                    found.append((i, ln))
                    break
        return found

    def _priors(self) -> float:
        p = self.params
        return math.log(p.spin_rate) - math.log(1.0 - p.spin_rate)

    def table(self) -> WordTable:
        """The vectorised single-word table, rebuilt when the channel weights change."""
        key = _params_key(self.params)
        if self._table is None or key != self._table_key:
            self._table = WordTable.build(self.lm, self.source, self.params)
            self._table_key = key
            self._channel_cache.clear()
            self._entry_cache.clear()
            self._unknown_cache.clear()
            self._two_step_cache.clear()
            self._reset_phrases()
        return self._table

    def _reset_phrases(self) -> None:
        self._phrases = PhraseEntries()
        self._two_step_entry = {}
        self._multi_lo = self._multi_hi = None

    def _multi_originals(self) -> np.ndarray:
        """Per table row: does the observed word have phrase originals (few do)."""
        if self._multi is None:
            src = self.source
            words = src._words
            offs = np.asarray(src._offsets, dtype=np.int64)
            is_phrase = self._phrase_rows()
            flags = np.asarray(src._flags, dtype=np.int64)
            hand = ((flags & FLAG_PHRASE) != 0) & ((flags & LEXICAL) == 0)
            trusted = hand | ((flags & (FLAG_WN_SYN | FLAG_NUMBER)) != 0)
            # per table entry: a trusted multiword original (`_multiword_specs`)
            self._trusted_multi = is_phrase[np.asarray(src._orig, dtype=np.int64)] & trusted
            entries = np.flatnonzero(self._trusted_multi)
            rows = np.searchsorted(offs, entries, side="right") - 1
            has = np.zeros(len(words), dtype=bool)
            has[rows] = True
            self._multi = has & ~is_phrase
            self._multi_rows = set(np.flatnonzero(self._multi).tolist())
        return self._multi

    def _logprob(self, a, b, c) -> np.ndarray:
        """LM log10 probabilities, with unknown words charged a share of the <unk> mass.

        The model gives <unk> the pooled probability of every rare word, as much as a
        common word gets; a rare spun word ("unexampled") would look ordinary. Charging
        each unknown word ``unk_penalty`` decades restores the difference.
        """
        lp = self.lm.logprob(a, b, c)
        if self.params.unk_penalty:
            lp = lp - np.float32(self.params.unk_penalty) * (np.asarray(c) == UNK)
        return lp

    def _score_padded(self, g: np.ndarray):
        """log10 P of every id of a padded sequence from the third on (`_logprob_seq`), and
        the model's lookups of its adjacent pairs (None if the model cannot share them),
        which the candidates' windows reuse."""
        own = self.lm.pairs(g[:-1], g[1:]) if hasattr(self.lm, "pairs") else None
        lp = self._logprob_seq(g[None, :], pairs=None if own is None else
                               (own[0][None, :], own[1][None, :]))[0]
        return lp, own

    def _logprob_seq(self, seq: np.ndarray, pairs=None) -> np.ndarray:
        """`_logprob` of every window of three in each row of ``seq`` (``(n, m)`` ids):
        ``(n, m - 2)``. Uses the model's `logprob_seq` when it has one (fewer lookups).

        ``pairs``: the model's lookups of ``seq``'s adjacent pairs (see
        `unspin.lm.NGramLM.logprob_pairs`), when the caller has them."""
        seq = np.asarray(seq, dtype=np.int64)
        fast = getattr(self.lm, "logprob_seq", None)
        if pairs is not None:
            lp = self.lm.logprob_pairs(seq, *pairs)
        elif fast is not None:
            lp = fast(seq)
        else:
            n, m = seq.shape
            lp = self.lm.logprob(seq[:, :-2].ravel(), seq[:, 1:-1].ravel(),
                                 seq[:, 2:].ravel()).reshape(n, m - 2)
        if self.params.unk_penalty:
            lp = lp - np.float32(self.params.unk_penalty) * (seq[:, 2:] == UNK)
        return lp

    def channel(self, c: Candidate) -> float:
        """log P(observed | original) + log P(spun) - log P(kept), cached.

        The cache key holds only what the channel depends on (not positions or words), so
        it stays small however many documents pass through.
        """
        key = (c.flags, c.cosine, c.fanout, c.count, c.length, len(c.original))
        v = self._channel_cache.get(key)
        if v is None:
            v = _channel(c, self.params) + self._priors()
            self._channel_cache[key] = v
        return v

    def _spec_channel(self, spec: tuple) -> float:
        """`channel` of a spec ``(length, original, flags, cosine, fanout, count)``, with no
        `Candidate` built unless the cache misses."""
        length, original, flags, cosine, fanout, count = spec
        v = self._channel_cache.get((flags, cosine, fanout, count, length, len(original)))
        return self.channel(Candidate(0, *spec)) if v is None else v

    def prepare(self, sentences: list[list[str]], shapes: list[list[int]] | None = None,
                ids: np.ndarray | None = None, padded: tuple | None = None,
                token_shapes: np.ndarray | None = None,
                token_words: list[str] | None = None) -> list[SentenceState]:
        """Ids and observed-context LM scores for each sentence.

        Args:
            sentences: Normalised tokens per sentence.
            shapes: Per token, 1 when it is capitalised inside a sentence (likely part of a
                name: changing it needs more evidence), 2 when it is in capitals (an
                acronym: never changed), else 0.
            ids: The LM ids of all their tokens, in order, if the caller has them.
            padded: Their padded ids, scores and pair lookups, if the caller has them
                (`padded_range` of the detection evidence): not scored again.
            token_shapes: The shapes of all their tokens laid end to end, in place of
                ``shapes`` (the states' lists are then made only when read).
            token_words: All their tokens laid end to end (``sentences`` joined), for
                `local` to read by position (`PreparedChunk`).
        """
        if not sentences:
            return []
        # All sentences in one padded array (one id lookup, one LM pass); each state holds
        # views of its part. Windows across a sentence boundary are unused.
        lens = np.fromiter(map(len, sentences), dtype=np.int64, count=len(sentences))
        if ids is None and padded is None:
            ids = self.lm.ids(list(chain.from_iterable(sentences)))
        if padded is not None:
            g, base, hit, pos = padded
            ends = np.cumsum(lens + 3)
            starts = ends - lens - 3
            own = (hit, pos)
        else:
            g, starts, ends = pad_sentences(ids, lens)
            lp, own = self._score_padded(g)
            base = np.concatenate(([0.0, 0.0], lp))
            base[starts] = base[starts + 1] = 0.0  # the padding before each sentence
        n = int(ends[-1])
        states = PreparedChunk()
        shape_at = None
        if token_shapes is not None or token_words is not None:
            # Each token's padded position: the sentence's start, its padding, its place.
            n_tok = int(lens.sum())
            tok_at = np.repeat(starts + 2 - (np.cumsum(lens) - lens), lens) + np.arange(n_tok)
            states.lens = lens
            if token_shapes is not None:
                if len(token_shapes) != n_tok:
                    raise ValueError("token_shapes do not match the sentences' tokens")
                shape_at = np.zeros(n, dtype=np.int64)
                shape_at[tok_at] = token_shapes
                states.shape = shape_at
                shapes = repeat(None)
            if token_words is not None:
                if len(token_words) != n_tok:
                    raise ValueError("token_words do not match the sentences' tokens")
                word_at = np.full(n, -1, dtype=np.int64)
                word_at[tok_at] = np.arange(n_tok)
                states.words, states.word_at = token_words, word_at
        arrays = (g, base, own, shape_at)
        if shapes is None:
            shapes = [[0] * len(norms) for norms in sentences]
        states.extend(map(SentenceState, sentences, shapes, repeat(arrays), starts.tolist(),
                          ends.tolist()))
        states.arrays = (g[:n], base[:n], own)
        return states

    def adjust(self, st: SentenceState, i: int, cand: Candidate) -> float:
        """Position-dependent part of the channel: length balance and name caution."""
        p = self.params
        adj = p.length_bonus * (len(cand.original) - cand.length)
        if any(st.shapes[i:i + cand.length]):
            adj -= p.name_penalty
        return adj

    def _entries(self, key: str, multi_only: bool) -> tuple:
        """Position-free candidates of an observed key: ``(spec, original ids, channel)``.

        ``spec`` is `CandidateSource.specs`'s tuple (a `Candidate` without its start);
        originals with a word the LM does not know are left out. With ``multi_only``, only
        the trusted multiword originals of a single word. Cached per key: building
        `Candidate` objects per position cost a quarter of `restore`.
        """
        ck = (key, multi_only)
        hit = self._entry_cache.get(ck)
        if hit is not None:
            return hit
        lm_get = self.lm.index.get
        channel_get = self._channel_cache.get
        out = []
        specs = self._multiword_specs(key) if multi_only and not self.source._learned \
            else self.source.specs(key)
        for spec in specs:
            length, original, flags, cosine, fanout, count = spec
            if multi_only and not (len(original) > 1 and (
                    _hand_phrase(flags) or flags & (FLAG_WN_SYN | FLAG_NUMBER))):
                continue
            # (One word: no map object; a key's hundreds of originals are mostly one word.)
            oids = (lm_get(original[0], UNK),) if len(original) == 1 else \
                tuple(map(lm_get, original, repeat(UNK)))
            if UNK in oids:
                continue
            # `_spec_channel`, inlined: its cache hit is most of the time here.
            ch = channel_get((flags, cosine, fanout, count, length, len(original)))
            out.append((spec, oids, self._spec_channel(spec) if ch is None else ch))
        hit = tuple(out)
        if len(self._entry_cache) > 200_000:  # bounded however many documents pass
            self._entry_cache.clear()
        self._entry_cache[ck] = hit
        return hit

    def _entry_range(self, key: str, multi_only: bool) -> tuple[int, int]:
        """`_entries` of a key, numbered in `_phrases`: the range of their numbers."""
        ck = (key, multi_only)
        r = self._phrases.ranges.get(ck)
        if r is None:
            r = self._phrases.add(self._entries(key, multi_only))
            self._phrases.ranges[ck] = r
        return r

    def _number_keys(self, keys: list[str], multi_only: bool = False) -> None:
        """`_entry_range` of every key, in order: the keys met for the first time worked
        out together.

        A scan meets thousands of new phrases and unknown words in every thousand
        documents; key by key, each cost a dozen numpy calls on a few table entries
        (`CandidateSource.specs`) and Python work for each of its originals. Here the
        shipped table's entries of all the new keys are gathered, filtered and scored in
        one numpy pass (`_table_entries`); their order, numbers and values are those of
        the key-by-key way, which still serves the keys a learned or term table also holds
        (with a learned table, every key of ``multi_only``: see `_entries`).
        """
        self.table()  # (built now if it is not yet: building it starts a new `_phrases`)
        ranges = self._phrases.ranges
        src = self.source
        index, learned, terms = src._index, src._learned, src._terms
        new: dict[str, int] = {}  # key -> its table row; -1: not in it; -2: key by key
        for key in keys:
            if (key, multi_only) not in ranges and key not in new:
                i = index.get(key)
                new[key] = -2 if key in learned or key in terms or (multi_only and learned) \
                    else -1 if i is None else i
        rows = [i for i in new.values() if i >= 0]
        # (No numpy pass when none is new or none is in the shipped table.)
        block, kept, own_way = self._table_entries(
            rows, [key for key, i in new.items() if i >= 0], multi_only) if rows \
            else ((), [], set())
        phrases = self._phrases
        n = len(phrases.specs)  # entries numbered so far, the pending ones included
        added = pending = 0  # entries of the block added, and numbered but not added
        k = -1
        for key, i in new.items():
            if i >= 0:
                k += 1
                if k not in own_way:
                    ranges[(key, multi_only)] = (n, n + kept[k])
                    n += kept[k]
                    pending += kept[k]
                    continue
            elif i == -1:  # `specs` has nothing for a key the table does not hold
                ranges[(key, multi_only)] = (n, n)
                continue
            if pending:
                phrases.extend(*(a[added:added + pending] for a in block))
                added, pending = added + pending, 0
            self._entry_range(key, multi_only)
            n = len(phrases.specs)
        if pending:
            phrases.extend(*(a[added:added + pending] for a in block))

    def _table_entries(self, rows: list[int], keys: list[str], multi_only: bool = False
                       ) -> tuple[tuple, list[int], set[int]]:
        """The `_entries` of shipped-table keys, all at once.

        Args:
            rows: The keys' rows in the candidate table.
            keys: The keys.
            multi_only: Only the trusted multiword originals (`_multi_originals`).

        Returns:
            ``(block, kept, own_way)``: the entries in key order as ``(specs, channel,
            length, mlength, originals)`` (`PhraseEntries.extend`'s arguments), the number
            of each key's entries, and the numbers of the keys left to `_entries` (one
            listing an original twice, which `CandidateSource.specs` merges, or holding a
            flag the shipped table never sets); those have no entries in the block.
        """
        at, origs, flags, key_of, cnt, own_way = self._table_rows(rows, multi_only)
        ids = self.table().row_ids[origs]  # UNK for a multiword original
        is_phrase = self._phrase_rows()[origs]
        keep = (ids != UNK) | is_phrase
        if own_way:
            keep &= ~np.isin(key_of, np.fromiter(own_way, dtype=np.int64))
        # Multiword originals: their LM ids as `_entries` finds them (`_phrase_row_ids`).
        mlength = np.ones(len(at), dtype=np.int64)
        multi = np.flatnonzero(keep & is_phrase)
        multi_ids, n_words = self._phrase_row_ids(origs[multi])
        # A word the LM does not know rules the original out.
        unknown = ((multi_ids == UNK) & (np.arange(MAX_PHRASE) < n_words[:, None])).any(axis=1)
        keep[multi[unknown]] = False
        mlength[multi] = n_words
        multi, multi_ids = multi[~unknown], multi_ids[~unknown]
        kept = np.bincount(key_of[keep], minlength=len(rows)).tolist()
        origs, flags, mlength, ids = origs[keep], flags[keep], mlength[keep], ids[keep]
        length = np.repeat(np.fromiter((key.count(" ") + 1 for key in keys), dtype=np.int64,
                                       count=len(keys)), cnt)[keep]
        channel, cos, fans = self._table_channel(at[keep], origs, flags, length, mlength)
        originals = np.zeros((len(origs), MAX_PHRASE), dtype=np.int32)
        originals[:, 0] = ids
        if len(multi):
            originals[(np.cumsum(keep) - 1)[multi]] = multi_ids
        original_words = self._row_words(origs)
        specs = list(zip(length.tolist(), original_words, flags.tolist(), cos.tolist(),
                         fans.tolist(), repeat(0)))
        return (specs, channel, length, mlength, originals), kept, own_way

    def _row_words(self, rows: np.ndarray) -> list[tuple[str, ...]]:
        """The words of candidate-table rows, as tuples (a spec's original): split once per
        row and kept (a row is the original of entries of many keys). The rows not split
        yet are found by a mask over the table's rows (a Python pass over every row of the
        call was more than half of this)."""
        kept = self._row_words_kept
        if kept is None:
            kept = self._row_words_kept = [None] * len(self.source._words)
            self._row_words_done = np.zeros(len(kept), dtype=bool)
        done = self._row_words_done
        todo = np.unique(rows[~done[rows]])
        if len(todo):
            words = self.source._words
            for o in todo.tolist():
                kept[o] = tuple(words[o].split(" "))
            done[todo] = True
        return list(map(kept.__getitem__, rows.tolist()))

    def _phrase_row_ids(self, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The LM ids of the words of phrase rows of the candidate table (``(len(rows),
        MAX_PHRASE)`` int32, `UNK` for a word the LM does not know and after the last
        word) and their numbers of words.

        Worked out once per row, on first use, and kept in arrays over the table's rows: a
        scan meets thousands of phrases in every thousand documents, and a Python step
        per original each time was a third of numbering them (`_table_entries`).
        """
        if self._prow_len is None:
            n = len(self.source._words)
            self._prow_ids = np.full((n, MAX_PHRASE), UNK, dtype=np.int32)
            self._prow_len = np.zeros(n, dtype=np.int8)
        ids, n_words = self._prow_ids, self._prow_len
        todo = np.unique(rows[n_words[rows] == 0])
        if len(todo):
            split = self._row_words(todo)  # (kept: `_table_entries` reads them next)
            todo = todo.tolist()
            lens = np.fromiter(map(len, split), dtype=np.int64, count=len(todo))
            if lens.max() > MAX_PHRASE:
                raise ValueError(f"a table phrase has more than {MAX_PHRASE} words")
            flat = self.lm.ids([w for ws in split for w in ws]).astype(np.int32)
            r = np.repeat(np.asarray(todo, dtype=np.int64), lens)
            col = np.arange(len(flat)) - np.repeat(np.cumsum(lens) - lens, lens)
            ids[r, col] = flat
            n_words[todo] = lens
        return ids[rows], n_words[rows].astype(np.int64)

    def _table_rows(self, rows: list[int], multi_only: bool) -> tuple:
        """The entries of candidate-table rows (`_table_entries`): ``(at, origs, flags,
        key_of, cnt, own_way)``, each entry's number in the table, original's row and
        flags, and the number of its row among ``rows``; each row's count of entries; and
        the numbers of the rows that `_entries` must take key by key (an original listed
        twice, which `CandidateSource.specs` merges, or a flag the shipped table never
        sets)."""
        src = self.source
        if multi_only:  # the rows' entries among the trusted multiword ones
            span = self._trusted_multi_span()
            where = np.array([span.get(i, (0, 0)) for i in rows], dtype=np.int64).reshape(-1, 2)
            lo, cnt = where[:, 0], where[:, 1] - where[:, 0]
        else:
            offs = src._offsets
            r = np.asarray(rows, dtype=np.int64)
            lo = np.asarray(offs[r], dtype=np.int64)
            cnt = np.asarray(offs[r + 1], dtype=np.int64) - lo
        total = int(cnt.sum())
        at = np.repeat(lo - np.cumsum(cnt) + cnt, cnt) + np.arange(total)
        if multi_only:
            at = self._tm_entries[at]
        origs = np.asarray(src._orig[at], dtype=np.int64)
        flags = np.asarray(src._flags[at], dtype=np.int64)
        key_of = np.repeat(np.arange(len(rows)), cnt)
        width = int(origs.max()) + 1 if total else 1
        pair = np.sort(key_of * width + origs)
        own_way = set((pair[1:][np.diff(pair) == 0] // width).tolist())
        odd = (flags & (FLAG_LEARNED | FLAG_TERM | FLAG_TWO_STEP)) != 0
        own_way.update(key_of[odd].tolist())
        return at, origs, flags, key_of, cnt, own_way

    def _table_channel(self, at: np.ndarray, origs: np.ndarray, flags: np.ndarray,
                       length: np.ndarray, mlength: np.ndarray
                       ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """`channel` of shipped-table entries (numbers ``at``, originals' rows ``origs``,
        flags, observed and original lengths), exactly: its part that depends on the flags
        and lengths, and the log of the fanout, from tables made with the scalar code; then
        the cosine and fanout terms in the same order of operations. Returns ``(channel,
        cosine, fanout)``."""
        src = self.source
        p = self.params
        cos = src.cosines4()[src._cos[at].view(np.uint16)]
        fans = src.fanouts1()[origs]
        heads, log_fanouts = self._channel_tables(int(length.max(initial=1)),
                                                  int(mlength.max(initial=1)))
        head = heads[flags, length, mlength]
        dead = np.isnan(head)
        log_fan = log_fanouts[fans]
        priors = self._priors()
        channel = np.where(dead, -30.0 + priors,
                           ((head + p.cosine * np.maximum(cos, 0.0)) - p.fanout * log_fan)
                           + priors)
        return channel, cos, fans

    def _channel_tables(self, length: int, mlength: int) -> tuple[np.ndarray, np.ndarray]:
        """`_channel_base` per (flags of the shipped table, observed length, original length),
        NaN where it rules the pair out; and ``math.log(max(fanout, 1))`` per fanout.
        Made on first use with the scalar code (so the values are its own), again when the
        parameters change or longer keys come."""
        key = _params_key(self.params)
        have = self._channel_table
        if have is None or have[0] != key or have[1].shape[1] <= length \
                or have[1].shape[2] <= mlength:
            n, m = max(length, MAX_PHRASE) + 1, max(mlength, MAX_PHRASE) + 1
            heads = _channel_heads(n, m, self.params)
            logs = have[2] if have is not None else np.array(
                [math.log(max(v, 1)) for v in range(1 << 16)], dtype=np.float64)
            self._channel_table = have = (key, heads, logs)
        return have[1], have[2]

    def _multi_range(self, w: str) -> tuple[int, int]:
        """Range of the trusted multiword originals of one known word (maybe empty)."""
        self._multi_originals()
        if self.source._index.get(w) in self._multi_rows:
            return self._entry_range(w, True)
        return (0, 0)

    def _multi_ranges(self, ids: np.ndarray, flat: list[str | None],
                      at: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Per position (LM ids ``ids`` of the words ``flat[at]``): the range of the word's
        trusted multiword originals; empty for words the LM does not know.

        A known word's answer depends only on the word (its id), so it is worked out once
        per id and kept in arrays over the vocabulary.
        """
        if self._multi_lo is None:
            # Empty for every id but those of the few words with such originals (worked
            # out on first use): most new words of a scan then cost no Python call.
            self._multi_lo = np.zeros(len(self.lm.words), dtype=np.int64)
            self._multi_hi = np.zeros(len(self.lm.words), dtype=np.int64)
            self._multi_originals()
            words, get = self.source._words, self.lm.index.get
            some = [get(words[r]) for r in self._multi_rows]
            self._multi_lo[[i for i in some if i is not None and i != UNK]] = -1
        lo_of, hi_of = self._multi_lo, self._multi_hi
        lo = lo_of[ids]
        todo = np.flatnonzero(lo < 0)
        if len(todo):
            # Each new id once, in the order of its first position (a Python step per
            # position was most of this in a scan's first thousands of documents).
            uid, first = np.unique(ids[todo], return_index=True)
            order = np.argsort(first)
            words: dict[int, str] = dict(zip(
                uid[order].tolist(), _words_at(flat, at[todo[first[order]]]), strict=True))
            index, rows = self.source._index, self._multi_rows
            self._number_keys([w for w in words.values() if index.get(w) in rows],
                              multi_only=True)
            for i, w in words.items():
                lo_of[i], hi_of[i] = self._multi_range(w)
            lo = lo_of[ids]
        return lo, hi_of[ids]

    def _multiword_specs(self, key: str) -> tuple:
        """The specs of `CandidateSource.specs` (shipped table only) whose original has
        several words and a trusted source, in the same order, without building the
        others: a common word has hundreds of candidates and few multiword ones, and a scan
        meets tens of thousands of words (each new one used to cost a dozen numpy calls on
        a few entries: see `_trusted_multi_lists`)."""
        src = self.source
        i = src._index.get(key)
        if i is None:
            return ()
        span, origs, flags, coss, fans = self._trusted_multi_lists()
        where = span.get(i)
        if where is None:
            return ()
        lo, hi = where
        # As `specs` builds them: cosine rounded in float64, fanout at least 1; one entry
        # per original (a later duplicate replaces an earlier one's values in its place).
        length = key.count(" ") + 1
        words = src._words
        merged: dict[tuple[str, ...], tuple] = {}
        for o, f, c, fn in zip(origs[lo:hi], flags[lo:hi], coss[lo:hi], fans[lo:hi],
                               strict=True):
            orig = tuple(words[o].split(" "))
            merged[orig] = (length, orig, f, c, fn, 0)
        return tuple(merged.values())

    def _trusted_multi_span(self) -> dict[int, tuple[int, int]]:
        """Table row -> the ``(lo, hi)`` of its trusted multiword entries (`_multi_originals`)
        among all of them in table order (their numbers in the table: ``_tm_entries``)."""
        if self._tm_span is None:
            self._multi_originals()
            src = self.source
            entries = np.flatnonzero(self._trusted_multi)
            offs = np.asarray(src._offsets, dtype=np.int64)
            rows = np.searchsorted(offs, entries, side="right") - 1
            first = np.flatnonzero(np.concatenate(([True], rows[1:] != rows[:-1]))) \
                if len(rows) else np.zeros(0, dtype=np.int64)
            last = np.concatenate((first[1:], [len(rows)])).astype(np.int64)
            self._tm_entries = entries
            self._tm_span = dict(zip(rows[first].tolist(), zip(first.tolist(), last.tolist(),
                                                                strict=True), strict=True))
        return self._tm_span

    def _trusted_multi_lists(self) -> tuple:
        """Every trusted multiword table entry (`_multi_originals`) as Python lists, built
        once: ``(span, origs, flags, cosines, fanouts)``, ``span`` mapping a table row to
        the ``(lo, hi)`` of its entries in the lists (in table order). Only the keys taken
        one by one read the lists (`_multiword_specs`): the rest of the decoder reads the
        span and the table's arrays, and does not wait for the lists at start-up."""
        if self._tm_lists is None:
            span = self._trusted_multi_span()
            src = self.source
            entries = self._tm_entries
            origs = np.asarray(src._orig)[entries]
            coss = src.cosines4()[np.asarray(src._cos)[entries].view(np.uint16)].tolist()
            fans = src.fanouts1()[origs].tolist()
            flags = np.asarray(src._flags)[entries].tolist()
            self._tm_lists = (span, origs.tolist(), flags, coss, fans)
        return self._tm_lists

    def _name_small_words(self) -> np.ndarray:
        """Per LM id: is it a small word that stays lower-case inside a name ("of")."""
        if self._small is None:
            small = np.zeros(len(self.lm.words), dtype=bool)
            small[[i for i in self.lm.ids(sorted(NAME_SMALL_WORDS)).tolist() if i != UNK]] = True
            self._small = small
        return self._small

    def _phrase_rows(self) -> np.ndarray:
        """Per table row: is its word a phrase (holds a space)?"""
        if self._is_phrase is None:
            words = self.source._words
            # (``in`` in a generator: mapping ``str.__contains__`` is twice as slow)
            self._is_phrase = np.fromiter((" " in w for w in words), dtype=bool,
                                          count=len(words))
        return self._is_phrase

    def _learned_words(self) -> np.ndarray:
        """Per LM id: is the word a key of the learned table?"""
        if self._learned_mask is None:
            mask = np.zeros(len(self.lm.words), dtype=bool)
            get = self.lm.index.get
            for key in self.source._learned:
                i = get(key)  # phrases hold a space, which no LM word does
                if i is not None:
                    mask[i] = True
            mask[UNK] = False
            self._learned_mask = mask
        return self._learned_mask

    def _phrase_keys(self) -> dict[int, np.ndarray]:
        """Per phrase length (2 to `MAX_PHRASE` tokens): the sorted packed LM ids
        (`_pack_ids`) of the tables' phrase keys (shipped and learned), words the LM does
        not know as `UNK`.

        A window of the text whose packed ids are not among them is no phrase key; one
        that is is checked by its words (an `UNK` stands for any unknown word). Built on
        first use (about 0.1 s; see `_phrase_hits`).
        """
        if self._phrase_packed is None:
            keys = [*self.source._index, *self.source._terms, *self.source._learned]
            phrases = [k for k in keys if " " in k]  # (see `_longest_phrases`)
            lens = np.fromiter(map(str.count, phrases, repeat(" ")), dtype=np.int64,
                               count=len(phrases)) + 1
            words = " ".join(phrases).split(" ")
            ids = np.asarray(self.lm.ids(words), dtype=np.int64)
            first = np.concatenate(([0], np.cumsum(lens)[:-1]))
            out = {}
            for ln in range(2, MAX_PHRASE + 1):
                at = first[lens == ln]
                out[ln] = np.unique(_pack_ids([ids[at + k] for k in range(ln)]))
            # Every key's first two words, as a filter: about one window in ten of a text
            # begins like a phrase key, so the others skip the binary searches.
            pair_filter = np.zeros(1 << PHRASE_PAIR_BITS, dtype=bool)
            pair_filter[_pair_slot(ids[first], ids[first + 1])] = True
            self._phrase_pair_filter = pair_filter
            # Each length's keys numbered after the shorter ones' (`_phrase_hits`' slots).
            base, n = {}, 0
            for ln, packed in out.items():
                base[ln] = n
                n += len(packed)
            self._phrase_slot_base = base
            self._phrase_slot_count = n
            self._phrase_packed = out
        return self._phrase_packed

    def _phrase_hits(self, flat: list[str | None], g: np.ndarray, at: np.ndarray,
                     end_of: np.ndarray, slots: bool = False) -> tuple[np.ndarray, ...]:
        """Positions among ``at`` where a window of the text may be a phrase key, and the
        window's length; ordered by position, then length.

        Uses the packed phrase keys (`_phrase_keys`); until they are built, a short text
        is looked up word by word instead, so that checking one paragraph does not pay
        for building them (`build_tables` builds them ahead, and a process that has looked
        up many positions word by word builds them too).

        With ``slots``, also per hit the number of the packed key it matched
        (`_phrase_slot_count` of them) where that key can only be the window's own words
        (two or three words, none unknown to the LM), else -1.
        """
        if self._phrase_packed is None and len(at) < PACKED_LOOKUP_MIN and \
                self._looked_up_by_words < PACKED_LOOKUP_AFTER:
            self._looked_up_by_words += len(at)
            j, ln = self._phrase_hits_by_words(flat, at, end_of)
            return (j, ln, np.full(len(j), -1, dtype=np.int64)) if slots else (j, ln)
        js, lns, sls = [], [], []
        keys = self._phrase_keys()
        if len(at):
            # Only windows whose first two words begin some key (`_phrase_keys`' filter).
            at = at[self._phrase_pair_filter[_pair_slot(g[at], g[np.minimum(at + 1,
                                                                            len(g) - 1)])]]
        for ln, packed in keys.items():
            j = at[at + ln - 1 <= end_of[at] - 2]  # the window ends before the EOS
            if not len(j) or not len(packed):
                continue
            cols = [g[j + k] for k in range(ln)]
            key = _pack_ids(cols)
            where = np.minimum(np.searchsorted(packed, key), len(packed) - 1)
            hit = packed[where] == key
            js.append(j[hit])
            lns.append(np.full(int(hit.sum()), ln, dtype=np.int64))
            if slots:
                # Packed ids of two or three known words are the words themselves (four
                # are hashed; UNK stands for any unknown word).
                sl = where[hit] + self._phrase_slot_base[ln]
                if ln > 3:
                    sl[:] = -1
                else:
                    unk = np.zeros(len(sl), dtype=bool)
                    for c in cols:
                        unk |= c[hit] == UNK
                    sl[unk] = -1
                sls.append(sl)
        if not js:
            e = np.zeros(0, dtype=np.int64)
            return (e, e, e) if slots else (e, e)
        j, ln = np.concatenate(js), np.concatenate(lns)
        order = np.lexsort((ln, j))
        if slots:
            return j[order], ln[order], np.concatenate(sls)[order]
        return j[order], ln[order]

    def _phrase_hits_by_words(self, flat: list[str | None], at: np.ndarray,
                              end_of: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """`_phrase_hits` by the words: the phrase keys starting at each position."""
        src = self.source
        plen, is_key = src._phrase_len, src.is_key
        js: list[int] = []
        lns: list[int] = []
        for j in at.tolist():
            w = flat[j]
            key = w
            for ln in range(2, min(plen.get(w, 0), int(end_of[j]) - 1 - j) + 1):
                key = key + " " + flat[j + ln - 1]
                if is_key(key):
                    js.append(j)
                    lns.append(ln)
        return np.array(js, dtype=np.int64), np.array(lns, dtype=np.int64)

    def build_tables(self) -> None:
        """Build the lazily made lookup tables now (the word table, the multiword
        originals, the packed phrase keys): before worker processes fork, so that they
        share them, or before timing."""
        self.table()
        self._multi_originals()
        self._phrase_keys()

    def _phrase_candidates(self, flat: list[str | None], g: np.ndarray,
                           at: np.ndarray | list[int],
                           end_of: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Candidates that the vectorised path does not cover: phrases and learned pairs.

        Args:
            flat: The chunk's normalised tokens in the padded layout (None for padding).
            g: Its padded ids.
            at: Padded positions to look at: where something is unlikely, or with a
                learned table every token (learned pairs are evidence of their own).
                Acronyms are never changed and must not be among them.
            end_of: Per padded position, one past its sentence's EOS.

        Returns:
            ``(pos, entry)``: per candidate its padded position and its number in
            `_phrases`; by position, and at a position the word's own entries (its
            multiword originals, or all of a word the LM does not know) first, then its
            phrases by length.
        """
        src = self.source
        learned = src._learned
        at = np.asarray(at, dtype=np.int64)
        if not len(at):
            e = np.zeros(0, dtype=np.int64)
            return e, e
        ids = g[at]
        lo, hi = self._multi_ranges(ids, flat, at)
        # Words the language model does not know, and words a learned table holds, take
        # all their candidates (looked up by the word); the others only their multiword
        # originals (by LM id).
        full = ids == UNK
        if learned:
            full |= self._learned_words()[ids]
        has = (hi > lo) & ~full
        # Blocks of consecutive entry numbers: position, rank at the position, range.
        b_pos, b_rank, b_lo, b_hi = [at[has]], [np.zeros(int(has.sum()), np.int64)], \
            [lo[has]], [hi[has]]
        # (The word table is indexed by LM id, so rare spun words like "unexampled"
        # come here.)
        unknown = at[full]
        found = [(j, 0, w, -1) for j, w in zip(unknown.tolist(), _words_at(flat, unknown),
                                               strict=True)]
        hit_j, hit_ln, hit_slot = self._phrase_hits(flat, g, at, end_of, slots=True)
        # Phrase keys numbered before, by their packed slot: no words joined, no lookups.
        slot_lo, slot_hi = self._phrases.slot_ranges(self._phrase_slot_count)
        done = hit_slot >= 0
        done[done] = slot_lo[hit_slot[done]] >= 0
        if done.any():
            lo_d, hi_d = slot_lo[hit_slot[done]], slot_hi[hit_slot[done]]
            some = hi_d > lo_d
            b_pos.append(hit_j[done][some])
            b_rank.append(hit_ln[done][some])
            b_lo.append(lo_d[some])
            b_hi.append(hi_d[some])
        todo = ~done
        for j, ln, sl in zip(hit_j[todo].tolist(), hit_ln[todo].tolist(),
                             hit_slot[todo].tolist(), strict=True):
            key = " ".join(flat[j:j + ln])
            if src.is_key(key):
                found.append((j, ln, key, sl))
        self._number_keys([f[2] for f in found])  # those met for the first time
        ranges = self._phrases.ranges
        more: list[tuple[int, int, int, int]] = []
        for j, ln, key, sl in found:
            r = ranges[(key, False)]
            if sl >= 0:
                slot_lo[sl], slot_hi[sl] = r
            if r[1] > r[0]:
                more.append((j, ln, *r))
        if more:
            extra = np.array(more, dtype=np.int64)
            b_pos.append(extra[:, 0])
            b_rank.append(extra[:, 1])
            b_lo.append(extra[:, 2])
            b_hi.append(extra[:, 3])
        pos, rank = np.concatenate(b_pos), np.concatenate(b_rank)
        order = np.lexsort((rank, pos))
        return _expand_blocks(pos[order], np.concatenate(b_lo)[order],
                              np.concatenate(b_hi)[order])

    def _two_step_originals(self, w: int) -> np.ndarray:
        """LM ids beyond the first step from observed id ``w`` in the word table: its next
        ``two_step_own`` entries past its first `DecodeParams.max_candidates`, then the
        originals of those first entries' first ``two_step_width`` entries; less the first
        entries and ``w`` itself, each once, and only words the context model knows (it
        ranks them). Cached per id (the numpy path; `_native.two_step_best` builds the same
        list in the same order)."""
        hit = self._two_step_cache.get(w)
        if hit is not None:
            return hit
        p = self.params
        t = self.table()
        _, cids = self._context_model()
        lo = int(t.offsets[w])
        first = t.orig[lo:min(int(t.offsets[w + 1]), lo + p.max_candidates)]
        width = int(p.two_step_width)
        starts = t.offsets[first]
        cnt = np.minimum(t.offsets[first + 1] - starts, width)
        idx = np.repeat(starts - np.cumsum(cnt) + cnt, cnt) + np.arange(int(cnt.sum()))
        two = t.orig[idx].astype(np.int64)
        own = int(p.two_step_own)
        if own:
            two = np.concatenate((t.orig[lo + len(first):min(int(t.offsets[w + 1]),
                                                          lo + len(first) + own)], two))
        two = two[cids[two] >= FIRST_WORD]
        # Out: the first step and the word itself; then each word once, where it first
        # occurs (the compiled `two_step_best`'s order).
        out = set(first.tolist())
        out.add(w)
        kept: list[int] = []
        for x in two.tolist():
            if x not in out:
                out.add(x)
                kept.append(x)
        two = np.asarray(kept, dtype=np.int64)
        if len(self._two_step_cache) > 200_000:  # bounded like `_entries`
            self._two_step_cache.clear()
        self._two_step_cache[w] = two
        return two

    def _two_step_entry_of(self, o: int) -> int:
        """The `_phrases` number of the two-step entry with original LM id ``o``."""
        e = self._two_step_entry.get(o)
        if e is None:
            spec = (1, (self.lm.words[o],), FLAG_TWO_STEP, 0.0, 1, 0)
            e = self._phrases.add(((spec, (o,), self._spec_channel(spec)),))[0]
            self._two_step_entry[o] = e
        return e

    def _two_step_best(self, words: np.ndarray, vec: np.ndarray,
                       observed: np.ndarray) -> np.ndarray:
        """Per slot (observed LM id ``words[k]``, context model output ``vec[k]``, the observed
        word's score ``observed[k]``): the LM ids of its best ``two_step_top`` two-step
        originals at least ``two_step_min`` above the observed word, best first, -1 where
        fewer qualify (``(n, top)``)."""
        p = self.params
        model, cids = self._context_model()
        top = int(p.two_step_top)
        n = len(words)
        t = self.table()
        if native_available():
            from . import _native

            if self._two_step_stamp is None:
                self._two_step_stamp = np.full(len(t.offsets) - 1, -1, dtype=np.int64)
            out = np.empty((n, top), dtype=np.int64)
            _native.two_step_best(
                t.offsets, t.orig, len(t.offsets) - 1, int(p.max_candidates),
                int(p.two_step_width), int(p.two_step_own), cids, FIRST_WORD, model.emb,
                model.scale,
                model.emb.shape[0], model.emb.shape[1], np.ascontiguousarray(words, np.int64),
                np.ascontiguousarray(vec, np.float32),
                np.ascontiguousarray(observed, np.float32), n, top, float(p.two_step_min),
                self._two_step_stamp, out)
            return out
        sets = [self._two_step_originals(w) for w in words.tolist()]
        lens = np.fromiter(map(len, sets), dtype=np.int64, count=n)
        flat = np.concatenate(sets) if n else np.zeros(0, dtype=np.int64)
        bounds = np.concatenate(([0], np.cumsum(lens)))
        picks = model.best_fillers(vec, observed, cids[flat], bounds, top, p.two_step_min)
        return np.where(picks >= 0, flat[np.maximum(picks, 0)] if len(flat) else -1, -1)

    def _two_step_candidates(self, g: np.ndarray, where: np.ndarray,
                             slots: list) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Two-step candidates (restore only), in slots the context model has read.

        A real spinner's table is wider than our thesauri: about half of an unseen
        table's swapped words have an original that no source proposes for the observed
        word, and a third of those are a candidate of one of its candidates. There are a
        hundred or more such words per observed word, too many for the trigram model to
        choose among, so the context model (which reads four words on each side) picks the
        best ``two_step_top`` (`DecodeParams`) first; they are then scored like any
        phrase-path entry.

        Args:
            g: The chunk's padded ids.
            where: Per padded position, whether to look there.
            slots: ``(slots, slot_vectors)`` blocks from `ContextModel.delta`: only those
                slots are looked at (the model's hidden layer is most of its cost).

        Returns:
            ``(pos, entry, delta)``: per candidate its padded position, its number in
            `_phrases` and the context model's score difference (original minus observed).
        """
        p = self.params
        model, cids = self._context_model()
        top = int(p.two_step_top)
        e = np.zeros(0, dtype=np.int64)
        if model is None or top <= 0 or not slots:
            return e, e, np.zeros(0)
        at = np.concatenate([s for s, _ in slots])
        vec = np.concatenate([v for _, v in slots])
        use = np.flatnonzero(where[at] & (cids[g[at]] >= FIRST_WORD))
        if not len(use):
            return e, e, np.zeros(0)
        at, vec = at[use], vec[use]
        cg = cids[g]
        observed = np.einsum("ij,ij->i", vec, model._vectors(cg[at]))
        picks = self._two_step_best(g[at], vec, observed)
        k, r = np.nonzero(picks >= 0)
        if not len(k):
            return e, e, np.zeros(0)
        chosen = picks[k, r]
        delta = np.einsum("ij,ij->i", vec[k], model._vectors(cids[chosen])) - observed[k]
        if p.context_bias:
            delta += p.context_bias * (model.bias[cids[chosen]] - model.bias[cg[at[k]]])
        ent = [self._two_step_entry_of(o) for o in chosen.tolist()]
        return at[k], np.asarray(ent, dtype=np.int64), delta.astype(np.float64)

    # ------------------------------------------------------------------ step 1

    def _suspicious(self, base: np.ndarray, end_of: np.ndarray,
                    threshold: float | None = None) -> np.ndarray:
        """Positions where the word or one of the next two is unlikely in context.

        A swapped word makes itself or one of the next two words unlikely; positions where
        all three are well predicted cannot gain from any candidate.
        """
        n = len(base)
        idx = np.arange(n)
        nxt1 = np.where(idx + 1 < end_of, base[np.minimum(idx + 1, n - 1)], 0.0)
        nxt2 = np.where(idx + 2 < end_of, base[np.minimum(idx + 2, n - 1)], 0.0)
        limit = self.params.suspicion if threshold is None else threshold
        return np.minimum(base, np.minimum(nxt1, nxt2)) < limit

    def _word_entries(self, g: np.ndarray, base: np.ndarray, end_of: np.ndarray,
                      shape: np.ndarray, eligible: np.ndarray, extra=None,
                      max_candidates: int | None = None, own_pairs=None):
        """Score every single-word candidate at the eligible positions (vectorised).

        Args:
            g: Padded ids of a chunk: ``[NONE, BOS, ids..., EOS]`` per segment, concatenated.
            base: log10 P of each entry of ``g`` in observed context (0 for the padding).
            end_of: Per entry, one past its segment's EOS.
            shape: Per entry, the token's `shape_codes` value (0 for padding).
            eligible: Per entry, whether candidates may be scored there.
            extra: Optional ``(J, orig, CH)`` arrays of more single-word candidates (those
                of words the language model does not know) to score alongside.
            max_candidates: Candidates per position (default `DecodeParams.max_candidates`).
            own_pairs: The model's lookups of ``g``'s adjacent pairs (``lm.pairs(g[:-1],
                g[1:])``), if the caller made them already.

        Returns:
            ``(J, E, orig, CH, S)``: per candidate its position in ``g``, table entry, LM id
            of the original, channel log-odds and local log-odds against keeping the word.
        """
        p = self.params
        table = self.table()
        at = np.flatnonzero(eligible & (shape != 2))
        w_ids = g[at]
        lo = table.offsets[w_ids]
        k = p.max_candidates if max_candidates is None else max_candidates
        cnt = np.minimum(table.offsets[w_ids + 1] - lo, k)
        has = cnt > 0
        at, lo, cnt = at[has], lo[has], cnt[has]
        total = int(cnt.sum())
        compiled = getattr(self.lm, "compiled", None)
        model = compiled() if compiled is not None else None
        if model is not None:
            # The same rows and values from the compiled helper (no arrays per step).
            nx = len(extra[0]) if extra is not None else 0
            e_i = np.zeros(0, dtype=np.int64)
            ex = (extra[0], extra[1], extra[2]) if nx else (e_i, e_i, np.zeros(0))
            own_hit, own_pos = own_pairs if own_pairs is not None else \
                self.lm.pairs(g[:-1], g[1:])
            cap = total + nx
            J, E, orig = (np.empty(cap, dtype=np.int64) for _ in range(3))
            CH, S = np.empty(cap), np.empty(cap)
            n = model.word_entries(
                np.ascontiguousarray(g, np.int64), np.ascontiguousarray(base, np.float64),
                np.ascontiguousarray(end_of, np.int64), np.ascontiguousarray(shape, np.int64),
                np.ascontiguousarray(own_hit, bool), np.ascontiguousarray(own_pos, np.int32),
                at, lo, cnt, table.orig, table.channel,
                np.ascontiguousarray(ex[0], np.int64), np.ascontiguousarray(ex[1], np.int64),
                np.ascontiguousarray(ex[2], np.float64), self._priors(),
                float(p.name_penalty), float(p.channel_floor), float(p.lm_weight), LN10, UNK,
                float(p.unk_penalty), J, E, orig, CH, S)
            return J[:n], E[:n], orig[:n], CH[:n], S[:n]
        J = np.repeat(at, cnt)
        E = np.repeat(lo - np.concatenate(([0], np.cumsum(cnt)[:-1])), cnt) + np.arange(total)
        orig = table.orig[E]
        CH = table.channel[E] + self._priors() - p.name_penalty * (shape[J] == 1)
        keep = CH > p.channel_floor
        J, E, orig, CH = J[keep], E[keep], orig[keep], CH[keep]
        if extra is not None and len(extra[0]):
            J = np.concatenate((J, extra[0]))
            E = np.concatenate((E, np.full(len(extra[0]), -1, dtype=np.int64)))
            orig = np.concatenate((orig, extra[1]))
            CH = np.concatenate((CH, extra[2]))
        # One language-model call: the three windows that the original word changes.
        last = len(g) - 1
        j1 = np.minimum(J + 1, last)
        j2 = np.minimum(J + 2, last)
        v1 = (J + 1) < end_of[J]
        v2 = (J + 2) < end_of[J]
        n1 = len(J)
        if n1:
            pairs = None
            if hasattr(self.lm, "pairs"):
                # Of the four word pairs in a candidate's windows, the outer two are the
                # text's own, shared by every candidate at the position: looked up once.
                own_hit, own_pos = own_pairs if own_pairs is not None else \
                    self.lm.pairs(g[:-1], g[1:])
                q1 = np.minimum(j1, len(g) - 2)  # j1 == last only where window 3 is unused
                new_hit, new_pos = self.lm.pairs(np.concatenate((g[J - 1], orig)),
                                                 np.concatenate((orig, g[j1])))
                pairs = (
                    np.column_stack((own_hit[J - 2], new_hit[:n1], new_hit[n1:], own_hit[q1])),
                    np.column_stack((own_pos[J - 2], new_pos[:n1], new_pos[n1:], own_pos[q1])))
            seq = np.column_stack((g[J - 2], g[J - 1], orig, g[j1], g[j2]))
            lp = self._logprob_seq(seq, pairs=pairs).astype(np.float64)
        else:
            lp = np.zeros((0, 3))
        new = lp[:, 0] + np.where(v1, lp[:, 1], 0.0) + np.where(v2, lp[:, 2], 0.0)
        old1 = base[J] + np.where(v1, base[j1], 0.0) + np.where(v2, base[j2], 0.0)
        S = (new - old1) * LN10 * p.lm_weight + CH
        return J, E, orig, CH, S

    def evidence(self, norms: list[str], ids: np.ndarray, seg: np.ndarray,
                 shape: np.ndarray, positions: bool = False, entries: bool = False,
                 padded: bool = False):
        """Detection evidence without decoding: the fast path behind `unspin.check`.

        Scores the single-word candidates of the shipped tables only (no phrases, no
        learned pairs, no joint decoding), in chunks of about `CHUNK_TOKENS` tokens.

        Args:
            norms: The document's normalised tokens.
            ids: Their LM ids.
            seg: Their segment numbers (`unspin.tokens.segment_ids`).
            shape: Their `unspin.tokens.shape_codes`.
            positions: Also return the token index of each posterior.
            entries: Also return the scored shipped-table candidates (`ScoredWords`, with
                ``sent`` the segment number and ``tok`` the token index), which `decode`
                can reuse.
            padded: Also return the chunks' padded arrays (`EvidenceChunk` each), which
                `padded_range` cuts into `decode`'s ``padded``.

        Returns:
            ``(token_logprobs, p_swapped)``: log10 P of every token in observed context, and
            for every position that has candidates (in token order) the posterior that it
            was swapped; with ``positions``, then those positions' token indices; with
            ``entries``, then the `ScoredWords`; with ``padded``, then the list of
            `EvidenceChunk`.
        """
        n = len(ids)
        lps, posts, ats, found, chunks = [], [], [], [], []
        bounds = np.flatnonzero(np.concatenate(([True], seg[1:] != seg[:-1]))) if n \
            else np.zeros(0, int)
        k = 0
        while k < n:
            # Whole segments, about CHUNK_TOKENS tokens a chunk.
            stop = int(bounds[np.searchsorted(bounds, k + CHUNK_TOKENS)]) \
                if k + CHUNK_TOKENS < int(bounds[-1]) else n
            stop = max(stop, k + 1)
            lp, post, at, words, chunk = self._evidence_chunk(
                norms[k:stop], ids[k:stop], seg[k:stop] - seg[k], shape[k:stop])
            if padded:
                chunk.first = k
                chunks.append(chunk)
            lps.append(lp)
            posts.append(post)
            ats.append(at + k)
            words.tok += k
            words.sent += seg[k]
            found.append(words)
            k = stop
        e_i = np.zeros(0, dtype=np.int64)
        e_f = np.zeros(0, dtype=np.float64)
        out: tuple = (np.concatenate(lps), np.concatenate(posts)) if lps else (e_f, e_f)
        if positions:
            out = (*out, np.concatenate(ats) if ats else e_i)
        if entries:
            cat = np.concatenate
            out = (*out, ScoredWords(*(cat([getattr(w, f) for w in found]) if found else
                                       (e_f if f in ("channel", "score") else e_i)
                                       for f in ScoredWords.__slots__)))
        if padded:
            out = (*out, chunks)
        return out

    def _unknown_entries(self, norms, ids, tok_at, shape, eligible):
        """``(J, orig, CH)`` for words the LM does not know but the tables do.

        Rare spun words ("unexampled") are pooled as <unk> by the language model, so the
        id-indexed word table cannot hold their candidates; there are few such tokens.
        """
        floor = self.params.channel_floor
        index, learned = self.source._index, self.source._learned
        # Most of these tokens are not keys (names, rare words): each distinct word is
        # asked once, the tokens kept by C-level passes (a Python test per token was half
        # of this).
        cand = np.flatnonzero((ids == UNK) & eligible[tok_at]).tolist()
        words = list(map(norms.__getitem__, cand))
        distinct = set(words)
        keys = index.keys() & distinct
        if learned:
            keys |= learned.keys() & distinct
        flags = list(map(keys.__contains__, words))
        at, at_words = list(compress(cand, flags)), list(compress(words, flags))
        cache = self._unknown_cache
        new = [w for w in dict.fromkeys(at_words) if w not in cache]
        if new:
            self._cache_unknown(new)  # their originals, made together
        if not at:
            e = np.zeros(0, dtype=np.int64)
            return e, e, np.zeros(0, dtype=np.float64)
        # Every position's originals at once (a word's are cached as arrays): a spun
        # document has hundreds of them, and a Python step each was most of this.
        found = list(map(self._unknown_arrays, at_words))
        origs = [f[0] for f in found]
        cnt = np.fromiter(map(len, origs), dtype=np.int64, count=len(found))
        orig = np.concatenate(origs)
        at_arr = np.asarray(at, dtype=np.int64)
        name = self.params.name_penalty * (shape[at_arr] == 1)
        CH = np.concatenate([f[1] for f in found]) - np.repeat(name, cnt)
        keep = CH > floor
        return np.repeat(tok_at[at_arr], cnt)[keep], orig[keep], CH[keep]

    def _cache_unknown(self, words: list[str]) -> None:
        """`_unknown_originals` of words met for the first time (distinct), worked out
        together.

        Most of them (names, rare words) come from the shipped table alone, and their
        single-word originals are all the evidence needs: those are gathered and scored in
        one numpy pass, the same rows with the same values as `_table_entries` gives them,
        without numbering every entry of the words (their multiword originals, the specs)
        in `_phrases`, which a clean document never reads (about 2 % of checking clean
        documents: BENCHMARKS, session 18). Words a learned or term table also holds,
        and the shipped keys that `_entries` takes key by key, go the old way.
        """
        src = self.source
        index, learned, terms = src._index, src._learned, src._terms
        plain: list[str] = []
        own: list[str] = []
        for w in words:
            (plain if w in index and w not in learned and w not in terms else own).append(w)
        cache = self._unknown_cache
        if plain:
            at, origs, flags, key_of, _, own_way = self._table_rows(
                [index[w] for w in plain], False)
            ids = self.table().row_ids[origs]
            keep = (ids != UNK) & ~self._phrase_rows()[origs]
            if own_way:
                keep &= ~np.isin(key_of, np.fromiter(own_way, dtype=np.int64))
            one = np.ones(int(keep.sum()), dtype=np.int64)
            channel, _, _ = self._table_channel(at[keep], origs[keep], flags[keep], one, one)
            bounds = np.concatenate(([0], np.cumsum(np.bincount(
                key_of[keep], minlength=len(plain))))).tolist()
            kept_ids = ids[keep].astype(np.int64)
            channel = np.asarray(channel, dtype=np.float64)
            if len(cache) + len(plain) > 200_000:  # bounded as in `_unknown_arrays`
                cache.clear()
            for k, w in enumerate(plain):
                if k in own_way:
                    own.append(w)
                else:
                    lo, hi = bounds[k], bounds[k + 1]
                    cache[w] = (kept_ids[lo:hi], channel[lo:hi])
        if own:
            self._number_keys(own)  # their entries, made together

    def _unknown_originals(self, word: str) -> list[tuple[int, float]]:
        """``(LM id, channel)`` of the single-word originals of a word the LM lacks."""
        ids, channel = self._unknown_arrays(word)
        return list(zip(ids.tolist(), channel.tolist(), strict=True))

    def _unknown_arrays(self, word: str) -> tuple[np.ndarray, np.ndarray]:
        """`_unknown_originals` as arrays (LM ids, channels), cached per word."""
        hit = self._unknown_cache.get(word)
        if hit is None:
            lo, hi = self._entry_range(word, False)
            channel, _, mlength, originals = self._phrases.arrays()
            one = np.flatnonzero(mlength[lo:hi] == 1) + lo
            hit = (originals[one, 0].astype(np.int64), channel[one].astype(np.float64))
            if len(self._unknown_cache) > 200_000:  # bounded like `_entries`
                self._unknown_cache.clear()
            self._unknown_cache[word] = hit
        return hit

    def _evidence_chunk(self, norms, ids, seg, shape):
        n = len(ids)
        n_seg = int(seg[-1]) + 1
        # Padded layout as `prepare` builds it: [NONE, BOS, ids..., EOS] per segment.
        tok_at = np.arange(n) + 3 * seg + 2
        first = np.flatnonzero(np.concatenate(([True], seg[1:] != seg[:-1])))
        seg_start = tok_at[first] - 2
        eos_at = np.concatenate((seg_start[1:], [n + 3 * n_seg])) - 1
        size = n + 3 * n_seg
        g = np.empty(size, dtype=np.int64)
        g[tok_at] = ids
        g[seg_start] = NONE
        g[seg_start + 1] = BOS
        g[eos_at] = EOS
        base = np.zeros(size, dtype=np.float64)
        lp, own = self._score_padded(g)
        base[2:] = lp.astype(np.float64)
        base[seg_start] = 0.0
        base[seg_start + 1] = 0.0
        end_of = np.repeat(eos_at + 1, np.diff(np.concatenate((seg_start, [size]))))
        shape_g = np.zeros(size, dtype=np.int64)
        shape_g[tok_at] = shape
        eligible = np.zeros(size, dtype=bool)
        eligible[tok_at] = True
        eligible &= self._suspicious(base, end_of, EVIDENCE_SUSPICION) & (shape_g != 2)
        extra = self._unknown_entries(norms, ids, tok_at, shape, eligible)
        J, E, orig, CH, S = self._word_entries(g, base, end_of, shape_g, eligible, extra,
                                               max_candidates=EVIDENCE_CANDIDATES,
                                               own_pairs=own)
        zpos, zlse = _logsumexp_by(J, S)
        table = E >= 0  # the unknown words' candidates (E = -1) take another path in decode
        # Padded positions back to token numbers: a look-up, not a binary search (candidates
        # are only ever at tokens).
        tok_of = np.empty(size, dtype=np.int64)
        tok_of[tok_at] = np.arange(n)
        tok = tok_of[J[table]]
        words = ScoredWords(seg[tok], tok, E[table], orig[table], CH[table], S[table])
        return (base[tok_at], 1.0 / (1.0 + np.exp(-np.minimum(zlse, 50.0))),
                tok_of[zpos], words, EvidenceChunk(0, tok_at, g, base, own))

    def _phrase_scores(self, g, base, end_of, shape, pos, entry, own_pairs=None):
        """Local log-odds of multi-token candidates, vectorised by original length.

        Args:
            g, base, end_of, shape: The chunk's padded arrays (see `_word_entries`).
            pos: Per candidate, the padded index of its first observed token.
            entry: Its number in `_phrases` (observed tokens replaced, original ids and
                channel log-odds before position-dependent adjustments).
            own_pairs: The model's lookups of ``g``'s adjacent pairs, if the caller has
                them (`_word_entries`' ``own_pairs``): the compiled path reads a window's
                pairs of the text's own words there.

        Returns:
            ``(scores, channel, keep)``: scores and adjusted channels of the kept candidates,
            and the mask of candidates kept (channel above the floor).
        """
        p = self.params
        n = len(pos)
        if n == 0:
            return np.zeros(0), np.zeros(0), np.zeros(0, dtype=bool)
        channel, length, mlength, originals = self._phrases.arrays()
        J = pos
        L = length[entry].astype(np.int64)
        M = mlength[entry].astype(np.int64)
        # Length balance, and caution over capitalised or acronym tokens (`adjust`).
        marked = np.concatenate(([0], np.cumsum(shape != 0)))
        named = (marked[J + L] - marked[J]) > 0
        ch = channel[entry] + p.length_bonus * (M - L) - p.name_penalty * named
        # A name inside a sentence (capitalised words, small words between them) is spun
        # word by word and keeps its number of words: never shortened or lengthened
        # ("Jammu and Kashmir" -> "Kashmir", "Secret Service" -> "SS").
        in_name = (shape == 1) | self._name_small_words()[g]
        in_name_before = np.concatenate(([0], np.cumsum(in_name)))
        name = (shape[J] == 1) & (shape[J + L - 1] == 1) & \
            (in_name_before[J + L] - in_name_before[J] == L)
        ch = np.where(name & (M != L), -np.inf, ch)
        keep = ch > p.channel_floor
        cs = np.concatenate(([0.0], np.cumsum(base)))
        scores = np.zeros(n, dtype=np.float64)
        compiled = getattr(self.lm, "compiled", None)
        model = compiled() if compiled is not None else None
        if model is not None and len(originals):
            # Every kept candidate's windows in one call: the loop's values, without an
            # array of windows per original length.
            sel = np.flatnonzero(keep)
            j, ln = J[sel], L[sel]
            new = np.empty(len(sel))
            model.phrase_windows(
                np.ascontiguousarray(g, np.int64), len(g), j, ln, M[sel],
                np.ascontiguousarray(entry[sel], np.int64), len(sel),
                np.ascontiguousarray(originals, np.int32), len(originals),
                np.ascontiguousarray(end_of, np.int64), UNK, float(p.unk_penalty), new,
                *((np.ascontiguousarray(own_pairs[0], bool),
                   np.ascontiguousarray(own_pairs[1], np.int32))
                  if own_pairs is not None else ()))
            old = cs[np.minimum(j + ln + 2, end_of[j])] - cs[j]
            scores[sel] = (new - old) * LN10 * p.lm_weight + ch[sel]
            return scores[keep], ch[keep], keep
        last = len(g) - 1
        for m in np.unique(M[keep]).tolist():
            sel = np.flatnonzero(keep & (M == m))
            j, ln = J[sel], L[sel]
            stop = end_of[j]
            orig = originals[entry[sel], :m]
            # Window: two context words, the original, then up to two observed words after
            # the span (inside the segment; its EOS included).
            after1 = j + ln
            after2 = j + ln + 1
            seq = np.column_stack((g[j - 2], g[j - 1], orig, g[np.minimum(after1, last)],
                                   g[np.minimum(after2, last)]))
            valid = np.ones((len(sel), m + 2), dtype=bool)
            valid[:, m] = after1 < stop
            valid[:, m + 1] = after2 < stop
            lp = self._logprob_seq(seq).astype(np.float64)
            new = np.where(valid, lp, 0.0).sum(axis=1)
            end = np.minimum(j + ln + 2, stop)
            old = cs[end] - cs[j]
            scores[sel] = (new - old) * LN10 * p.lm_weight + ch[sel]
        return scores[keep], ch[keep], keep

    def local(self, states: list[SentenceState], *, g_offset: int = 0,
              sent_offset: int = 0, suspicion: float | None = None,
              known: ScoredWords | None = None, context: bool = False,
              document: DocumentWords | None = None, two_step: bool = False) -> Local:
        """Score every candidate alone, in observed context (vectorised).

        Args:
            states: Prepared sentences (one chunk of a document).
            g_offset: Global padded index of the chunk's first token.
            sent_offset: Index of the chunk's first sentence in the document.
            suspicion: Score candidates only where the word or one of the next two has a
                log10 probability below this (default `DecodeParams.suspicion`).
            known: Single-word candidates already scored (sentences numbered within the
                chunk); they are not scored again.
            context: Add the evidence from beyond the trigram's window to one-word
                candidates (the context model, and the document's words when given:
                `_context_bonus`).
            document: With ``context``, the whole document's `_document` (None: no
                evidence from the whole document).
            two_step: With ``context``, also the two-step candidates
                (`_two_step_candidates`).
        """
        # Global arrays over all sentences, padded: [NONE, BOS, ids..., EOS] each (read,
        # never written: views of `prepare`'s arrays when it made the states).
        arrays = states.arrays if isinstance(states, PreparedChunk) and states else None
        if arrays is not None:
            g, base = arrays[0], arrays[1]
        else:
            g = np.concatenate([st.padded for st in states]) if states else \
                np.zeros(0, np.int64)
            base = np.concatenate([st.base for st in states]) if states else np.zeros(0)
        chunk = states if isinstance(states, PreparedChunk) else None
        lens = chunk.lens + 3 if chunk is not None and chunk.lens is not None else \
            np.array([st.padded_len for st in states], dtype=np.int64)
        starts = np.concatenate(([0], np.cumsum(lens)[:-1])) if states else lens
        ends = starts + lens  # exclusive; the EOS is at ends - 1
        sent_of = np.repeat(np.arange(len(states)), lens)
        tok_of = np.arange(len(g)) - np.repeat(starts, lens) - 2
        end_of = np.repeat(ends, lens)
        is_tok = (tok_of >= 0) & (np.arange(len(g)) < end_of - 1)
        if chunk is not None and chunk.shape is not None:
            shape = chunk.shape  # (zero at the padding)
        else:
            # Every token's shape in one pass (the states keep a list per sentence).
            shapes = np.fromiter(chain.from_iterable(st.shapes for st in states),
                                 dtype=np.int64)
            if len(shapes) != int(is_tok.sum()):
                raise ValueError("a sentence's shapes do not match its tokens")
            shape = np.zeros(len(g), dtype=np.int64)
            shape[is_tok] = shapes
        learned_pos = np.zeros(len(g), dtype=bool)
        learned = self.source._learned
        if learned:
            for st, s0 in zip(states, starts.tolist(), strict=True):
                for i, w in enumerate(st.norms):
                    if w in learned:
                        learned_pos[s0 + 2 + i] = True
        suspicious = self._suspicious(base, end_of, suspicion)
        eligible = is_tok & ~learned_pos & suspicious
        if known is not None and len(known.tok):
            kpos = starts[known.sent] + 2 + known.tok
            eligible[kpos] = False
        own = None
        if arrays is not None and arrays[2] is not None:
            # The pair after each sentence's EOS crosses into the next: never used (cut).
            own = tuple(a[:len(g) - 1].copy() for a in arrays[2])
            own[0][ends[:-1] - 1] = False
            own[1][ends[:-1] - 1] = 0
        elif states and all(st.pairs is not None for st in states):
            cut = (np.zeros(1, dtype=bool), np.zeros(1, dtype=np.int32))
            own = tuple(np.concatenate([part for st in states for part in (st.pairs[k], cut[k])])
                        [:-1] for k in (0, 1))
        J, E, orig, CH, S1 = self._word_entries(g, base, end_of, shape, eligible,
                                                own_pairs=own)
        if known is not None and len(known.tok):
            J = np.concatenate((kpos, J))
            E = np.concatenate((known.entry, E))
            orig = np.concatenate((known.orig, orig))
            CH = np.concatenate((known.channel, CH))
            S1 = np.concatenate((known.score, S1))

        # Phrase candidates (and learned pairs, and words the LM does not know): gathered
        # in Python, scored through explicit token windows in one vectorised pass.
        if chunk is not None and chunk.words is not None:
            flat = _PaddedWords(chunk.words, chunk.word_at)
        else:
            flat = []
            for st in states:
                flat += [None, None]
                flat += st.norms
                flat.append(None)
        look = (is_tok if learned else is_tok & suspicious) & (shape != 2)
        pj, pe = self._phrase_candidates(flat, g, np.flatnonzero(look), end_of)
        n1 = len(J)
        S2, pch, keep2 = self._phrase_scores(g, base, end_of, shape, pj, pe, own_pairs=own)
        pj, pe = pj[keep2], pe[keep2]
        n2 = len(pj)
        if context:
            # Single-word candidates, and phrase-path entries that replace one word by one
            # word (learned pairs, number and hand-table words): one pass of the model.
            specs = self._phrases.specs
            sel = np.array([k for k, e in enumerate(pe.tolist())
                            if specs[e][0] == 1 and len(specs[e][1]) == 1], dtype=np.int64)
            o = self.lm.ids([specs[int(pe[k])][1][0] for k in sel.tolist()])
            slots: list = []
            bonus = self._context_bonus(np.concatenate((J, pj[sel])), g,
                                        np.concatenate((orig, o)),
                                        np.concatenate((S1, S2[sel])), document, slots)
            if bonus is not None:
                CH = CH + bonus[:n1]
                S1 = S1 + bonus[:n1]
                S2 = S2.copy()
                pch = pch.copy()
                S2[sel] += bonus[n1:]
                pch[sel] += bonus[n1:]
            if two_step and slots and int(self.params.two_step_top) > 0:
                # Where the word itself is unlikely: candidates of its candidates, ranked
                # in the slots the context model has just read. Capitalised words too (a
                # spinner swaps the words of names; the name penalty still applies), not
                # acronyms.
                two = is_tok & ~learned_pos & (shape <= 1) & (base < self.params.two_step_suspicion)
                tj, te, td = self._two_step_candidates(g, two, slots)
                if len(tj):
                    S3, ch3, keep3 = self._phrase_scores(g, base, end_of, shape, tj, te)
                    tj, te, td = tj[keep3], te[keep3], td[keep3]
                    b3 = self._context_bonus(tj, g, self.lm.ids([specs[e][1][0] for e in
                                                                 te.tolist()]),
                                             S3, document, known_delta=td)
                    if b3 is not None:
                        S3, ch3 = S3 + b3, ch3 + b3
                    pj, pe = np.concatenate((pj, tj)), np.concatenate((pe, te))
                    S2, pch = np.concatenate((S2, S3)), np.concatenate((pch, ch3))
                    n2 = len(pj)
        pos = np.concatenate((J, pj)) + g_offset
        score = np.concatenate((S1, S2))
        zpos, zlse = _logsumexp_by(pos, score)
        return Local(
            pos=pos,
            score=score,
            channel=np.concatenate((CH, pch)),
            orig=np.concatenate((orig, np.full(n2, -1, dtype=np.int64))),
            entry=np.concatenate((E, np.full(n2, -1, dtype=np.int64))),
            pref=np.concatenate((np.full(n1, -1, dtype=np.int64), np.arange(n2))),
            phrase_start=tok_of[pj],
            phrase_entry=pe,
            phrase_specs=self._phrases.specs,
            sent_of=sent_of + sent_offset,
            tok_of=tok_of,
            zpos=zpos,
            zlse=zlse,
        )

    def candidate(self, loc: Local, n: int) -> Candidate:
        """The Candidate behind local entry ``n``."""
        r = int(loc.pref[n])
        if r >= 0:
            spec = loc.phrase_specs[int(loc.phrase_entry[r])]
            return Candidate(int(loc.phrase_start[r]), *spec)
        t = self._table
        e = int(loc.entry[n])
        return Candidate(int(loc.tok_of[loc.pos[n]]), 1, (self.lm.words[int(loc.orig[n])],),
                         int(t.flags[e]), round(float(t.cosine[e]), 4), int(t.fanout[e]), 0)

    def posteriors(self, loc: Local):
        """Per position: P(swapped), index of the best kept entry, and its posterior.

        Returns:
            ``(p_swapped, best, best_posterior, positions)``: ``p_swapped`` covers every
            position that had candidates (``loc.zpos``); the other three cover the
            positions that still have a kept entry.
        """
        p_swap = 1.0 / (1.0 + np.exp(-np.minimum(loc.zlse, 50.0)))
        if len(loc.pos) == 0:
            e = np.zeros(0, dtype=np.int64)
            return p_swap, e, np.zeros(0), e
        best, positions = _best_by(loc.pos, loc.score)
        zl = loc.zlse[np.searchsorted(loc.zpos, positions)]
        # exp(s) / (1 + exp(zlse)), computed stably.
        conf = np.exp(np.minimum(loc.score[best] - np.logaddexp(0.0, zl), 0.0))
        return p_swap, best, conf, positions

    def _options(self, loc: Local, states: list[SentenceState]):
        """Per (sentence, position): the best few candidates with local and channel scores.

        Candidates with the same effect ("greater than" -> "more than" and "greater" ->
        "more") are one option, the better scored: otherwise they would split the
        posterior of one restoration between them.
        """
        p = self.params
        by_pos: dict[tuple[int, int], list[tuple[float, Candidate, float]]] = {}
        good = np.flatnonzero(loc.score >= p.local_floor)
        if len(good) == 0:
            return by_pos
        order = good[np.lexsort((-loc.score[good], loc.pos[good]))]
        # Everything `candidate` reads, gathered for the entries in order (lists: one numpy
        # scalar per entry would cost more than the rest of the loop).
        pos = loc.pos[order]
        pref = loc.pref[order]
        single = pref < 0
        e = np.where(single, loc.entry[order], 0)
        table = self._table
        cols = zip(loc.sent_of[pos].tolist(), loc.tok_of[pos].tolist(),
                   pref.tolist(), loc.orig[order].tolist(), table.flags[e].tolist(),
                   table.cosine[e].tolist(), table.fanout[e].tolist(),
                   loc.score[order].tolist(), loc.channel[order].tolist(), strict=True)
        r_ok = np.maximum(pref, 0)
        phrase_start = loc.phrase_start[r_ok].tolist() if len(loc.phrase_start) else None
        phrase_entry = loc.phrase_entry[r_ok].tolist() if len(loc.phrase_entry) else None
        specs = loc.phrase_specs
        words = self.lm.words
        keep = p.keep_per_position
        seen: dict[tuple[int, int], set] = {}
        new = _new
        s0, s1, s2, s3, s4, s5, s6 = _SET
        for k, (si, ti, r, o, fl, co, fa, sc, ch) in enumerate(cols):
            key = (si, ti)
            opts = by_pos.get(key)
            if opts is None:
                opts = by_pos[key] = []
            elif len(opts) >= keep:
                continue
            cand = new(Candidate)
            if r >= 0:
                start = phrase_start[k]
                length, original, flags, cosine, fanout, count = specs[phrase_entry[k]]
            else:
                start, length, original = ti, 1, (words[o],)
                flags, cosine, fanout, count = fl, round(co, 4), fa, 0
            s0(cand, start)
            s1(cand, length)
            s2(cand, original)
            s3(cand, flags)
            s4(cand, cosine)
            s5(cand, fanout)
            s6(cand, count)
            obs = states[si].norms[start:start + length]
            orig = list(original)
            while obs and orig and obs[-1] == orig[-1]:
                obs = obs[:-1]
                orig.pop()
            effect = (len(obs), tuple(orig))
            done = seen.get(key)
            if done is None:
                done = seen[key] = set()
            if effect in done:
                continue
            done.add(effect)
            opts.append((sc, cand, ch))
        return by_pos

    def joint(self, states, by_pos, bonus: dict[tuple[tuple[str, ...], tuple[str, ...]], float],
              lm_cache: dict | None = None, clusters_seen: dict | None = None):
        """Decode clusters of nearby positions jointly; return decisions with posteriors.

        ``lm_cache`` keeps the language-model score of each combination between calls on
        the same sentences: the second pass (with the document bonus) changes the channel
        scores, not the words, so most of its combinations were scored by the first.
        ``clusters_seen`` maps each cluster (sentence, positions) to its decisions: filled
        by a pass without bonus, and read by the next pass, which keeps them for clusters
        where no option has a bonus (their scores are the same; most clusters).
        """
        if lm_cache is None:
            lm_cache = {}
        reuse = clusters_seen is not None and bool(bonus)
        record = clusters_seen is not None and not bonus
        p = self.params
        # Group positions into clusters per sentence: positions whose windows interact.
        clusters: list[tuple[int, list[int]]] = []
        per_sent: dict[int, list[int]] = {}
        longest: dict[tuple[int, int], int] = {}  # per position, its longest option
        for key, opts in by_pos.items():
            per_sent.setdefault(key[0], []).append(key[1])
            longest[key] = max([c.length for _, c, _ in opts])
        for si, positions in per_sent.items():
            positions.sort()
            cur = [positions[0]]
            reach = positions[0] + longest[(si, positions[0])] + 1
            for i in positions[1:]:
                if i <= reach:
                    cur.append(i)
                else:
                    clusters.append((si, cur))
                    cur = [i]
                reach = max(reach, i + longest[(si, i)] + 1)
            clusters.append((si, cur))

        combos_all: list[tuple[int, int, int, list[tuple[int, Candidate]], float]] = []
        seg_a: list[int] = []
        seg_b: list[int] = []
        seg_c: list[int] = []
        seg_len: list[int] = []
        lm_id = self.lm.id
        rows: dict[int, list[int]] = {}
        oids: dict[tuple[str, ...], list[int]] = {}
        decisions: list[Decision] = []
        # Per cluster of several positions, in order: its number, and its decisions when
        # they are kept from the previous pass (else None: decoded below).
        multi: list[tuple[int, list[Decision] | None]] = []
        for ci, (si, positions) in enumerate(clusters):
            st = states[si]
            ckey = (si, tuple(positions))
            if reuse and ckey in clusters_seen and not any(
                    (tuple(st.norms[i:i + c.length]), c.original) in bonus
                    for i in positions for _, c, _ in by_pos[(si, i)]):
                if len(positions) == 1:
                    decisions.extend(clusters_seen[ckey])
                else:
                    multi.append((ci, clusters_seen[ckey]))
                continue
            if len(positions) == 1:
                # A lone position: its joint window is the local one, so the local scores
                # (plus any document bonus) already give the posterior.
                i = positions[0]
                opts = [(sc + bonus.get((tuple(st.norms[i:i + c.length]), c.original), 0.0), c)
                        for sc, c, _ in by_pos[(si, i)]] if bonus else \
                    [(sc, c) for sc, c, _ in by_pos[(si, i)]]
                top = max(sc for sc, _ in opts)
                acc = 0.0  # summed in order (not sum(): its rounding differs across versions)
                for sc, _ in opts:
                    acc += math.exp(sc - top)
                z = math.exp(-top) + acc
                made = []
                if top > 0.0:
                    sc, cand = max(opts, key=lambda t: t[0])
                    made.append(Decision(si, i, i + cand.length, cand.original, 1.0 / z,
                                         cand.flags))
                decisions.extend(made)
                if record:
                    clusters_seen[ckey] = made
                continue
            multi.append((ci, None))
            row = rows.get(si)
            if row is None:
                row = rows[si] = st.padded.tolist()  # list slicing beats numpy scalars here
            n = len(row)
            lo = positions[0]
            hi = max(i + max(c.length for _, c, _ in by_pos[(si, i)]) for i in positions)
            # Enumerate non-overlapping choices; when too many, keep the best by local score.
            # Each combination carries the ids of its candidates: the key of its LM score in
            # `lm_cache` (the candidate objects live as long as `by_pos`).
            combos: list[tuple[list[tuple[int, Candidate]], float, float, tuple]] = [
                ([], 0.0, 0.0, ())]
            for i in positions:
                opts = by_pos[(si, i)]
                if bonus:
                    opts = [(s + b, cand, ch + b) for s, cand, ch in opts
                            for b in (bonus.get((tuple(st.norms[i:i + cand.length]),
                                                 cand.original), 0.0),)]
                new_combos = []
                for chosen, chscore, lscore, ckey in combos:
                    new_combos.append((chosen, chscore, lscore, ckey))
                    if chosen and chosen[-1][0] + chosen[-1][1].length > i:
                        continue
                    for s, cand, ch in opts:
                        new_combos.append((chosen + [(i, cand)], chscore + ch, lscore + s,
                                           ckey + (id(cand),)))
                combos = new_combos
                if len(combos) > p.max_combinations:
                    combos.sort(key=lambda t: -t[2])
                    del combos[p.max_combinations:]
            end = min(hi + 2 + 2, n)
            for chosen, chscore, _, ckey in combos:
                key = (si, lo, end, ckey)
                cached = lm_cache.get(key)
                combos_all.append((ci, si, lo, chosen, chscore, key, cached))
                if cached is not None:
                    continue
                seq = row[lo:lo + 2]
                pos = lo
                for i, cand in chosen:
                    seq += row[pos + 2:i + 2]
                    ids = oids.get(cand.original)
                    if ids is None:
                        ids = oids[cand.original] = [lm_id(w) for w in cand.original]
                    seq += ids
                    pos = i + cand.length
                seq += row[pos + 2:end]
                seg_a += seq[:-2]
                seg_b += seq[1:-1]
                seg_c += seq[2:]
                seg_len.append(len(seq) - 2)
        if not combos_all:
            for _, kept in multi:  # every cluster of several kept from the previous pass
                decisions.extend(kept)
            return decisions
        if seg_len:
            lp = self._logprob(np.array(seg_a), np.array(seg_b), np.array(seg_c))
            starts = np.concatenate(([0], np.cumsum(seg_len)[:-1]))
            fresh = (np.add.reduceat(lp.astype(np.float64), starts) * LN10).tolist()
        else:
            fresh = []
        lm_scores = []
        k = 0
        for c in combos_all:
            if c[6] is None:
                lm_cache[c[5]] = fresh[k]
                lm_scores.append(fresh[k])
                k += 1
            else:
                lm_scores.append(c[6])
        total = np.array(lm_scores) * p.lm_weight + np.array([c[4] for c in combos_all])

        decoded: dict[int, list[Decision]] = {}
        k = 0
        while k < len(combos_all):
            ci = combos_all[k][0]
            made = decoded[ci] = []
            k2 = k
            while k2 < len(combos_all) and combos_all[k2][0] == ci:
                k2 += 1
            scores = total[k:k2]
            post = np.exp(scores - scores.max())
            post /= post.sum()
            best = int(np.argmax(scores)) + k
            si = combos_all[best][1]
            # Confidence: posterior mass of the combinations that make the same choice (one
            # candidate object per choice: `_options` keeps one per effect and position).
            mass: dict[int, float] = {}
            for j, pj in zip(range(k, k2), post.tolist(), strict=True):
                for cid in combos_all[j][5][3]:
                    mass[cid] = mass.get(cid, 0.0) + pj
            for i, cand in combos_all[best][3]:
                conf = mass[id(cand)]
                made.append(Decision(si, i, i + cand.length, cand.original, conf, cand.flags))
            if record:
                clusters_seen[(si, tuple(clusters[ci][1]))] = made
            k = k2
        for ci, kept in multi:
            decisions.extend(kept if kept is not None else decoded[ci])
        return decisions

    # ------------------------------------------------------------------ public

    def decode(self, sentences: list[list[str]], *, fast: bool = False,
               shapes: list[list[int]] | None = None, prior=None,
               min_confidence: float = 0.0, suspicion: float | None = None,
               known: ScoredWords | None = None, ids: np.ndarray | None = None,
               two_step: bool = False, padded: tuple | None = None,
               as_arrays: bool = False, token_shapes: np.ndarray | None = None,
               token_words: list[str] | None = None):
        """Decode normalised sentences.

        Args:
            sentences: Normalised tokens, one list per sentence.
            fast: Stop after the local step (used by `check`).
            min_confidence: With ``fast``, skip decisions below this confidence.
            suspicion: See `local` (default `DecodeParams.suspicion`).
            shapes: Token shapes, see `prepare`.
            known: Single-word candidates `evidence` already scored on these sentences
                (``sent`` numbering ``sentences``): reused, not scored again. Only valid for
                candidates scored as `local` would (the same table, candidate limit and
                context), and at positions that `local` looks at.
            ids: The LM ids of all the sentences' tokens, in order, if the caller has them.
            padded: The sentences' padded ids, scores and pair lookups, if the caller has
                them (`padded_range`; see `prepare`).
            as_arrays: With ``fast`` and an array ``prior``, the decisions as one
                `DecisionArrays` instead of a list (the same decisions, in the same order).
            token_shapes: The shapes of all the sentences' tokens laid end to end, in
                place of ``shapes`` (see `prepare`).
            token_words: All the sentences' tokens laid end to end (see `prepare`).
            two_step: Also look for originals two steps away in the word table (see
                `_two_step_candidates`; not with ``fast``).
            prior: Optional callable ``(local, states) -> float`` (or an array of one rate
                per sentence, when several documents are decoded together), or such an
                array itself (then, with ``fast``, chunks are decided one by one and the
                returned local scores are None): the spin rate
                judged from the local evidence (the detector). All candidates' prior
                log-odds are moved from ``params.spin_rate`` to that rate, so a document
                that looks clean is left alone and one that looks spun is restored more
                boldly: a spinner rewrites a whole document, not single words.

        Returns:
            (decisions, local, states): proposed restorations with confidences (all of
            them, including low-confidence ones), the local scores and sentence states.
        """
        p = self.params
        if len(self._phrases.specs) > PhraseEntries.LIMIT:  # bounded however much is decoded
            self._reset_phrases()
        # Chunks bound memory on huge documents: only the sentence states and the entries
        # that can still matter (`compact`) are kept from each chunk. With ``fast`` and one
        # rate per sentence given as an array, each chunk is decided on its own and its
        # entries are dropped (the same decisions: a position never spans two chunks).
        per_chunk = fast and isinstance(prior, np.ndarray)
        if per_chunk:
            r = np.clip(np.asarray(prior, dtype=np.float64), 1e-6, 0.999)
            chunk_shift = np.log(r / (1 - r)) - self._priors()
            decided: list[Decision] = []
            decided_arrays: list[DecisionArrays] = []
        states: list[SentenceState] = []
        parts: list[Local] = []
        document = None if fast else self._document(sentences, ids)
        keep_floor = p.local_floor - 4.0
        g_offset = 0
        t0 = 0  # tokens of the sentences before the chunk
        # Padded lengths laid end to end: a chunk takes sentences until it holds
        # CHUNK_TOKENS (at least one sentence).
        reach = np.cumsum(np.fromiter(map(len, sentences), dtype=np.int64,
                                      count=len(sentences)) + 3)
        k = 0
        while k < len(sentences):
            before = int(reach[k - 1]) if k else 0
            k2 = min(int(np.searchsorted(reach, before + CHUNK_TOKENS)) + 1, len(sentences))
            n_tok = int(reach[k2 - 1]) - before
            part_padded = None
            if padded is not None:  # the chunk's part: its sentences' tokens and padding
                part_padded = tuple(a[g_offset:g_offset + n_tok] for a in padded)
            words_n = n_tok - 3 * (k2 - k)
            chunk = self.prepare(sentences[k:k2], shapes[k:k2] if shapes is not None else None,
                                 ids=None if ids is None else ids[t0:t0 + words_n],
                                 padded=part_padded,
                                 token_shapes=None if token_shapes is None
                                 else token_shapes[t0:t0 + words_n],
                                 token_words=None if token_words is None
                                 else token_words[t0:t0 + words_n])
            t0 += words_n
            part_known = None
            if known is not None:
                lo, hi = np.searchsorted(known.sent, [k, k2])
                part_known = known.take(slice(lo, hi))
                part_known.sent = part_known.sent - k
            part = self.local(chunk, g_offset=0 if per_chunk else g_offset, sent_offset=k,
                              suspicion=suspicion, known=part_known,
                              context=not fast, document=document,
                              two_step=two_step and not fast).compact(keep_floor)
            if per_chunk:
                if len(part.zlse):
                    part.shift_sentences(chunk_shift)
                    self._term_priors(part, r)
                if as_arrays:
                    decided_arrays.append(self._local_decision_arrays(part, min_confidence))
                else:
                    decided.extend(self._local_decisions(part, min_confidence))
            else:
                parts.append(part)
            g_offset += n_tok  # (each sentence's padded length: its tokens and three)
            states.extend(chunk)
            k = k2
        if per_chunk:
            if as_arrays:
                return DecisionArrays.concat(decided_arrays, self._phrases.specs,
                                             self.lm.words), None, states
            return decided, None, states
        loc = Local.merge(parts) if parts else self.local([])
        if prior is not None and len(loc.zlse):
            rate = prior(loc, states)
            if np.ndim(rate):  # one rate per sentence (several documents decoded at once)
                r = np.clip(np.asarray(rate, dtype=np.float64), 1e-6, 0.999)
                loc.shift_sentences(np.log(r / (1 - r)) - self._priors())
            else:
                rate = r = min(max(float(rate), 1e-6), 0.999)
                loc.shift(math.log(rate / (1 - rate)) - self._priors())
            self._term_priors(loc, r)
        if fast:
            return self._local_decisions(loc, min_confidence), loc, states
        compiled = getattr(self.lm, "compiled", None)
        model = compiled() if compiled is not None else None
        if model is not None:
            return _CompiledJoint(self, model, loc, states).decisions(), loc, states
        by_pos = self._options(loc, states)
        lm_cache: dict = {}
        seen: dict = {}
        decisions = self.joint(states, by_pos, {}, lm_cache, seen)
        if self.params.doc_bonus > 0 and decisions:
            counts = Counter(
                (tuple(states[d.sentence].norms[d.start:d.end]), d.original)
                for d in decisions if d.confidence >= self.params.min_confidence
            )
            if counts:
                bonus = {key: self.params.doc_bonus * math.log1p(n) for key, n in counts.items()}
                decisions = self.joint(states, by_pos, bonus, lm_cache, seen)
        return decisions, loc, states

    def _local_decisions(self, loc: Local, floor: float = 0.0) -> list[Decision]:
        """Best candidate per position at least ``floor`` confident; overlaps resolved by
        confidence."""
        return self._local_decision_arrays(loc, floor).decisions()

    def _local_decision_arrays(self, loc: Local, floor: float = 0.0) -> DecisionArrays:
        """`_local_decisions` as arrays, in the same order."""
        _, best, conf, positions = self.posteriors(loc)
        keep = conf >= floor
        best, conf, positions = best[keep], conf[keep], positions[keep]
        # What `candidate` gives, without building Candidates: a phrase entry's spec is
        # (length, original, flags, ...); a single-word entry replaces its own token.
        pref = loc.pref[best]
        single = pref < 0
        tok = loc.tok_of[positions]
        orig = loc.orig[best]
        flags = np.zeros(len(best), dtype=np.int64)  # single words: from the table
        number = np.zeros(len(best), dtype=np.int64)  # phrases: the spec's number
        specs = loc.phrase_specs
        end = tok + 1
        if single.any():
            flags[single] = self._table.flags[loc.entry[best[single]]]
        if not single.all():
            r = pref[~single]
            tok[~single] = loc.phrase_start[r]
            number[~single] = loc.phrase_entry[r]
            nums = number[~single].tolist()
            end[~single] = tok[~single] + np.fromiter(
                (specs[e][0] for e in nums), dtype=np.int64, count=len(nums))
            flags[~single] = np.fromiter((specs[e][2] for e in nums), dtype=np.int64,
                                         count=len(nums))
        sent = loc.sent_of[positions]
        order = _greedy_kept(sent, tok, end, conf)
        return DecisionArrays(sent[order], tok[order], end[order], conf[order],
                              flags[order], ~single[order], orig[order], number[order],
                              specs, self.lm.words)
