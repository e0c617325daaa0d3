"""The two entry points, `check` and `restore`: text -> clean -> tokens -> decode -> report."""

from __future__ import annotations

from bisect import bisect_left
from functools import lru_cache
from pathlib import Path

from .candidates import LearnedTable
from .clean import Cleaned, clean, is_english
from .decode import Decision
from .detect import Detector, features
from .models import data_path, get_models
from .report import Edit, Report, Restoration, Span
from .tokens import TOKEN_RE, WORD, Token, segment_ids, segments, shape_codes, tokenize

# `check` looks for spans only in documents scoring at least this: below it the document is
# judged clean, and spans there would be false alarms. Most of a crawl is clean, so this
# keeps `check` at the cost of the fast evidence (see `Decoder.evidence`).
SPAN_GATE = 0.2
# `check` scores span candidates only where the word or one of the next two has log10
# probability below this (restore: -2.0). On 60 calibration documents spun at 20 % it
# found 0.5 % fewer swaps than at -2.0, in about three quarters of the time.
CHECK_SUSPICION = -3.0

TableArg = str | Path | LearnedTable | None


@lru_cache(maxsize=1)
def detector() -> Detector:
    """The shipped detector (calibrated weights), or defaults if none shipped."""
    path = data_path("detector.json")
    return Detector.from_json(path) if path.is_file() else Detector()


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


def _match_case(observed: list[Token], original: tuple[str, ...]) -> str:
    """Carry the observed capitalisation over to the original words."""
    words = list(original)
    texts = [t.text for t in observed if t.kind == WORD]
    if texts and all(t.isupper() and len(t) > 1 for t in texts):
        words = [w.upper() for w in words]
    elif texts and texts[0][:1].isupper():
        if len(texts) > 1 and all(t[:1].isupper() for t in texts):
            words = [w[:1].upper() + w[1:] for w in words]  # a name spun word by word
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


def _is_word(token: str) -> bool:
    """Whether a token string is a word (not a number or punctuation), as `tokenize` says."""
    if token[:1].isdecimal():
        return False
    return len(token) > 1 or (token.isalnum() and token != "_")


class _Analysis:
    """Shared work of check and restore on one text.

    Args:
        text: The input.
        table: A learned table for the decoder.
        mode: ``"score"`` stops after the detection evidence; ``"check"`` also finds the
            spans of documents scoring at least `SPAN_GATE` (local decisions only);
            ``"restore"`` decodes jointly.
        min_confidence: With ``"check"``, the lowest confidence worth keeping.
    """

    def __init__(self, text: str, table: TableArg, mode: str, min_confidence: float = 0.0):
        self.input = _as_text(text)
        self.cleaned: Cleaned = clean(self.input)
        ok, self.language = is_english(self.cleaned.text)
        if len(self.cleaned.text) < 0.9 * len(self.input) and self.input.strip():
            # Cleaning removed much (control characters, junk): if the input itself was
            # binary, say so rather than judging what little is left.
            if is_english(self.input)[1] == "binary":
                ok, self.language = False, "binary"
        self.supported = ok
        self.decisions: list[Decision] = []
        self.features: dict[str, float] = {}
        self.p_spun = 0.0
        self.words = 0
        self.sent_tokens: list[list[Token]] = []
        if not ok:
            return
        models = get_models(table)
        decoder = models.decoder
        # The score comes from the fast evidence in every mode, so that check and restore
        # agree on it; the offsets and the decoding are only paid for where needed.
        texts = TOKEN_RE.findall(self.cleaned.text)
        self.words = sum(map(_is_word, texts))
        norms = [t.lower() for t in texts]
        if "’" in self.cleaned.text:
            norms = [t.replace("’", "'") for t in norms]
        seg = segment_ids(texts)
        lp, post = decoder.evidence(norms, decoder.lm.ids(norms), seg,
                                    shape_codes(texts, seg))
        self.features = features(self.words, lp, post)
        self.p_spun = detector().probability(self.features) if self.words else 0.0
        if mode == "score" or (mode == "check" and self.p_spun < SPAN_GATE):
            return
        groups, shapes = segments(tokenize(self.cleaned.text))
        self.sent_tokens = groups
        params = decoder.params
        rate = self.p_spun * params.doc_spun_rate + (1 - self.p_spun) * params.doc_clean_rate
        self.decisions, _, _ = decoder.decode(
            [[t.norm for t in s] for s in groups], fast=mode == "check", shapes=shapes,
            prior=lambda local, states: rate, min_confidence=min_confidence,
            suspicion=CHECK_SUSPICION if mode == "check" else None)

    def score(self) -> float:
        return self.p_spun if self.supported else 0.0

    def located(self, min_confidence: float):
        """Decisions at or above a confidence, with input offsets and the replacement."""
        for d in self.decisions:
            if d.confidence < min_confidence:
                continue
            sent = self.sent_tokens[d.sentence]
            toks = sent[d.start:d.end]
            if not toks:
                continue
            replacement = _match_case(toks, d.original)
            article = sent[d.start - 1] if d.start > 0 else None
            if article is not None and article.norm in ("a", "an") and \
                    article.norm != _article_for(d.original[0]):
                # The spinner fixed "a"/"an" for its word; fix it back for the original.
                fixed = _article_for(d.original[0])
                fixed = fixed.capitalize() if article.text[0].isupper() else fixed
                toks = [article, *toks]
                replacement = fixed + " " + replacement
            start, end = self.cleaned.span_to_input(toks[0].start, toks[-1].end)
            if replacement == self.input[start:end]:
                continue
            yield d, start, end, replacement

    def report(self, threshold: float | None, min_confidence: float) -> Report:
        thr = detector().threshold if threshold is None else float(threshold)
        if not self.supported:
            return Report(score=0.0, spun=False, spans=[], threshold=thr,
                          language=self.language, supported=False, words=self.words)
        score = self.score()
        spans = [
            Span(start, end, self.input[start:end], repl, round(d.confidence, 4))
            for d, start, end, repl in self.located(min_confidence)
        ]
        return Report(score=round(score, 6), spun=score >= thr, spans=spans, threshold=thr,
                      language="en", supported=True, words=self.words)


def _default_min_confidence() -> float:
    return get_models().decoder.params.min_confidence


def check(text: str, *, threshold: float | None = None, table: TableArg = None,
          spans: bool = True) -> Report:
    """Say how likely a text is to be machine-spun, and which spans look spun.

    The score comes from fast evidence (every token scored in context, and every
    single-word candidate of the shipped tables against it; no joint decoding), the same
    score `restore` reports. Spans are looked for only when the score reaches `SPAN_GATE`
    (0.2): below it the document is judged clean. They are the best candidate per position
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
    min_conf = _default_min_confidence()
    analysis = _Analysis(text, table, "check" if spans else "score", min_confidence=min_conf)
    return analysis.report(threshold, min_conf)


def restore(text: str, *, min_confidence: float | None = None, threshold: float | None = None,
            table: TableArg = None) -> Restoration:
    """Restore the likely original wording of a spun text.

    Args:
        text: The document (str; bytes are decoded as UTF-8 with replacement).
        min_confidence: Only make spin edits at least this confident (default: tuned).
        threshold: Detection threshold for the attached report.
        table: A learned substitution table (path or `LearnedTable`) to use as well.

    Returns:
        A `Restoration`: restored text, every edit in input offsets (cleanup and spin), and
        the detection report.

    Raises:
        TypeError: if ``text`` is not str or bytes.
    """
    analysis = _Analysis(text, table, "restore")
    min_conf = _default_min_confidence() if min_confidence is None else float(min_confidence)
    report = analysis.report(threshold, min_conf)
    edits = [e for e in analysis.cleaned.edits]
    spin = [
        Edit(start, end, analysis.input[start:end], repl, round(d.confidence, 4), "spin")
        for d, start, end, repl in analysis.located(min_conf)
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

