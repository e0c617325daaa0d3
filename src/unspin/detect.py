"""Detection: a calibrated probability that a document was machine-spun.

The evidence is what the decoder's local step already computed: for each position, the
posterior that an observed word was swapped for one of the candidates, plus how surprising
the observed words are to the language model. A logistic model over a handful of
document-level features turns that into a probability; its weights are fitted by
``bench/calib.py`` on the calibration split (WordNet and MyThes spinners plus clean
documents; ``python -m bench.calib --spinners wordnet mythes && python -m bench.calib --fit``) and
shipped in ``data/detector.json``.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field

import numpy as np

FEATURES = (
    "spun_mass",  # expected share of words that were swapped (sum of local posteriors)
    "confident_share",  # share of words with a local posterior >= 0.5
    "strong_share",  # share of words with a local posterior >= 0.9
    "mean_logprob",  # mean log10 probability per token (perplexity feature)
    "surprise_share",  # share of tokens with log10 probability below -4.5
    "log_words",  # log of the number of word tokens
)


@dataclass(slots=True)
class Detector:
    """Logistic model over document features.

    Attributes:
        weights: Feature name to weight.
        bias: Intercept.
        mean: Feature means used to standardise.
        scale: Feature standard deviations used to standardise.
        threshold: Default decision threshold on the probability.
    """

    weights: dict[str, float] = field(default_factory=lambda: {
        "spun_mass": 1.5, "confident_share": 1.0, "strong_share": 0.5, "mean_logprob": -0.3,
        "surprise_share": 0.3, "log_words": 0.0})
    bias: float = -1.0
    mean: dict[str, float] = field(default_factory=lambda: {
        "spun_mass": 0.05, "confident_share": 0.03, "strong_share": 0.01, "mean_logprob": -2.6,
        "surprise_share": 0.08, "log_words": 5.5})
    scale: dict[str, float] = field(default_factory=lambda: {
        "spun_mass": 0.03, "confident_share": 0.03, "strong_share": 0.01, "mean_logprob": 0.3,
        "surprise_share": 0.04, "log_words": 1.0})
    threshold: float = 0.5

    @classmethod
    def from_json(cls, path) -> Detector:
        """Load weights written by ``bench/calib.py``."""
        with open(path, encoding="utf-8") as fh:
            d = json.load(fh)
        return cls(d["weights"], d["bias"], d["mean"], d["scale"], d["threshold"])

    def probability(self, features: dict[str, float]) -> float:
        """Calibrated probability that the document is spun."""
        z = self.bias
        for name, w in self.weights.items():
            z += w * (features.get(name, 0.0) - self.mean.get(name, 0.0)) / (
                self.scale.get(name, 1.0) or 1.0)
        z = max(-50.0, min(50.0, z))
        return 1.0 / (1.0 + math.exp(-z))


# Every share below is counted as if the document had `PRIOR_WORDS` more words that look
# like a typical clean document (`CLEAN_PRIOR`, the calibration split's clean means): a
# long document's own evidence dominates, while one suspicious word in a ten-word sentence
# no longer reads as "10 % of the words were swapped", the rate of a spun document.
PRIOR_WORDS = 40.0
# The longest documents the detector was calibrated on (`bench.calib`: articles cut at 400
# words). `log_words` is counted at most this long: its weight is negative (for the same
# shares, a short text is more likely spun), and extrapolated to long articles it lowered
# their scores by a logit or more. On 300 held-out test articles of 600-3,000 words
# (1,186 on average) the cap raised the share flagged at the default threshold from 84 % to
# 95 % (unseen spinner, 20 %) and from 4.7 % to 11 % (10 %), with ROC-AUC 0.996 / 0.995 at
# 10 %; 896 clean articles of 400-5,000 words: none flagged, before or after.
MAX_CALIBRATED_WORDS = 400
CLEAN_PRIOR = {"spun_mass": 0.015, "confident_share": 0.006, "strong_share": 0.001,
               "mean_logprob": -2.53, "surprise_share": 0.16}


def features(n_words: int, base_logprobs: np.ndarray, posteriors: list[float]) -> dict[str, float]:
    """Document features from the decoder's local evidence.

    Args:
        n_words: Word tokens in the document.
        base_logprobs: log10 probability of every token in its observed context.
        posteriors: For each position that has candidates, the local posterior that the
            observed word was swapped.
    """
    lp = np.asarray(base_logprobs, dtype=np.float64)
    post = np.asarray(posteriors, dtype=np.float64)
    return features_many([n_words], lp, [0, len(lp)], post, [0, len(post)])[0]


def features_many(n_words: list[int], base_logprobs: np.ndarray, bounds: list[int],
                  posteriors: np.ndarray, cuts: list[int]) -> list[dict[str, float]]:
    """`features` of many documents at once, the same values: document ``k`` has the
    base log-probabilities ``base_logprobs[bounds[k]:bounds[k + 1]]`` and the posteriors
    ``posteriors[cuts[k]:cuts[k + 1]]``. The counts come from running totals over the whole
    batch (exact); the two sums stay numpy's sums of each document's slice."""
    a = PRIOR_WORDS
    prior = CLEAN_PRIOR
    post = np.asarray(posteriors, dtype=np.float64)
    lp = np.asarray(base_logprobs, dtype=np.float64)
    zero = np.zeros(1, dtype=np.int64)
    # The running totals read only at the documents' bounds (a list of every token's total
    # cost more than the features themselves).
    c05 = np.concatenate((zero, np.cumsum(post >= 0.5)))[cuts].tolist()
    c09 = np.concatenate((zero, np.cumsum(post >= 0.9)))[cuts].tolist()
    c45 = np.concatenate((zero, np.cumsum(lp < -4.5)))[bounds].tolist()
    out = []
    for k, words in enumerate(n_words):
        p0, p1 = cuts[k], cuts[k + 1]
        l0, l1 = bounds[k], bounds[k + 1]
        n = max(words, 0) + a
        n_tok = (l1 - l0) + a
        out.append({
            "spun_mass": (float(post[p0:p1].sum()) + a * prior["spun_mass"]) / n,
            "confident_share": (float(c05[k + 1] - c05[k]) + a * prior["confident_share"]) / n,
            "strong_share": (float(c09[k + 1] - c09[k]) + a * prior["strong_share"]) / n,
            "mean_logprob": (float(lp[l0:l1].sum()) + a * prior["mean_logprob"]) / n_tok,
            "surprise_share": (float(c45[k + 1] - c45[k]) + a * prior["surprise_share"]) / n_tok,
            "log_words": math.log(min(max(words, 1), MAX_CALIBRATED_WORDS)),
        })
    return out


def document_features(text: str, table=None) -> dict[str, float]:
    """Detection features of one document (what `check` feeds the logistic model).

    Used by ``bench/calib.py`` to fit the shipped weights.
    """
    from .api import _analyse  # deferred: api imports this module

    return dict(_analyse([text], table, "score")[0].features)


def fit(rows: list[tuple[dict[str, float], int]], *, l2: float = 1.0,
        max_clean_flagged: float = 0.005) -> Detector:
    """Fit a logistic detector (Newton's method, L2) to labelled feature rows.

    The threshold is 0.5, raised if needed so that at most ``max_clean_flagged`` of the
    clean rows are flagged.
    """
    names = list(FEATURES)
    x = np.array([[f[n] for n in names] for f, _ in rows], dtype=np.float64)
    y = np.array([label for _, label in rows], dtype=np.float64)
    mean = x.mean(axis=0)
    scale = x.std(axis=0) + 1e-9
    z = np.hstack([np.ones((len(x), 1)), (x - mean) / scale])
    w = np.zeros(z.shape[1])
    for _ in range(50):
        p = 1 / (1 + np.exp(-np.clip(z @ w, -50, 50)))
        grad = z.T @ (p - y) + l2 * np.r_[0, w[1:]]
        hess = (z * (p * (1 - p))[:, None]).T @ z + l2 * np.eye(len(w))
        step = np.linalg.solve(hess, grad)
        w -= step
        if np.abs(step).max() < 1e-8:
            break
    det = Detector(dict(zip(names, w[1:].tolist(), strict=True)), float(w[0]),
                   dict(zip(names, mean.tolist(), strict=True)),
                   dict(zip(names, scale.tolist(), strict=True)), 0.5)
    clean = sorted(det.probability(f) for f, label in rows if label == 0)
    if clean:
        k = min(len(clean) - 1, int(np.ceil(len(clean) * (1 - max_clean_flagged))))
        det.threshold = float(max(0.5, min(0.99, clean[k] + 1e-6)))
    return det


def save(det: Detector, path) -> None:
    """Write a detector's weights as JSON."""
    with open(path, "w", encoding="utf-8") as fh:
        json.dump({"weights": det.weights, "bias": det.bias, "mean": det.mean,
                   "scale": det.scale, "threshold": det.threshold}, fh, indent=1)
        fh.write("\n")


def document_familiarity(features: dict[str, float]) -> float:
    """How much of a document's surprise the shipped tables explain: the expected share of
    swapped words (``spun_mass``) over the share of surprising tokens (``surprise_share``),
    both from the detection features, capped at `FAMILIARITY_CAP`.

    A spinner whose table the candidate sources hold leaves surprising words that they
    explain (on the benchmark about 0.25-0.40 for the seen spinner at 10-35 %); one whose
    table they do not hold leaves surprising words they cannot explain (0.16-0.23 for the
    MyThes and Aiksaurus spinners at every rate), and there `restore`'s edits are right
    about half as often at the same decoder confidence.
    """
    surprise = max(float(features.get("surprise_share", 0.0)), 0.01)
    return min(float(features.get("spun_mass", 0.0)) / surprise, FAMILIARITY_CAP)


FAMILIARITY_CAP = 1.0


def _logit_shift(p: np.ndarray, shift: float) -> np.ndarray:
    """``p`` moved by ``shift`` on the log-odds scale (values kept inside (0, 1))."""
    q = np.clip(p, 1e-6, 1.0 - 1e-6)
    return 1.0 / (1.0 + np.exp(-(np.log(q / (1.0 - q)) + shift)))


@dataclass(slots=True)
class ConfidenceMap:
    """The share of `restore`'s spin edits that are right, as a function of the decoder's
    confidence: a monotone piecewise-linear map through ``(x[k], y[k])``, flat beyond the
    ends, strictly increasing between them; then, when fitted, moved on the log-odds scale
    by a nondecreasing function of the document's familiarity (`document_familiarity`),
    piecewise linear through ``(familiarity[k], shift[k])``.

    The decoder's joint confidences were too high where many candidates compete (on the
    calibration split, edits it gave 0.90-0.99 were right about 70 % of the time), and far
    too high in documents spun with a table the candidate sources do not hold; `restore`
    reports this map's value, so that an edit's confidence is the probability that it is
    right and ``min_confidence`` means what it says. Fitted by ``bench/confidence.py``.
    """

    x: list[float]
    y: list[float]
    familiarity: list[float] = field(default_factory=list)
    shift: list[float] = field(default_factory=list)

    def __call__(self, raw: float) -> float:
        """The calibrated confidence of a raw one (no document adjustment)."""
        return float(np.interp(raw, self.x, self.y))

    def many(self, raw, familiarity: float | None = None) -> np.ndarray:
        """The calibrated confidences of an array of raw ones (the same values), in a
        document of the given familiarity (None: no document adjustment)."""
        mapped = np.interp(np.asarray(raw, dtype=np.float64), self.x, self.y)
        if familiarity is None or not self.familiarity:
            return mapped
        d = float(np.interp(familiarity, self.familiarity, self.shift))
        return mapped if d == 0.0 else _logit_shift(mapped, d)

    def many_each(self, raw, familiarity) -> tuple[np.ndarray, np.ndarray]:
        """`many` of raw confidences from several documents at once: without the document
        adjustment, and with each one's document familiarity (``familiarity``: one value
        per confidence, NaN for none). The same values as `many` document by document."""
        mapped = np.interp(np.asarray(raw, dtype=np.float64), self.x, self.y)
        fam = np.asarray(familiarity, dtype=np.float64)
        if not self.familiarity:
            return mapped, mapped
        known = ~np.isnan(fam)
        d = np.zeros(len(fam))
        d[known] = np.interp(fam[known], self.familiarity, self.shift)
        moved = mapped.copy()
        at = d != 0.0
        moved[at] = _logit_shift(mapped[at], d[at])
        return mapped, moved

    @classmethod
    def identity(cls) -> ConfidenceMap:
        """Raw confidences as they are (no map shipped)."""
        return cls([0.0, 1.0], [0.0, 1.0])

    @classmethod
    def from_json(cls, path) -> ConfidenceMap:
        """Load a map written by `save_confidence_map`."""
        with open(path, encoding="utf-8") as fh:
            d = json.load(fh)
        return cls([float(v) for v in d["x"]], [float(v) for v in d["y"]],
                   [float(v) for v in d.get("familiarity", [])],
                   [float(v) for v in d.get("shift", [])])


def fit_familiarity_shift(mapped, right, familiarity, min_block: int = 300
                          ) -> tuple[list[float], list[float]]:
    """The log-odds shift, nondecreasing in the document's familiarity, that makes mapped
    confidences match the share right.

    Edits are sorted by their document's familiarity and cut into blocks of at least
    ``min_block`` (whole familiarity values never split); each block gets the shift that
    makes its mean shifted confidence equal its share right (bisection); adjacent blocks
    whose shifts decrease are pooled (their edits together) until the shifts increase.

    Args:
        mapped: Each labelled edit's confidence on the map's scale.
        right: Whether it gave back the original.
        familiarity: Its document's `document_familiarity`.
        min_block: Fewest edits of a block.

    Returns:
        ``(familiarity points, shifts)``: each block's mean familiarity and its shift.
    """
    m = np.asarray(mapped, dtype=np.float64)
    y = np.asarray(right, dtype=np.float64)
    f = np.asarray(familiarity, dtype=np.float64)
    if len(m) < 2 * min_block:
        raise ValueError(f"{len(m)} labelled edits: too few for blocks of {min_block}")
    order = np.argsort(f, kind="stable")
    m, y, f = m[order], y[order], f[order]

    def solve(idx: np.ndarray) -> float:
        target = y[idx].mean()
        lo, hi = -10.0, 10.0
        for _ in range(60):
            mid = (lo + hi) / 2
            if _logit_shift(m[idx], mid).mean() < target:
                lo = mid
            else:
                hi = mid
        return (lo + hi) / 2

    cuts = [0]
    while len(m) - cuts[-1] >= 2 * min_block:
        k = cuts[-1] + min_block
        while k < len(m) and f[k] == f[k - 1]:  # one document's edits stay together
            k += 1
        cuts.append(k)
    cuts.append(len(m))
    blocks = [np.arange(a, b) for a, b in zip(cuts[:-1], cuts[1:], strict=True) if b > a]
    shifts = [solve(b) for b in blocks]
    k = 1
    while k < len(blocks):  # pool adjacent violators
        if shifts[k] <= shifts[k - 1]:
            blocks[k - 1] = np.concatenate((blocks[k - 1], blocks.pop(k)))
            shifts.pop(k)
            shifts[k - 1] = solve(blocks[k - 1])
            k = max(1, k - 1)
        else:
            k += 1
    return [float(f[b].mean()) for b in blocks], [float(s) for s in shifts]


def fit_confidence_map(raw, right, min_block: int = 50) -> ConfidenceMap:
    """Isotonic regression of right (1) / wrong (0) on raw confidence (pool adjacent
    violators), blocks of fewer than ``min_block`` edits pooled with a neighbour, then a
    line through the blocks' mean raw confidence and share right.

    Args:
        raw: The decoder's confidence of each labelled edit.
        right: Whether each edit gave back the original.
        min_block: Smallest block: below it, a share right is mostly noise.
    """
    x = np.asarray(raw, dtype=np.float64)
    y = np.asarray(right, dtype=np.float64)
    if len(x) == 0:
        raise ValueError("no labelled edits to fit a confidence map to")
    # Blocks: [sum of x, sum of y, count], one per distinct raw value to start with (edits
    # of equal confidence cannot be told apart); merged while they violate monotonicity,
    # then where too small to trust.
    values, at, counts = np.unique(x, return_inverse=True, return_counts=True)
    sums = np.bincount(at, weights=y, minlength=len(values))
    blocks: list[list[float]] = []
    for xv, sy, n in zip(values.tolist(), sums.tolist(), counts.tolist(), strict=True):
        blocks.append([xv * n, sy, float(n)])
        while len(blocks) > 1 and (
                blocks[-2][1] / blocks[-2][2] >= blocks[-1][1] / blocks[-1][2]):
            sx, sy, n = blocks.pop()
            blocks[-1][0] += sx
            blocks[-1][1] += sy
            blocks[-1][2] += n
    merged: list[list[float]] = []
    for b in blocks:  # too small: into the block before (the shares stay increasing)
        if merged and (b[2] < min_block or merged[-1][2] < min_block):
            merged[-1] = [merged[-1][k] + b[k] for k in range(3)]
        else:
            merged.append(b)
    xs = [sx / n for sx, _, n in merged]
    ys = [sy / n for _, sy, n in merged]
    if len(xs) == 1:  # one block: a flat map would make every threshold all or nothing
        raise ValueError("the labelled edits give one block: too few to fit a map")
    return ConfidenceMap(xs, ys)


def save_confidence_map(cmap: ConfidenceMap, path, meta: dict | None = None) -> None:
    """Write a map as JSON (with ``meta``: how it was fitted)."""
    with open(path, "w", encoding="utf-8") as fh:
        extra = {"familiarity": cmap.familiarity, "shift": cmap.shift} \
            if cmap.familiarity else {}
        json.dump({**(meta or {}), "x": cmap.x, "y": cmap.y, **extra}, fh, indent=1)
        fh.write("\n")
