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
3. *Document evidence*: a spinner reuses its table, so a substitution chosen confidently
   in one place raises its channel score everywhere else in the document, and the
   windows are decoded again.

The fast path used by `check` stops after step 1.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field

import numpy as np

from .candidates import (
    FLAG_LEARNED,
    FLAG_MYTHES,
    FLAG_NUMBER,
    FLAG_PHRASE,
    FLAG_VECTOR,
    FLAG_WN_LOOSE,
    FLAG_WN_SYN,
    Candidate,
    CandidateSource,
)
from .lm import BOS, EOS, NONE, UNK

LN10 = math.log(10.0)


@dataclass(slots=True)
class DecodeParams:
    """Weights of the channel model and decision rules (natural-log units).

    The defaults were tuned on the benchmark's calibration split, spun by the WordNet
    spinner only, so the Aiksaurus spinner stays an unseen table (see bench/).
    """

    spin_rate: float = 0.15
    syn: float = -1.0
    loose: float = -2.2
    mythes: float = -1.6
    vector: float = -3.0
    phrase: float = -0.7
    number: float = -1.2
    learned: float = 0.5
    multi_source: float = 0.5
    cosine: float = 2.0
    fanout: float = 0.35
    lm_weight: float = 1.0
    keep_per_position: int = 3
    local_floor: float = -3.0
    max_combinations: int = 64
    min_confidence: float = 0.5
    doc_bonus: float = 1.5
    length_bonus: float = 3.0
    name_penalty: float = 3.0


@dataclass(slots=True)
class Decision:
    """A proposed restoration of observed tokens ``[start, end)`` of a sentence."""

    sentence: int
    start: int
    end: int
    original: tuple[str, ...]
    confidence: float
    flags: int


@dataclass(slots=True)
class SentenceState:
    norms: list[str]
    ids: np.ndarray
    padded: np.ndarray  # [NONE, BOS, ids..., EOS]
    base: np.ndarray  # log10 P of padded[t] for t >= 2, observed context
    cands: list[list[Candidate]] = field(default_factory=list)
    shapes: list[int] | None = None  # per token: 0 plain, 1 capitalised inside a sentence


# Sources trusted to change the number of words: loose thesaurus relations and vector
# neighbours propose multiword hyponyms ("academy" -> "national academy of sciences") that
# no spinner produces.
LENGTH_CHANGING = FLAG_PHRASE | FLAG_LEARNED | FLAG_WN_SYN | FLAG_NUMBER


def _channel(c: Candidate, p: DecodeParams) -> float:
    f = c.flags
    if (len(c.original) != c.length and not f & LENGTH_CHANGING) or (
            len(c.original) > 3 and not f & (FLAG_PHRASE | FLAG_LEARNED)):
        return -30.0
    scores = []
    if f & FLAG_WN_SYN:
        scores.append(p.syn)
    if f & FLAG_MYTHES:
        scores.append(p.mythes)
    if f & FLAG_WN_LOOSE:
        scores.append(p.loose)
    if f & FLAG_VECTOR:
        scores.append(p.vector)
    if f & FLAG_PHRASE:
        scores.append(p.phrase)
    if f & FLAG_NUMBER:
        scores.append(p.number)
    if f & FLAG_LEARNED:
        scores.append(p.learned + math.log(c.count / (c.count + 1.0)))
    if not scores:
        return -30.0
    s = max(scores) + p.multi_source * (len(scores) - 1)
    s += p.cosine * max(c.cosine, 0.0)
    s -= p.fanout * math.log(max(c.fanout, 1))
    return s


class Decoder:
    """Decodes tokenised sentences with a language model and candidate sources.

    Args:
        lm: A `unspin.lm.Scorer`.
        source: Candidate sources.
        params: Channel weights and decision rules.
    """

    def __init__(self, lm, source: CandidateSource, params: DecodeParams | None = None):
        self.lm = lm
        self.source = source
        self.params = params or DecodeParams()
        self._channel_cache: dict[Candidate, float] = {}
        p = self.params
        self._prior_spin = math.log(p.spin_rate)
        self._prior_keep = math.log(1.0 - p.spin_rate)

    # ------------------------------------------------------------------ helpers

    def channel(self, c: Candidate) -> float:
        """log P(observed | original) + log P(spun), cached per candidate."""
        v = self._channel_cache.get(c)
        if v is None:
            v = _channel(c, self.params) + self._prior_spin - self._prior_keep
            self._channel_cache[c] = v
        return v

    def prepare(self, sentences: list[list[str]],
                shapes: list[list[int]] | None = None) -> list[SentenceState]:
        """Ids, observed-context LM scores and candidates for each sentence.

        Args:
            sentences: Normalised tokens per sentence.
            shapes: Per token, 1 when it is capitalised inside a sentence (likely part of a
                name: changing it needs more evidence), 2 when it is in capitals (an
                acronym: never changed), else 0.
        """
        states = []
        lens = []
        a_all, b_all, c_all = [], [], []
        for norms in sentences:
            ids = self.lm.ids(norms)
            padded = np.concatenate(([NONE, BOS], ids, [EOS])).astype(np.int64)
            a_all.append(padded[:-2])
            b_all.append(padded[1:-1])
            c_all.append(padded[2:])
            lens.append(len(padded) - 2)
            states.append(SentenceState(norms, ids, padded, np.empty(0)))
        if states:
            lp = self.lm.logprob(np.concatenate(a_all), np.concatenate(b_all),
                                 np.concatenate(c_all))
            off = 0
            for st, n in zip(states, lens, strict=True):
                st.base = np.concatenate(([0.0, 0.0], lp[off:off + n]))
                off += n
        for k, st in enumerate(states):
            cands = self.source.for_tokens(st.norms)
            if shapes is not None:
                st.shapes = shapes[k]
                cands = [[] if st.shapes[i] == 2 else c for i, c in enumerate(cands)]
            st.cands = cands
        return states

    def adjust(self, st: SentenceState, i: int, cand: Candidate) -> float:
        """Position-dependent part of the channel: length balance and name caution."""
        p = self.params
        adj = p.length_bonus * (len(cand.original) - cand.length)
        if st.shapes is not None and any(st.shapes[i:i + cand.length]):
            adj -= p.name_penalty
        return adj

    # ------------------------------------------------------------------ step 1

    def local_scores(self, states: list[SentenceState]):
        """Score every candidate alone, in observed context.

        Returns:
            List of (sentence index, position, candidate, score) where score is the natural
            log-odds of the candidate against keeping the observed words.
        """
        items: list[tuple[int, int, Candidate]] = []
        seg_a: list[int] = []
        seg_b: list[int] = []
        seg_c: list[int] = []
        seg_len: list[int] = []
        old: list[float] = []
        lm_id = self.lm.id if hasattr(self.lm, "id") else None
        id_cache: dict[str, int] = {}
        for si, st in enumerate(states):
            padded = st.padded
            n = len(padded)
            cs = np.cumsum(st.base)
            for i, cands in enumerate(st.cands):
                if not cands:
                    continue
                j = i + 2
                for cand in cands:
                    oids = []
                    for w in cand.original:
                        wid = id_cache.get(w)
                        if wid is None:
                            wid = lm_id(w) if lm_id else int(self.lm.ids([w])[0])
                            id_cache[w] = wid
                        if wid == UNK:
                            break
                        oids.append(wid)
                    else:
                        L = cand.length
                        end = min(j + L + 2, n)
                        seq = [int(padded[j - 2]), int(padded[j - 1]), *oids,
                               *padded[j + L:end].tolist()]
                        k = len(seq) - 2
                        seg_a.extend(seq[:-2])
                        seg_b.extend(seq[1:-1])
                        seg_c.extend(seq[2:])
                        seg_len.append(k)
                        old.append(float(cs[end - 1] - cs[j - 1]))
                        items.append((si, i, cand))
        if not items:
            return []
        lp = self.lm.logprob(np.array(seg_a), np.array(seg_b), np.array(seg_c))
        starts = np.concatenate(([0], np.cumsum(seg_len)[:-1]))
        new = np.add.reduceat(lp.astype(np.float64), starts)
        delta = (new - np.array(old)) * LN10 * self.params.lm_weight
        out = []
        for (si, i, cand), d in zip(items, delta.tolist(), strict=True):
            ch = self.channel(cand) + self.adjust(states[si], i, cand)
            out.append((si, i, cand, d + ch, ch))
        return out

    # ------------------------------------------------------------------ step 2

    def _options(self, local, states):
        """Per (sentence, position): the best few candidates with their local scores."""
        p = self.params
        by_pos: dict[tuple[int, int], list[tuple[float, Candidate, float]]] = {}
        for si, i, cand, s, ch in local:
            if s < p.local_floor:
                continue
            by_pos.setdefault((si, i), []).append((s, cand, ch))
        for key, opts in by_pos.items():
            opts.sort(key=lambda t: -t[0])
            del opts[p.keep_per_position:]
        return by_pos

    def joint(self, states, by_pos, bonus: dict[tuple[tuple[str, ...], tuple[str, ...]], float]):
        """Decode clusters of nearby positions jointly; return decisions with posteriors."""
        p = self.params
        # Group positions into clusters per sentence: positions whose windows interact.
        clusters: list[tuple[int, list[int]]] = []
        per_sent: dict[int, list[int]] = {}
        for si, i in by_pos:
            per_sent.setdefault(si, []).append(i)
        for si, positions in per_sent.items():
            positions.sort()
            cur = [positions[0]]
            reach = positions[0] + max(c.length for _, c, _ in by_pos[(si, positions[0])]) + 1
            for i in positions[1:]:
                if i <= reach:
                    cur.append(i)
                else:
                    clusters.append((si, cur))
                    cur = [i]
                reach = max(reach, i + max(c.length for _, c, _ in by_pos[(si, i)]) + 1)
            clusters.append((si, cur))

        combos_all: list[tuple[int, int, int, list[tuple[int, Candidate]], float]] = []
        seg_a: list[int] = []
        seg_b: list[int] = []
        seg_c: list[int] = []
        seg_len: list[int] = []
        lm_id = self.lm.id
        for ci, (si, positions) in enumerate(clusters):
            st = states[si]
            padded = st.padded
            n = len(padded)
            lo = positions[0]
            hi = max(i + max(c.length for _, c, _ in by_pos[(si, i)]) for i in positions)
            # Enumerate non-overlapping choices; when too many, keep the best by local score.
            combos: list[tuple[list[tuple[int, Candidate]], float, float]] = [([], 0.0, 0.0)]
            for i in positions:
                new_combos = []
                for chosen, chscore, lscore in combos:
                    new_combos.append((chosen, chscore, lscore))
                    if chosen and chosen[-1][0] + chosen[-1][1].length > i:
                        continue
                    for s, cand, ch in by_pos[(si, i)]:
                        if bonus:
                            key = (tuple(st.norms[i:i + cand.length]), cand.original)
                            b = bonus.get(key, 0.0)
                            ch += b
                            s += b
                        new_combos.append((chosen + [(i, cand)], chscore + ch, lscore + s))
                combos = new_combos
                if len(combos) > p.max_combinations:
                    combos.sort(key=lambda t: -t[2])
                    del combos[p.max_combinations:]
            end = min(hi + 2 + 2, n)
            for chosen, chscore, _ in combos:
                seq = [int(padded[lo]), int(padded[lo + 1])]
                pos = lo
                for i, cand in chosen:
                    seq.extend(int(x) for x in padded[pos + 2:i + 2])
                    seq.extend(lm_id(w) for w in cand.original)
                    pos = i + cand.length
                seq.extend(int(x) for x in padded[pos + 2:end])
                seg_a.extend(seq[:-2])
                seg_b.extend(seq[1:-1])
                seg_c.extend(seq[2:])
                seg_len.append(len(seq) - 2)
                combos_all.append((ci, si, lo, chosen, chscore))
        if not combos_all:
            return []
        lp = self.lm.logprob(np.array(seg_a), np.array(seg_b), np.array(seg_c))
        starts = np.concatenate(([0], np.cumsum(seg_len)[:-1]))
        lm_scores = np.add.reduceat(lp.astype(np.float64), starts) * LN10 * p.lm_weight
        total = lm_scores + np.array([c[4] for c in combos_all])

        decisions: list[Decision] = []
        k = 0
        while k < len(combos_all):
            ci = combos_all[k][0]
            k2 = k
            while k2 < len(combos_all) and combos_all[k2][0] == ci:
                k2 += 1
            scores = total[k:k2]
            post = np.exp(scores - scores.max())
            post /= post.sum()
            best = int(np.argmax(scores)) + k
            si = combos_all[best][1]
            for i, cand in combos_all[best][3]:
                # Confidence: posterior mass of combinations that make the same choice here.
                conf = 0.0
                for j in range(k, k2):
                    for i2, c2 in combos_all[j][3]:
                        if i2 == i and c2.original == cand.original and c2.length == cand.length:
                            conf += post[j - k]
                            break
                decisions.append(Decision(si, i, i + cand.length, cand.original, float(conf),
                                          cand.flags))
            k = k2
        return decisions

    # ------------------------------------------------------------------ public

    def decode(self, sentences: list[list[str]], *, fast: bool = False,
               shapes: list[list[int]] | None = None):
        """Decode normalised sentences.

        Args:
            sentences: Normalised tokens, one list per sentence.
            fast: Stop after the local step (used by `check`).
            shapes: Token shapes, see `prepare`.

        Returns:
            (decisions, local) where decisions are proposed restorations with confidences
            (all of them, including low-confidence ones) and local the per-candidate local
            scores (for detection features).
        """
        states = self.prepare(sentences, shapes)
        local = self.local_scores(states)
        if fast:
            return self._local_decisions(states, local), local, states
        by_pos = self._options(local, states)
        decisions = self.joint(states, by_pos, {})
        if self.params.doc_bonus > 0 and decisions:
            counts = Counter(
                (tuple(states[d.sentence].norms[d.start:d.end]), d.original)
                for d in decisions if d.confidence >= self.params.min_confidence
            )
            if counts:
                bonus = {key: self.params.doc_bonus * math.log1p(n) for key, n in counts.items()}
                decisions = self.joint(states, by_pos, bonus)
        return decisions, local, states

    @staticmethod
    def local_posteriors(local) -> dict[tuple[int, int], tuple[float, Candidate, float]]:
        """Per (sentence, position): P(swapped), the best candidate and its posterior."""
        best: dict[tuple[int, int], tuple[float, Candidate]] = {}
        zsum: dict[tuple[int, int], float] = {}
        for si, i, cand, s, _ in local:
            key = (si, i)
            zsum[key] = zsum.get(key, 1.0) + math.exp(min(s, 50.0))
            if key not in best or s > best[key][0]:
                best[key] = (s, cand)
        return {
            key: (1.0 - 1.0 / zsum[key], cand, math.exp(min(s, 50.0)) / zsum[key])
            for key, (s, cand) in best.items()
        }

    def _local_decisions(self, states, local) -> list[Decision]:
        out = [
            Decision(si, i, i + cand.length, cand.original, conf, cand.flags)
            for (si, i), (_, cand, conf) in self.local_posteriors(local).items()
        ]
        out.sort(key=lambda d: (d.sentence, d.start))
        return out
