"""Language model: a pruned, quantised trigram model with Kneser-Ney smoothing.

The model answers one question fast and in bulk: log10 P(word | two previous words), for
numpy arrays of word ids. It is stored in one file of raw arrays (see `ArrayFile`) that is
memory-mapped, so loading takes milliseconds and worker processes share the pages.

Building (`build_lm`, CLI ``unspin lm build``) counts n-grams with numpy: n-grams are
packed into 64-bit keys (21 bits per word id), sorted and counted with ``np.unique``. The
probabilities are interpolated Kneser-Ney computed on the full counts; rare n-grams are
then pruned, and a pruned or unseen n-gram backs off through the stored context weights.

Scorers implement `Scorer` (one method), so a neural scorer can replace this model later.
"""

from __future__ import annotations

import json
import os
import sys
import time
import warnings
from array import array
from collections.abc import Iterable, Iterator, Sequence
from itertools import repeat
from pathlib import Path
from typing import Protocol

import numpy as np

from .corpus import iter_documents, open_text, training_fragments
from .tokens import _ctext

try:  # The optional compiled lookups (setup.py); the numpy code below gives the same values.
    from . import _native
except ImportError:  # pragma: no cover - depends on the build
    _native = None

UNK, BOS, EOS, NONE = 0, 1, 2, 3
SPECIALS = ["<unk>", "<s>", "</s>", "<none>"]
BITS = 21
MASK = (1 << BITS) - 1
MAX_VOCAB = MASK - len(SPECIALS)

# Quantisation ranges (log10). Probabilities below 1e-8 are clipped: such words are
# effectively unknown and the decoder only compares alternatives.
LP_LO, LP_HI = -8.0, 0.0
BOW_LO, BOW_HI = -6.0, 0.0
MAGIC = b"UNSPINA1"


class Scorer(Protocol):
    """What the decoder needs from a language model."""

    def ids(self, words: Sequence[str]) -> np.ndarray:
        """Map normalised words to ids (unknown words to `UNK`)."""

    def logprob(self, a: np.ndarray, b: np.ndarray, c: np.ndarray) -> np.ndarray:
        """log10 P(c | a b) for arrays of ids (`NONE` for a missing context word)."""


# ---------------------------------------------------------------------------- storage


class ArrayFile:
    """One file holding named numpy arrays and a JSON header, memory-mapped on load.

    Layout: magic (8 bytes), header length (8 bytes, little endian), JSON header, then each
    array's raw bytes at a 64-byte-aligned offset.
    """

    @staticmethod
    def save(path: str | Path, arrays: dict[str, np.ndarray], meta: dict) -> None:
        """Write arrays and metadata to ``path`` atomically (temp file, then rename)."""
        entries = {}
        offset = 0
        for name, arr in arrays.items():
            arr = np.ascontiguousarray(arr)
            offset = (offset + 63) // 64 * 64
            entries[name] = {"dtype": arr.dtype.str, "shape": list(arr.shape), "offset": offset}
            offset += arr.nbytes
        header = json.dumps({"meta": meta, "arrays": entries}).encode()
        base = (16 + len(header) + 63) // 64 * 64
        path = Path(path)
        tmp = path.with_name(path.name + ".tmp")
        with open(tmp, "wb") as fh:
            fh.write(MAGIC + len(header).to_bytes(8, "little") + header)
            for name, arr in arrays.items():
                fh.seek(base + entries[name]["offset"])
                fh.write(np.ascontiguousarray(arr).tobytes())
        tmp.replace(path)

    @staticmethod
    def load(path: str | Path) -> tuple[dict[str, np.ndarray], dict]:
        """Memory-map the arrays of a file written by `save`.

        Raises:
            ValueError: if the file is not an unspin array file.
        """
        with open(path, "rb") as fh:
            head = fh.read(16)
            if len(head) < 16 or head[:8] != MAGIC:
                raise ValueError(f"{path}: not an unspin model file")
            header = json.loads(fh.read(int.from_bytes(head[8:16], "little")))
            base = (16 + int.from_bytes(head[8:16], "little") + 63) // 64 * 64
        arrays = {}
        for name, e in header["arrays"].items():
            shape = tuple(e["shape"])
            if int(np.prod(shape)) == 0:
                arrays[name] = np.zeros(shape, dtype=e["dtype"])
                continue
            arrays[name] = np.memmap(path, dtype=e["dtype"], mode="r",
                                     offset=base + e["offset"], shape=shape)
        return arrays, header["meta"]


_MIX = np.uint64(0xBF58476D1CE4E5B9)


def fingerprint(keys: np.ndarray) -> np.ndarray:
    """32-bit fingerprints of packed n-gram keys.

    Storing fingerprints instead of the 64-bit keys halves the model. A query for an unseen
    n-gram matches a stored fingerprint with probability (stored n-grams) / 2**32, about
    0.05 % for two million n-grams: a negligible error for a language model.
    """
    k = np.asarray(keys, dtype=np.uint64)
    k = (k ^ (k >> np.uint64(29))) * _MIX
    return (k >> np.uint64(32)).astype(np.uint32)


def _sorted_by_fingerprint(keys: np.ndarray, *values: np.ndarray):
    """Sort entries by fingerprint and drop the rare fingerprint collisions."""
    fp = fingerprint(keys)
    order = np.argsort(fp, kind="stable")
    fp = fp[order]
    uniq = np.r_[True, fp[1:] != fp[:-1]]
    return (fp[uniq], *(v[order][uniq] for v in values))


def _quantise(values: np.ndarray, lo: float, hi: float) -> np.ndarray:
    v = np.clip(values, lo, hi)
    return np.rint((v - lo) / (hi - lo) * 255).astype(np.uint8)


def _dequantise_table(lo: float, hi: float) -> np.ndarray:
    return (np.arange(256, dtype=np.float32) / 255 * (hi - lo) + lo).astype(np.float32)


# ---------------------------------------------------------------------------- model


def native_available() -> bool:
    """Whether the compiled lookups are built and not switched off (``UNSPIN_NATIVE=0``)."""
    return _native is not None and os.environ.get("UNSPIN_NATIVE", "1") != "0"


class NGramLM:
    """A trigram language model loaded from an `ArrayFile`.

    Args:
        path: File written by `build_lm`.
    """

    def __init__(self, path: str | Path):
        arrays, meta = ArrayFile.load(path)
        self.path = str(path)
        self.meta = meta
        self.words: list[str] = bytes(arrays["vocab"]).decode("utf-8").split("\n")
        self.index: dict[str, int] = dict(zip(self.words, range(len(self.words)), strict=True))
        # `_ctext.vocab_table`, built on first use (False: too large for it; see `_table`)
        self._vocab_table: object | None = None
        # Plain ndarray views: indexing np.memmap objects is slower (same pages).
        arrays = {k: v.view(np.ndarray) for k, v in arrays.items()}
        self._p1 = arrays["p1"]
        self._bow1 = arrays["bow1"]
        self._k2 = arrays["k2"]
        self._p2 = arrays["p2"]
        self._bow2 = arrays["bow2"]
        self._k3 = arrays["k3"]
        self._bucket_cache: dict[str, tuple[np.ndarray, np.ndarray, int, int]] = {}
        self._p3 = arrays["p3"]
        self._lp = _dequantise_table(LP_LO, LP_HI)
        self._bw = _dequantise_table(BOW_LO, BOW_HI)
        # Unigram arrays are small and hit on every query: keep them dequantised in memory.
        self._p1f = self._lp[np.asarray(self._p1)]
        self._bow1f = self._bw[np.asarray(self._bow1)]
        self._compiled: object | None = None
        self.native = native_available()
        if self.native:
            # The compiled view copies the n-gram tables into its own layout (about the
            # file's size in memory): made now, so that a machine without the memory for it
            # falls back to numpy here rather than failing in the middle of a call.
            try:
                self._nat()
            except MemoryError:
                warnings.warn(f"not enough memory for the compiled view of {path}: using the "
                              "slower numpy lookups", RuntimeWarning, stacklevel=2)
                self.native = False

    def __getstate__(self) -> dict:
        # The compiled view holds buffers, not picklable; it is rebuilt on first use.
        state = dict(self.__dict__)
        state["_compiled"] = None
        state["_vocab_table"] = None  # a capsule (not picklable): rebuilt on first use
        return state

    def _nat(self):
        """The compiled view of the arrays (`unspin._native.Model`), built when the model
        loads (or on first use after unpickling): it lays the n-gram tables out again in
        cache lines (about 30 ms and 25 MB for the shipped model, shared by forked workers)
        and answers lookups from those."""
        m = self._compiled
        if m is None:
            m = _native.Model(self._k2, self._k3, self._p1f, self._bow1f, self._lp,
                              self._bw, self._p2, self._bow2, self._p3)
            self._compiled = m
        return m

    def compiled(self):
        """The compiled helper's view of this model (`unspin._native.Model`), or None when
        the helper is not built or is switched off (``UNSPIN_NATIVE=0``)."""
        return self._nat() if self.native else None

    def __len__(self) -> int:
        return len(self.words)

    def id(self, word: str) -> int:
        """Id of one normalised word (`UNK` when unknown)."""
        return self.index.get(word, UNK)

    def _table(self) -> object | None:
        """The compiled helper's table of the vocabulary (`_ctext.vocab_table`), made on
        first use; None without the helper, or for a vocabulary too large for its layout
        (the dict answers then: the same ids)."""
        if self._vocab_table is None and _ctext is not None:
            try:
                self._vocab_table = _ctext.vocab_table(self.words)
            except (ValueError, MemoryError):
                self._vocab_table = False
        return self._vocab_table or None

    def lookup_spec(self) -> tuple[dict[str, int], int, object | None, list[str]]:
        """What `unspin.tokens.token_pass` needs to look words up as `ids` does: the index,
        `UNK`, the compiled helper's table of the vocabulary (None without it), and the
        words by id (whose str objects the compiled pass reuses as normalised forms)."""
        return self.index, UNK, self._table(), self.words

    def ids(self, words: Sequence[str]) -> np.ndarray:
        """Ids of normalised words as an int64 array."""
        if _ctext is not None and isinstance(words, list):
            # ASCII words looked up in a compact table (about a cache miss a word; the dict
            # takes three or four: index, entry, key, value), others in the dict.
            table = self._table()
            args = (self.index, words, UNK) + ((table,) if table is not None else ())
            return np.frombuffer(_ctext.lookup_ids(*args), dtype=np.int64)
        # map() with two iterables calls dict.get(w, UNK) from C: twice as fast as a
        # generator expression.
        return np.fromiter(map(self.index.get, words, repeat(UNK)), dtype=np.int64,
                           count=len(words))

    def _buckets(self, name: str) -> tuple[np.ndarray, np.ndarray, int, int]:
        """Sorted fingerprints, the start of each bucket of them, the shift and the depth,
        for the numpy lookups (the compiled ones lay the tables out in cache lines).

        Fingerprints are uniform, so cutting them by their top bits into buckets of about
        five keys leaves at most a few dozen a bucket: a lookup is one probe into the bucket
        starts and five steps of binary search inside a cache line or two, instead of 21
        steps that each miss the CPU cache. Larger buckets keep the starts small (3 MB for
        both tables): with one bucket per key, two worker processes slowed each other
        down through the shared cache (`bench.scan`: 1.70x for 2 workers vs 1.93-2.04x).
        Built on first use (a few milliseconds).
        """
        hit = self._bucket_cache.get(name)
        if hit is None:
            keys = getattr(self, name)
            bits = max(1, min(24, int(len(keys)).bit_length() - 3))
            shift = 32 - bits
            # The keys are sorted: each bucket's start is a binary search for its first
            # possible key, which reads a few pages of the memory-mapped keys where
            # counting them all read every page (most of a short check's start-up).
            first = np.arange(1 << bits, dtype=np.uint32) << np.uint32(shift)
            starts = np.empty((1 << bits) + 1, dtype=np.int32)
            starts[:-1] = np.searchsorted(keys, first.astype(keys.dtype, copy=False))
            starts[-1] = len(keys)
            depth = int(np.diff(starts).max()).bit_length() if len(keys) else 0
            hit = (keys, starts, shift, depth)
            self._bucket_cache[name] = hit
        return hit

    def _find(self, name: str, query: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """For each fingerprint in ``query``: is it stored, and where (vectorised)."""
        keys, starts, shift, depth = self._buckets(name)
        if len(keys) == 0:
            return np.zeros(len(query), dtype=bool), np.zeros(len(query), dtype=np.int32)
        bucket = query >> shift
        lo = starts[bucket]
        hi = starts[bucket + 1]
        last = len(keys) - 1
        # Branch-free lower bound inside [lo, hi), the same number of steps for every query.
        for _ in range(depth):
            mid = (lo + hi) >> 1
            np.minimum(mid, last, out=mid)
            go = keys[mid] < query
            go &= lo < hi
            lo = np.where(go, mid + 1, lo)
            hi = np.where(go, hi, mid)
        np.minimum(lo, last, out=lo)
        return keys[lo] == query, lo

    def unigram_logprob(self, ids: np.ndarray) -> np.ndarray:
        """log10 P(word) of each id, without context (float32)."""
        return self._p1f[np.asarray(ids)]

    def logprob(self, a: np.ndarray, b: np.ndarray, c: np.ndarray) -> np.ndarray:
        """log10 P(c | a b), vectorised; use `NONE` for a missing context word."""
        if self.native:
            a = np.ascontiguousarray(a, dtype=np.int64)
            b = np.ascontiguousarray(b, dtype=np.int64)
            c = np.ascontiguousarray(c, dtype=np.int64)
            out = np.empty(len(a), dtype=np.float32)
            self._nat().logprob(a, b, c, len(a), out)
            return out
        a = np.asarray(a, dtype=np.uint64)
        b = np.asarray(b, dtype=np.uint64)
        c = np.asarray(c, dtype=np.uint64)
        bits = np.uint64(BITS)
        p1 = self._p1f[c.astype(np.int64)]
        hit2, pos2 = self._find("_k2", fingerprint((b << bits) | c))
        p2 = np.where(hit2, self._lp[self._p2[pos2]], self._bow1f[b.astype(np.int64)] + p1)
        hitc, posc = self._find("_k2", fingerprint((a << bits) | b))
        bow2 = np.where(hitc, self._bw[self._bow2[posc]], 0.0)
        out = (bow2 + p2).astype(np.float32)
        # A trigram is stored only if both its bigrams are (pruning keeps n-grams by count,
        # and a trigram's count bounds theirs): probe the trigram table only there.
        maybe = np.flatnonzero(hit2 & hitc)
        if len(maybe):
            key3 = (a[maybe] << np.uint64(2 * BITS)) | (b[maybe] << bits) | c[maybe]
            hit3, pos3 = self._find("_k3", fingerprint(key3))
            out[maybe[hit3]] = self._lp[self._p3[pos3[hit3]]]
        return out

    def pairs(self, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Look bigrams ``(x, y)`` up: whether each is stored, and its values (for
        `logprob_pairs`): ``(p << 8) | bow`` of a stored one, its probability's and
        back-off's quantised indices (0 where not stored). Carrying the values rather than
        a position spares the caller a second trip to the model's arrays."""
        if self.native:
            x = np.ascontiguousarray(x, dtype=np.int64)
            y = np.ascontiguousarray(y, dtype=np.int64)
            hit = np.empty(len(x), dtype=bool)
            pos = np.empty(len(x), dtype=np.int32)
            self._nat().pairs(x, y, len(x), hit, pos)
            return hit, pos
        bits = np.uint64(BITS)
        key = (np.asarray(x, dtype=np.uint64) << bits) | np.asarray(y, dtype=np.uint64)
        hit, pos = self._find("_k2", fingerprint(key))
        value = (self._p2[pos].astype(np.int32) << 8) | self._bow2[pos]
        return hit, np.where(hit, value, 0).astype(np.int32)

    def logprob_seq(self, seq: np.ndarray) -> np.ndarray:
        """log10 P of every word of each row of ``seq`` from the third on, given the two
        before it: ``out[r, t] = logprob(seq[r, t], seq[r, t + 1], seq[r, t + 2])``.

        Same values as `logprob` on the windows, with fewer lookups: the bigram a window
        ends with is the context of the next one, so each adjacent pair is looked up once
        (``m - 1`` bigram probes a row of ``m`` words instead of ``2 (m - 2)``).

        Args:
            seq: ``(n, m)`` array of word ids, ``m >= 3``.

        Returns:
            ``(n, m - 2)`` float32 array.
        """
        seq = np.asarray(seq, dtype=np.int64)
        n, m = seq.shape
        if self.native:
            seq = np.ascontiguousarray(seq)
            out = np.empty((n, m - 2), dtype=np.float32)
            self._nat().logprob_seq(seq, n, m, out)
            return out
        hit, pos = self.pairs(seq[:, :-1].ravel(), seq[:, 1:].ravel())
        return self.logprob_pairs(seq, hit.reshape(n, m - 1), pos.reshape(n, m - 1))

    def logprob_pairs(self, seq: np.ndarray, hit: np.ndarray, pos: np.ndarray) -> np.ndarray:
        """`logprob_seq` with the lookups of the adjacent pairs already made (`pairs`):
        ``hit`` and ``pos`` (their values) are ``(n, m - 1)``, column ``t`` for
        ``(seq[:, t], seq[:, t + 1])``. Callers that score many variants of one text look
        its own pairs up once."""
        seq = np.asarray(seq, dtype=np.int64)
        n, m = seq.shape
        if self.native:
            out = np.empty((n, m - 2), dtype=np.float32)
            self._nat().logprob_pairs(np.ascontiguousarray(seq), n, m,
                                      np.ascontiguousarray(hit, dtype=bool),
                                      np.ascontiguousarray(pos, dtype=np.int32), out)
            return out
        bits = np.uint64(BITS)
        hit2, pos2 = hit[:, 1:], pos[:, 1:]  # (b, c) of each window
        hitc, posc = hit[:, :-1], pos[:, :-1]  # (a, b): its context
        b = seq[:, 1:-1]
        c = seq[:, 2:]
        p1 = self._p1f[c]
        p2 = np.where(hit2, self._lp[(pos2 >> 8) & 0xFF], self._bow1f[b] + p1)
        bow2 = np.where(hitc, self._bw[posc & 0xFF], 0.0)
        out = (bow2 + p2).astype(np.float32).ravel()
        maybe = np.flatnonzero((hit2 & hitc).ravel())
        if len(maybe):
            a = seq[:, :-2].ravel()[maybe].astype(np.uint64)
            key3 = (a << np.uint64(2 * BITS)) | (b.ravel()[maybe].astype(np.uint64) << bits) \
                | c.ravel()[maybe].astype(np.uint64)
            hit3, pos3 = self._find("_k3", fingerprint(key3))
            out[maybe[hit3]] = self._lp[self._p3[pos3[hit3]]]
        return out.reshape(n, m - 2)

    def score_ids(self, ids: np.ndarray) -> np.ndarray:
        """Per-token log10 probabilities of a sentence of ids, with </s> appended.

        The sentence is scored from <s>; the result has ``len(ids) + 1`` entries, the last
        being the end of the sentence.
        """
        seq = np.concatenate(([NONE, BOS], np.asarray(ids, dtype=np.int64), [EOS]))
        return self.logprob(seq[:-2], seq[1:-1], seq[2:])

    def score_sentence(self, words: Sequence[str]) -> np.ndarray:
        """Per-token log10 probabilities of a normalised sentence, with </s> last."""
        return self.score_ids(self.ids(words))


# ---------------------------------------------------------------------------- building


def _iter_texts(paths: Iterable[str], text_field: str) -> Iterator[str]:
    """Texts from corpus files; plain .txt files are read in blocks of lines."""
    for p in paths:
        path = Path(p)
        name = path.name.removesuffix(".gz")
        if path.is_file() and not name.endswith((".jsonl", ".json", ".ndjson")):
            with open_text(path) as fh:
                block: list[str] = []
                for line in fh:
                    block.append(line)
                    if len(block) >= 20000:
                        yield "".join(block)
                        block = []
                if block:
                    yield "".join(block)
        else:
            for doc in iter_documents([path], text_field=text_field):
                yield doc[text_field]


def _group_sums(keys_sorted_groups: np.ndarray, values: np.ndarray):
    """For sorted group keys: unique groups, sums of values and sizes per group."""
    if len(keys_sorted_groups) == 0:
        return keys_sorted_groups, values, values
    starts = np.flatnonzero(np.r_[True, keys_sorted_groups[1:] != keys_sorted_groups[:-1]])
    return keys_sorted_groups[starts], np.add.reduceat(values, starts), np.diff(
        np.r_[starts, len(keys_sorted_groups)]
    )


def _discount(counts: np.ndarray) -> float:
    n1 = int(np.sum(counts == 1))
    n2 = int(np.sum(counts == 2))
    if n1 == 0 or n2 == 0:
        return 0.5
    return min(0.95, max(0.05, n1 / (n1 + 2 * n2)))


def _lookup(keys: np.ndarray, query: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    pos = np.minimum(np.searchsorted(keys, query), max(len(keys) - 1, 0))
    return keys[pos] == query, pos


def build_lm(
    paths: Sequence[str],
    out: str,
    *,
    order: int = 3,
    vocab_size: int = 200_000,
    min_counts: tuple[int, int, int] = (1, 2, 3),
    text_field: str = "text",
    progress: bool = True,
) -> dict:
    """Build a trigram model from corpora and write it to ``out``.

    Args:
        paths: JSONL (optionally gzip) files with a text field, plain text files, or
            directories of them.
        out: Output file.
        order: N-gram order; only 3 is supported.
        vocab_size: Most frequent words kept; the rest become ``<unk>``.
        min_counts: Minimum raw counts for unigrams, bigrams and trigrams to be stored.
        text_field: JSON field holding the text.
        progress: Print progress to stderr.

    Returns:
        Statistics: token and n-gram counts, discounts, file size.
    """
    if order != 3:
        raise ValueError("only order 3 is supported")
    t0 = time.time()

    def say(msg: str) -> None:
        if progress:
            print(f"[lm build {time.time() - t0:6.1f}s] {msg}", file=sys.stderr, flush=True)

    # One pass: provisional ids in order of first appearance, remapped by frequency later.
    prov: dict[str, int] = {w: i for i, w in enumerate(SPECIALS)}
    seq = array("I")
    n_texts = 0
    for text in _iter_texts(paths, text_field):
        n_texts += 1
        for frag, starts, ends in training_fragments(text):
            if starts:
                seq.append(BOS)
            seq.extend(prov.setdefault(w, len(prov)) for w in frag)
            if ends:
                seq.append(EOS)
            seq.append(NONE)
        if progress and n_texts % 200 == 0:
            say(f"{n_texts} texts, {len(seq):,} tokens")
    if len(seq) < 3:
        raise ValueError("the corpus holds no text to build a language model from")
    ids = np.frombuffer(seq, dtype=np.uint32).astype(np.int64)
    del seq
    say(f"read {n_texts} texts, {len(ids):,} tokens, {len(prov):,} word types")

    counts = np.bincount(ids, minlength=len(prov))
    counts[: len(SPECIALS)] = 0
    order_ = np.argsort(-counts, kind="stable")
    keep = order_[: min(vocab_size, MAX_VOCAB)]
    keep = keep[counts[keep] >= max(1, min_counts[0])]
    remap = np.full(len(prov), UNK, dtype=np.int64)
    remap[: len(SPECIALS)] = np.arange(len(SPECIALS))
    remap[keep] = np.arange(len(SPECIALS), len(SPECIALS) + len(keep))
    inv = {i: w for w, i in prov.items()}
    words = SPECIALS + [inv[int(i)] for i in keep]
    del prov, inv
    ids = remap[ids]
    say(f"vocabulary {len(words):,}")

    # Raw n-gram counts. Windows containing the fragment separator NONE are skipped.
    bits = BITS
    a, b, c = ids[:-2], ids[1:-1], ids[2:]
    ok3 = (a != NONE) & (b != NONE) & (c != NONE)
    k3, c3 = np.unique((a[ok3] << (2 * bits)) | (b[ok3] << bits) | c[ok3], return_counts=True)
    ok2 = (ids[:-1] != NONE) & (ids[1:] != NONE)
    k2, c2 = np.unique((ids[:-1][ok2] << bits) | ids[1:][ok2], return_counts=True)
    del a, b, c, ok3, ok2
    say(f"{len(k2):,} bigram and {len(k3):,} trigram types")

    # Kneser-Ney continuation counts for the lower orders.
    suffix3 = k3 & ((1 << (2 * bits)) - 1)
    suf_keys, suf_n = np.unique(suffix3, return_counts=True)
    hit, pos = _lookup(suf_keys, k2)
    kn2 = np.where(hit, suf_n[pos], c2).astype(np.float64)
    kn2[(k2 >> bits) == BOS] = c2[(k2 >> bits) == BOS]
    kn1 = np.bincount(k2 & MASK, minlength=len(words)).astype(np.float64)
    kn1[BOS] = 0
    kn1[NONE] = 0
    d1 = _discount(kn1[kn1 > 0])
    d2 = _discount(kn2)
    d3 = _discount(c3)
    total1 = kn1.sum()
    # Unigram: absolute discounting interpolated with uniform, so no word has P = 0.
    n_types = float(np.sum(kn1 > 0))
    p1 = (np.maximum(kn1 - d1, 0) + d1 * n_types / len(words)) / total1
    p1[BOS] = 1e-9
    p1[NONE] = 1e-9

    # Bigram level.
    ctx2 = k2 >> bits
    ctx2_keys, ctx2_sum, ctx2_n = _group_sums(ctx2, kn2)
    _, cpos = _lookup(ctx2_keys, ctx2)
    gamma1 = np.ones(len(words))
    gamma1[ctx2_keys] = d2 * ctx2_n / ctx2_sum
    p2 = np.maximum(kn2 - d2, 0) / ctx2_sum[cpos] + gamma1[ctx2] * p1[k2 & MASK]

    # Trigram level.
    ctx3 = k3 >> bits
    ctx3_keys, ctx3_sum, ctx3_n = _group_sums(ctx3, c3.astype(np.float64))
    _, cpos3 = _lookup(ctx3_keys, ctx3)
    gamma2_all = d3 * ctx3_n / ctx3_sum  # per trigram context (a, b), a bigram key
    hit_s, pos_s = _lookup(k2, suffix3)
    assert bool(hit_s.all()), "every trigram suffix is a bigram"
    p3 = np.maximum(c3 - d3, 0) / ctx3_sum[cpos3] + gamma2_all[cpos3] * p2[pos_s]

    # Backoff weight of each bigram as a trigram context (1 where it is never a context).
    bow2 = np.ones(len(k2))
    hit_c, pos_c = _lookup(ctx3_keys, k2)
    bow2[hit_c] = gamma2_all[pos_c[hit_c]]

    # Prune. Trigram contexts are kept because c(ab) >= c(abc).
    keep3 = c3 >= min_counts[2]
    keep2 = c2 >= min_counts[1]
    f2, q2, qb2 = _sorted_by_fingerprint(
        k2[keep2], _quantise(np.log10(p2[keep2]), LP_LO, LP_HI),
        _quantise(np.log10(bow2[keep2]), BOW_LO, BOW_HI))
    f3, q3 = _sorted_by_fingerprint(k3[keep3], _quantise(np.log10(p3[keep3]), LP_LO, LP_HI))
    arrays = {
        "vocab": np.frombuffer("\n".join(words).encode("utf-8"), dtype=np.uint8),
        "p1": _quantise(np.log10(p1), LP_LO, LP_HI),
        "bow1": _quantise(np.log10(gamma1), BOW_LO, BOW_HI),
        "k2": f2,
        "p2": q2,
        "bow2": qb2,
        "k3": f3,
        "p3": q3,
    }
    stats = {
        "order": 3,
        "texts": n_texts,
        "tokens": int(len(ids)),
        "vocab": len(words),
        "bigrams": int(len(f2)),
        "trigrams": int(len(f3)),
        "discounts": [d1, d2, d3],
        "min_counts": list(min_counts),
        "sources": [str(p) for p in paths],
    }
    ArrayFile.save(out, arrays, stats)
    stats["bytes"] = Path(out).stat().st_size
    say(f"wrote {out}: {stats['bytes'] / 1e6:.1f} MB, {stats['bigrams']:,} bigrams, "
        f"{stats['trigrams']:,} trigrams")
    return stats
