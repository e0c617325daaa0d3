"""Reading corpora for ``unspin scan``: JSONL (plain, gzip, zstd), Parquet, WARC, plain text.

Every reader yields one `Item` per input record, in file order, and never raises for a
bad record: a corrupt line, invalid UTF-8, an empty or over-long text becomes an item with
an ``error`` (the scanner turns it into an error record), so records in = records out. A
file that stops being readable part-way (a truncated gzip stream) yields one final error
item for the rest of the file. Heavy dependencies (pyarrow, zstandard, warcio) are
imported only when a file of that kind is read.
"""

from __future__ import annotations

import glob
import gzip
import io
import json
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import IO, Any

from .extract import html_to_text, looks_like_html

JSONL_SUFFIXES = (".jsonl", ".ndjson", ".json")
TEXT_SUFFIXES = (".txt", ".text", ".md")
HTML_SUFFIXES = (".html", ".htm")
COMPRESSION_SUFFIXES = (".gz", ".zst", ".zstd")
KNOWN_SUFFIXES = JSONL_SUFFIXES + TEXT_SUFFIXES + HTML_SUFFIXES + (".parquet", ".warc")

_GLOB_CHARS = frozenset("*?[")


class InputError(Exception):
    """An input path that does not exist or matches nothing (bad usage, not bad data)."""


@dataclass(slots=True)
class Item:
    """One input record on its way to the analyser.

    Attributes:
        meta: Fields echoed into the output record (``id``, ``source``, ``index``, ...).
        text: The text to analyse; None when the record is bad.
        error: Why the record cannot be analysed; None when it can.
        nbytes: UTF-8 size of the record as read (for throughput figures).
    """

    meta: dict[str, Any]
    text: str | None = None
    error: str | None = None
    nbytes: int = 0


@dataclass(slots=True)
class ReadOptions:
    """How records are read and which ones are rejected before analysis."""

    text_field: str = "text"
    id_field: str = "id"
    max_chars: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)


# --------------------------------------------------------------------------- discovery


def _kind(path: str) -> str:
    """``jsonl``, ``parquet``, ``warc``, ``html`` or ``text``, from the file name."""
    name = path.lower()
    for comp in COMPRESSION_SUFFIXES:
        if name.endswith(comp):
            name = name[: -len(comp)]
            break
    if name.endswith(JSONL_SUFFIXES):
        return "jsonl"
    if name.endswith(".parquet"):
        return "parquet"
    if name.endswith((".warc", ".arc")):
        return "warc"
    if name.endswith(HTML_SUFFIXES):
        return "html"
    return "text"


def _known(path: str) -> bool:
    name = path.lower()
    for comp in COMPRESSION_SUFFIXES:
        if name.endswith(comp):
            name = name[: -len(comp)]
            break
    return name.endswith(KNOWN_SUFFIXES)


def expand_inputs(paths: list[str], exclude: tuple[str, ...] = ()) -> list[str]:
    """Expand files, directories (recursively, known extensions only) and globs.

    Args:
        paths: What the user gave, in order.
        exclude: Absolute paths (and their children) never to read, e.g. the output.

    Returns:
        Files in a stable order: arguments in the order given, directory contents and glob
        matches sorted; each file once.

    Raises:
        InputError: when a path does not exist or a glob matches nothing.
    """
    out: list[str] = []
    seen: set[str] = set()

    def add(p: str) -> None:
        ap = os.path.abspath(p)
        if ap in seen or any(ap == e or ap.startswith(e + os.sep) for e in exclude):
            return
        seen.add(ap)
        out.append(p)

    for p in paths:
        if os.path.isdir(p):
            found = []
            for root, dirs, files in os.walk(p):
                dirs[:] = sorted(d for d in dirs if not d.startswith("."))
                for f in files:
                    if not f.startswith(".") and _known(f):
                        found.append(os.path.join(root, f))
            for f in sorted(found):
                add(f)
        elif os.path.exists(p):
            add(p)
        elif _GLOB_CHARS & set(p):
            matches = sorted(m for m in glob.glob(p, recursive=True) if os.path.isfile(m))
            if not matches:
                raise InputError(f"no files match {p}")
            for m in matches:
                add(m)
        else:
            raise InputError(f"cannot read {p}: No such file or directory")
    return out


# --------------------------------------------------------------------------- opening


def open_binary(path: str) -> IO[bytes]:
    """Open a file for reading bytes, decompressing ``.gz`` and ``.zst``."""
    name = path.lower()
    if name.endswith(".gz"):
        return gzip.open(path, "rb")
    if name.endswith((".zst", ".zstd")):
        try:
            import zstandard
        except ImportError as exc:  # pragma: no cover - depends on the environment
            raise OSError("reading .zst needs the zstandard package "
                          "(pip install 'unspin[scan]')") from exc
        raw = open(path, "rb")  # noqa: SIM115 - owned by the returned reader
        reader = zstandard.ZstdDecompressor().stream_reader(raw, closefd=True)
        return io.BufferedReader(reader)  # type: ignore[arg-type]
    return open(path, "rb")  # noqa: SIM115 - closed by the caller


def _describe(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


def json_type_name(value: Any) -> str:
    """How a JSON value is named in error records ("a number", "null", ...)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "an object"
    return "a string"


def _check_text(item: Item, text: Any, opts: ReadOptions, what: str) -> Item:
    """Fill ``item`` with ``text`` or with the reason it cannot be analysed."""
    if text is None:
        item.error = f"{what} is null"
    elif not isinstance(text, str):
        item.error = f"{what} is {json_type_name(text)}, not a string"
    elif not text.strip():
        item.error = "empty text"
    elif opts.max_chars is not None and len(text) > opts.max_chars:
        item.error = f"text too long ({len(text)} characters > --max-chars {opts.max_chars})"
    else:
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            # Lone surrogates from \ud800-style escapes: one '?' each keeps offsets valid.
            text = text.encode("utf-8", "replace").decode("utf-8")
        item.text = text
    return item


# --------------------------------------------------------------------------- fields

MISSING_FIELD = object()  # `field_value` of a field the object lacks


def field_value(obj: dict[str, Any], name: str) -> Any:
    """The value of field ``name`` of a JSON object, or `MISSING_FIELD`.

    A name with dots also reaches into nested objects when the object has no field of
    that exact name: ``warc_headers.warc-record-id`` is field ``warc-record-id`` of the
    object in field ``warc_headers`` (OSCAR's ids, Dolma's ``metadata``).
    """
    if name in obj:
        return obj[name]
    if "." not in name:
        return MISSING_FIELD
    cur: Any = obj
    for part in name.split("."):
        if not isinstance(cur, dict) or part not in cur:
            return MISSING_FIELD
        cur = cur[part]
    return cur


def _parquet_path(schema: Any, name: str) -> list[str] | None:
    """How to reach field ``name`` in a Parquet file: ``[column]`` for a column of that
    name, ``[column, field, ...]`` for a field of struct columns (dotted, as in
    `field_value`), None when there is neither."""
    if name in schema.names:
        return [name]
    parts = name.split(".")
    if len(parts) < 2 or parts[0] not in schema.names:
        return None
    import pyarrow as pa

    typ = schema.field(parts[0]).type
    for part in parts[1:]:
        if not pa.types.is_struct(typ) or typ.get_field_index(part) < 0:
            return None
        typ = typ.field(part).type
    return parts


def _parquet_values(batch: Any, path: list[str]) -> list[Any]:
    """The values of a field (`_parquet_path`) in a record batch, one per row (None where
    a struct on the way is null)."""
    values = batch.column(path[0]).to_pylist()
    for part in path[1:]:
        values = [v.get(part) if isinstance(v, dict) else None for v in values]
    return values


# --------------------------------------------------------------------------- readers


def _jsonl_item(raw: bytes, meta: dict[str, Any], opts: ReadOptions) -> Item:
    item = Item(meta, nbytes=len(raw))
    line = raw.rstrip(b"\r\n")
    if line.startswith(b"\xef\xbb\xbf"):
        line = line[3:]
    try:
        decoded = line.decode("utf-8")
        bad_utf8 = None
    except UnicodeDecodeError as exc:
        decoded = line.decode("utf-8", "replace")  # still echo the id if there is one
        bad_utf8 = f"invalid UTF-8 at byte {exc.start}"
    if not decoded.strip():
        item.error = bad_utf8 or "blank line"
        return item
    try:
        obj = json.loads(decoded)
    except (ValueError, RecursionError) as exc:
        item.error = bad_utf8 or f"invalid JSON: {exc}"
        return item
    if not isinstance(obj, dict):
        item.error = bad_utf8 or f"not a JSON object but {json_type_name(obj)}"
        return item
    ident = field_value(obj, opts.id_field)
    if ident is not MISSING_FIELD:
        meta["id"] = ident
    if bad_utf8:
        item.error = bad_utf8
        return item
    text = field_value(obj, opts.text_field)
    if text is MISSING_FIELD:
        item.error = f"missing {opts.text_field!r} field"
        return item
    return _check_text(item, text, opts, f"{opts.text_field!r} field")


def _read_jsonl(path: str, opts: ReadOptions, start: int) -> Iterator[Item | None]:
    with open_binary(path) as fh:
        for index, raw in enumerate(fh):
            if index < start:
                yield None
                continue
            yield _jsonl_item(raw, {"source": path, "index": index}, opts)


def _read_parquet(path: str, opts: ReadOptions, start: int) -> Iterator[Item | None]:
    try:
        import pyarrow.parquet as pq
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise OSError("reading Parquet needs pyarrow (pip install 'unspin[scan]')") from exc
    pf = pq.ParquetFile(path)
    schema = pf.schema_arrow
    text_path = _parquet_path(schema, opts.text_field)
    if text_path is None:
        names = ", ".join(sorted(schema.names))
        raise OSError(f"no {opts.text_field!r} column (columns: {names})")
    id_path = _parquet_path(schema, opts.id_field)
    columns = list(dict.fromkeys([text_path[0]] + ([id_path[0]] if id_path else [])))
    index = 0
    for batch in pf.iter_batches(batch_size=1024, columns=columns):
        n = batch.num_rows
        if index + n <= start:
            index += n
            yield from (None for _ in range(n))
            continue
        texts = _parquet_values(batch, text_path)
        ids = _parquet_values(batch, id_path) if id_path else None
        for k in range(n):
            if index < start:
                yield None
            else:
                meta: dict[str, Any] = {"source": path, "index": index}
                if ids is not None and ids[k] is not None:
                    meta["id"] = ids[k]
                text = texts[k]
                if isinstance(text, bytes):
                    try:
                        text = text.decode("utf-8")
                    except UnicodeDecodeError as exc:
                        yield Item(meta, error=f"invalid UTF-8 at byte {exc.start}",
                                   nbytes=len(texts[k]))
                        index += 1
                        continue
                size = len(text.encode("utf-8", "replace")) if isinstance(text, str) else 0
                yield _check_text(Item(meta, nbytes=size), text, opts, "text")
            index += 1


def _http_charset(content_type: str) -> str:
    for part in content_type.split(";")[1:]:
        key, _, value = part.strip().partition("=")
        if key.lower() == "charset" and value:
            return value.strip("\"' ")
    return "utf-8"


def _read_warc(path: str, opts: ReadOptions, start: int) -> Iterator[Item | None]:
    try:
        from warcio.archiveiterator import ArchiveIterator
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise OSError("reading WARC needs warcio (pip install 'unspin[scan]')") from exc
    index = 0
    with open(path, "rb") as fh:
        for record in ArchiveIterator(fh):
            # Documents are the response (and resource) records; requests, metadata and
            # warcinfo records carry no page text.
            if record.rec_type not in ("response", "resource"):
                continue
            if index < start:
                index += 1
                yield None
                continue
            meta: dict[str, Any] = {"source": path, "index": index}
            rid = record.rec_headers.get_header("WARC-Record-ID")
            if rid:
                meta["id"] = rid
            url = record.rec_headers.get_header("WARC-Target-URI")
            if url:
                meta["url"] = url
            index += 1
            if record.http_headers is not None:
                ctype = record.http_headers.get_header("Content-Type") or ""
            else:
                ctype = record.rec_headers.get_header("Content-Type") or ""
            body = record.content_stream().read()
            item = Item(meta, nbytes=len(body))
            mime = ctype.split(";")[0].strip().lower()
            if mime and not (mime.startswith("text/") or "html" in mime or "xml" in mime):
                item.error = f"not a text document (Content-Type {mime})"
                yield item
                continue
            charset = _http_charset(ctype)
            try:
                text = body.decode(charset, "replace")
            except LookupError:
                text = body.decode("utf-8", "replace")
            if "html" in mime or (not mime and looks_like_html(text)) or mime.endswith("xml"):
                text = html_to_text(text)
            yield _check_text(item, text, opts, "text")


def _read_text(
    path: str, opts: ReadOptions, start: int, html: bool
) -> Iterator[Item | None]:
    if start > 0:
        yield None
        return
    # A text over --max-chars is rejected without reading all of it (a stray 10 GB file).
    limit = 4 * opts.max_chars + 4 if opts.max_chars is not None else -1
    with open_binary(path) as fh:
        data = fh.read(limit)
        cut = limit >= 0 and len(data) == limit and bool(fh.read(1))
    item = Item({"source": path, "index": 0, "id": path}, nbytes=len(data))
    if cut:
        item.error = (f"text too long (over {len(data)} bytes; --max-chars "
                      f"{opts.max_chars})")
        yield item
        return
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        item.error = f"invalid UTF-8 at byte {exc.start}"
        yield item
        return
    if html or looks_like_html(text):
        text = html_to_text(text)
    yield _check_text(item, text, opts, "text")


def read_items(path: str, opts: ReadOptions, start: int = 0) -> Iterator[Item]:
    """Read one input file as items, skipping the first ``start`` records.

    Args:
        path: The file; its kind comes from its name (see the module docstring).
        opts: Field names and the length limit.
        start: Records already done (``--resume``); they are read past, not analysed.

    Yields:
        One `Item` per record, in file order. If the file cannot be read (missing column,
        corrupt compression) the remaining records are unknown: one error item stands for
        them, so the problem shows in the output instead of stopping the scan.
    """
    kind = _kind(path)
    readers: dict[str, Callable[[], Iterator[Item | None]]] = {
        "jsonl": lambda: _read_jsonl(path, opts, start),
        "parquet": lambda: _read_parquet(path, opts, start),
        "warc": lambda: _read_warc(path, opts, start),
        "html": lambda: _read_text(path, opts, start, html=True),
        "text": lambda: _read_text(path, opts, start, html=False),
    }
    # Readers yield exactly one value per record, None for the records skipped, so the
    # count of values says where a read error happened: an error met while skipping was
    # already reported by the interrupted run and is not reported twice.
    count = 0
    try:
        for item in readers[kind]():
            count += 1
            if item is not None:
                yield item
    except Exception as exc:  # noqa: BLE001 - a broken file must not stop the scan
        if count >= start:
            yield Item({"source": path, "index": count},
                       error=f"cannot read the rest of the file: {_describe(exc)}")
