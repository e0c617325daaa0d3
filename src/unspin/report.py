"""Result types: what `check` and `restore` return, serialisable to JSON.

Field names are a contract: the CLI, the scanner, the server and other tools read them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from . import __version__

# Bumped whenever the shipped data (language model, context model, tables, calibration)
# is rebuilt or added, or the decoder's weights change, so a curator can tell which model
# produced a result.
DATA_VERSION = "2026.12.01.2"


def versions() -> dict[str, str]:
    """Package and data versions that every result carries."""
    return {"package": __version__, "data": DATA_VERSION}


@dataclass(slots=True)
class Span:
    """A stretch of the input that looks spun.

    Attributes:
        start: Character offset into the input where the span starts.
        end: Character offset one past its end.
        text: ``input[start:end]``.
        suggestion: The likely original wording.
        confidence: Probability in [0, 1] that the span was spun from ``suggestion``.
    """

    start: int
    end: int
    text: str
    suggestion: str
    confidence: float

    def to_dict(self) -> dict[str, Any]:
        """Plain dict with the JSON contract's names (what `dataclasses.asdict` gives)."""
        return {"start": self.start, "end": self.end, "text": self.text,
                "suggestion": self.suggestion, "confidence": self.confidence}


@dataclass(slots=True)
class Edit:
    """One change made by `restore`, in input offsets.

    Attributes:
        start: Character offset into the input.
        end: Character offset one past the end of the replaced text.
        text: ``input[start:end]``.
        replacement: What replaces it in the restored text.
        confidence: Probability in [0, 1] that the edit is right.
        kind: ``"spin"`` (undoing a synonym swap), ``"cleanup"`` (mojibake, ad codes,
            spintax, boilerplate) or ``"reference"`` (copied from a matched original).
    """

    start: int
    end: int
    text: str
    replacement: str
    confidence: float
    kind: str

    def to_dict(self) -> dict[str, Any]:
        """Plain dict with the JSON contract's names (what `dataclasses.asdict` gives)."""
        return {"start": self.start, "end": self.end, "text": self.text,
                "replacement": self.replacement, "confidence": self.confidence,
                "kind": self.kind}


@dataclass(slots=True)
class Report:
    """Verdict on one document.

    Attributes:
        score: Calibrated probability that the document was machine-spun.
        spun: ``score >= threshold``.
        spans: Spun stretches, in input order.
        threshold: The decision threshold used.
        language: ``"en"``, or the reason the text was not analysed (``"unsupported"``,
            ``"empty"``).
        supported: False when the text is not English prose; then ``score`` is 0 and
            ``spun`` False: no verdict is given.
        words: Number of word tokens analysed.
        terms: Known tortured phrases (the term table's) that `check`'s span search restores
            in context, each one of `check`'s spans: what research-integrity screeners
            count.
        familiarity: How much of the text's unusual wording the shipped tables explain
            (`unspin.detect.document_familiarity`): on the benchmark about 0.25-0.40 for a
            spinner whose table they hold, 0.15-0.23 for one they do not, where spans and
            edits are less often right (their confidences are lowered for it). None when
            the text was not analysed or a learned table was used.
        version: Package and data versions.
    """

    score: float
    spun: bool
    spans: list[Span] = field(default_factory=list)
    threshold: float = 0.5
    language: str = "en"
    supported: bool = True
    words: int = 0
    terms: int = 0
    familiarity: float | None = None
    version: dict[str, str] = field(default_factory=versions)

    def to_dict(self) -> dict[str, Any]:
        """Plain dict with the JSON contract's names (what `dataclasses.asdict` gives,
        built directly: asdict's generic deep copy cost more than the rest of a scan's
        per-record work)."""
        return {"score": self.score, "spun": self.spun,
                "spans": [s.to_dict() for s in self.spans], "threshold": self.threshold,
                "language": self.language, "supported": self.supported, "words": self.words,
                "terms": self.terms, "familiarity": self.familiarity,
                "version": dict(self.version)}

    def to_json(self, **kwargs: Any) -> str:
        """Serialise to a JSON string."""
        return json.dumps(self.to_dict(), ensure_ascii=False, **kwargs)


@dataclass(slots=True)
class Restoration:
    """Restored text with the edits that produced it.

    Attributes:
        text: The restored text.
        edits: Every change, in input offsets and order (cleanup and spin edits).
        report: The detection report on the input.
    """

    text: str
    edits: list[Edit]
    report: Report

    @property
    def score(self) -> float:
        """The document's spin score (shortcut for ``report.score``)."""
        return self.report.score

    def to_dict(self) -> dict[str, Any]:
        """Plain dict with the JSON contract's names (``score`` at the top level)."""
        return {
            "text": self.text,
            "edits": [e.to_dict() for e in self.edits],
            "score": self.report.score,
            "spun": self.report.spun,
            "report": self.report.to_dict(),
            "version": dict(self.report.version),
        }

    def to_json(self, **kwargs: Any) -> str:
        """Serialise to a JSON string."""
        return json.dumps(self.to_dict(), ensure_ascii=False, **kwargs)
