"""The ``unspin`` tagger for dolma (``dolma tag``): spin score and spun spans.

Usage::

    dolma tag --documents 'wiki/documents/*.json.gz' --experiment spin \\
        --taggers unspin --tagger_modules unspin.integrations.dolma --processes 8

For each document it emits (dolma attribute ``{experiment}__unspin__{type}``):

- ``doc``: one span over the whole document, score = calibrated probability that it was
  machine-spun (``unspin.check(text).score``);
- ``spun``: one span per stretch that looks spun, score = its confidence (character
  offsets into the text, as dolma expects);
- ``terms``: one span over the whole document, score = how many known tortured phrases
  (the term table, ``Report.terms``) the span search restored in context: what
  research-integrity screeners count ("counterfeit consciousness" for artificial
  intelligence);
- ``not_analysed``: one span over the document, score 1, when the text is not English
  prose, empty, or longer than ``MAX_CHARS`` (then no ``doc`` score is given: no verdict).

A mixer can then drop spun documents, e.g. with the filter
``$@.attributes[?(@.spin__unspin__doc && @.spin__unspin__doc[0][2] >= 0.95)]`` (0.95 is
the shipped threshold; ``unspin.api.detector().threshold`` has the current one).

Needs ``pip install dolma`` (dolma 1.x requires numpy<2 and Python <3.13).
"""

from __future__ import annotations

try:
    from dolma import add_tagger
    from dolma.core.data_types import DocResult, Document, Span
    from dolma.core.taggers import BaseTagger
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise ImportError("unspin.integrations.dolma needs dolma: pip install dolma") from exc

import unspin

MAX_CHARS = 1_000_000


@add_tagger("unspin")
class UnspinTagger(BaseTagger):
    """dolma tagger registered as ``unspin``: document spin score and spun spans."""

    def predict(self, doc: Document) -> DocResult:
        """Score one dolma document."""
        text = doc.text or ""
        whole = len(text)
        if len(text) > MAX_CHARS:
            return DocResult(doc=doc, spans=[Span(0, whole, type="not_analysed", score=1.0)])
        report = unspin.check(text)
        if not report.supported:
            return DocResult(doc=doc, spans=[Span(0, whole, type="not_analysed", score=1.0)])
        spans = [Span(0, whole, type="doc", score=report.score),
                 Span(0, whole, type="terms", score=float(report.terms))]
        spans += [Span(s.start, s.end, type="spun", score=s.confidence) for s in report.spans]
        return DocResult(doc=doc, spans=spans)
