"""The ``ocr-frames`` argument parser.

``run`` has one flag per run option, its ``dest`` the field's name in
:class:`~ocr_frames._run.options.RunOptions` and its default taken from there
(:func:`run_options` gathers them back); the other ``run`` flags (:data:`RUN_EXTRAS`)
say what to read, which engine answers and where the results go.
"""

from __future__ import annotations

import argparse
import json
from datetime import date
from typing import Any, Final

from ocr_frames._base.files import DEFAULT_FILE_MODE, parse_file_mode
from ocr_frames._engine.policy import RetryPolicy
from ocr_frames._errors import ConfigurationError
from ocr_frames._run.options import ON_ERROR_MODES, URL_MODES, RunOptions
from ocr_frames._version import __version__
from ocr_frames.cascade import DEFAULT_ESCALATE_BELOW
from ocr_frames.kinds import KINDS

__all__ = ["RUN_EXTRAS", "build_parser", "run_options"]

#: ``run`` flags (dests) that are not run options.
RUN_EXTRAS: Final = frozenset(
    {
        "input",
        "kind",
        "out",
        "column",
        "engine",
        "escalate_below",
        "escalate_on_quality",
        "audit_sample",
        "base_url",
        "appid",
        "token_endpoint",
        "cache_dir",
        "no_cache",
        "proxy",
        "dry_run",
        "price",
        "report",
        "report_thumbnails",
        "review_only",
        "file_mode",
    }
)

RUN_EPILOG = """\
credentials (WeChat engine) come from the environment, never from the command line:
  WECHAT_APPID + WECHAT_SECRET   token via /cgi-bin/stable_token (recommended)
  WECHAT_ACCESS_TOKEN            a fixed token instead
  WECHAT_BASE_URL                a proxy or the emulator (same as --base-url)

examples:
  ocr-frames run scans/ --kind idcard --out ids.parquet
  ocr-frames run images.csv --column path --kind bankcard --out cards.parquet --concurrency 32
  find . -name '*.jpg' | ocr-frames run - --kind comm --out text.parquet

exit codes: 0 all rows answered (per-row errors are data), 2 usage/configuration error
(or, with --on-error raise, a failed row: the file is written first),
3 stopped by quota (partial output written; rerun tomorrow to finish, cached rows are free),
130/143 interrupted by Ctrl-C/SIGTERM (no output file; answers received are cached)
"""

_RAW: Final = argparse.RawDescriptionHelpFormatter


def _file_mode(text: str) -> int:
    try:
        return parse_file_mode(text)
    except ConfigurationError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _unit(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"must be within 0 and 1, got {text}")
    return value


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {text!r}") from None


def _retry(text: str) -> RetryPolicy:
    try:
        attempts = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if attempts < 1:
        raise argparse.ArgumentTypeError(f"--retries must be >= 1 attempt, got {attempts}")
    return RetryPolicy(max_attempts=attempts)


def run_options(args: argparse.Namespace) -> RunOptions:
    """The run options of parsed ``run`` arguments (validated)."""
    return RunOptions(**{name: getattr(args, name) for name in RunOptions.names()})


def _add_run_options(run: argparse.ArgumentParser) -> None:
    """One flag per run option (defaults: :class:`RunOptions`'s)."""
    calls = run.add_argument_group("calls")
    calls.add_argument("--concurrency", type=int, help="parallel calls (default %(default)s)")
    calls.add_argument("--rate-limit", type=float, help="max calls per second, all workers")
    calls.add_argument(
        "--retries",
        dest="retry",
        type=_retry,
        metavar="N",
        help="attempts per image on a transient failure (default: RetryPolicy's 5)",
    )
    calls.add_argument(
        "--on-error",
        choices=ON_ERROR_MODES,
        help="keep row errors as data (default), or exit 2 naming the first failed row",
    )
    calls.add_argument(
        "--no-progress", dest="progress", action="store_false", help="no progress bar"
    )
    reads = run.add_argument_group("reading the images")
    reads.add_argument(
        "--url-mode",
        choices=URL_MODES,
        help="download URLs here and hash them (default), or pass img_url to the platform",
    )
    reads.add_argument(
        "--url-allow-host",
        dest="url_allow_hosts",
        action="append",
        metavar="HOST",
        help="download URLs of HOST without the address check (repeatable)",
    )
    reads.add_argument(
        "--no-url-private",
        dest="url_private",
        action="store_false",
        help="refuse URLs on loopback and private networks too (link-local and cloud "
        "metadata addresses are always refused)",
    )
    reads.add_argument(
        "--download-timeout", type=float, metavar="SECONDS", help="per URL (default %(default)s)"
    )
    reads.add_argument(
        "--storage-options",
        type=json.loads,
        metavar="JSON",
        help="fsspec options for s3:// gs:// ... paths, e.g. '{\"anon\": true}'",
    )
    reads.add_argument(
        "--no-shrink",
        dest="shrink",
        action="store_false",
        help="refuse images over --max-bytes instead of re-encoding them to a JPEG under it",
    )
    reads.add_argument(
        "--max-bytes", type=int, metavar="N", help="the platform's image limit (%(default)s)"
    )
    reads.add_argument(
        "--chunk-size", type=int, metavar="ROWS", help="rows per chunk (default %(default)s)"
    )
    reads.add_argument(
        "--chunk-bytes",
        type=int,
        metavar="N",
        help="image bytes a chunk holds at most (default %(default)s)",
    )
    audit = run.add_argument_group("audit (applied chunk by chunk as the file is written)")
    audit.add_argument("--checks", action="store_true", help="add the KYC check_* columns")
    audit.add_argument(
        "--as-of", type=_date, metavar="YYYY-MM-DD", help="judge expiry on this date (today)"
    )
    audit.add_argument(
        "--mask", action="store_true", help="mask names, ID/card/plate numbers in the output"
    )
    audit.add_argument(
        "--report", metavar="FILE.html", help="write an HTML audit report (implies --checks)"
    )
    audit.add_argument(
        "--report-thumbnails",
        action="store_true",
        help="put a small blurred thumbnail of each listed row's image in the --report page",
    )
    audit.add_argument(
        "--quality",
        action="store_true",
        help="add quality_score and the warn_* columns (blur, glare, copy, reshoot...)",
    )
    audit.add_argument(
        "--review-threshold",
        type=float,
        metavar="X",
        help="a field whose <field>_conf is below X (0-1) needs review (default %(default)s)",
    )
    audit.add_argument(
        "--review-only",
        metavar="PATH.parquet",
        help="also write the rows that need review (needs_review) to PATH; implies --checks "
        "unless --quality is given",
    )
    run.set_defaults(**{name: RunOptions.default(name) for name in RunOptions.names()})


def _add_run(sub: Any) -> None:
    run = sub.add_parser(
        "run",
        help="recognise every image of INPUT and write a Parquet file",
        description="Recognise every image of INPUT and write one typed row per image.",
        epilog=RUN_EPILOG,
        formatter_class=_RAW,
    )
    run.add_argument(
        "input",
        metavar="INPUT",
        help="a folder of images (recursive), a .csv/.tsv/.parquet/.jsonl file, or - for stdin",
    )
    run.add_argument("--kind", "-k", required=True, choices=KINDS, help="document kind")
    run.add_argument("--out", "-o", required=True, metavar="OUT.parquet", help="output file")
    run.add_argument("--column", "-c", help="column holding paths/URLs (table inputs)")
    run.add_argument(
        "--engine",
        choices=("wechat", "local", "cascade"),
        default="wechat",
        help="wechat (billed), local (offline, free), or cascade: local first, then wechat "
        "for the rows it is unsure of (default: wechat)",
    )
    run.add_argument(
        "--escalate-below",
        type=_unit,
        default=DEFAULT_ESCALATE_BELOW,
        metavar="CONF",
        help="cascade: a field confidence below this sends the row to wechat "
        f"(default {DEFAULT_ESCALATE_BELOW}); errors and failed checks do too",
    )
    run.add_argument(
        "--escalate-on-quality",
        action="store_true",
        help="cascade: image-quality warnings (blur, glare, occlusion...) send a row to wechat "
        "too (default: only errors, low confidence and failed checks do)",
    )
    run.add_argument(
        "--audit-sample",
        type=_unit,
        default=0.0,
        metavar="FRACTION",
        help="cascade: also send this fraction of the rows kept from local to wechat, and "
        "report how often the two agreed per field (default 0)",
    )
    run.add_argument("--base-url", help="WeChat API base URL (proxy or emulator)")
    run.add_argument("--appid", help="WeChat appid (else WECHAT_APPID)")
    run.add_argument("--token-endpoint", choices=("stable_token", "token"), default="stable_token")
    cache = run.add_mutually_exclusive_group()
    cache.add_argument("--cache-dir", help="cache folder (default: the user cache dir)")
    cache.add_argument("--no-cache", action="store_true", help="do not read or write the cache")
    run.add_argument(
        "--proxy",
        metavar="URL",
        help="proxy for API calls and downloads, http://[user:pass@]host:port (default: "
        "HTTPS_PROXY/HTTP_PROXY/ALL_PROXY/NO_PROXY from the environment)",
    )
    run.add_argument(
        "--dry-run",
        action="store_true",
        help="read and hash the inputs, ask the cache, print how many calls would be billed "
        "(with --engine cascade: run the local engine only, free, and print how many rows "
        "would go to wechat)",
    )
    run.add_argument("--price", type=float, help="price per call, for --dry-run's estimate")
    run.add_argument(
        "--file-mode",
        type=_file_mode,
        default=DEFAULT_FILE_MODE,
        metavar="MODE",
        help="permissions of the output and report files (default 0600: they hold personal "
        "data); e.g. 0640 or 0644 to share them",
    )
    _add_run_options(run)


def _add_cache(sub: Any) -> None:
    cache_cmd = sub.add_parser(
        "cache",
        help="inspect or manage the answer cache",
        description="Inspect or manage the answer cache (default: the user cache dir).",
        epilog="examples:\n  ocr-frames cache stats\n  ocr-frames cache prune --older-than 30d"
        "\n  ocr-frames cache export answers.jsonl   # holds personal data: file is 0600",
        formatter_class=_RAW,
    )
    cache_cmd.add_argument("action", choices=("stats", "clear", "export", "prune"))
    cache_cmd.add_argument("path", nargs="?", help="output file for export (JSON Lines)")
    cache_cmd.add_argument("--cache-dir", help="cache folder (default: the user cache dir)")
    cache_cmd.add_argument("--older-than", help="for prune: an age like 30d, 12h, 2w")
    cache_cmd.add_argument("--dry-run", action="store_true", help="for prune: only count")
    cache_cmd.add_argument(
        "--file-mode",
        type=_file_mode,
        default=DEFAULT_FILE_MODE,
        metavar="MODE",
        help="for export: permissions of the file (default 0600: it holds personal data)",
    )


def _add_others(sub: Any) -> None:
    sub.add_parser(
        "kinds",
        help="list the document kinds and their columns",
        description="List the 8 document kinds and the columns of each output table.",
        epilog="example:\n  ocr-frames kinds | grep -A1 driving",
        formatter_class=_RAW,
    )
    sub.add_parser(
        "codes",
        help="list the error codes (platform and local)",
        description="List every errcode a row can carry: the platform's and ours (9000xx).",
        epilog="example:\n  ocr-frames codes | grep 9000",
        formatter_class=_RAW,
    )
    demo = sub.add_parser(
        "demo",
        help="run every kind on the bundled sample images (no account needed)",
        description="Run every kind on the bundled samples: offline local engine (or the loopback "
        "emulator) unless WECHAT_* credentials are set, then the real, billed API.",
        epilog="example:\n  ocr-frames demo --out /tmp/demo",
        formatter_class=_RAW,
    )
    demo.add_argument("--samples", default="sample_data", help="sample folder")
    demo.add_argument("--out", default="out/demo", help="output folder")
    serve = sub.add_parser(
        "serve", help="serve the WeChat OCR protocol on loopback, answered by the local engine"
    )
    serve.add_argument("--engine", choices=("local",), default="local")
    serve.add_argument("--port", type=int, default=0, help="TCP port (default: a free one)")
    serve.add_argument("--host", default="127.0.0.1", help="loopback address to bind")
    _add_review(sub)


def _add_review(sub: Any) -> None:
    review = sub.add_parser(
        "review",
        help="look at flagged rows beside their images in the browser; approve, correct",
        description="Open a review of OUT.parquet in the browser: a local web app on 127.0.0.1. "
        "The first line printed is its URL with a random access token; every request needs it. "
        "Decisions go to OUT.reviews.parquet beside the output (mode 0600); the output and the "
        "answer cache are never changed. With --apply, write the table with the corrections "
        "applied instead (no server). Needs the review extra: pip install 'ocr-frames[review]'.",
        epilog="examples:\n"
        "  ocr-frames review out/idcard.parquet\n"
        "  ocr-frames review out/idcard.parquet --filter all --images /mnt/moved-scans\n"
        "  ocr-frames review out/idcard.parquet --apply out/idcard.corrected.parquet",
        formatter_class=_RAW,
    )
    review.add_argument("output", metavar="OUT.parquet", help="an output of `ocr-frames run`")
    review.add_argument("--port", type=int, default=0, help="TCP port (default 0: a free one)")
    review.add_argument(
        "--no-browser", action="store_true", help="print the URL only; do not open a browser"
    )
    review.add_argument(
        "--images",
        metavar="DIR",
        help="folder to look in (by file name) when an image is no longer where the run read it",
    )
    review.add_argument(
        "--unmask",
        action="store_true",
        help="show names and numbers in full (default: masked, as with --mask)",
    )
    review.add_argument(
        "--filter",
        choices=("needs_review", "errors", "all"),
        default="needs_review",
        help="rows the list starts with (default: needs_review)",
    )
    review.add_argument(
        "--apply",
        metavar="CORRECTED.parquet",
        help="write OUT with the reviews applied (review_status, corrected values, checks "
        "recomputed) to this file and exit",
    )


def build_parser() -> argparse.ArgumentParser:
    """The parser of every ``ocr-frames`` command."""
    parser = argparse.ArgumentParser(
        prog="ocr-frames",
        description="Turn a column of document images into a typed Parquet table.",
        formatter_class=_RAW,
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument(
        "-v", "--verbose", action="count", default=0, help="log more (-v info, -vv debug)"
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _add_run(sub)
    _add_cache(sub)
    _add_others(sub)
    return parser
