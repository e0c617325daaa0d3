"""Context model: which word fits a slot, judged from the four words on each side.

The trigram model sees two words to the left of a word; a spinner's synonym often fits
those ("the film *depicted*") and only the wider context tells ("... *depicted* the lead
role"). This small feed-forward network reads the embeddings of the four words before and
the four after a slot and scores every vocabulary word for it (a log-softmax up to a
constant per slot). The decoder adds ``DecodeParams.context_weight`` times the difference
between a candidate original's score and the observed word's to the candidate's channel
score (`Decoder.local`), in `unspin.restore` only.

The weights are trained on the corpus's training split by ``scripts/train_context.py``
(PyTorch, build time only) and shipped by ``scripts/build_context.py`` as one memory-mapped
`unspin.lm.ArrayFile`: input and output embeddings tied, int8 with one scale per word.
Inference is numpy: two small matrix products per batch of slots.

The module also holds the evidence that reads the whole document (`DocumentWords`): its
topic (`topic_delta`, from the shipped skip-gram vectors) and its word counts
(`DocumentWords.repeat_delta`), which `restore` adds the same way.
"""

from __future__ import annotations

from contextlib import AbstractContextManager, nullcontext
from itertools import repeat
from pathlib import Path

import numpy as np

from .lm import NONE, UNK, ArrayFile

FIRST_WORD = 4  # ids below are <unk>, <s>, </s>, <none>: never scored as slot fillers
FORMAT = "unspin-context-1"
SLOT_BLOCK = 4096  # slots per matrix product: bounds memory (16 MB of inputs per block)
# The most frequent words (by the vectors' row order) say nothing about a text's topic.
TOPIC_SKIP = 200
TOPIC_BLOCK = 65536  # words summed at a time
# `topic_delta` can reach 2 in theory; the largest over 74,000 candidates of 40
# calibration documents was 0.42. The decoder scores the topic only of candidates that
# this much could lift to its floor.
TOPIC_REACH = 0.5
# The same for the context model's score difference (nats, before its weight): 5 % of
# candidates get more than 5, but looking only at those that 5 could lift to the floor
# skips a quarter of the slots for 0.1 points of the unseen spinner's restorations on 60
# calibration documents (the seen spinner's unchanged; BENCHMARKS, Document evidence).
CONTEXT_REACH = 5.0


class ContextModel:
    """Slot scores from a file written by ``scripts/build_context.py``.

    Its vocabulary is the shipped language model's first ``vocab`` words (by frequency);
    `id_map` translates any language model's ids.
    """

    def __init__(self, path: str | Path):
        arrays, meta = ArrayFile.load(path)
        if meta.get("format") != FORMAT:
            raise ValueError(f"{path}: not an unspin context model")
        self.path = str(path)
        self.vocab = int(meta["vocab"])
        self.offsets = np.asarray(meta["offsets"], dtype=np.int64)
        self.emb = np.asarray(arrays["emb"])  # int8 (vocab, dim); a plain view of the map
        self.scale = np.asarray(arrays["scale"], dtype=np.float32)  # per word
        self.bias = np.asarray(arrays["bias"], dtype=np.float32)
        self.w1 = np.asarray(arrays["w1"], dtype=np.float32)
        self.b1 = np.asarray(arrays["b1"], dtype=np.float32)
        self.w2 = np.asarray(arrays["w2"], dtype=np.float32)
        self.b2 = np.asarray(arrays["b2"], dtype=np.float32)
        self.words: list[str] = bytes(arrays["vocab"]).decode("utf-8").split("\n")
        self._blas = None
        self._emb32: np.ndarray | None = None  # see `_vectors`

    def _one_thread(self) -> AbstractContextManager:
        """BLAS limited to one thread: unspin parallelises over documents (one worker per
        core), and OpenBLAS's threads spin while they wait, which doubled the CPU time of
        a restore here."""
        if self._blas is None:
            try:
                from threadpoolctl import ThreadpoolController

                self._blas = ThreadpoolController()
            except ImportError:  # pragma: no cover - a declared dependency
                self._blas = False
        if not self._blas:
            return nullcontext()
        return self._blas.limit(limits=1, user_api="blas")

    def id_map(self, lm_words: list[str]) -> np.ndarray:
        """Per id of a language model with vocabulary ``lm_words``: this model's id of the
        same word (``<unk>`` where it has none; the four special ids map to themselves)."""
        index = dict(zip(self.words, range(len(self.words)), strict=True))
        out = np.fromiter(map(index.get, lm_words, repeat(UNK)), dtype=np.int64,
                          count=len(lm_words))
        out[:FIRST_WORD] = np.arange(min(FIRST_WORD, len(out)))
        return out

    def _vectors(self, ids: np.ndarray) -> np.ndarray:
        """Float embeddings of in-vocabulary ids (any shape; last axis added)."""
        if self._emb32 is None:
            # Converted once (26 MB for the shipped model): converting each gathered block
            # of int8 rows again was about 5 % of a `restore`. The same float32 products.
            emb32 = self.emb.astype(np.float32)
            emb32 *= self.scale[:, None]  # in place: one 26 MB array at the peak, not two
            self._emb32 = emb32
        return self._emb32[ids]

    def slot_vectors(self, g: np.ndarray, at: np.ndarray) -> np.ndarray:
        """The network's output for the slots ``g[at]`` (one row per slot).

        Args:
            g: A padded id sequence as the decoder lays it out (``[NONE, BOS, ids..., EOS]``
                per sentence, concatenated); context outside the slot's sentence reads as
                ``NONE``.
            at: Slot indices into ``g``.
        """
        idx = np.clip(at[:, None] + self.offsets, 0, max(len(g) - 1, 0))
        # Only the slot's own sentence counts (each starts with its NONE): the same
        # evidence whether the decoder sees the document whole or in chunks.
        sentence = np.cumsum(g == NONE)
        inside = (sentence[idx] == sentence[at][:, None]) & (idx == at[:, None] + self.offsets)
        ctx = np.where(inside, g[idx], NONE)
        x = self._vectors(ctx).reshape(len(at), -1)
        with self._one_thread():
            h = x @ self.w1
            h += self.b1
            np.maximum(h, 0.0, out=h)
            out = h @ self.w2
        out += self.b2
        return out

    def delta(self, g: np.ndarray, at: np.ndarray, orig: np.ndarray,
              bias: float = 1.0, slots_out: list | None = None) -> np.ndarray:
        """Per candidate: score of the original ``orig`` minus that of the observed ``g[at]``
        in the slot (natural log); 0 where either word is outside the model's vocabulary.

        All ids are this model's (see `id_map`). Slots are processed in blocks, so memory
        stays bounded on any document.

        Args:
            g: Padded ids (see `slot_vectors`).
            at: Per candidate, its slot in ``g`` (repeats allowed).
            orig: Per candidate, the id of the proposed original.
            bias: Weight of the per-word bias (the model's unigram part).
            slots_out: A list to append ``(slots, slot_vectors)`` of each block to, for a
                caller that scores more words in the same slots.
        """
        out = np.zeros(len(at), dtype=np.float64)
        ok = np.flatnonzero((g[at] >= FIRST_WORD) & (orig >= FIRST_WORD))
        if len(ok) == 0:
            return out
        ok = ok[np.argsort(at[ok], kind="stable")]  # candidates grouped by slot
        slots, first = np.unique(at[ok], return_index=True)
        bounds = np.append(first, len(ok))
        for s0 in range(0, len(slots), SLOT_BLOCK):
            s1 = min(s0 + SLOT_BLOCK, len(slots))
            vec = self.slot_vectors(g, slots[s0:s1])
            if slots_out is not None:
                slots_out.append((slots[s0:s1], vec))
            w = g[slots[s0:s1]]
            s_obs = np.einsum("ij,ij->i", vec, self._vectors(w)) + bias * self.bias[w]
            rows = ok[bounds[s0]:bounds[s1]]
            k = np.repeat(np.arange(s1 - s0), np.diff(bounds[s0:s1 + 1]))
            o = orig[rows]
            s_orig = np.einsum("ij,ij->i", vec[k], self._vectors(o)) + bias * self.bias[o]
            out[rows] = s_orig - s_obs[k]
        return out


    def best_fillers(self, vec: np.ndarray, observed: np.ndarray, ids: np.ndarray,
                     bounds: np.ndarray, top: int, floor: float) -> np.ndarray:
        """Per slot, the best few of its candidate fillers by score difference (numpy: the
        reference of the compiled `_native.two_step_best`, which builds the candidates too).

        Args:
            vec: `slot_vectors` of ``n`` slots.
            observed: Per slot, the observed word's score (``vec . vector``, no bias).
            ids: The candidates of all slots, slot after slot (this model's ids).
            bounds: ``n + 1`` offsets: slot ``k``'s candidates are
                ``ids[bounds[k]:bounds[k + 1]]``.
            top: How many per slot.
            floor: The least score difference (candidate minus observed) kept.

        Returns:
            ``(n, top)`` indices into ``ids``, best first (ties to the earlier), -1 where
            fewer reach ``floor``.
        """
        n = len(observed)
        out = np.full((n, top), -1, dtype=np.int64)
        b = np.asarray(bounds).tolist()
        for k in range(n):
            d = self._vectors(ids[b[k]:b[k + 1]]) @ vec[k] - np.float32(observed[k])
            best = np.argsort(-d, kind="stable")[:top]
            best = best[d[best] >= np.float32(floor)]
            out[k, :len(best)] = best + b[k]
        return out


def text_topic(vectors: np.ndarray, rows: np.ndarray, ids: np.ndarray) -> np.ndarray:
    """The topic of a text for `topic_delta`: the sum of its words' unit vectors, the
    `TOPIC_SKIP` most frequent words left out (float32, one row of ``vectors``' width).

    Args:
        vectors: Unit word vectors (float16 or float32), rows in frequency order.
        rows: Per id of the text's vocabulary, its row in ``vectors`` (-1: none).
        ids: The text's ids (any layout; padding ids have no row).
    """
    r = rows[ids]
    r = r[r >= TOPIC_SKIP]
    topic = np.zeros(vectors.shape[1], dtype=np.float32)
    for k in range(0, len(r), TOPIC_BLOCK):  # memory stays flat however long the text
        topic += vectors[r[k:k + TOPIC_BLOCK]].sum(axis=0, dtype=np.float32)
    return topic


def topic_delta(vectors: np.ndarray, rows: np.ndarray, topic: np.ndarray,
                observed: np.ndarray, orig: np.ndarray) -> np.ndarray:
    """Per candidate: how much better its original fits the text's topic than the observed
    word (cosine with the topic, original minus observed; in [-2, 2]).

    A spinner picks its synonym without reading the text, so the original tends to be
    nearer the text's other words ("film" in an article about actors) than the synonym
    that replaced it ("cinema"). The observed word's own vector is taken out of the topic
    so that it does not vote for itself. 0 where either word has no vector.

    Args:
        vectors: Unit word vectors (float16 or float32), rows in frequency order.
        rows: Per id, its row in ``vectors`` (-1: none).
        topic: `text_topic` of the whole text.
        observed: Per candidate, the id of the word in the text.
        orig: Per candidate, the id of the proposed original.
    """
    out = np.zeros(len(observed), dtype=np.float64)
    r_obs, r_orig = rows[observed], rows[orig]
    ok = np.flatnonzero((r_obs >= 0) & (r_orig >= 0))
    if len(ok) == 0:
        return out
    v_obs, v_orig = vectors[r_obs[ok]], vectors[r_orig[ok]]
    topic = topic.astype(v_obs.dtype)
    # cos(v_orig - v_obs, T) with T = topic - own * v_obs, from three dot products (all
    # vectors have unit length): no per-candidate topic is built.
    a, b = v_orig @ topic, v_obs @ topic
    own = (r_obs[ok] >= TOPIC_SKIP).astype(np.float64)
    c = np.einsum("ij,ij->i", v_orig, v_obs).astype(np.float64)
    a, b = a.astype(np.float64), b.astype(np.float64)
    num = a - b - own * (c - 1.0)
    norm2 = float(topic.astype(np.float64) @ topic) - own * (2.0 * b - 1.0)
    out[ok] = num / np.sqrt(np.maximum(norm2, 1e-12))
    return out


class DocumentWords:
    """A whole document's words, for the evidence that reads all of it: its topic
    (`topic_delta`) and how often each word occurs in it (`repeat_delta`).

    Args:
        ids: The document's ids (any layout; padding ids are never asked about).
        vectors: Unit word vectors for the topic (None: no topic).
        rows: Per id, its row in ``vectors`` (-1: none).
    """

    def __init__(self, ids: np.ndarray, vectors: np.ndarray | None = None,
                 rows: np.ndarray | None = None):
        self.ids, self.counts = np.unique(np.asarray(ids, dtype=np.int64), return_counts=True)
        self.topic = None if vectors is None or rows is None else text_topic(vectors, rows, ids)

    def count(self, ids: np.ndarray) -> np.ndarray:
        """How many times each of ``ids`` occurs in the document."""
        ids = np.asarray(ids, dtype=np.int64)
        if len(self.ids) == 0:
            return np.zeros(len(ids), dtype=np.int64)
        k = np.minimum(np.searchsorted(self.ids, ids), len(self.ids) - 1)
        return np.where(self.ids[k] == ids, self.counts[k], 0)

    def repeat_delta(self, observed: np.ndarray, orig: np.ndarray) -> np.ndarray:
        """Per candidate: log(1 + occurrences of the original in the document) minus
        log(1 + occurrences of the observed word elsewhere in it).

        A spinner that swaps some occurrences of a word leaves the others, so the original
        is often in the document already; and a word that recurs is then more often the
        author's (the subject's words) than a synonym, which recurs only where several
        occurrences were swapped. A spinner that swaps every occurrence of its words leaves
        no original behind and makes its synonym recur as often as the original did: the
        first term is then silent and the second costs some restorations (BENCHMARKS,
        Document evidence).
        """
        others = np.maximum(self.count(observed) - 1, 0)
        return np.log1p(self.count(orig)) - np.log1p(others)
