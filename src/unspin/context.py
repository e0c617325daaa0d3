"""Context fit: how well a word suits the wider sentence, from skip-gram vectors.

Skip-gram with negative sampling learns input vectors v and output (context) vectors u
whose dot product approximates the pointwise mutual information of a word and a context
word, PMI(w, c) - log k. Summed over the words around a position, the difference
``sum_c v_o.u_c - sum_c v_w.u_c`` compares how typical the original ``o`` and the
observed ``w`` are of that context. A trigram model sees two words each side; this sees
the topic, which is what a sense-blind synonym gets wrong ("invoice" for "bill" in a
text about a law).

Shipped as float16 matrices for the most frequent words (``context_in.npy``,
``context_out.npy``, rows in the order of ``context_words.txt``), built by
``scripts/build_context.py``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

WINDOW = 6


class ContextModel:
    """Input and output skip-gram vectors for a capped vocabulary.

    Args:
        data_dir: Directory holding the three files.
        lm_words: The language model's vocabulary, to index rows by LM id.
    """

    def __init__(self, data_dir: str | Path, lm_words: list[str]):
        d = Path(data_dir)
        words = [w for w in (d / "context_words.txt").read_text(encoding="utf-8").split("\n")
                 if w]
        self.v_in = np.load(d / "context_in.npy", mmap_mode="r").view(np.ndarray)
        self.v_out = np.load(d / "context_out.npy", mmap_mode="r").view(np.ndarray)
        row = {w: i for i, w in enumerate(words) if w}
        # LM id -> row, or the extra zero row at the end for words without vectors.
        zero = len(words)
        self.row_of = np.fromiter((row.get(w, zero) for w in lm_words), dtype=np.int64,
                                  count=len(lm_words))
        dim = self.v_in.shape[1]
        self._in = np.vstack([self.v_in.astype(np.float32), np.zeros((1, dim), np.float32)])
        self._out = np.vstack([self.v_out.astype(np.float32), np.zeros((1, dim), np.float32)])
        self.n = zero

    @classmethod
    def maybe_load(cls, data_dir: str | Path, lm_words: list[str]) -> ContextModel | None:
        """Load when the files are there, else None (the decoder then skips the feature)."""
        d = Path(data_dir)
        if not (d / "context_in.npy").is_file():
            return None
        return cls(d, lm_words)

    def window_sums(self, g: np.ndarray, seq_start: np.ndarray, seq_end: np.ndarray,
                    positions: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Sum of output vectors of the words within `WINDOW` of each position.

        Args:
            g: Global array of LM ids (sentences concatenated).
            seq_start: For each index of ``g``, where its sentence starts.
            seq_end: For each index of ``g``, where its sentence ends (exclusive).
            positions: Indices of ``g`` to compute the sums for.

        Returns:
            (sums, counts): ``[len(positions), dim]`` sums, excluding the position itself,
            and how many context words with vectors each sum holds.
        """
        rows = self.row_of[g]
        out = self._out[rows]
        prefix = np.vstack([np.zeros((1, out.shape[1]), np.float32), np.cumsum(out, axis=0)])
        known = np.r_[0, np.cumsum(rows < self.n)]
        lo = np.maximum(positions - WINDOW, seq_start[positions])
        hi = np.minimum(positions + WINDOW + 1, seq_end[positions])
        sums = prefix[hi] - prefix[lo] - out[positions]
        counts = known[hi] - known[lo] - (rows[positions] < self.n)
        return sums, counts

    def fit(self, ids: np.ndarray, sums: np.ndarray) -> np.ndarray:
        """Dot products of input vectors of ``ids`` with context sums (row-wise)."""
        return np.einsum("ij,ij->i", self._in[self.row_of[ids]], sums)

    def known(self, ids: np.ndarray) -> np.ndarray:
        """Whether each LM id has a vector."""
        return self.row_of[ids] < self.n
