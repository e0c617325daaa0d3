"""Index of original documents, searchable with spun copies (``unspin.Index``).

A spinner swaps content words for synonyms but leaves the skeleton of the text alone:
function words, numbers, punctuation, hyphenated words, and the places and capitalisation
of the content words it swaps (DSpin's "immutables", NDSS 2014). Each document is reduced
to that skeleton: every token becomes a symbol, function words, numbers and punctuation as
themselves, a run of other words as one "content" symbol (capitalised or not), so that a
one-word synonym for a two-word phrase changes nothing. Hashed 6-grams of symbols survive
spinning at any rate that leaves the skeleton alone.

* Ingest keeps one in four of a document's 6-gram hashes (those whose low bits are zero:
  the same grams in every copy, so a copy of a third of a document still shares a third of
  them) as postings of an inverted index, and the original text, compressed.
* A query looks up its own sampled hashes, ranks the documents by shared hashes and
  verifies the best few by alignment: the longest chain of shared (unsampled) 6-grams in
  the same order in both texts. ``score`` is the share of the query's grams on that chain
  (containment, so a partial copy scores as high as a whole one); ``coverage`` the share of
  the original's grams. The query's specific numbers (years, counts) must also occur in
  the original: templated articles share sentences, not numbers.

Storage is pluggable in the style of datasketch's ``storage_config``: ``{"type":
"sqlite"}`` (default, one local file, WAL mode: crash-safe, readers never block on the
writer) or ``{"type": "memory"}``.
"""

from __future__ import annotations

import hashlib
import os
import sqlite3
import struct
import threading
import zlib
from bisect import bisect_left
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from .tokens import TOKEN_RE

# Bumped when the features change: an index built with other features must be rebuilt.
FEATURE_VERSION = 2
GRAM = 6  # symbols per gram
SAMPLE_MASK = 3  # keep grams whose hash has these low bits zero: one in four
MAX_DF = 300  # postings lists longer than this are not looked up (templated skeletons)
CANDIDATES = 3  # documents verified per query
# Score for a match (bench/trace.py, 8,000 spun copies: lowest 0.43, 1st percentile 0.64).
DEFAULT_THRESHOLD = 0.4
MIN_QUERY_GRAMS = 20  # shorter queries (about 30 words) are too short to attribute
MIN_CHAIN = 10  # and a match needs at least this many grams in order

# Closed-class words that thesaurus spinners leave alone. Connectives and quantifiers that
# spinners do rewrite ("because" -> "due to the fact that", "many" -> "numerous", "also",
# "however", "about", "before", "after", "such as") are content here on purpose.
ANCHOR_WORDS = frozenset(
    """a the this that these those some any each every all both either neither no not nor
    i me my mine we us our ours you your yours he him his she her hers it its they them
    their theirs who whom whose which what when where why how whether if then than so as
    of in on at to for by with from into onto upon over under above below between among
    through during against without within along across behind beyond near off out up down
    around and or be am is are was were been being have has had having do does did done
    doing will would shall should can could may might must there here 's""".split()
)
# Number words and digits share a symbol: spinners write "five" as "5".
_NUMBERS = {w: str(i) for i, w in enumerate(
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen "
    "fifteen sixteen seventeen eighteen nineteen twenty".split())}
_CONTENT, _CONTENT_CAP = 1, 2
_NUMBER_BIT = 1 << 40  # specific numbers' symbols are at least this (others: below 2**33)
MIN_NUMBER_AGREEMENT = 0.9  # share of a query's numbers that its original must contain
_MUL = np.uint64(0x100000001B3)
_MIX = np.uint64(0xBF58476D1CE4E5B9)


def _specific(number: str) -> bool:
    """A number that identifies: above 20 and not round. Thesauri offer small and round
    numbers as synonyms ("dozen" -> "12", "hundred" -> "100"), never "1958"."""
    digits = number.replace(",", "")
    if not digits.isascii():
        return False  # superscripts, other scripts' digits: footnote marks and the like
    if not digits.isdigit():
        return True  # 3.5, 10:30
    return int(digits) > 20 and digits.rstrip("0") != digits[0]


def _symbol(tok: str) -> int:
    w = tok.lower().replace("’", "'")
    if w == "an":
        w = "a"  # spinners fix the article for the new word
    w = _NUMBERS.get(w, w)
    if w[0].isdigit() and _specific(w):
        return zlib.crc32(w.encode("utf-8", "surrogatepass")) + _NUMBER_BIT
    if w in ANCHOR_WORDS or not w[0].isalpha() or not w.isalpha():
        return zlib.crc32(w.encode("utf-8", "surrogatepass")) + 3
    return _CONTENT_CAP if tok[0].isupper() else _CONTENT


class _ChunkTable(dict):
    """Whitespace-separated chunk -> its tokens' symbols (packed int64), filled on first sight.

    Tokens never span white space, so splitting on it first and tokenising each distinct
    chunk once gives the same tokens as `TOKEN_RE` on the whole text, at a fraction of the
    cost: most chunks ("the", "word,") recur, and a dict hit is far cheaper than the regex.
    """

    def __missing__(self, chunk: str) -> bytes:
        if len(self) > 500_000:  # bound memory (about 60 MB) on endless new words
            self.clear()
        if chunk.isalpha():  # most new chunks are one plain word
            ids = [_symbol(chunk)]
        else:
            ids = [_symbol(t) for t in TOKEN_RE.findall(chunk)]
        # as machine ints: joining bytes is much cheaper than flattening Python ints
        v = struct.pack(f"{len(ids)}q", *ids)
        self[chunk] = v
        return v


_CHUNKS = _ChunkTable()


def symbols(text: str) -> np.ndarray:
    """The spin-invariant skeleton of a text: one symbol per token, content runs as one.

    Args:
        text: Any text.

    Returns:
        Symbol ids as uint64 (function words, numbers and punctuation as themselves, each
        run of other words as 1, or 2 when it starts capitalised).
    """
    ids = np.frombuffer(b"".join(map(_CHUNKS.__getitem__, text.split())), dtype=np.int64)
    if not len(ids):
        return np.zeros(0, np.uint64)
    content = ids < 3
    keep = np.ones(len(ids), dtype=bool)
    keep[1:] = ~(content[1:] & content[:-1])
    return ids[keep].view(np.uint64)


def gram_hashes(syms: np.ndarray, k: int = GRAM) -> np.ndarray:
    """64-bit hashes of every ``k``-gram of symbols, in text order."""
    n = len(syms) - k + 1
    if n <= 0:
        return np.zeros(0, np.uint64)
    h = np.zeros(n, np.uint64)
    with np.errstate(over="ignore"):
        for j in range(k):
            h *= _MUL
            h += syms[j:j + n]
        h ^= h >> np.uint64(29)
        h *= _MIX
        h ^= h >> np.uint64(32)
    return h


def sketch(grams: np.ndarray) -> np.ndarray:
    """The sampled gram keys stored as postings: distinct signed 32-bit ints."""
    sampled = grams[(grams & np.uint64(SAMPLE_MASK)) == 0]
    return np.unique((sampled >> np.uint64(32)).astype(np.int64) - (1 << 31)).astype(np.int32)


def _digest(text: str) -> bytes:
    return hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=8).digest()


def _pack(text: str) -> bytes:
    return zlib.compress(text.encode("utf-8", "surrogatepass"), 6)


def _unpack(blob: bytes) -> str:
    return zlib.decompress(blob).decode("utf-8", "surrogatepass")


@dataclass(slots=True)
class Match:
    """An indexed original that a query was (partly) copied from.

    Attributes:
        id: The original's id.
        score: Share of the query found in the original, in order (0..1): containment,
            so a copied third of a document scores like a whole copy.
        coverage: Share of the original that the query covers (0..1).
    """

    id: str
    score: float
    coverage: float

    def to_dict(self) -> dict[str, Any]:
        """Plain dict with the JSON contract's names."""
        return asdict(self)


# ------------------------------------------------------------------------------ storage


@dataclass(slots=True)
class _Doc:
    id: str
    digest: bytes
    blob: bytes
    keys: np.ndarray  # distinct int32 gram keys (`sketch`)


class Storage(Protocol):
    """What an index needs from its store. Every method is atomic on its own."""

    def put(self, docs: list[_Doc]) -> list[str]:
        """Store documents in one transaction; ``added``/``updated``/``unchanged`` each."""

    def remove(self, ids: list[str]) -> list[str]:
        """Remove documents in one transaction; returns the ids that were there."""

    def lookup(self, keys: list[int], max_df: int, limit: int,
               min_count: int = 2) -> list[tuple[str, bytes]]:
        """``(id, compressed text)`` of the ``limit`` documents sharing most keys (at least
        ``min_count``), from one consistent snapshot; keys in > ``max_df`` docs are
        skipped."""

    def get(self, doc_id: str) -> bytes | None:
        """Compressed text of a document, or None."""

    def ids(self) -> list[str]:
        """All document ids."""

    def count(self) -> int:
        """Number of documents."""

    def stats(self) -> dict[str, Any]:
        """Counts and sizes."""

    def close(self) -> None:
        """Release resources."""


def _keys_of_blob(blob: bytes) -> np.ndarray:
    return sketch(gram_hashes(symbols(_unpack(blob))))


class MemoryStorage:
    """Everything in dicts; lost on exit. Thread-safe through one lock."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._next = 1
        self._by_id: dict[str, int] = {}
        self._docs: dict[int, tuple[str, bytes, bytes]] = {}
        self._post: dict[int, set[int]] = {}

    def put(self, docs: list[_Doc]) -> list[str]:
        out = []
        with self._lock:
            for d in docs:
                old = self._by_id.get(d.id)
                if old is not None and self._docs[old][1] == d.digest:
                    out.append("unchanged")
                    continue
                if old is not None:
                    self._drop(old)
                n = self._next
                self._next += 1
                self._by_id[d.id] = n
                self._docs[n] = (d.id, d.digest, d.blob)
                for k in d.keys.tolist():
                    self._post.setdefault(k, set()).add(n)
                out.append("added" if old is None else "updated")
        return out

    def _drop(self, n: int) -> None:
        doc_id, _, blob = self._docs.pop(n)
        del self._by_id[doc_id]
        for k in _keys_of_blob(blob).tolist():
            s = self._post.get(k)
            if s is not None:
                s.discard(n)
                if not s:
                    del self._post[k]

    def remove(self, ids: list[str]) -> list[str]:
        out = []
        with self._lock:
            for doc_id in ids:
                n = self._by_id.get(doc_id)
                if n is not None:
                    self._drop(n)
                    out.append(doc_id)
        return out

    def lookup(self, keys: list[int], max_df: int, limit: int,
               min_count: int = 2) -> list[tuple[str, bytes]]:
        c: Counter = Counter()
        with self._lock:
            for k in keys:
                s = self._post.get(k)
                if s and len(s) <= max_df:
                    c.update(s)
            return [(self._docs[n][0], self._docs[n][2])
                    for n, cnt in c.most_common(limit) if cnt >= min_count]

    def get(self, doc_id: str) -> bytes | None:
        with self._lock:
            n = self._by_id.get(doc_id)
            return None if n is None else self._docs[n][2]

    def ids(self) -> list[str]:
        with self._lock:
            return list(self._by_id)

    def count(self) -> int:
        return len(self._by_id)

    def stats(self) -> dict[str, Any]:
        with self._lock:
            return {"storage": "memory", "documents": len(self._docs),
                    "postings": sum(len(s) for s in self._post.values()),
                    "text_bytes": sum(len(v[2]) for v in self._docs.values())}

    def close(self) -> None:
        pass


_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS docs (
    n INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL UNIQUE, digest BLOB NOT NULL,
    text BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS segments (
    seg INTEGER PRIMARY KEY AUTOINCREMENT, size INTEGER NOT NULL, keys BLOB NOT NULL,
    docs BLOB NOT NULL)
"""


def _segment(keys: np.ndarray, nums: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Postings as two aligned int32 arrays sorted by key (then document)."""
    # one int64 sort (key high, document low) is several times faster than a lexsort
    both = np.sort((keys.astype(np.int64) << 32) | nums.astype(np.int64))
    return (both >> 32).astype(np.int32), (both & 0xFFFFFFFF).astype(np.int32)


class SQLiteStorage:
    """One SQLite file in WAL mode: documents, and postings in immutable sorted segments.

    Each batch of documents is one transaction that writes the documents' rows and one
    segment: the batch's postings as two sorted int32 arrays (8 bytes a posting; row-per-
    posting B-trees cost twice the space and most of the ingest time). Segments are merged
    in the background of later batches, like an LSM tree: a new segment is merged with the
    last one while that one is at most twice its size, so there are O(log n) of them.
    Removed documents leave dead postings until their segment is next merged; queries skip
    them.

    A crash (``kill -9``) leaves every committed batch and nothing of the one in flight;
    readers work on a snapshot (one read transaction per query) while a writer commits.
    Readers cache the segments they have loaded (they are immutable) and load only new
    ones. Each thread gets its own connection.

    Args:
        path: The index file (created if missing, with its directory).
        create: Create the file when it does not exist (else FileNotFoundError).
        synchronous: SQLite ``synchronous`` pragma. ``NORMAL`` (default) in WAL mode keeps
            every commit through a process crash; ``FULL`` also through power loss.
    """

    def __init__(self, path: str | os.PathLike, create: bool = True,
                 synchronous: str = "NORMAL") -> None:
        self.path = Path(path)
        if self.path.is_dir():
            raise IsADirectoryError(f"{self.path} is a directory, not an index file")
        if not self.path.exists():
            if not create:
                raise FileNotFoundError(f"no index at {self.path}")
            self.path.parent.mkdir(parents=True, exist_ok=True)
        if synchronous.upper() not in ("OFF", "NORMAL", "FULL", "EXTRA"):
            raise ValueError(f"synchronous must be OFF, NORMAL, FULL or EXTRA: {synchronous}")
        self._sync = synchronous.upper()
        self._local = threading.local()
        self._all: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        self._cache: dict[int, tuple[np.ndarray, np.ndarray]] = {}
        con = self._con()
        try:
            con.execute("BEGIN IMMEDIATE")
        except sqlite3.DatabaseError as exc:
            raise ValueError(f"{self.path} is not an unspin index: {exc}") from None
        try:
            for stmt in _SCHEMA.strip().split(";"):
                con.execute(stmt)
            row = con.execute("SELECT value FROM meta WHERE key='features'").fetchone()
            if row is None:
                con.execute("INSERT INTO meta VALUES ('features', ?)", (str(FEATURE_VERSION),))
            elif row[0] != str(FEATURE_VERSION):
                raise ValueError(f"{self.path} was built with features v{row[0]}; this is "
                                 f"v{FEATURE_VERSION}: rebuild the index")
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise

    def _con(self) -> sqlite3.Connection:
        con = getattr(self._local, "con", None)
        if con is None:
            try:
                con = sqlite3.connect(self.path, isolation_level=None, timeout=60.0,
                                      check_same_thread=False)
                con.execute("PRAGMA journal_mode=WAL")
                con.execute(f"PRAGMA synchronous={self._sync}")
            except sqlite3.OperationalError as exc:  # permissions, missing directory
                raise OSError(f"{exc}") from None
            except sqlite3.DatabaseError as exc:
                raise ValueError(f"{self.path} is not an unspin index: {exc}") from None
            self._local.con = con
            with self._lock:
                self._all.append(con)
        return con

    # -- writing -------------------------------------------------------------------
    def _write(self, fn: Callable[[sqlite3.Connection], Any]) -> Any:
        con = self._con()
        con.execute("BEGIN IMMEDIATE")
        try:
            out = fn(con)
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
        return out

    def put(self, docs: list[_Doc]) -> list[str]:
        def run(con: sqlite3.Connection) -> list[str]:
            out = []
            keys: list[np.ndarray] = []
            nums: list[int] = []
            known: dict[str, tuple[int, bytes]] = {}
            ids = list({d.id for d in docs})
            for i in range(0, len(ids), 500):  # SQLite caps the number of parameters
                part = ids[i:i + 500]
                marks = ",".join("?" * len(part))
                known.update((r[0], (r[1], r[2])) for r in con.execute(
                    f"SELECT id, n, digest FROM docs WHERE id IN ({marks})", part))
            for d in docs:
                row = known.get(d.id)
                if row is not None and row[1] == d.digest:
                    out.append("unchanged")
                    continue
                if row is not None:  # its postings die with the row
                    con.execute("DELETE FROM docs WHERE n=?", (row[0],))
                    con.execute("INSERT OR IGNORE INTO meta VALUES ('removed', '1')")
                n = con.execute("INSERT INTO docs (id, digest, text) VALUES (?, ?, ?)",
                                (d.id, d.digest, d.blob)).lastrowid
                known[d.id] = (n, d.digest)  # the same id twice in a batch
                keys.append(d.keys)
                nums.append(n)
                out.append("added" if row is None else "updated")
            if keys:
                lens = [len(k) for k in keys]
                seg_keys, seg_nums = _segment(np.concatenate(keys), np.repeat(nums, lens))
                con.execute("INSERT INTO segments (size, keys, docs) VALUES (?, ?, ?)",
                            (len(seg_keys), seg_keys.tobytes(), seg_nums.tobytes()))
                self._merge(con)
            return out

        return self._write(run)

    def _merge(self, con: sqlite3.Connection) -> None:
        """Merge the newest segment into the one before while that one is at most twice
        its size; dead postings (removed documents) are dropped on the way."""
        while True:
            rows = con.execute("SELECT seg, size FROM segments ORDER BY seg DESC "
                               "LIMIT 2").fetchall()
            if len(rows) < 2 or rows[1][1] > 2 * rows[0][1]:
                return
            parts = [self._load(con, seg) for seg, _ in rows]
            keys = np.concatenate([p[0] for p in parts])
            nums = np.concatenate([p[1] for p in parts])
            if con.execute("SELECT 1 FROM meta WHERE key='removed'").fetchone():
                live = np.fromiter((n for (n,) in con.execute("SELECT n FROM docs")),
                                   np.int64)
                ok = np.isin(nums, live)
                keys, nums = keys[ok], nums[ok]
            keys, nums = _segment(keys, nums)
            con.execute("DELETE FROM segments WHERE seg IN (?, ?)", (rows[0][0], rows[1][0]))
            with self._lock:
                for seg, _ in rows:
                    self._cache.pop(seg, None)
            if len(keys):
                con.execute("INSERT INTO segments (size, keys, docs) VALUES (?, ?, ?)",
                            (len(keys), keys.tobytes(), nums.tobytes()))

    def remove(self, ids: list[str]) -> list[str]:
        def run(con: sqlite3.Connection) -> list[str]:
            out = []
            for doc_id in ids:
                if con.execute("DELETE FROM docs WHERE id=?", (doc_id,)).rowcount:
                    out.append(doc_id)
            if out:  # merges must now drop dead postings
                con.execute("INSERT OR IGNORE INTO meta VALUES ('removed', '1')")
            return out

        return self._write(run)

    # -- reading -------------------------------------------------------------------
    def _load(self, con: sqlite3.Connection, seg: int) -> tuple[np.ndarray, np.ndarray]:
        hit = self._cache.get(seg)
        if hit is None:
            keys, nums = con.execute("SELECT keys, docs FROM segments WHERE seg=?",
                                     (seg,)).fetchone()
            hit = (np.frombuffer(keys, np.int32), np.frombuffer(nums, np.int32))
            with self._lock:
                self._cache[seg] = hit
        return hit

    def _segments(self, con: sqlite3.Connection) -> list[tuple[np.ndarray, np.ndarray]]:
        segs = [s for (s,) in con.execute("SELECT seg FROM segments")]
        out = [self._load(con, s) for s in segs]
        if len(self._cache) > len(segs):  # merged away: drop from the cache
            keep = set(segs)
            with self._lock:
                for s in [s for s in self._cache if s not in keep]:
                    self._cache.pop(s, None)
        return out

    def lookup(self, keys: list[int], max_df: int, limit: int,
               min_count: int = 2) -> list[tuple[str, bytes]]:
        if not keys:
            return []
        q = np.asarray(keys, dtype=np.int32)
        con = self._con()
        con.execute("BEGIN")  # one snapshot for the postings and the texts
        try:
            ranges = []
            df = np.zeros(len(q), np.int64)
            for seg_keys, seg_docs in self._segments(con):
                lo = np.searchsorted(seg_keys, q, "left")
                hi = np.searchsorted(seg_keys, q, "right")
                ranges.append((seg_docs, lo, hi))
                df += hi - lo
            ok = df <= max_df
            hits = [docs[a:b] for docs, lo, hi in ranges
                    for a, b in zip(lo[ok].tolist(), hi[ok].tolist(), strict=True) if b > a]
            if not hits:
                return []
            nums, counts = np.unique(np.concatenate(hits), return_counts=True)
            order = np.argsort(-counts, kind="stable")
            out = []
            for i in order[:limit + 50].tolist():  # + some room for removed documents
                if counts[i] < min_count or len(out) >= limit:
                    break
                row = con.execute("SELECT id, text FROM docs WHERE n=?",
                                  (int(nums[i]),)).fetchone()
                if row is not None:
                    out.append((row[0], row[1]))
            return out
        finally:
            con.execute("COMMIT")

    def get(self, doc_id: str) -> bytes | None:
        row = self._con().execute("SELECT text FROM docs WHERE id=?", (doc_id,)).fetchone()
        return None if row is None else row[0]

    def ids(self) -> list[str]:
        return [r[0] for r in self._con().execute("SELECT id FROM docs ORDER BY n")]

    def count(self) -> int:
        return int(self._con().execute("SELECT count(*) FROM docs").fetchone()[0])

    def stats(self) -> dict[str, Any]:
        con = self._con()
        con.execute("BEGIN")
        try:
            docs = con.execute("SELECT count(*), coalesce(sum(length(text)), 0) "
                               "FROM docs").fetchone()
            segs = con.execute("SELECT count(*), coalesce(sum(size), 0) "
                               "FROM segments").fetchone()
            page_size = con.execute("PRAGMA page_size").fetchone()[0]
            pages = con.execute("PRAGMA page_count").fetchone()[0]
        finally:
            con.execute("COMMIT")
        wal = Path(f"{self.path}-wal")
        return {"storage": "sqlite", "path": str(self.path), "documents": docs[0],
                "postings": segs[1], "segments": segs[0], "text_bytes": docs[1],
                "file_bytes": page_size * pages,
                "wal_bytes": wal.stat().st_size if wal.exists() else 0}

    def checkpoint(self) -> None:
        """Fold the write-ahead log into the main file (so its size is the index's size)."""
        self._con().execute("PRAGMA wal_checkpoint(TRUNCATE)")

    def close(self) -> None:
        with self._lock:
            for con in self._all:
                try:
                    con.close()
                except sqlite3.Error:
                    pass
            self._all.clear()
            self._cache.clear()
        self._local = threading.local()


def make_storage(path: str | os.PathLike | None, config: dict[str, Any] | None,
                 create: bool = True) -> Storage:
    """Build the store that ``storage_config`` names (``sqlite`` by default)."""
    config = dict(config or {})
    kind = config.pop("type", "sqlite")
    if kind == "memory":
        if config:
            raise ValueError(f"memory storage takes no options: {sorted(config)}")
        return MemoryStorage()
    if kind == "sqlite":
        path = config.pop("path", path)
        if path is None:
            raise ValueError("sqlite storage needs a path")
        synchronous = config.pop("synchronous", "NORMAL")
        if config:
            raise ValueError(f"unknown sqlite storage options: {sorted(config)}")
        return SQLiteStorage(path, create=create, synchronous=synchronous)
    raise ValueError(f"unknown storage type {kind!r} (expected 'sqlite' or 'memory')")


# ------------------------------------------------------------------------------ matching


def _chain(query: np.ndarray, doc: np.ndarray) -> int:
    """Length of the longest chain of grams shared in the same order (anchored alignment).

    Grams that recur more than 16 times in the document are skipped: they place
    nothing.
    """
    where: dict[int, list[int]] = {}
    qset = set(query.tolist())
    for j, g in enumerate(doc.tolist()):
        if g in qset:
            where.setdefault(g, []).append(j)
    tails: list[int] = []
    for g in query.tolist():
        pos = where.get(g)
        if pos is None or len(pos) > 16:
            continue
        # descending, so one query gram adds at most one link
        for j in reversed(pos):
            i = bisect_left(tails, j)
            if i == len(tails):
                tails.append(j)
            else:
                tails[i] = j
    return len(tails)


def verify(query_syms: np.ndarray, original: str,
           query_grams: np.ndarray | None = None) -> tuple[float, float]:
    """Score a query against one original: ``(score, coverage)``.

    Args:
        query_syms: `symbols` of the query.
        original: The original text.
        query_grams: `gram_hashes` of ``query_syms``, if already computed.

    Returns:
        ``score``: share of the query's grams on the longest in-order chain shared with the
        original; ``coverage``: the chain's share of the original's grams. Both 0 when the
        chain is shorter than `MIN_CHAIN`, or when the query has two or more specific
        numbers (above 20, not round: years, counts) and fewer than
        `MIN_NUMBER_AGREEMENT` of them occur in the original: spinners leave such numbers
        alone, while templated articles (season results, ship classes) share whole
        sentences but not their numbers.
    """
    grams = gram_hashes(query_syms) if query_grams is None else query_grams
    doc_syms = symbols(original)
    doc = gram_hashes(doc_syms)
    if not len(grams) or not len(doc):
        return 0.0, 0.0
    numbers = query_syms[query_syms >= _NUMBER_BIT]
    if len(numbers) >= 2:
        found = np.isin(numbers, doc_syms[doc_syms >= _NUMBER_BIT])
        if found.mean() < MIN_NUMBER_AGREEMENT:
            return 0.0, 0.0
    c = _chain(grams, doc)
    if c < MIN_CHAIN:
        return 0.0, 0.0
    return c / len(grams), min(1.0, c / len(doc))


# ------------------------------------------------------------------------------ index


class Index:
    """Index of original documents; find the sources of spun copies.

    Args:
        path: Index file (SQLite). Created if missing unless ``create=False``. May be None
            with ``storage_config={"type": "memory"}``.
        storage_config: ``{"type": "sqlite", "synchronous": "NORMAL"|"FULL"}`` (default)
            or ``{"type": "memory"}``.
        threshold: Score a match needs (default `DEFAULT_THRESHOLD`).
        create: Create a missing index file.

    Example::

        idx = unspin.Index("originals.idx")
        idx.add("doc-1", original_text)
        idx.query(spun_copy)   # [Match(id='doc-1', score=0.91, coverage=1.0)]
    """

    def __init__(self, path: str | os.PathLike | None = None, *,
                 storage_config: dict[str, Any] | None = None,
                 threshold: float = DEFAULT_THRESHOLD, create: bool = True) -> None:
        self.storage: Storage = make_storage(path, storage_config, create=create)
        self.threshold = float(threshold)

    # -- writing -------------------------------------------------------------------
    @staticmethod
    def _doc(doc_id: str, text: str) -> _Doc:
        if not isinstance(doc_id, str) or not doc_id:
            raise ValueError(f"document id must be a non-empty string, not {doc_id!r}")
        if not isinstance(text, str):
            raise TypeError(f"text must be str, not {type(text).__name__}")
        return _Doc(doc_id, _digest(text), _pack(text), sketch(gram_hashes(symbols(text))))

    def add(self, doc_id: str, text: str) -> str:
        """Add one original. Idempotent: the same id and text again changes nothing.

        Returns:
            ``"added"``, ``"updated"`` (the id had another text: replaced) or
            ``"unchanged"``.
        """
        return self.storage.put([self._doc(doc_id, text)])[0]

    def add_many(self, docs: Iterable[tuple[str, str]], batch_size: int = 500,
                 on_commit: Callable[[int, str], None] | None = None) -> dict[str, int]:
        """Add many originals, committing every ``batch_size`` documents.

        Args:
            docs: ``(id, text)`` pairs.
            batch_size: Documents per transaction.
            on_commit: Called after each commit with the number of documents committed so
                far and the last id: those documents are durable (acknowledged).

        Returns:
            Counts of ``added``, ``updated`` and ``unchanged`` documents.
        """
        counts = {"added": 0, "updated": 0, "unchanged": 0}
        batch: list[_Doc] = []
        done = 0

        def flush() -> None:
            nonlocal done
            for status in self.storage.put(batch):
                counts[status] += 1
            done += len(batch)
            if on_commit is not None:
                on_commit(done, batch[-1].id)
            batch.clear()

        for doc_id, text in docs:
            batch.append(self._doc(doc_id, text))
            if len(batch) >= batch_size:
                flush()
        if batch:
            flush()
        return counts

    def remove(self, *doc_ids: str) -> list[str]:
        """Remove documents by id; returns the ids that were present."""
        return self.storage.remove(list(doc_ids))

    # -- reading -------------------------------------------------------------------
    def get(self, doc_id: str) -> str | None:
        """The stored original text of a document, or None."""
        blob = self.storage.get(doc_id)
        return None if blob is None else _unpack(blob)

    def ids(self) -> list[str]:
        """All document ids."""
        return self.storage.ids()

    def query(self, text: str, k: int = 5, threshold: float | None = None) -> list[Match]:
        """Find the originals a (possibly spun, possibly partial) copy was made from.

        Args:
            text: The suspected copy.
            k: At most this many matches.
            threshold: Minimum score (default: the index's).

        Returns:
            Matches with ``score >= threshold``, best first; empty if none.
        """
        if not isinstance(text, str):
            raise TypeError(f"text must be str, not {type(text).__name__}")
        thr = self.threshold if threshold is None else float(threshold)
        syms = symbols(text)
        grams = gram_hashes(syms)
        if len(grams) < MIN_QUERY_GRAMS:
            return []
        out = []
        keys = sketch(grams).tolist()
        for doc_id, blob in self.storage.lookup(keys, MAX_DF, max(CANDIDATES, k)):
            score, coverage = verify(syms, _unpack(blob), grams)
            if score >= thr:
                out.append(Match(doc_id, round(score, 4), round(coverage, 4)))
        out.sort(key=lambda m: (-m.score, -m.coverage, m.id))
        return out[:k]

    def stats(self) -> dict[str, Any]:
        """Number of documents and postings, sizes in bytes, feature settings."""
        s = dict(self.storage.stats())
        s["features"] = {"version": FEATURE_VERSION, "gram": GRAM,
                         "sample": 1 / (SAMPLE_MASK + 1)}
        s["threshold"] = self.threshold
        return s

    def __len__(self) -> int:
        return self.storage.count()

    def __contains__(self, doc_id: object) -> bool:
        return isinstance(doc_id, str) and self.storage.get(doc_id) is not None

    def __iter__(self) -> Iterator[str]:
        return iter(self.storage.ids())

    def close(self) -> None:
        """Close the store (SQLite connections)."""
        self.storage.close()

    def __enter__(self) -> Index:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
