"""Loading the shipped models once and sharing them.

Models are memory-mapped files, loaded lazily on first use and cached per process, so
worker processes share pages and start quickly.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path

from .candidates import CandidateSource, LearnedTable, load_terms
from .decode import DecodeParams, Decoder
from .lm import NGramLM

_lock = threading.Lock()
_default_lm_path: Path | None = None
_default_terms_path: Path | None = None
_cache: dict[tuple, Models] = {}


@cache  # every `check` asks for the default model's path: importlib's lookup costs 0.1 ms
def data_path(name: str) -> Path:
    """Path of a file shipped in ``unspin/data``."""
    return Path(str(resources.files("unspin") / "data" / name))


@dataclass(slots=True)
class Models:
    """The loaded language model, candidate sources and decoder."""

    lm: NGramLM
    source: CandidateSource
    decoder: Decoder
    # The learned table the models were made with, if any: held so that its id, part of
    # the cache key, cannot be reused by a new table while the entry exists.
    table: LearnedTable | None = None


def set_default_lm(path: str | Path | None) -> None:
    """Use another language model file for subsequent calls (None: the shipped one).

    Raises:
        FileNotFoundError: if the file does not exist.
        ValueError: if it is not an unspin model file.
    """
    global _default_lm_path
    if path is not None:
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"language model not found: {path}")
        NGramLM(path)  # fail now, with a clear message, rather than at first use
    with _lock:
        _default_lm_path = path


def set_default_terms(path: str | Path | None) -> None:
    """Use another term table (tortured phrases: ``observed<TAB>original`` per line, see
    `unspin.candidates.load_terms`) instead of the shipped ``terms.tsv`` for subsequent
    calls (None: the shipped one).

    Raises:
        FileNotFoundError: if the file does not exist.
        ValueError: on a malformed line (with its number).
    """
    global _default_terms_path
    if path is not None:
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"term table not found: {path}")
        load_terms(path)  # fail now, with the line, rather than at first use
    with _lock:
        _default_terms_path = path


def get_models(table: str | Path | LearnedTable | None = None) -> Models:
    """The shared models, loaded on first use; ``table`` adds a learned substitution table.

    A `LearnedTable` object is cached by identity: changing it after its first use does
    not change the models made with it (pass a new table instead). A table or term table
    given as a path is cached by the path and the file's size and modification time: a
    file rewritten in place is read again.
    """
    lm_path = _default_lm_path or data_path("lm.bin")
    terms = _default_terms_path
    table_key = id(table) if isinstance(table, LearnedTable) else \
        (_file_key(table) if table else None)
    key = (str(lm_path), table_key) if terms is None else \
        (str(lm_path), table_key, _file_key(terms))
    models = _cache.get(key)
    if models is None:
        with _lock:
            models = _cache.get(key)
            if models is None:
                lm = NGramLM(lm_path)
                source = CandidateSource(table, terms=terms) \
                    if table is not None or terms is not None else _base_source()
                params = DecodeParams.fitted(data_path("channel.json"))
                context = data_path("context.bin")  # loaded by the decoder on first use
                models = Models(lm, source, Decoder(lm, source, params,
                                                    context if context.is_file() else None),
                                table if isinstance(table, LearnedTable) else None)
                if len(_cache) > 8:
                    _cache.clear()
                _cache[key] = models
    return models


# The shipped files that `restore`'s decisions and their confidences depend on (all but the
# edit confidence map itself): see `decoder_fingerprint`.
DECODER_FILES = ("lm.bin", "context.bin", "cand_words.txt", "cand_offsets.npy",
                 "cand_orig.npy", "cand_flags.npy", "cand_cos.npy", "cand_fanout.npy",
                 "vectors.npy", "phrases.tsv", "terms.tsv", "channel.json", "detector.json")


def decoder_fingerprint() -> str:
    """A digest of the shipped data the default decoder reads and of its parameters.

    `bench/confidence.py` stores it with the edit confidence map it fits; a test checks
    that the shipped map was fitted with the shipped model, so that a rebuilt table or
    refitted weights cannot leave `restore` reporting the old model's confidences.
    """
    import hashlib
    from dataclasses import fields

    digest = hashlib.sha256()
    for name in DECODER_FILES:
        path = data_path(name)
        digest.update(name.encode())
        if path.is_file():
            with open(path, "rb") as fh:
                for block in iter(lambda: fh.read(1 << 20), b""):
                    digest.update(block)
    params = DecodeParams.fitted(data_path("channel.json"))
    digest.update(repr([(f.name, getattr(params, f.name)) for f in fields(params)]).encode())
    return digest.hexdigest()[:16]


def _file_key(path: str | Path) -> tuple:
    """A file's path with its size and modification time (None if it cannot be read:
    loading it then says why)."""
    try:
        st = os.stat(path)
    except OSError:
        return (str(path), None)
    return (str(path), st.st_size, st.st_mtime_ns)


_base: CandidateSource | None = None


def _base_source() -> CandidateSource:
    global _base
    if _base is None:
        _base = CandidateSource()
    return _base
