"""The two entry points, `check` and `restore`: text -> clean -> tokens -> decode -> report."""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from dataclasses import dataclass
from functools import lru_cache
from itertools import chain
from pathlib import Path

import numpy as np

from .candidates import FLAG_TERM, LearnedTable
from .clean import Cleaned, clean, is_english, looks_binary
from .decode import (
    EVIDENCE_CANDIDATES,
    EVIDENCE_SUSPICION,
    NAME_SMALL_WORDS,
    Decision,
    DecisionArrays,
    ScoredWords,
    padded_range,
)
from .detect import ConfidenceMap, Detector, document_familiarity, features_many
from .models import data_path, get_models
from .report import Edit, Report, Restoration, Span
from .tokens import (
    CODE_WORD,
    segment_ids,
    shape_codes,
    token_pass,
    token_starts,
)

# `check` looks for spans, and `restore` makes spin edits, only in documents scoring at
# least this: below it the document is judged clean, and spans or edits there would be false
# alarms. Most of a crawl is clean, so this keeps `check` at the cost of the fast evidence
# (see `Decoder.evidence`). On the calibration split 93 % of clean articles score below it
# and no article spun at 10 % or more does (0.2 before the short-text recalibration let 10 %
# of clean articles through). For `restore` it halved the false edits on clean calibration
# articles (0.31 to 0.16 per 100 words) and cost 0.5 points of the swaps restored on the
# unseen spinner at 10 % (7.9 % to 7.4 %; nothing at 20 %, nor on the seen spinner).
# 0.25 until the detector was also calibrated on a second spinner (MyThes' looser terms,
# session 16), which raised clean documents' scores: 0.4 searches about as many clean test
# articles as 0.25 did before (9.5 % against 8.5 %; 18.5 % at 0.25).
SPAN_GATE = 0.4

# Below this many words a text gives the detector little evidence either way, so its score
# stays near the calibration data's base rate (half spun): "Hello world." scores about 0.6,
# a clean 30-word paragraph about 0.2. The verdict holds (the threshold is 0.94); the CLI's
# summary and the web page say so rather than let such a score read as suspicion.
SHORT_TEXT_WORDS = 12

# A spun text whose familiarity (`document_familiarity`) is below this was most likely spun
# with a table the shipped sources do not hold: between the medians of the benchmark's
# seen spinner (0.25-0.40) and of those it holds loosely or not at all (0.15-0.23). The
# CLI's summary says so: its spans are then right about half the time, and a table learned
# from aligned pairs (`unspin learn`) is what restores such a spinner's swaps.
UNFAMILIAR_BELOW = 0.22

# `restore` looks two steps into the word table (`two_step`) by itself in a document judged
# spun whose familiarity is below `UNFAMILIAR_BELOW`: where the shipped tables explain the
# text poorly, the originals their entries miss are what is left to find. On the benchmark
# (session 16) the unseen spinner's words restored rose 13.6 / 14.6 / 13.8 % -> 14.2 / 15.8 /
# 14.4 % at 10 / 20 / 35 % with the same false edits (0.61 / 0.62 / 0.43 per 100 words),
# the seen spinner's and clean text's unchanged; restoring such documents takes about a
# seventh longer, others no longer. Without the spun verdict it also ran on clean documents
# that pass the span gate (their familiarity is low): a quarter slower there for nothing.
TWO_STEP_WHEN_UNFAMILIAR = True

# `check` scores span candidates only where the word or one of the next two has log10
# probability below this (restore: -2.0). On 60 calibration documents spun at 20 % it
# found 0.5 % fewer swaps than at -2.0, in about three quarters of the time.
CHECK_SUSPICION = -3.0

# Known tortured phrases (the term table, `unspin/data/terms.tsv`): a document where one
# occurs is searched for spans (and restored) whatever its detection score, since the
# detector reads single words and cannot see them. Each one that the local decisions
# restore with at least the default edit confidence (`DecodeParams.min_confidence`: a span
# `check` shows) leaves the document a chance of TERM_MISS of not being spun:
# ``score = 1 - (1 - P(spun)) * TERM_MISS ** found``. Set by hand, not
# fitted (the benchmark spinners write no such terms): the table's observed phrases occur
# once in 10,255 held-out Wikipedia and Wikinews documents, and one in context is a strong
# sign; see `bench/tortured.py` for what it restores and what it changes in ordinary text.
TERM_MISS = 0.02

TableArg = str | Path | LearnedTable | None


@lru_cache(maxsize=1)
def detector() -> Detector:
    """The shipped detector (calibrated weights), or defaults if none shipped."""
    path = data_path("detector.json")
    return Detector.from_json(path) if path.is_file() else Detector()


@lru_cache(maxsize=1)
def edit_confidence_map() -> ConfidenceMap:
    """The shipped map from the decoder's confidence to `restore`'s (the share of such
    edits that are right; `ConfidenceMap`), or the identity if none shipped."""
    path = data_path("edit_confidence.json")
    return ConfidenceMap.from_json(path) if path.is_file() else ConfidenceMap.identity()


@lru_cache(maxsize=1)
def span_confidence_map() -> ConfidenceMap:
    """The shipped adjustment of `check`'s span confidences (the decoder's local
    posteriors, already close to the share right where the tables know the spinner's) by
    the document's familiarity (`ConfidenceMap` with the identity map), or the identity."""
    path = data_path("span_confidence.json")
    return ConfidenceMap.from_json(path) if path.is_file() else ConfidenceMap.identity()


def utf16_codec(data: bytes) -> str | None:
    """``"utf-16"`` or ``"utf-16-le"`` when bytes look like UTF-16 text, else None.

    UTF-16 (a BOM, or NULs in every other byte as English UTF-16 has) read as UTF-8 would
    become one character in two a NUL: it must be decoded as what it is.
    """
    if data[:2] in (b"\xff\xfe", b"\xfe\xff"):
        return "utf-16"
    sample = data[:4096]
    if len(sample) >= 16 and sample[1::2].count(0) > 0.4 * len(sample[1::2]) \
            and sample[0::2].count(0) < 0.1 * len(sample[0::2]):
        return "utf-16-le"
    return None


def _as_text(text) -> str:
    if isinstance(text, bytes | bytearray):
        data = bytes(text)
        codec = utf16_codec(data)
        return data.decode(codec or "utf-8", errors="replace")
    if not isinstance(text, str):
        raise TypeError(f"text must be str, not {type(text).__name__}")
    return text


def _match_case(observed: list[str], original: tuple[str, ...]) -> str:
    """Carry the observed capitalisation (of the observed words' texts) over to the
    original words."""
    if len(original) == 1 and len(observed) == 1:  # most spans: one word for one word
        t, w = observed[0], original[0]
        if t.isupper() and len(t) > 1:
            return w.upper()
        return w[:1].upper() + w[1:] if t[:1].isupper() else w
    words = list(original)
    texts = observed
    if texts and all(t.isupper() and len(t) > 1 for t in texts):
        words = [w.upper() for w in words]
    elif texts and texts[0][:1].isupper():
        if len(texts) > 1 and all(t[:1].isupper() for t in texts):
            # A name spun word by word: title case, small words lower-case inside it
            # ("Secretary of Commerce", not "Secretary Of Commerce").
            words = [w if k and w in NAME_SMALL_WORDS else w[:1].upper() + w[1:]
                     for k, w in enumerate(words)]
        else:
            words[0] = words[0][:1].upper() + words[0][1:]
    out = ""
    for w in words:
        if out and not (w.startswith("'") or w in {",", ".", ";", ":", ")"}):
            out += " "
        out += w
    return out


_AN_EXCEPTIONS = ("uni", "use", "usu", "uti", "eu", "one", "once", "ewe")
_AN_SILENT_H = ("hour", "honest", "honour", "honor", "heir")


_ARTICLES = ("a", "an")  # the words `_placed` fixes for the original after them


def _article_for(word: str) -> str:
    """'a' or 'an' before a word, by its first sound (spelling heuristics)."""
    w = word.lower()
    if w.startswith(_AN_SILENT_H):
        return "an"
    if w[:1] in "aeiou" and not w.startswith(_AN_EXCEPTIONS):
        return "an"
    if w[:1].isdigit():
        return "an" if w.startswith(("8", "11", "18")) else "a"
    return "a"


class _Analysis:
    """Shared work of check and restore on one text.

    Construction only cleans the text and decides its language; `_analyse` then scores a
    batch of analyses together (one vectorised pass over all their tokens: numpy's
    per-call cost is paid once per batch, not once per document) and finds spans or
    restorations where the mode asks for them.

    Args:
        text: The input.
    """

    def __init__(self, text: str):
        self.input = _as_text(text)
        if looks_binary(self.input):  # not cleaned: slow, and nothing to restore
            self.cleaned: Cleaned = Cleaned(self.input, [])
            ok, self.language = False, "binary"
        else:
            self.cleaned = clean(self.input)
            ok, self.language = is_english(self.cleaned.text)
        if len(self.cleaned.text) < 0.9 * len(self.input) and self.input.strip():
            # Cleaning removed much (control characters, junk): if the input itself was
            # binary, say so rather than judging what little is left.
            if is_english(self.input)[1] == "binary":
                ok, self.language = False, "binary"
        self.supported = ok
        self.decisions: list[Decision] = []
        # `check`'s decisions as arrays (`_decode_all`; ``decisions`` stays empty then).
        self.found: DecisionArrays | None = None
        # Per decision of ``found``, what `located_found` reads, as lists (`_locate_found`).
        self._rows: tuple | None = None
        # Each decision's confidence before the document's familiarity adjustment (what
        # the default thresholds are read on): `restore`'s on the map's scale, `check`'s
        # the local posterior.
        self.gates: list[float] | None = None
        self.features: dict[str, float] = {}
        self.p_spun = 0.0
        self.words = 0
        # The token strings: filled in by `_score_all` (with the batch's other token facts).
        self.token_texts: list[str] = []
        # Filled in by `_score_all`: normalised tokens, segment numbers, shapes, codes.
        self.norms: list[str] = []
        self.seg = np.zeros(0, dtype=np.int64)
        self.shape = np.zeros(0, dtype=np.int64)
        self.codes = np.zeros(0, dtype=np.int64)
        self._starts: list[int] | None = None
        self._token_offsets: np.ndarray | None = None  # the tokens' offsets (`_score_all`)
        self._seg_starts: list[int] | None = None  # `segment_starts`, once `seg` is set
        self._is_word: list[bool] = []
        self._scored: ScoredWords | None = None  # see `scored`
        self.terms = 0  # occurrences of the term table's observed phrases (`_score_all`)
        # `document_familiarity` of the features (`_score_all`; None with a learned table,
        # whose pairs the evidence does not see).
        self.familiarity: float | None = None
        self.terms_found = 0  # of those, restored by the local decisions (`_count_terms`)
        self.ids: np.ndarray | None = None  # LM ids of the tokens, from `_score_all`
        # The evidence's padded ids, scores and pair lookups (`padded_range`), kept by
        # `_score_all` for the documents it leaves to `_decode_all`.
        self._padded: tuple | None = None
        # The batch's `_BatchEvidence` and this document's number in it (`_score_all`), which
        # ``padded`` and ``scored`` are taken from.
        self._evidence: tuple | None = None

    @property
    def padded(self) -> tuple | None:
        """The evidence's padded ids, scores and pair lookups of the document
        (`padded_range`), for the documents `_score_all` leaves to `_decode_all`."""
        if self._padded is None and self._evidence is not None:
            ev, k = self._evidence
            self._padded = padded_range(ev.chunks, ev.bounds[k], ev.bounds[k + 1])
        return self._padded

    @property
    def scored(self) -> ScoredWords | None:
        """The single-word candidates the evidence scored in the document, by its own
        segments and tokens (with ``keep_words`` in `_score_all`)."""
        if self._scored is None and self._evidence is not None:
            ev, k = self._evidence
            if ev.words is not None:
                self._scored = ev.known([k])
        return self._scored

    def score(self) -> float:
        if not self.supported:
            return 0.0
        if self.terms_found:
            return 1.0 - (1.0 - self.p_spun) * TERM_MISS ** self.terms_found
        return self.p_spun

    def segment_starts(self) -> list[int]:
        """Index of the first token of each segment (the decoder's sentences)."""
        if self._seg_starts is None:
            seg = self.seg
            self._seg_starts = np.flatnonzero(
                np.concatenate(([True], seg[1:] != seg[:-1]))).tolist() if len(seg) else []
        return self._seg_starts

    def sentences(self) -> tuple[list[list[str]], list[list[int]]]:
        """Normalised tokens and shapes per segment, as the decoder takes them."""
        starts = self.segment_starts()
        bounds = list(zip(starts, [*starts[1:], len(self.norms)], strict=True))
        shape = self.shape.tolist()
        return [self.norms[a:b] for a, b in bounds], [shape[a:b] for a, b in bounds]

    def sentence_words(self) -> list[list[str]]:
        """`sentences`' tokens alone (their shapes are ``shape``, laid end to end)."""
        starts = self.segment_starts()
        norms = self.norms
        return [norms[a:b] for a, b in zip(starts, [*starts[1:], len(norms)], strict=True)]

    def _offsets(self) -> list[int]:
        """Start offset of every token in the cleaned text.

        Found only when a decision needs them (one pass over the text, on first use):
        clean documents, most of a crawl, never pay for them.
        """
        if self._starts is None:
            self._starts = self._offset_array().tolist()
            self._is_word = (self.codes & CODE_WORD).astype(bool).tolist()
        return self._starts

    def _offset_array(self) -> np.ndarray:
        """`_offsets` as an array."""
        given = self._token_offsets
        if given is None or len(given) != len(self.token_texts):
            given = self._token_offsets = token_starts(self.cleaned.text, self.token_texts)
        return given

    def located(self, min_confidence: float, *, by_gate: bool = False,
                shown: bool = False) -> list[tuple[Decision, int, int, str, str]]:
        """Decisions at or above a confidence, with input offsets, the replacement and the
        input's text there: ``(decision, start, end, replacement, text)`` each;
        ``by_gate``: at or above it before the document's adjustment (``gates``);
        ``shown``: compare the confidence as reported (4 decimals), so that a threshold
        copied from an edit keeps that edit."""
        if by_gate and self.gates is not None:
            kept = [d for d, g in zip(self.decisions, self.gates, strict=True)
                    if g >= min_confidence]
        elif shown:
            kept = [d for d in self.decisions if round(d.confidence, 4) >= min_confidence]
        else:
            kept = [d for d in self.decisions if d.confidence >= min_confidence]
        if not kept:
            return []
        # Everything a decision needs, fetched once per document (a spun one has dozens).
        starts = self.segment_starts()
        texts = self.token_texts
        offsets = self._offsets()
        is_word = self._is_word
        to_input = self.cleaned.span_to_input if self.cleaned.edits else None
        out = []
        for d in kept:
            first = starts[d.sentence]
            lo, hi = first + d.start, first + d.end
            if hi <= lo:
                continue
            original = d.original
            if hi == lo + 1:  # most decisions: one token
                t = texts[lo]
                if len(original) == 1 and is_word[lo]:
                    # `_match_case` of one word for one word, inlined (its call was a
                    # tenth of the reports' time).
                    w = original[0]
                    replacement = w.upper() if len(t) > 1 and t.isupper() else \
                        w[:1].upper() + w[1:] if t[:1].isupper() else w
                else:
                    replacement = _match_case([t] if is_word[lo] else [], original)
            else:
                replacement = _match_case([texts[k] for k in range(lo, hi) if is_word[k]],
                                          original)
            placed = self._placed(lo, d.start == 0, original[0], replacement, offsets[lo],
                                  offsets[hi - 1] + len(texts[hi - 1]), offsets, to_input)
            if placed is not None:
                out.append((d, *placed))
        return out

    def _placed(self, lo: int, at_start: bool, first: str, replacement: str, begin: int,
                stop: int, offsets, to_input) -> tuple[int, int, str, str] | None:
        """A decision's span in the input: ``(start, end, replacement, text)``, or None
        when the replacement is the text there. Its tokens start at ``lo`` (``at_start``:
        its sentence's first) and run over cleaned offsets ``[begin, stop)``; ``first`` is
        the original's first word; ``offsets`` are the tokens' cleaned offsets and
        ``to_input`` maps cleaned offsets to the input's (None: the same)."""
        norms = self.norms
        if not at_start and norms[lo - 1] in _ARTICLES:
            fixed = _article_for(first)
            if norms[lo - 1] != fixed:
                # The spinner fixed "a"/"an" for its word; fix it back for the original.
                fixed = fixed.capitalize() if self.token_texts[lo - 1][0].isupper() else fixed
                begin = int(offsets[lo - 1])
                replacement = fixed + " " + replacement
        start, end = to_input(begin, stop) if to_input is not None else (begin, stop)
        observed = self.input[start:end]
        return None if replacement == observed else (start, end, replacement, observed)

    def located_found(self, min_confidence: float, *, by_gate: bool = False,
                      rounded: bool = False) -> list[tuple[float, int, int, str, str]]:
        """`located` of `check`'s decisions (``found``), each with its confidence in place
        of the decision: ``(confidence, start, end, replacement, text)``; ``rounded``: the
        confidence as reported (``round(c, 4)``)."""
        f = self.found
        if f is None or not len(f):
            return []
        if self._rows is None:
            _locate_found([self])
        (gates, confs, shown, los, his, begins, lasts, w_los, phrases, origs, numbers,
         at_starts, valid) = self._rows
        if not (by_gate and self.gates is not None):
            gates = confs
        specs, words = f.specs, f.words
        texts, offsets = self.token_texts, self._offset_array()
        to_input = self.cleaned.span_to_input if self.cleaned.edits else None
        norms, text = self.norms, self.input
        out = []
        for gate, conf, lo, hi, begin, last, w_lo, ph, o, e, at_start, ok in zip(
                gates, shown if rounded else confs, los, his, begins, lasts, w_los, phrases,
                origs, numbers, at_starts, valid, strict=True):
            if gate < min_confidence or not ok:
                continue
            if ph:
                original = specs[e][1]
                w = original[0] if len(original) == 1 else None
            else:  # most decisions: one word for one token
                original = None
                w = words[o]
            if hi == lo + 1 and w is not None and w_lo:
                # `_match_case` of one word for one word, inlined (see `located`).
                t = texts[lo]
                replacement = w.upper() if len(t) > 1 and t.isupper() else \
                    w[:1].upper() + w[1:] if t[:1].isupper() else w
            else:
                if original is None:
                    original = (w,)
                if hi == lo + 1:
                    replacement = _match_case([texts[lo]] if w_lo else [], original)
                else:
                    is_word = ((self.codes[lo:hi] & CODE_WORD) != 0).tolist()
                    replacement = _match_case(
                        [t for t, x in zip(texts[lo:hi], is_word, strict=True) if x],
                        original)
            stop = last + len(texts[hi - 1])
            if at_start or norms[lo - 1] not in _ARTICLES:
                # `_placed` without an article to fix (most spans), inlined: its call was a
                # tenth of this loop.
                start, end = to_input(begin, stop) if to_input is not None else (begin, stop)
                observed = text[start:end]
                if replacement != observed:
                    out.append((conf, start, end, replacement, observed))
                continue
            placed = self._placed(lo, at_start, w if w is not None else original[0],
                                  replacement, begin, stop, offsets, to_input)
            if placed is not None:
                out.append((conf, *placed))
        return out

    def report(self, threshold: float | None, min_confidence: float,
               located: list | None = None) -> Report:
        """The detection report; ``located`` is `located`'s output if the caller has it."""
        thr = detector().threshold if threshold is None else float(threshold)
        if not self.supported:
            return Report(score=0.0, spun=False, spans=[], threshold=thr,
                          language=self.language, supported=False, words=self.words)
        score = self.score()
        # Made through the slots' descriptors (a spun document has dozens of spans; the
        # generated __init__ cost twice as much; identical objects).
        new = object.__new__
        s0, s1, s2, s3, s4 = _SPAN_SET
        spans = []
        if self.found is not None and located is None:
            found = self.located_found(min_confidence, by_gate=True, rounded=True)
        else:
            found = [(round(d.confidence, 4), *rest) for d, *rest in
                     (self.located(min_confidence, by_gate=True) if located is None
                      else located)]
        for shown, start, end, repl, observed in found:
            span = new(Span)
            s0(span, start)
            s1(span, end)
            s2(span, observed)
            s3(span, repl)
            s4(span, shown)
            spans.append(span)
        return Report(score=round(score, 6), spun=score >= thr, spans=spans, threshold=thr,
                      language="en", supported=True, words=self.words,
                      terms=self.terms_found,
                      familiarity=None if self.familiarity is None
                      else round(self.familiarity, 4))


# Setters of `Span`'s slots, in field order (see `_Analysis.report`).
_SPAN_SET = tuple(getattr(Span, f).__set__
                  for f in ("start", "end", "text", "suggestion", "confidence"))


@dataclass(slots=True)
class _BatchEvidence:
    """What `Decoder.evidence` computed for a batch that the decoding reuses: its chunks'
    padded arrays, the scored single-word candidates (``words``, by the batch's segments
    and tokens; ``wcuts``: each document's first entry), each document's first token
    (``bounds``), the segment numbers and the LM ids of all tokens."""

    chunks: list
    words: ScoredWords | None
    wcuts: list[int] | None
    bounds: list[int]
    seg_all: np.ndarray
    ids: np.ndarray
    _seg_starts: np.ndarray | None = None

    def _runs(self, docs: list[int]) -> list[tuple[int, int]]:
        """The documents ``docs`` (ascending) as runs of consecutive ones: ``(first, last)``."""
        runs: list[tuple[int, int]] = []
        for k in docs:
            if runs and runs[-1][1] == k - 1:
                runs[-1] = (runs[-1][0], k)
            else:
                runs.append((k, k))
        return runs

    def known(self, docs: list[int]) -> ScoredWords:
        """The scored candidates of documents ``docs`` (ascending), numbered by the
        documents' segments laid end to end (what `Decoder.decode` takes as ``known`` for
        those documents' sentences) and tokens within them."""
        w, cuts, seg = self.words, self.wcuts, self.seg_all
        runs = self._runs(docs)
        if len(runs) == 1:  # (views, no copies)
            mine = w.take(slice(cuts[runs[0][0]], cuts[runs[0][1] + 1]))
        else:
            mine = w.take(np.concatenate([np.arange(cuts[a], cuts[b + 1]) for a, b in runs]))
        if not len(mine.sent):
            return mine
        # Each entry's document (its first segment's number), and the segments of the
        # documents before it among ``docs``.
        bounds = self.bounds
        first_seg = np.array([seg[bounds[k]] if bounds[k + 1] > bounds[k] else 0
                              for k in docs], dtype=np.int64)
        n_seg = np.array([seg[bounds[k + 1] - 1] - seg[bounds[k]] + 1
                          if bounds[k + 1] > bounds[k] else 0 for k in docs], dtype=np.int64)
        before = np.cumsum(n_seg) - n_seg
        doc = np.repeat(np.arange(len(docs)), [cuts[k + 1] - cuts[k] for k in docs])
        mine.tok = mine.tok - self._segment_starts()[mine.sent]  # within its segment
        mine.sent = mine.sent - first_seg[doc] + before[doc]
        return mine

    def _segment_starts(self) -> np.ndarray:
        """Each segment's first token (segment numbers run 0, 1, ... over the batch)."""
        if self._seg_starts is None:
            seg = self.seg_all
            self._seg_starts = np.flatnonzero(np.concatenate(([True], seg[1:] != seg[:-1])))
            if len(seg) and len(self._seg_starts) != seg[-1] + 1:
                raise ValueError("segment numbers must run 0, 1, ... over the batch")
        return self._seg_starts

    def padded(self, docs: list[int]) -> tuple | None:
        """`padded_range` of documents ``docs`` (ascending) laid end to end, as the
        documents' own one after the other (each ends with the dummy pair)."""
        bounds = self.bounds
        parts = []
        for a, b in self._runs(docs):
            part = padded_range(self.chunks, bounds[a], bounds[b + 1])
            if part is None:
                if bounds[b + 1] > bounds[a]:
                    return None  # no pair lookups
                continue
            parts.append(part)
        if not parts:
            return None
        out = parts[0] if len(parts) == 1 else \
            tuple(np.concatenate([p[i] for p in parts]) for i in range(4))
        if len(parts) < len(docs):
            # Each document's own ends with a dummy pair (past its last EOS): so here.
            seg = self.seg_all
            size = np.array([bounds[k + 1] - bounds[k] + 3 * (seg[bounds[k + 1] - 1] -
                                                                seg[bounds[k]] + 1)
                             if bounds[k + 1] > bounds[k] else 0 for k in docs],
                            dtype=np.int64)
            ends = np.cumsum(size)[size > 0] - 1
            hit, pos = out[2].copy(), out[3].copy()
            hit[ends] = False
            pos[ends] = 0
            out = (out[0], out[1], hit, pos)
        return out


def _score_all(analyses: list[_Analysis], decoder, keep_words: bool = False) -> None:
    """Fill in the detection features and score of every (supported) analysis, in one pass.

    The documents' tokens are concatenated (segment numbers offset so that no segment
    spans two documents) and `Decoder.evidence` runs once; its results are the same as
    per document, because the evidence never looks across a segment boundary.

    Args:
        analyses: The documents.
        decoder: The decoder.
        keep_words: Keep each document's scored single-word candidates (``scored``) for
            the span search to reuse (for the documents that will be searched: at or above
            `SPAN_GATE`, or holding a term).
    """
    docs = [a for a in analyses if a.supported]
    if not docs:
        return
    # Token facts for the whole batch at once (one pass over the texts; numpy's cost per
    # call is paid once, not per document); each document starts a segment of its own, as
    # when analysed alone.
    lookup = getattr(decoder.lm, "lookup_spec", None)
    per_doc, norms, codes, ids, starts = token_pass([a.cleaned.text for a in docs],
                                                    lookup() if lookup is not None else None)
    bounds = [0]
    for a, toks in zip(docs, per_doc, strict=True):
        a.token_texts = toks
        a._token_offsets = starts[bounds[-1]:bounds[-1] + len(toks)]
        bounds.append(bounds[-1] + len(toks))
    seg_all = segment_ids(norms, codes=codes,
                          doc_starts=np.asarray(bounds[:-1], dtype=np.int64))
    shape_all = shape_codes(norms, seg_all, codes=codes)
    # Words before each document's first token (read at the bounds only: a list of every
    # token's count cost more than the rest of this loop).
    words_before = np.concatenate(([0], np.cumsum((codes & CODE_WORD) != 0)))[bounds].tolist()
    for k, a in enumerate(docs):
        lo, hi = bounds[k], bounds[k + 1]
        a.words = words_before[k + 1] - words_before[k]
        a.norms, a.codes, a.shape = norms[lo:hi], codes[lo:hi], shape_all[lo:hi]
        a.seg = seg_all[lo:hi] - seg_all[lo] if hi > lo else seg_all[lo:hi]
        a._seg_starts = None
    if ids is None:
        ids = decoder.lm.ids(norms)
    # Tortured phrases of the term table: looked for in the whole batch at once.
    term_at = [i for i, ln in decoder.term_hits(norms, ids) if bisect_right(bounds, i)
               == bisect_right(bounds, i + ln - 1)]  # not across two documents
    found = decoder.evidence(norms, ids, seg_all, shape_all, positions=True,
                             entries=keep_words, padded=True)
    lp, post, post_at = found[:3]
    words = found[3] if keep_words else None
    chunks = found[-1]
    cuts = np.searchsorted(post_at, bounds).tolist()
    wcuts = np.searchsorted(words.tok, bounds).tolist() if words is not None else None
    evidence = _BatchEvidence(chunks, words, wcuts, bounds, seg_all, ids)
    det = detector()
    feats = features_many([a.words for a in docs], lp, bounds, post, cuts)
    learned = bool(decoder.source._learned)
    for k, a in enumerate(docs):
        lo, hi = bounds[k], bounds[k + 1]
        a.features = feats[k]
        a.p_spun = det.probability(a.features) if a.words else 0.0
        a.familiarity = None if learned else document_familiarity(a.features)
        a.ids = ids[lo:hi]
        a.terms = bisect_left(term_at, hi) - bisect_left(term_at, lo)
        if not (a.p_spun >= SPAN_GATE or a.terms):
            continue  # only documents that `_analyse` goes on to decode (most of a crawl is not)
        # Its LM scores and scored candidates, reused there: taken from the batch's when
        # first asked for (`_BatchEvidence`; `check` takes all documents' at once).
        a._evidence = (evidence, k)


def _unfamiliar_spun(a: _Analysis) -> bool:
    """Judged spun, and the shipped tables explain it poorly (`TWO_STEP_WHEN_UNFAMILIAR`)."""
    return (TWO_STEP_WHEN_UNFAMILIAR and a.familiarity is not None
            and a.familiarity < UNFAMILIAR_BELOW and a.p_spun >= detector().threshold)


def _decode_all(analyses: list[_Analysis], decoder, mode: str, min_confidence: float,
                two_step: bool = False) -> None:
    """Spans (mode ``"check"``: local decisions, all documents in one pass) or joint
    restorations (mode ``"restore"``: document by document, since the document's own
    substitutions are evidence) of the analyses that need them; ``two_step`` with
    ``"restore"``: also the originals two steps away in the word table."""
    params = decoder.params

    # The evidence scores the shipped tables only: with a learned table the decoder knows
    # swaps that the evidence's expected share of swapped words does not count.
    learned = bool(decoder.source._learned)

    def rate(a: _Analysis) -> float:
        return params.document_rate(a.p_spun,
                                    None if learned else a.features.get("spun_mass", 0.0))

    if mode == "restore":
        for a in analyses:
            r = rate(a)
            sents, shapes = a.sentences()
            a.decisions, _, _ = decoder.decode(
                sents, shapes=shapes, prior=lambda local, states, r=r: r,
                min_confidence=min_confidence, known=a.scored, ids=a.ids,
                two_step=two_step or _unfamiliar_spun(a),
                padded=a.padded)
        return
    sentences: list[list[str]] = []
    words: list[str] = []  # the sentences' tokens laid end to end (each document's norms)
    rates: list[float] = []
    first = []
    for a in analyses:
        first.append(len(sentences))
        sents = a.sentence_words()
        sentences.extend(sents)
        words.extend(a.norms)
        rates.extend([rate(a)] * len(sents))
    shapes = np.concatenate([a.shape for a in analyses]) if analyses else None
    rates_arr = np.asarray(rates, dtype=np.float64)
    known, ids, padded = _decode_inputs(analyses)
    found, _, _ = decoder.decode(
        sentences, fast=True, prior=rates_arr, min_confidence=min_confidence,
        suspicion=CHECK_SUSPICION, known=known, ids=ids, padded=padded, as_arrays=True,
        token_shapes=shapes, token_words=words)
    # In sentence order: each document's decisions are one run of them.
    cuts = np.searchsorted(found.sentence, first).tolist() + [len(found)]
    for k, a in enumerate(analyses):
        mine = found.take(slice(cuts[k], cuts[k + 1]))
        mine.sentence = mine.sentence - first[k]
        a.found = mine


def _decode_inputs(analyses: list[_Analysis]) -> tuple:
    """``(known, ids, padded)`` for decoding the analyses together (see `Decoder.decode`):
    taken from their batch's evidence at once when they share one (`_BatchEvidence`),
    else from each document's own; None where one of them lacks it."""
    ev = analyses[0]._evidence[0] if analyses and analyses[0]._evidence else None
    if ev is not None and len(analyses) > 1 and \
            all(a._evidence is not None and a._evidence[0] is ev for a in analyses):
        docs = [a._evidence[1] for a in analyses]
        if docs == sorted(docs):
            known = ev.known(docs) if ev.words is not None else None
            ids = np.concatenate([a.ids for a in analyses])
            return known, ids, ev.padded(docs)
    if len(analyses) == 1:  # one document (a large one, often): no copies
        a = analyses[0]
        return a.scored, a.ids, a.padded
    known = None
    if all(a.scored is not None for a in analyses):
        parts, n = [], 0
        for a in analyses:
            part = a.scored.take(slice(None))
            part.sent = part.sent + n
            parts.append(part)
            n += len(a.segment_starts())
        known = ScoredWords(*(np.concatenate([getattr(w, f) for w in parts])
                              for f in ScoredWords.__slots__))
    ids = np.concatenate([a.ids for a in analyses]) \
        if analyses and all(a.ids is not None for a in analyses) else None
    padded = None
    if analyses and all(a.padded is not None for a in analyses):
        padded = tuple(np.concatenate([a.padded[k] for a in analyses]) for k in range(4))
    return known, ids, padded


def _analyse(texts, table: TableArg, mode: str, min_confidence: float = 0.0,
             two_step: bool = False) -> list[_Analysis]:
    """Analyse texts together.

    Args:
        texts: The inputs.
        table: A learned table for the decoder.
        mode: ``"score"`` stops after the detection evidence; ``"check"`` also finds the
            spans of documents scoring at least `SPAN_GATE` (local decisions only);
            ``"restore"`` decodes those documents jointly.
        min_confidence: With ``"check"``, the lowest confidence worth keeping.
        two_step: With ``"restore"``, also the originals two steps away in the word table.
    """
    analyses = [_Analysis(t) for t in texts]
    if not any(a.supported for a in analyses):
        return analyses
    decoder = get_models(table).decoder
    # The span search can reuse the candidates the evidence scored when it would score
    # them the same way: the same number per position, no learned pairs (they take those
    # positions over), and only where it looks too (the evidence's threshold is stricter).
    suspicion = CHECK_SUSPICION if mode == "check" else decoder.params.suspicion
    reuse = (mode != "score" and EVIDENCE_CANDIDATES == decoder.params.max_candidates
             and not decoder.source._learned and EVIDENCE_SUSPICION <= suspicion)
    _score_all(analyses, decoder, keep_words=reuse)
    todo = [a for a in analyses if a.supported and a.token_texts
            and (a.p_spun >= SPAN_GATE or a.terms)]
    if mode == "check":
        if todo:
            _decode_all(todo, decoder, mode, min_confidence)
            _count_terms([a for a in todo if a.terms], decoder.params.min_confidence)
            _only_terms_below_gate(todo)
            _adjust_span_confidences(todo)
            _locate_found(todo)
        return analyses
    # The score counts the tortured phrases that `check`'s local decisions restore, so that
    # every mode reports the same score: made here for the few documents that have one.
    with_terms = [a for a in todo if a.terms]
    if with_terms:
        _decode_all(with_terms, decoder, "check", decoder.params.min_confidence)
        _count_terms(with_terms, decoder.params.min_confidence)
        for a in with_terms:
            a.decisions = []
            a.found = None
    if mode == "restore" and todo:
        _decode_all(todo, decoder, mode, min_confidence, two_step)
        _only_terms_below_gate(todo)
        # Joint decisions report the share of such edits that are right in a document of
        # this familiarity (`ConfidenceMap`, `_map_confidences`).
        _map_confidences(todo, edit_confidence_map())
    return analyses


def _map_confidences(analyses: list[_Analysis], cmap: ConfidenceMap) -> None:
    """Report each decision's confidence through ``cmap`` in a document of this
    familiarity; the map's value before the document's adjustment is kept as the gate
    (``gates``) that the default thresholds read, so the adjustment never changes which
    spans or edits are made.

    Tortured phrases of the term table keep the map's value: the familiarity reads the
    shipped word tables, which know nothing of them, and the shift was fitted on spinners
    that write none. (With a learned table the familiarity is None, as the evidence it
    reads does not see the learned pairs: the map alone then.) All the documents' decisions
    are mapped together (a numpy pass per document cost more than the mapping).
    """
    arrays = [a for a in analyses if a.found is not None and len(a.found)]
    if arrays:  # `check`'s decisions (`DecisionArrays`): the same values, as arrays
        counts = [len(a.found) for a in arrays]
        fam = np.repeat([np.nan if a.familiarity is None else a.familiarity for a in arrays],
                        counts)
        gates, moved = cmap.many_each(np.concatenate([a.found.confidence for a in arrays]),
                                      fam)
        terms = np.concatenate([a.found.flags for a in arrays]) & FLAG_TERM
        shown = np.where(terms != 0, gates, moved)
        k = 0
        for a, n in zip(arrays, counts, strict=True):
            a.gates = gates[k:k + n]
            a.found.confidence = shown[k:k + n]
            k += n
    docs = [a for a in analyses if a.decisions]
    if not docs:
        return
    counts = [len(a.decisions) for a in docs]
    raw = [d.confidence for a in docs for d in a.decisions]
    fam = np.repeat([np.nan if a.familiarity is None else a.familiarity for a in docs], counts)
    gates, moved = cmap.many_each(raw, fam)
    gates, moved = gates.tolist(), moved.tolist()
    k = 0
    for a, n in zip(docs, counts, strict=True):
        a.gates = gates[k:k + n]
        for d, g, c in zip(a.decisions, a.gates, moved[k:k + n], strict=True):
            d.confidence = g if d.flags & FLAG_TERM else c
        k += n


def _adjust_span_confidences(analyses: list[_Analysis]) -> None:
    """Report each span's local posterior moved by its document's familiarity
    (`span_confidence_map`, whose map is the identity); see `_map_confidences`."""
    _map_confidences(analyses, span_confidence_map())


def round4(values: np.ndarray) -> list[float]:
    """``[round(v, 4) for v in values]`` (Python's, correctly rounded), vectorised: numpy's
    rounding (scale, round half to even, scale back) gives the same double except within
    a rounding error of a tie in the fifth decimal, where Python's own is used."""
    x = np.asarray(values, dtype=np.float64)
    with np.errstate(invalid="ignore", over="ignore"):
        t = x * 1e4
        near = ~(np.abs(t) < 2.0 ** 52) | (np.abs(t - np.floor(t) - 0.5) < 1e-6)
        out = (np.rint(t) / 1e4).tolist()
    for i in np.flatnonzero(near).tolist():
        out[i] = round(float(x[i]), 4)
    return out


def _locate_found(analyses: list[_Analysis]) -> None:
    """Each analysis's decisions (``found``) located in its tokens, all documents' in one
    numpy pass: per decision its gate and confidence (and that rounded as reported), token
    range, the offsets of its first
    and last token, whether the first is a word, its original (phrase entry or word), whether
    it starts its sentence and whether it covers any token, as lists (``_rows``), which
    `located_found` reads. (Document by document, the numpy calls cost more than the
    spans' strings.)"""
    docs = [a for a in analyses if a.found is not None and len(a.found)]
    if not docs:
        return
    counts = [len(a.found) for a in docs]
    f = DecisionArrays.concat([a.found for a in docs], docs[0].found.specs,
                              docs[0].found.words)
    gates = np.concatenate([a.found.confidence if a.gates is None else
                            np.asarray(a.gates, dtype=np.float64) for a in docs])
    doc = np.repeat(np.arange(len(docs)), counts)
    # Each document's sentence starts, then its tokens, laid end to end.
    seg_lists = [a.segment_starts() for a in docs]
    seg_base = np.cumsum([0] + [len(x) for x in seg_lists])[:-1]
    seg_first = np.fromiter(chain.from_iterable(seg_lists), dtype=np.int64,
                            count=int(sum(len(x) for x in seg_lists)))
    tok_base = np.cumsum([0] + [len(a.token_texts) for a in docs])[:-1]
    offsets = np.concatenate([a._offset_array() for a in docs])
    codes = np.concatenate([a.codes for a in docs])
    first = seg_first[seg_base[doc] + f.sentence]
    lo, hi = first + f.start, first + f.end
    g_lo = tok_base[doc] + lo
    valid = f.end > f.start
    g_last = np.where(valid, tok_base[doc] + hi - 1, g_lo)
    at_g = np.minimum(g_lo, max(len(offsets) - 1, 0))  # (a decision of no token: unread)
    cols = [x.tolist() for x in (gates, f.confidence)]
    cols.append(round4(f.confidence))
    cols += [x.tolist() for x in (
        lo, hi, offsets[at_g], offsets[np.minimum(g_last, len(offsets) - 1)],
        (codes[at_g] & CODE_WORD) != 0, f.phrase, f.orig, f.number, f.start == 0, valid)]
    k = 0
    for a, n in zip(docs, counts, strict=True):
        a._rows = tuple(c[k:k + n] for c in cols)
        k += n


def _only_terms_below_gate(analyses: list[_Analysis]) -> None:
    """A document below `SPAN_GATE` is judged clean: it was decoded for its tortured
    phrases, and keeps no other decision."""
    for a in analyses:
        if a.p_spun < SPAN_GATE:
            a.decisions = [d for d in a.decisions if d.flags & FLAG_TERM]
            if a.found is not None:
                a.found = a.found.take((a.found.flags & FLAG_TERM) != 0)


def _count_terms(analyses: list[_Analysis], confirm: float) -> None:
    """Set ``terms_found``: the decisions restoring a term table phrase with at least
    ``confirm`` confidence."""
    for a in analyses:
        a.terms_found = sum(1 for d in a.decisions
                            if d.flags & FLAG_TERM and d.confidence >= confirm)
        if a.found is not None:
            f = a.found
            a.terms_found += int(np.count_nonzero(((f.flags & FLAG_TERM) != 0) &
                                                  (f.confidence >= confirm)))


def _default_min_confidence() -> float:
    return get_models().decoder.params.min_confidence


def check(text: str, *, threshold: float | None = None, table: TableArg = None,
          spans: bool = True) -> Report:
    """Say how likely a text is to be machine-spun, and which spans look spun.

    The score comes from fast evidence (every token scored in context, and every
    single-word candidate of the shipped tables against it; no joint decoding), the same
    score `restore` reports. Spans are looked for only when the score reaches `SPAN_GATE`
    (0.4): below it the document is judged clean. They are the best candidate per position
    (phrases and learned pairs included), so `check` stays several times cheaper than
    `restore`.

    Args:
        text: The document (str; bytes are decoded as UTF-8 with replacement).
        threshold: Probability at or above which ``spun`` is True (default: calibrated).
        table: A learned substitution table (path or `LearnedTable`) to use as well.
        spans: False to compute only the score and verdict (``spans`` is then empty): a
            filter that only drops spun documents saves the span search on them.

    Returns:
        A `Report`. Non-English or empty input gives ``supported=False`` and no verdict.

    Raises:
        TypeError: if ``text`` is not str or bytes.
    """
    return check_many([_as_text(text)], threshold=threshold, table=table, spans=spans)[0]


def _texts_of(texts) -> list:
    """The items of a batch as a list, each checked to be str or bytes."""
    texts = list(texts)
    for k, t in enumerate(texts):
        if not isinstance(t, str | bytes | bytearray):
            raise TypeError(f"texts[{k}]: text must be str, not {type(t).__name__}")
    return texts


def check_many(texts, *, threshold: float | None = None, table: TableArg = None,
               spans: bool = True) -> list[Report]:
    """`check` for many documents at once: the same reports, computed together.

    Batching pays numpy's fixed cost per call once for the batch rather than once per
    document, so a batch of a few dozen short documents is checked about twice as fast as
    a loop over `check` (see BENCHMARKS.md). Memory grows with the batch: pass batches of
    bounded size (a few MB of text), not a whole corpus.

    Args:
        texts: The documents (each str or bytes, as for `check`).
        threshold: See `check`.
        table: See `check`.
        spans: See `check`.

    Returns:
        One `Report` per text, in order.

    Raises:
        TypeError: if an item is not str or bytes (the message gives its index).
    """
    texts = _texts_of(texts)
    min_conf = _default_min_confidence()
    analyses = _analyse(texts, table, "check" if spans else "score", min_confidence=min_conf)
    return [a.report(threshold, min_conf) for a in analyses]


def restore(text: str, *, min_confidence: float | None = None, threshold: float | None = None,
            table: TableArg = None, two_step: bool = False) -> Restoration:
    """Restore the likely original wording of a spun text.

    A text scoring below `SPAN_GATE` (0.4) is judged clean and gets no spin edits (only
    cleanup edits), as `check` shows no spans there: precision first. Unlike `check`,
    `restore` decodes the whole document jointly and also weighs each word's wider
    context (the shipped context model, `unspin.context`), so its edits and the spans of
    its report can differ from `check`'s spans.

    Args:
        text: The document (str; bytes are decoded as UTF-8 with replacement).
        min_confidence: Only make spin edits at least this confident. An edit's
            confidence is the probability that it gives back the original: the share of
            the benchmark's edits of that decoder confidence that did, lowered in a
            document whose surprising words the candidate sources explain poorly (a
            spinner whose table they do not hold; `ConfidenceMap`). Default: the tuned
            operating point, the edits whose confidence before that document adjustment
            is at least about 0.58 (so a default edit can report less).
        threshold: Detection threshold for the attached report.
        table: A learned substitution table (path or `LearnedTable`) to use as well.
        two_step: Also look two steps into the candidate table where a word is very
            unlikely in context: the candidates of its candidates, ranked by the context
            model. More restorations of spinners whose table no shipped source covers
            (about 2 points of swapped words on the benchmark's unseen spinner, at
            almost the same false-edit rate), for about a sixth more time (BENCHMARKS.md).
            Done by default in a document judged spun that the shipped tables explain
            poorly (`TWO_STEP_WHEN_UNFAMILIAR`); True does it in every document.

    Returns:
        A `Restoration`: restored text, every edit in input offsets (cleanup and spin), and
        the detection report.

    Raises:
        TypeError: if ``text`` is not str or bytes.
    """
    (analysis,) = _analyse([text], table, "restore", two_step=bool(two_step))
    return _restoration(analysis, min_confidence, threshold)


def restore_many(texts, *, min_confidence: float | None = None,
                 threshold: float | None = None, table: TableArg = None,
                 two_step: bool = False) -> list[Restoration]:
    """`restore` for many documents at once: the same restorations, computed together.

    Each document is still decoded jointly on its own (its own substitutions are its
    evidence); what the batch shares is the scoring pass before the decoding (cleaning
    aside, every token of every document scored in one vectorised pass), whose fixed
    numpy cost a call to `restore` pays for each document: spun documents restore about
    1.3x and clean ones about 1.7x faster in batches of 64 (BENCHMARKS.md). Memory grows
    with the batch: pass batches of bounded size, as for `check_many`.

    Args:
        texts: The documents (each str or bytes, as for `restore`).
        min_confidence: See `restore`.
        threshold: See `restore`.
        table: See `restore`.
        two_step: See `restore`.

    Returns:
        One `Restoration` per text, in order.

    Raises:
        TypeError: if an item is not str or bytes (the message gives its index).
    """
    texts = _texts_of(texts)
    analyses = _analyse(texts, table, "restore", two_step=bool(two_step))
    return [_restoration(a, min_confidence, threshold) for a in analyses]


def _restoration(analysis: _Analysis, min_confidence: float | None,
                 threshold: float | None) -> Restoration:
    """The `Restoration` of an analysis made in ``"restore"`` mode."""
    # The default keeps the edits the decoder's tuned threshold keeps, on the map's scale
    # before the document's adjustment; an explicit threshold is read on the reported one.
    default = min_confidence is None
    min_conf = edit_confidence_map()(_default_min_confidence()) if default \
        else float(min_confidence)
    # The report's spans are the same edits.
    located = analysis.located(min_conf, by_gate=default, shown=not default)
    report = analysis.report(threshold, min_conf, located)
    edits = [e for e in analysis.cleaned.edits]
    spin = [
        Edit(start, end, observed, repl, round(d.confidence, 4), "spin")
        for d, start, end, repl, observed in located
    ]
    edits = _merge_edits(edits, spin)
    return Restoration(text=_apply(analysis.input, edits), edits=edits, report=report)


def _merge_edits(cleanup: list[Edit], spin: list[Edit]) -> list[Edit]:
    """All edits in input order; a spin edit overlapping a cleanup edit is dropped."""
    out = list(cleanup)
    starts = [c.start for c in cleanup]  # cleanup edits are in order and disjoint
    for e in spin:
        k = bisect_left(starts, e.end)
        if k > 0 and cleanup[k - 1].end > e.start:
            continue
        out.append(e)
    out.sort(key=lambda e: (e.start, e.end))
    return out


def _apply(text: str, edits: list[Edit]) -> str:
    parts = []
    pos = 0
    for e in edits:
        if e.start < pos:
            continue
        parts.append(text[pos:e.start])
        parts.append(e.replacement)
        pos = e.end
    parts.append(text[pos:])
    return "".join(parts)

