"""Command-line interface: ``unspin check``, ``unspin restore`` and ``unspin lm build``.

Reads plain text, HTML or JSONL from a file or standard input and writes a human summary,
restored text, a word diff or JSON. See ``docs/cli.md`` for the full reference; the JSON
field names written here are a contract other tools rely on.

Exit status: 0 success, 1 ``--fail-on-spun`` and spun text was found, 2 bad usage or
unreadable input (one ``unspin: error: ...`` line on stderr), 3 internal error.
"""

from __future__ import annotations

import argparse
import difflib
import gzip
import io
import itertools
import json
import os
import re
import sys
from collections.abc import Iterable, Iterator, Sequence
from typing import IO, Any, NoReturn

from . import __version__
from .api import utf16_codec
from .extract import html_to_text, looks_like_html
from .formats import MISSING_FIELD, field_value
from .formats import json_type_name as _json_type

PROG = "unspin"

EXIT_OK = 0
EXIT_SPUN = 1
EXIT_USAGE = 2
EXIT_INTERNAL = 3

_JSONL_SUFFIXES = (".jsonl", ".ndjson", ".jsonl.gz", ".ndjson.gz")
_BOM = b"\xef\xbb\xbf"

# ANSI: red + strike-through for removed text, green for inserted text.
_RED = "\x1b[31;9m"
_GREEN = "\x1b[32m"
_RESET = "\x1b[0m"

_DIFF_TOKEN = re.compile(r"\w+|\s+|[^\w\s]", re.UNICODE)


class CLIError(Exception):
    """Bad usage or unreadable input: reported as one stderr line, exit status 2."""


class _Parser(argparse.ArgumentParser):
    """ArgumentParser whose usage errors are a single ``unspin: error: ...`` line."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"{PROG}: error: {message} (see '{self.prog} --help')\n")


# --------------------------------------------------------------------------- arguments


_CHECK_EPILOG = """\
examples:
  unspin check article.txt
  curl -s https://example.com/post | unspin check --format json
  unspin check docs.jsonl --id-field url > verdicts.jsonl
  unspin check --fail-on-spun --threshold 0.7 draft.txt || echo "looks spun"
"""

_RESTORE_EPILOG = """\
examples:
  unspin restore spun.txt > restored.txt
  unspin restore spun.txt --format diff | less -R
  unspin restore --min-confidence 0.8 --format json page.html
  unspin restore docs.jsonl > restored.jsonl
"""

_LM_BUILD_EPILOG = """\
examples:
  unspin lm build wiki.jsonl.gz news/ -o my.lm
  unspin lm build corpus.txt -o small.lm --order 3 --vocab-size 50000
  unspin check --lm my.lm article.txt
"""

_MAIN_EPILOG = """\
examples:
  unspin check article.txt                    human summary of the verdict
  unspin check page.html --format json        extract the page's text, JSON report
  unspin restore spun.txt --format diff       word diff of spun vs restored text
  unspin check docs.jsonl > verdicts.jsonl    one JSON line per input line
  unspin lm build corpus/ -o my.lm            build a language model
  unspin scan corpus/ -o verdicts.jsonl       scan a corpus (JSONL, Parquet, WARC)

Run 'unspin COMMAND --help' for a command's options.
"""


def _probability(value: str) -> float:
    try:
        x = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {value!r}") from None
    if not 0.0 <= x <= 1.0:
        raise argparse.ArgumentTypeError(f"must be between 0 and 1, got {value}")
    return x


def _positive_int(value: str) -> int:
    try:
        n = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {value!r}") from None
    if n < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return n


def _int_list(value: str) -> tuple[int, ...]:
    try:
        counts = tuple(int(v) for v in value.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated integers such as 1,2,3, got {value!r}"
        ) from None
    if any(c < 1 for c in counts):
        raise argparse.ArgumentTypeError("counts must be at least 1")
    return counts


def _add_input_group(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("input")
    group.add_argument(
        "file",
        nargs="?",
        default="-",
        metavar="FILE",
        help="text, HTML or JSONL file (.gz ok); '-' or nothing reads standard input",
    )
    group.add_argument(
        "--input-format",
        choices=("auto", "text", "html", "jsonl"),
        default="auto",
        help="how to read the input (default: auto: .jsonl/.ndjson files and input whose "
        "first line is a JSON object with the text field are JSONL; input that looks like "
        "HTML has its main text extracted; anything else is plain text)",
    )
    group.add_argument(
        "--text-field",
        default="text",
        metavar="NAME",
        help="JSONL field holding the text (default: text; 'a.b': field b of object a)",
    )
    group.add_argument(
        "--id-field",
        default="id",
        metavar="NAME",
        help="JSONL field echoed into each output record (default: id; 'a.b' as for "
        "--text-field)",
    )


def _add_model_group(parser: argparse.ArgumentParser,
                     terms: bool = False) -> argparse._ArgumentGroup:
    group = parser.add_argument_group("model")
    group.add_argument(
        "--table",
        metavar="TABLE",
        help="substitution table to use instead of the shipped one",
    )
    group.add_argument(
        "--lm",
        metavar="FILE",
        help="language model file to use instead of the shipped one (see 'unspin lm build')",
    )
    if terms:
        group.add_argument(
            "--terms",
            metavar="FILE",
            help="term table of tortured phrases (observed<TAB>original per line, 2-4 "
                 "observed words) to use instead of the shipped one",
        )
    return group


def build_parser() -> argparse.ArgumentParser:
    """Build the ``unspin`` argument parser (exposed for documentation and tests).

    Returns:
        The top-level parser with the ``check``, ``restore`` and ``lm build`` commands.
    """
    fmt = argparse.RawDescriptionHelpFormatter
    parser = _Parser(
        prog=PROG,
        description="Detect machine-spun English text and restore its original wording.",
        epilog=_MAIN_EPILOG,
        formatter_class=fmt,
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    check = commands.add_parser(
        "check",
        help="score a document and list the spans that look spun",
        description="Score a document for machine spinning and list the spun spans. The "
                    "spans are fast local decisions; the spin edits of `unspin restore "
                    "--format json` (with offsets) find more of the swaps at the same "
                    "precision (its joint decoding reads each word's wider context), for "
                    "several times the time.",
        epilog=_CHECK_EPILOG,
        formatter_class=fmt,
    )
    _add_input_group(check)
    out = check.add_argument_group("output")
    out.add_argument(
        "--format",
        choices=("text", "json", "jsonl"),
        default=None,
        help="text: human summary; json: one JSON object (pretty); jsonl: one compact JSON "
        "line per document (default: text, or jsonl for JSONL input)",
    )
    out.add_argument(
        "--fail-on-spun",
        action="store_true",
        help="exit with status 1 when the document (or any JSONL record) is spun",
    )
    model = _add_model_group(check, terms=True)
    model.add_argument(
        "--threshold",
        type=_probability,
        metavar="X",
        help="decision threshold in [0, 1] on the spin score (default: the model's)",
    )
    check.set_defaults(handler=_cmd_check)

    restore = commands.add_parser(
        "restore",
        help="undo the spinning: print the restored text, a diff or JSON",
        description="Restore the original wording of a spun document.",
        epilog=_RESTORE_EPILOG,
        formatter_class=fmt,
    )
    _add_input_group(restore)
    out = restore.add_argument_group("output")
    out.add_argument(
        "--format",
        choices=("text", "json", "jsonl", "diff"),
        default=None,
        help="text: only the restored text; json: text, edits and score; jsonl: same as "
        "json on one line; diff: word diff of input vs restored text (default: text, or "
        "jsonl for JSONL input)",
    )
    out.add_argument(
        "--no-color",
        action="store_true",
        help="plain [-old-]{+new+} markers in diffs (also when NO_COLOR is set or output "
        "is not a terminal)",
    )
    model = _add_model_group(restore, terms=True)
    model.add_argument(
        "--min-confidence",
        type=_probability,
        metavar="X",
        help="only make edits at least this confident, in [0, 1]: an edit's confidence "
        "is the probability that it is right, from the benchmark, lower in documents "
        "the shipped tables explain poorly (default: the tuned edits, about 0.58 before "
        "that adjustment)",
    )
    model.add_argument(
        "--threshold",
        type=_probability,
        metavar="X",
        help="decision threshold for the reported 'spun' in JSON output (default: the model's)",
    )
    model.add_argument(
        "--two-step",
        action="store_true",
        help="also look two steps into the candidate table where a word is very unlikely "
        "(candidates of candidates, ranked by the context model) in every document, not "
        "only in spun ones the shipped tables explain poorly (the default): more "
        "restorations of unknown spinners' swaps, about a sixth slower",
    )
    model.add_argument(
        "--index",
        metavar="PATH",
        help="index of originals ('unspin index add'): where the text matches one, restore "
        "its exact wording from it (edit kind 'reference'); the model does the rest",
    )
    restore.set_defaults(handler=_cmd_restore)

    lm = commands.add_parser(
        "lm",
        help="language model tools ('unspin lm build')",
        description="Language model tools.",
        formatter_class=fmt,
    )
    lm_commands = lm.add_subparsers(dest="lm_command", metavar="COMMAND")
    build = lm_commands.add_parser(
        "build",
        help="build a language model from text corpora",
        description="Build an n-gram language model file from corpora: JSONL (optionally "
        "gzip-compressed), plain text files, or directories of them.",
        epilog=_LM_BUILD_EPILOG,
        formatter_class=fmt,
    )
    inp = build.add_argument_group("input")
    inp.add_argument("corpus", nargs="+", metavar="CORPUS", help="corpus file or directory")
    inp.add_argument(
        "--text-field",
        default="text",
        metavar="NAME",
        help="JSONL field holding the text (default: text; 'a.b': field b of object a)",
    )
    out = build.add_argument_group("output")
    out.add_argument("-o", "--output", required=True, metavar="FILE", help="model file to write")
    out.add_argument("-q", "--quiet", action="store_true", help="no progress on stderr")
    model = build.add_argument_group("model")
    model.add_argument(
        "--order", type=_positive_int, default=3, metavar="N", help="n-gram order (default: 3)"
    )
    model.add_argument(
        "--vocab-size",
        type=_positive_int,
        default=200_000,
        metavar="N",
        help="keep the N most frequent words (default: 200000)",
    )
    model.add_argument(
        "--min-counts",
        type=_int_list,
        metavar="C1,C2,...",
        help="minimum count to keep an n-gram, per order (default: 1,2,3)",
    )
    build.set_defaults(handler=_cmd_lm_build)
    lm.set_defaults(handler=None, help_parser=lm)

    learn = commands.add_parser(
        "learn",
        help="learn a spinner's substitution table from (spun, original) pairs",
        description="Align spun copies with their originals and count the substitutions "
        "into a table (observed<TAB>original<TAB>count) that check and restore take "
        "with --table.",
        epilog="example:\n  unspin learn pairs.jsonl -o spinner.tsv\n"
        "  unspin restore --table spinner.tsv article.txt",
        formatter_class=fmt,
    )
    inp = learn.add_argument_group("input")
    inp.add_argument("pairs", nargs="+", metavar="PAIRS",
                     help="JSONL files (optionally .gz), one object per line with the spun "
                     "and the original text")
    inp.add_argument("--spun-field", default="spun", metavar="NAME",
                     help="field holding the spun text (default: spun)")
    inp.add_argument("--original-field", default="original", metavar="NAME",
                     help="field holding the original text (default: original)")
    out = learn.add_argument_group("output")
    out.add_argument("-o", "--output", required=True, metavar="FILE", help="table to write")
    out.add_argument("--min-count", type=_positive_int, default=1, metavar="N",
                     help="keep pairs seen at least N times (default: 1)")
    learn.set_defaults(handler=_cmd_learn)
    _add_trace_parsers(commands, fmt)

    serve = commands.add_parser(
        "serve",
        help="HTTP API and web page (needs the 'server' extra)",
        description="Serve the JSON API (/v1/check, /v1/restore, /v1/trace) and the web page "
        "at / with uvicorn. See docs/server.md.",
        epilog="examples:\n  unspin serve\n  unspin serve --port 9000 --workers 4\n"
        "  curl -s localhost:8000/v1/check -H 'content-type: application/json' \\\n"
        "       -d '{\"text\": \"...\"}'",
        formatter_class=fmt,
    )
    net = serve.add_argument_group("network")
    net.add_argument("--host", default="127.0.0.1", help="address to bind (default: 127.0.0.1)")
    net.add_argument("--port", type=int, default=8000, help="port (default: 8000)")
    net.add_argument("--cors-origin", action="append", metavar="ORIGIN",
                     help="allow this origin by CORS (repeatable; default: CORS off)")
    net.add_argument("--log-level", default="info",
                     choices=("critical", "error", "warning", "info", "debug"))
    model = _add_model_group(serve)
    model.add_argument("--index", metavar="PATH", help="trace index for /v1/trace")
    lim = serve.add_argument_group("limits")
    lim.add_argument("--workers", type=_positive_int, default=None, metavar="N",
                     help="worker pool size (default: number of CPUs)")
    lim.add_argument("--pool", choices=("process", "thread"), default="process",
                     help="worker kind (default: process; the model holds the GIL)")
    lim.add_argument("--timeout", type=float, default=60.0, metavar="SECONDS",
                     help="time limit per request, queueing included (default: 60)")
    lim.add_argument("--max-body", type=_positive_int, default=2_000_000, metavar="BYTES",
                     help="largest request body (default: 2000000)")
    lim.add_argument("--max-pending", type=_positive_int, default=256, metavar="N",
                     help="most requests admitted at once; more get 503 (default: 256)")
    serve.set_defaults(handler=_cmd_serve)
    _add_scan_parser(commands, fmt)
    parser.set_defaults(handler=None, help_parser=parser)
    return parser


_TRACE_EPILOG = """\
examples:
  unspin index add --index originals.idx articles/ archive.jsonl
  unspin trace suspect.txt --index originals.idx
  unspin trace suspects.jsonl --index originals.idx > matches.jsonl
  unspin restore --index originals.idx suspect.txt
"""


def _add_trace_parsers(commands: Any, fmt: Any) -> None:
    """The ``trace`` and ``index add|stats|remove`` commands (see docs/trace.md)."""
    trace = commands.add_parser(
        "trace",
        help="find the originals a spun copy was made from (needs an index)",
        description="Trace a (possibly spun, possibly partial) copy to the indexed originals "
        "it was made from. JSON: {\"id\"?, \"matches\": [{\"id\", \"score\", \"coverage\"}]}; "
        "matches is empty when nothing passes the threshold.",
        epilog=_TRACE_EPILOG,
        formatter_class=fmt,
    )
    _add_input_group(trace)
    trace.add_argument("--index", required=True, metavar="PATH", help="index of originals")
    out = trace.add_argument_group("output")
    out.add_argument("--format", choices=("text", "json", "jsonl"), default=None,
                     help="text: one line per match; json: one JSON object (pretty); jsonl: "
                     "one compact line per document (default: text, or jsonl for JSONL input)")
    out.add_argument("--top", type=_positive_int, default=5, metavar="K",
                     help="at most K matches per document (default: 5)")
    out.add_argument("--threshold", type=_probability, metavar="X",
                     help="minimum match score in [0, 1] (default: the index's, 0.4)")
    out.add_argument("--fail-on-match", action="store_true",
                     help="exit with status 1 when any document matches an original")
    out.add_argument("--pairs", metavar="FILE",
                     help="also write each matched document with its best original as JSONL "
                     "{\"id\", \"spun\", \"original\"}: the input of 'unspin learn'")
    trace.set_defaults(handler=_cmd_trace, table=None)

    index = commands.add_parser(
        "index",
        help="build and inspect an index of originals ('unspin index add|stats|remove')",
        description="Manage an index of original documents for 'unspin trace' and "
        "'unspin restore --index'.",
        epilog=_TRACE_EPILOG,
        formatter_class=fmt,
    )
    sub = index.add_subparsers(dest="index_command", metavar="COMMAND")
    add = sub.add_parser(
        "add", help="add documents (text/HTML files, directories, JSONL with id and text)",
        description="Add originals to the index (created if missing). Adding is idempotent "
        "per id; a new text under a known id replaces the old one. Each committed batch is "
        "acknowledged on stderr ('unspin: committed N documents ...'): those documents "
        "survive a crash.")
    add.add_argument("inputs", nargs="+", metavar="INPUT",
                     help="text or HTML file (id: its path), directory (searched for them), "
                     "JSONL file or '-' (one {\"id\", \"text\"} object per line)")
    add.add_argument("--index", required=True, metavar="PATH", help="index file")
    add.add_argument("--text-field", default="text", metavar="NAME",
                     help="JSONL field holding the text (default: text; 'a.b': field b "
                     "of object a)")
    add.add_argument("--id-field", default="id", metavar="NAME",
                     help="JSONL field holding the id (default: id; 'a.b' as for "
                     "--text-field)")
    add.add_argument("--batch-size", type=_positive_int, default=500, metavar="N",
                     help="documents per transaction (default: 500)")
    add.add_argument("-q", "--quiet", action="store_true", help="no progress on stderr")
    add.set_defaults(handler=_cmd_index_add)
    stats = sub.add_parser("stats", help="number of documents, sizes, settings (JSON)")
    stats.add_argument("--index", required=True, metavar="PATH", help="index file")
    stats.set_defaults(handler=_cmd_index_stats)
    remove = sub.add_parser("remove", help="remove documents by id")
    remove.add_argument("ids", nargs="+", metavar="ID", help="document ids")
    remove.add_argument("--index", required=True, metavar="PATH", help="index file")
    remove.set_defaults(handler=_cmd_index_remove)
    index.set_defaults(handler=None, help_parser=index)


# --------------------------------------------------------------------------- input


class _Decoder:
    """Decodes UTF-8 input with replacement characters, warning once about bad bytes."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.warned = False

    def __call__(self, data: bytes) -> str:
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError:
            if not self.warned:
                self.warned = True
                where = "standard input" if self.name == "-" else self.name
                _warn(f"{where} is not valid UTF-8; invalid bytes were replaced with U+FFFD")
            return data.decode("utf-8", "replace")


def _describe_os_error(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return str(exc) or type(exc).__name__


def _open_binary(path: str) -> IO[bytes]:
    """Open the input as a binary stream; raise CLIError when it cannot be read."""
    if path == "-":
        stdin = sys.stdin
        if stdin is None:
            return io.BytesIO(b"")
        try:
            if stdin.isatty():
                print(f"{PROG}: reading standard input (end with Ctrl-D)", file=sys.stderr)
        except (AttributeError, ValueError):
            pass
        buffer = getattr(stdin, "buffer", None)
        if buffer is not None:
            return buffer
        # A text-only stream (an embedding application's StringIO): re-encode it.
        return io.BytesIO(stdin.read().encode("utf-8", "surrogateescape"))
    if os.path.isdir(path):
        raise CLIError(f"cannot read {path}: is a directory")
    try:
        fh = open(path, "rb")  # noqa: SIM115 - closed by the caller
    except OSError as exc:
        raise CLIError(f"cannot read {path}: {_describe_os_error(exc)}") from None
    if path.endswith(".gz"):
        return gzip.GzipFile(fileobj=fh, mode="rb")  # type: ignore[return-value]
    return fh


def _guarded_lines(fh: Iterable[bytes], path: str) -> Iterator[bytes]:
    """Iterate lines, turning read errors (truncated gzip, I/O errors) into CLIError."""
    it = iter(fh)
    while True:
        try:
            line = next(it)
        except StopIteration:
            return
        except (OSError, EOFError) as exc:
            raise CLIError(f"cannot read {path}: {_describe_os_error(exc)}") from None
        yield line


def _is_json_record(raw: bytes, text_field: str) -> bool:
    line = raw.strip()
    if line.startswith(_BOM):
        line = line[len(_BOM) :].lstrip()
    if not line.startswith(b"{"):
        return False
    try:
        obj = json.loads(line.decode("utf-8", "replace"))
    except (ValueError, RecursionError):
        return False
    return isinstance(obj, dict) and field_value(obj, text_field) is not MISSING_FIELD


class _Input:
    """What was read: one document (``text``) or a stream of JSONL lines (``lines``)."""

    def __init__(self, text: str | None = None, lines: Iterator[bytes] | None = None) -> None:
        self.text = text
        self.lines = lines

    @property
    def is_jsonl(self) -> bool:
        return self.lines is not None


def _read_input(args: argparse.Namespace, fh: IO[bytes], decode: _Decoder) -> _Input:
    path = args.file
    fmt = args.input_format
    lines = _guarded_lines(fh, path)
    if fmt == "auto" and path != "-" and path.lower().endswith(_JSONL_SUFFIXES):
        fmt = "jsonl"
    if fmt == "jsonl":
        return _Input(lines=lines)
    head: list[bytes] = []
    if fmt == "auto":
        for raw in lines:
            head.append(raw)
            if raw.strip():
                break
        if head and _is_json_record(head[-1], args.text_field):
            return _Input(lines=itertools.chain(head, lines))
    data = b"".join(itertools.chain(head, lines))
    codec = utf16_codec(data)
    text = data.decode(codec, "replace") if codec else decode(data)
    text = text.removeprefix("\ufeff")
    if fmt == "html" or (fmt == "auto" and looks_like_html(text)):
        text = html_to_text(text)
    return _Input(text=text)


def _parse_record(
    raw: bytes, args: argparse.Namespace, decode: _Decoder
) -> tuple[dict[str, Any], str | None, str | None]:
    """Parse one JSONL line into ``(meta, text, error)``; meta holds the echoed id."""
    meta: dict[str, Any] = {}
    line = decode(raw).lstrip("\ufeff").strip()
    if not line:
        return meta, None, "blank line"
    try:
        obj = json.loads(line)
    except (ValueError, RecursionError) as exc:
        return meta, None, f"invalid JSON: {exc}"
    if not isinstance(obj, dict):
        return meta, None, f"not a JSON object but {_json_type(obj)}"
    ident = field_value(obj, args.id_field)
    if ident is not MISSING_FIELD:
        meta["id"] = ident
    text = field_value(obj, args.text_field)
    if text is MISSING_FIELD:
        return meta, None, f"missing {args.text_field!r} field"
    if not isinstance(text, str):
        return meta, None, f"{args.text_field!r} field is {_json_type(text)}, not a string"
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        # Lone surrogates from \ud800-style escapes: one '?' each keeps offsets valid.
        text = text.encode("utf-8", "replace").decode("utf-8")
    return meta, text, None


# --------------------------------------------------------------------------- output


def _warn(message: str) -> None:
    print(f"{PROG}: warning: {message}", file=sys.stderr)


def _write(text: str) -> None:
    sys.stdout.write(text)


def _json_line(obj: dict[str, Any]) -> str:
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":")) + "\n"


def _json_pretty(obj: dict[str, Any]) -> str:
    return json.dumps(obj, ensure_ascii=False, indent=2) + "\n"


def _check_dict(report: Any, meta: dict[str, Any]) -> dict[str, Any]:
    out = dict(meta)
    out.update(report.to_dict())
    return out


def _restore_dict(result: Any, meta: dict[str, Any]) -> dict[str, Any]:
    report = result.report
    out = dict(meta)
    out["text"] = result.text
    out["edits"] = [e.to_dict() for e in result.edits]
    out["score"] = report.score
    out["spun"] = report.spun
    out["supported"] = report.supported
    out["version"] = dict(report.version)
    return out


def _oneline(text: str, limit: int = 80) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _format_report(report: Any) -> str:
    """Human summary of a check Report."""
    if not report.supported:
        reason = {
            "empty": "empty input",
            "unsupported": "not English prose",
        }.get(report.language, report.language)
        return f"verdict: not analysed ({reason})\n"
    verdict = "SPUN" if report.spun else "not spun"
    lines = [
        f"verdict: {verdict} (score {report.score:.2f}, threshold {report.threshold:.2f})",
        f"words: {report.words}, spans: {len(report.spans)}"
        + (f", known tortured phrases: {report.terms}" if report.terms else ""),
    ]
    from .api import SHORT_TEXT_WORDS, UNFAMILIAR_BELOW

    if report.words < SHORT_TEXT_WORDS:
        lines.append(f"note: a short text ({report.words} word{'s' * (report.words != 1)}) "
                     "gives little evidence: its score stays near the middle; the verdict "
                     "is what to read")
    elif report.spun and report.familiarity is not None \
            and report.familiarity < UNFAMILIAR_BELOW:
        lines.append(f"note: the shipped tables explain little of this text's unusual "
                     f"wording (familiarity {report.familiarity:.2f}): it was likely spun "
                     "with a table they do not hold, so spans are less certain (see their "
                     "confidences) and many swaps go unseen; a table learned from aligned "
                     "pairs (unspin learn) restores such a spinner better")
    for span in report.spans:
        lines.append(
            f"  {_oneline(span.text)} -> {_oneline(span.suggestion)} "
            f"({span.confidence:.2f})  [{span.start}:{span.end}]"
        )
    return "\n".join(lines) + "\n"


def _with_newline(text: str) -> str:
    return text if not text or text.endswith("\n") else text + "\n"


def _diff_pieces_from_edits(source: str, result: Any) -> list[tuple[str, str]] | None:
    """Diff pieces (op, text) straight from the edits, or None if they don't add up."""
    pieces: list[tuple[str, str]] = []
    pos = 0
    try:
        edits = sorted(result.edits, key=lambda e: (e.start, e.end))
    except Exception:  # noqa: BLE001 - unexpected edit objects: fall back to difflib
        return None
    for e in edits:
        if not (pos <= e.start <= e.end <= len(source)):
            return None
        pieces.append(("=", source[pos : e.start]))
        pieces.append(("-", source[e.start : e.end]))
        pieces.append(("+", e.replacement))
        pos = e.end
    pieces.append(("=", source[pos:]))
    rebuilt = "".join(text for op, text in pieces if op != "-")
    return pieces if rebuilt == result.text else None


def _diff_pieces_difflib(old: str, new: str) -> list[tuple[str, str]]:
    a = _DIFF_TOKEN.findall(old)
    b = _DIFF_TOKEN.findall(new)
    pieces: list[tuple[str, str]] = []
    matcher = difflib.SequenceMatcher(None, a, b, autojunk=False)
    for op, i1, i2, j1, j2 in matcher.get_opcodes():
        if op == "equal":
            pieces.append(("=", "".join(a[i1:i2])))
        else:
            pieces.append(("-", "".join(a[i1:i2])))
            pieces.append(("+", "".join(b[j1:j2])))
    return pieces


def word_diff(source: str, result: Any, *, color: bool) -> str:
    """Render a word diff of ``source`` against a Restoration's text.

    Args:
        source: The text that was restored.
        result: The Restoration (its ``edits`` are used when they rebuild ``text``
            exactly, otherwise the two texts are diffed word by word).
        color: ANSI red strike-through / green instead of ``[-old-]{+new+}`` markers.

    Returns:
        The diff text.
    """
    pieces = _diff_pieces_from_edits(source, result)
    if pieces is None:
        pieces = _diff_pieces_difflib(source, result.text)
    out: list[str] = []
    for op, text in pieces:
        if not text:
            continue
        if op == "=":
            out.append(text)
        elif op == "-":
            out.append(f"{_RED}{text}{_RESET}" if color else f"[-{text}-]")
        else:
            out.append(f"{_GREEN}{text}{_RESET}" if color else f"{{+{text}+}}")
    return "".join(out)


def _use_color(args: argparse.Namespace) -> bool:
    if getattr(args, "no_color", False) or os.environ.get("NO_COLOR"):
        return False
    try:
        return sys.stdout.isatty()
    except (AttributeError, ValueError):
        return False


def _record_header(meta: dict[str, Any], lineno: int) -> str:
    label = f"id {json.dumps(meta['id'], ensure_ascii=False)}" if "id" in meta else "no id"
    return f"==> line {lineno} ({label}) <==\n"


# --------------------------------------------------------------------------- commands


def _check_readable(path: str, what: str) -> None:
    """A clear error (exit status 2) if the model file ``path`` cannot be read."""
    if os.path.isdir(path):
        raise CLIError(f"cannot read {what} {path}: is a directory")
    if not os.path.exists(path):
        raise CLIError(f"cannot read {what} {path}: No such file or directory")
    if not os.access(path, os.R_OK):
        raise CLIError(f"cannot read {what} {path}: Permission denied")


def _select_lm(path: str | None) -> None:
    if path is None:
        return
    _check_readable(path, "language model")
    from . import models

    try:
        models.set_default_lm(path)
    except Exception as exc:  # noqa: BLE001 - any failure to load is a bad model file
        detail = _describe_os_error(exc)
        raise CLIError(f"cannot load language model {path}: {detail}") from None


def _select_terms(path: str | None) -> None:
    """Use the term table at ``path`` (if given) for this process; a clear error if not."""
    if path is None:
        return
    _check_readable(path, "term table")
    from . import models

    try:
        models.set_default_terms(path)
    except (OSError, ValueError, UnicodeDecodeError) as exc:
        detail = _describe_os_error(exc) if isinstance(exc, OSError) else str(exc)
        raise CLIError(f"cannot load term table {path}: {detail}") from None


def _api_kwargs(args: argparse.Namespace, *names: str) -> dict[str, Any]:
    """Keyword arguments for check/restore: only the options that were given."""
    kwargs: dict[str, Any] = {}
    for name in names:
        value = getattr(args, name, None)
        if value is not None:
            kwargs[name] = value
    if args.table is not None:
        kwargs["table"] = args.table
    return kwargs


# JSONL records analysed together by a `run_many` (files only, see `_process`): as many as
# `unspin scan` puts in a batch (scan.BATCH_DOCS, whose comment says why).
BATCH_RECORDS = 64
BATCH_CHARS = 200_000


def _results(run: Any, run_many: Any, texts: list[str]) -> list[tuple[Any, str | None]]:
    """``(result, error)`` per text: all at once with ``run_many`` when given, else (or
    when the batch call fails) one by one, so that only a failing text gets an error."""
    if run_many is not None and len(texts) > 1:
        try:
            return [(r, None) for r in run_many(texts)]
        except Exception:  # noqa: BLE001 - retried one by one below
            pass
    out: list[tuple[Any, str | None]] = []
    for text in texts:
        try:
            out.append((run(text), None))
        except Exception as exc:  # noqa: BLE001 - one bad record, not the run
            out.append((None, f"{type(exc).__name__}: {exc}"))
    return out


def _process(
    args: argparse.Namespace,
    run: Any,
    render_one: Any,
    render_record: Any,
    run_many: Any = None,
) -> int:
    """Shared driver of check and restore: read, run on each document, render.

    Args:
        args: Parsed arguments.
        run: ``text -> result`` (check or restore with the options bound).
        render_one: ``(source, result, fmt) -> str`` for a single document.
        render_record: ``(source, result | None, meta, error, fmt, lineno) -> str``.
        run_many: ``texts -> results``, the same results for many texts at once. JSONL
            read from a file goes through it in batches (`BATCH_RECORDS`); standard input
            stays one record at a time, so that a pipe gets each answer as soon as its
            line arrives.

    Returns:
        Exit status: 1 when ``--fail-on-spun`` and something was spun, else 0.
    """
    decode = _Decoder(args.file)
    fh = _open_binary(args.file)
    spun = False
    try:
        data = _read_input(args, fh, decode)
        if not data.is_jsonl:
            fmt = args.format or "text"
            result = run(data.text)
            spun = _is_spun(result)
            _write(render_one(data.text, result, fmt))
        else:
            fmt = args.format or "jsonl"
            from_file = fh is not getattr(sys.stdin, "buffer", None)
            size = BATCH_RECORDS if run_many is not None and from_file else 1
            batch: list[tuple[int, dict[str, Any], Any, str | None]] = []
            chars = 0

            def flush() -> None:
                nonlocal spun, chars
                good = [k for k, (_, _, _, error) in enumerate(batch) if error is None]
                found = _results(run, run_many, [batch[k][2] for k in good])
                results: dict[int, tuple[Any, str | None]] = dict(zip(good, found, strict=True))
                for k, (lineno, meta, text, error) in enumerate(batch):
                    result, failure = results.get(k, (None, error))
                    if result is not None:
                        spun = spun or _is_spun(result)
                    _write(render_record(text, result, meta, failure, fmt, lineno))
                sys.stdout.flush()
                batch.clear()
                chars = 0

            for lineno, raw in enumerate(data.lines or (), start=1):
                meta, text, error = _parse_record(raw, args, decode)
                batch.append((lineno, meta, text, error))
                chars += len(text) if isinstance(text, str) else 0
                if len(batch) >= size or chars >= BATCH_CHARS:
                    flush()
            if batch:
                flush()
    finally:
        if fh is not getattr(sys.stdin, "buffer", None):
            fh.close()
    return EXIT_SPUN if spun and getattr(args, "fail_on_spun", False) else EXIT_OK


def _is_spun(result: Any) -> bool:
    report = getattr(result, "report", result)
    return bool(report.spun)


def _cmd_check(args: argparse.Namespace) -> int:
    import unspin

    _select_lm(args.lm)
    _select_terms(args.terms)
    kwargs = _api_kwargs(args, "threshold")

    def run(text: str) -> Any:
        return unspin.check(text, **kwargs)

    def run_many(texts: list[str]) -> list[Any]:
        return unspin.check_many(texts, **kwargs)

    def render_one(source: str, report: Any, fmt: str) -> str:
        if fmt == "json":
            return _json_pretty(_check_dict(report, {}))
        if fmt == "jsonl":
            return _json_line(_check_dict(report, {}))
        return _format_report(report)

    def render_record(
        source: str | None,
        report: Any,
        meta: dict[str, Any],
        error: str | None,
        fmt: str,
        lineno: int,
    ) -> str:
        if fmt == "text":
            body = f"error: {error}\n" if error is not None else _format_report(report)
            return _record_header(meta, lineno) + body
        if error is not None:
            return _json_line({**meta, "error": error})
        return _json_line(_check_dict(report, meta))

    return _process(args, run, render_one, render_record, run_many)


def _cmd_restore(args: argparse.Namespace) -> int:
    import unspin

    _select_lm(args.lm)
    _select_terms(args.terms)
    kwargs = _api_kwargs(args, "min_confidence", "threshold")
    if args.two_step:
        kwargs["two_step"] = True
    color = _use_color(args)
    index = _open_index(args.index) if args.index is not None else None

    def run(text: str) -> Any:
        if index is not None:
            from .trace import restore_with_reference

            return restore_with_reference(text, index, **kwargs)
        return unspin.restore(text, **kwargs)

    def render_one(source: str, result: Any, fmt: str) -> str:
        if fmt == "json":
            return _json_pretty(_restore_dict(result, {}))
        if fmt == "jsonl":
            return _json_line(_restore_dict(result, {}))
        if fmt == "diff":
            return _with_newline(word_diff(source, result, color=color))
        return _with_newline(result.text)

    def render_record(
        source: str | None,
        result: Any,
        meta: dict[str, Any],
        error: str | None,
        fmt: str,
        lineno: int,
    ) -> str:
        if fmt in ("text", "diff"):
            if error is not None:
                body = f"error: {error}\n"
            elif fmt == "diff":
                body = _with_newline(word_diff(source, result, color=color))
            else:
                body = _with_newline(result.text)
            return _record_header(meta, lineno) + body
        if error is not None:
            return _json_line({**meta, "error": error})
        return _json_line(_restore_dict(result, meta))

    def run_many(texts: list[str]) -> list[Any]:
        return unspin.restore_many(texts, **kwargs)

    # (Restoring against an index goes document by document: `restore_with_reference`.)
    return _process(args, run, render_one, render_record,
                    run_many if index is None else None)


def _cmd_lm_build(args: argparse.Namespace) -> int:
    for path in args.corpus:
        if not os.path.exists(path):
            raise CLIError(f"cannot read {path}: No such file or directory")
        if not os.access(path, os.R_OK):
            raise CLIError(f"cannot read {path}: Permission denied")
    out_dir = os.path.dirname(os.path.abspath(args.output))
    if os.path.isdir(args.output):
        raise CLIError(f"cannot write {args.output}: is a directory")
    if not os.path.isdir(out_dir):
        raise CLIError(f"cannot write {args.output}: no such directory {out_dir}")
    from .lm import build_lm

    kwargs: dict[str, Any] = {
        "order": args.order,
        "vocab_size": args.vocab_size,
        "text_field": args.text_field,
        "progress": not args.quiet,
    }
    if args.min_counts is not None:
        kwargs["min_counts"] = args.min_counts
    try:
        stats = build_lm(list(args.corpus), args.output, **kwargs)
    except (OSError, ValueError) as exc:
        raise CLIError(f"cannot build language model: {_describe_os_error(exc)}") from None
    _write(json.dumps(stats, ensure_ascii=False, indent=2, default=str) + "\n")
    if not args.quiet:
        print(f"{PROG}: wrote {args.output}", file=sys.stderr)
    return EXIT_OK


def _positive_float(value: str) -> float:
    try:
        x = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {value!r}") from None
    if not x > 0:
        raise argparse.ArgumentTypeError(f"must be positive, got {value}")
    return x


def _add_scan_parser(commands: Any, fmt: Any) -> None:
    scan = commands.add_parser(
        "scan",
        help="check or restore whole corpora (JSONL, Parquet, WARC, text), in parallel",
        description="Scan corpora: one output record per input record, in input order per "
        "file, bad records as error records. Resumable (--resume). See docs/scan.md.",
        epilog="examples:\n"
        "  unspin scan crawl/*.jsonl.zst -o verdicts.jsonl --workers 8\n"
        "  unspin scan shard.parquet -o out.parquet --mode restore\n"
        "  unspin scan CC-MAIN-*.warc.gz -o cc.jsonl --engine ray --workers 32\n"
        "  unspin scan corpus/ -o verdicts.jsonl --resume   # after an interruption",
        formatter_class=fmt,
    )
    inp = scan.add_argument_group("input")
    inp.add_argument("inputs", nargs="+", metavar="INPUT",
                     help="files (.jsonl[.gz|.zst], .parquet, .warc[.gz], .txt, .html), "
                     "directories (searched recursively) or globs")
    inp.add_argument("--text-field", default="text", metavar="NAME",
                     help="JSONL field / Parquet column holding the text (default: text; "
                     "'a.b': field b of object or struct column a)")
    inp.add_argument("--id-field", default="id", metavar="NAME",
                     help="field / column echoed as 'id' (default: id; 'a.b' as for "
                     "--text-field)")
    inp.add_argument("--max-chars", type=_positive_int, default=1_000_000, metavar="N",
                     help="longer texts become error records (default: 1000000)")
    out = scan.add_argument_group("output")
    out.add_argument("-o", "--output", required=True, metavar="OUTPUT",
                     help="output file: .jsonl, .jsonl.gz or .parquet")
    out.add_argument("--mode", choices=("check", "restore"), default="check",
                     help="check: score and spans; restore: also restored text and edits "
                     "(default: check)")
    out.add_argument("--no-spans", dest="spans", action="store_false",
                     help="check: write the score and verdict only, not the spans (faster "
                     "on spun documents)")
    out.add_argument("--resume", action="store_true",
                     help="continue an interrupted scan of the same inputs into OUTPUT")
    out.add_argument("-q", "--quiet", action="store_true",
                     help="no progress line and no summary on stderr")
    run = scan.add_argument_group("execution")
    run.add_argument("--workers", type=_positive_int, default=os.cpu_count() or 1,
                     metavar="N", help="worker processes (default: number of CPUs)")
    run.add_argument("--engine", choices=("local", "ray"), default="local",
                     help="local: worker processes on this machine; ray: Ray Data on the "
                     "current Ray cluster (pip install 'unspin[ray]') (default: local)")
    run.add_argument("--doc-timeout", type=_positive_float, default=60.0, metavar="S",
                     help="seconds one document may take before it becomes an error record "
                     "(default: 60)")
    # (scan.BATCH_DOCS; not imported here: the scan module is loaded only to scan)
    run.add_argument("--batch-size", type=_positive_int, default=64, metavar="N",
                     help="documents per batch sent to a worker (default: 64)")
    model = scan.add_argument_group("model")
    model.add_argument("--table", metavar="TABLE",
                       help="learned substitution table to use as well")
    model.add_argument("--threshold", type=_probability, metavar="X",
                       help="decision threshold on the spin score (default: the model's)")
    model.add_argument("--two-step", action="store_true",
                       help="restore: also originals two steps into the candidate table "
                       "(as 'unspin restore --two-step'; about a sixth slower)")
    scan.set_defaults(handler=_cmd_scan)


def _cmd_scan(args: argparse.Namespace) -> int:
    from .scan import ScanError, scan

    if args.table is not None and not os.path.isfile(args.table):
        raise CLIError(f"cannot read table {args.table}: No such file")
    try:
        interactive = sys.stderr.isatty()
    except (AttributeError, ValueError):
        interactive = False
    try:
        summary = scan(
            args.inputs, args.output, mode=args.mode, workers=args.workers,
            engine=args.engine, resume=args.resume, max_chars=args.max_chars,
            doc_timeout=args.doc_timeout, text_field=args.text_field, id_field=args.id_field,
            table=args.table, threshold=args.threshold, batch_size=args.batch_size,
            progress=interactive and not args.quiet, spans=args.spans,
            two_step=args.two_step,
        )
    except ScanError as exc:
        raise CLIError(str(exc)) from None
    except OSError as exc:
        raise CLIError(f"cannot write {args.output}: {_describe_os_error(exc)}") from None
    if not args.quiet:
        d = summary.to_dict()
        shown = list(summary.error_reasons.items())
        reasons = ", ".join(f"{k} {v}" for k, v in shown[:5])
        if len(shown) > 5:  # the commonest five; the output file has every record's reason
            rest = sum(v for _, v in shown[5:])
            kinds = len(shown) - 5
            reasons += f", {rest} more ({kinds} other reason{'s' if kinds > 1 else ''})"
        resumed = (f" (+{summary.resumed_records} done before --resume)"
                   if summary.resumed_records else "")
        print(
            f"{PROG} scan: {summary.records} records{resumed} from {summary.files} "
            f"file{'s' if summary.files != 1 else ''} in "
            f"{summary.seconds:.1f} s ({d['docs_per_s']:.1f} docs/s, {d['mb_per_s']:.3f} MB/s); "
            f"{summary.analysed} analysed, {summary.spun} spun "
            f"({100 * summary.spun_share:.1f} %), {summary.errors} errors"
            + (f" ({reasons})" if reasons else "") + f" -> {summary.output}",
            file=sys.stderr,
        )
    return EXIT_OK


def _cmd_learn(args: argparse.Namespace) -> int:
    from .corpus import open_text
    from .learn import learn_table

    for path in args.pairs:
        if not os.path.isfile(path):
            raise CLIError(f"cannot read {path}: No such file")
    skipped = 0

    def documents():
        nonlocal skipped
        for path in args.pairs:
            with open_text(path) as fh:
                for line in fh:
                    try:
                        rec = json.loads(line)
                        spun, orig = rec[args.spun_field], rec[args.original_field]
                    except (ValueError, KeyError, TypeError):
                        skipped += 1
                        continue
                    if isinstance(spun, str) and isinstance(orig, str):
                        yield spun, orig
                    else:
                        skipped += 1

    try:
        table = learn_table(documents(), min_count=args.min_count)
        table.save(args.output)
    except OSError as exc:
        raise CLIError(f"cannot write {args.output}: {_describe_os_error(exc)}") from None
    print(f"{PROG}: wrote {len(table)} pairs to {args.output}"
          + (f" ({skipped} unusable lines skipped)" if skipped else ""), file=sys.stderr)
    return EXIT_OK


def _open_index(path: str, create: bool = False) -> Any:
    from .index import Index

    try:
        return Index(path, create=create)
    except (OSError, ValueError) as exc:
        raise CLIError(f"cannot open index {path}: {_describe_os_error(exc)}") from None


def _cmd_trace(args: argparse.Namespace) -> int:
    from .trace import trace

    index = _open_index(args.index)
    args.fail_on_spun = args.fail_on_match
    pairs = None
    if args.pairs is not None:
        try:
            pairs = open(args.pairs, "w", encoding="utf-8")  # noqa: SIM115 - closed at exit
        except OSError as exc:
            raise CLIError(f"cannot write {args.pairs}: {_describe_os_error(exc)}") from None

    def run(text: str) -> Any:
        result = trace(text, index, k=args.top, threshold=args.threshold)
        if pairs is not None and result.matches:
            best = result.matches[0].id
            pairs.write(_json_line({"id": best, "spun": text, "original": index.get(best)}))
        return result

    def render_text(result: Any) -> str:
        if not result.matches:
            return "no match\n"
        return "".join(f"{m.id}\tscore {m.score:.3f}\tcoverage {m.coverage:.3f}\n"
                       for m in result.matches)

    def render_one(source: str, result: Any, fmt: str) -> str:
        if fmt == "json":
            return _json_pretty(result.to_dict())
        if fmt == "jsonl":
            return _json_line(result.to_dict())
        return render_text(result)

    def render_record(source: str | None, result: Any, meta: dict[str, Any],
                      error: str | None, fmt: str, lineno: int) -> str:
        if fmt == "text":
            body = f"error: {error}\n" if error is not None else render_text(result)
            return _record_header(meta, lineno) + body
        if error is not None:
            return _json_line({**meta, "error": error})
        return _json_line({**meta, **result.to_dict()})

    try:
        return _process(args, run, render_one, render_record)
    finally:
        if pairs is not None:
            pairs.close()


def _cmd_index_add(args: argparse.Namespace) -> int:
    from .trace import InputError, read_documents

    for path in args.inputs:
        if path != "-" and not os.path.exists(path):
            raise CLIError(f"cannot read {path}: No such file or directory")
    index = _open_index(args.index, create=True)
    errors = 0

    def documents() -> Iterator[tuple[str, str]]:
        nonlocal errors
        stdin = getattr(sys.stdin, "buffer", sys.stdin)
        for item in read_documents(args.inputs, args.text_field, args.id_field, stdin=stdin):
            if isinstance(item, InputError):
                errors += 1
                _warn(f"{item.where}: {item.message} (skipped)")
            else:
                yield item

    def committed(n: int, last_id: str) -> None:
        if not args.quiet:
            print(f"{PROG}: committed {n} documents (last id: "
                  f"{json.dumps(last_id, ensure_ascii=False)})", file=sys.stderr, flush=True)

    try:
        counts = index.add_many(documents(), batch_size=args.batch_size, on_commit=committed)
        total = len(index)
    finally:
        index.close()
    _write(_json_pretty({**counts, "errors": errors, "documents": total}))
    return EXIT_OK


def _cmd_index_stats(args: argparse.Namespace) -> int:
    index = _open_index(args.index)
    try:
        _write(_json_pretty(index.stats()))
    finally:
        index.close()
    return EXIT_OK


def _cmd_index_remove(args: argparse.Namespace) -> int:
    index = _open_index(args.index)
    try:
        removed = index.remove(*args.ids)
        total = len(index)
    finally:
        index.close()
    missing = [i for i in args.ids if i not in set(removed)]
    _write(_json_pretty({"removed": removed, "missing": missing, "documents": total}))
    return EXIT_OK
def _cmd_serve(args: argparse.Namespace) -> int:
    from .server import serve_command  # lazy: fastapi/uvicorn only for this command

    return serve_command(args)


# --------------------------------------------------------------------------- entry point


def _quiet_broken_pipe() -> None:
    """After EPIPE, point stdout at /dev/null so the interpreter's final flush is silent."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, AttributeError, ValueError):
        pass


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``unspin`` command line.

    Args:
        argv: Arguments without the program name; ``None`` uses ``sys.argv[1:]``.

    Returns:
        Exit status: 0 success, 1 spun text with ``--fail-on-spun``, 2 bad usage or
        unreadable input, 3 internal error.
    """
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, --version and usage errors
        code = exc.code
        return code if isinstance(code, int) else (EXIT_OK if code is None else EXIT_USAGE)
    if args.handler is None:
        args.help_parser.print_help(sys.stderr)
        return EXIT_USAGE
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.reconfigure(errors="backslashreplace")  # type: ignore[union-attr]
        except (AttributeError, ValueError, OSError):
            pass
    try:
        return args.handler(args)
    except CLIError as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except BrokenPipeError:
        _quiet_broken_pipe()
        return EXIT_OK
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # noqa: BLE001 - one line, not a traceback, unless debugging
        if os.environ.get("UNSPIN_DEBUG"):
            raise
        print(
            f"{PROG}: error: internal error: {type(exc).__name__}: {exc} "
            "(set UNSPIN_DEBUG=1 for a traceback)",
            file=sys.stderr,
        )
        return EXIT_INTERNAL
