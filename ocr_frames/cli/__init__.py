"""The ``ocr-frames`` command: argument parsing only; every command is one library call.

Exit codes: 0 every row answered (per-row errors are data), 2 usage or configuration
error, 3 stopped by quota (partial output written), 130 interrupted (Ctrl-C), 143
terminated (SIGTERM); an interrupted run keeps its answers in the cache and writes no file.
"""

from __future__ import annotations

import argparse
import json
import logging
import signal
import sys
import threading
from collections.abc import Sequence
from datetime import date
from types import FrameType
from typing import Any

from ocr_frames._base.files import DEFAULT_FILE_MODE, parse_file_mode
from ocr_frames._engine.engine import Engine
from ocr_frames._errors import LOCAL_CODES, PLATFORM_CODES, ConfigurationError, OCRError
from ocr_frames._version import __version__
from ocr_frames.kinds import KINDS, schema, spec

EXIT_OK, EXIT_USAGE, EXIT_QUOTA, EXIT_INTERRUPTED = 0, 2, 3, 130
EXIT_TERMINATED = 143  # 128 + SIGTERM, as a shell reports a process killed by it

RUN_EPILOG = """\
credentials (WeChat engine) come from the environment, never from the command line:
  WECHAT_APPID + WECHAT_SECRET   token via /cgi-bin/stable_token (recommended)
  WECHAT_ACCESS_TOKEN            a fixed token instead
  WECHAT_BASE_URL                a proxy or the emulator (same as --base-url)

examples:
  ocr-frames run scans/ --kind idcard --out ids.parquet
  ocr-frames run images.csv --column path --kind bankcard --out cards.parquet --concurrency 32
  find . -name '*.jpg' | ocr-frames run - --kind comm --out text.parquet

exit codes: 0 all rows answered (per-row errors are data), 2 usage/configuration error,
3 stopped by quota (partial output written; rerun tomorrow to finish, cached rows are free),
130/143 interrupted by Ctrl-C/SIGTERM (no output file; answers received are cached)
"""


def _build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ocr-frames",
        description="Turn a column of document images into a typed Parquet table.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument(
        "-v", "--verbose", action="count", default=0, help="log more (-v info, -vv debug)"
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = sub.add_parser(
        "run",
        help="recognise every image of INPUT and write a Parquet file",
        description="Recognise every image of INPUT and write one typed row per image.",
        epilog=RUN_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    run.add_argument(
        "input",
        metavar="INPUT",
        help="a folder of images (recursive), a .csv/.tsv/.parquet/.jsonl file, or - for stdin",
    )
    run.add_argument("--kind", "-k", required=True, choices=KINDS, help="document kind")
    run.add_argument("--out", "-o", required=True, metavar="OUT.parquet", help="output file")
    run.add_argument("--column", "-c", help="column holding paths/URLs (table inputs)")
    run.add_argument("--engine", choices=("wechat", "local"), default="wechat")
    run.add_argument("--base-url", help="WeChat API base URL (proxy or emulator)")
    run.add_argument("--appid", help="WeChat appid (else WECHAT_APPID)")
    run.add_argument("--token-endpoint", choices=("stable_token", "token"), default="stable_token")
    cache = run.add_mutually_exclusive_group()
    cache.add_argument("--cache-dir", help="cache folder (default: the user cache dir)")
    cache.add_argument("--no-cache", action="store_true", help="do not read or write the cache")
    run.add_argument("--concurrency", type=int, default=16, help="parallel calls (default 16)")
    run.add_argument("--rate-limit", type=float, help="max calls per second, all workers")
    run.add_argument(
        "--url-mode",
        choices=("download", "passthrough"),
        default="download",
        help="download URLs here and hash them (default), or pass img_url to the platform",
    )
    run.add_argument(
        "--proxy",
        metavar="URL",
        help="proxy for API calls and downloads, http://[user:pass@]host:port (default: "
        "HTTPS_PROXY/HTTP_PROXY/ALL_PROXY/NO_PROXY from the environment)",
    )
    run.add_argument(
        "--url-allow-host",
        action="append",
        metavar="HOST",
        help="download URLs of HOST without the address check (repeatable)",
    )
    run.add_argument(
        "--no-url-private",
        action="store_true",
        help="refuse URLs on loopback and private networks too (link-local and cloud "
        "metadata addresses are always refused)",
    )
    run.add_argument("--no-progress", action="store_true", help="no progress bar")
    run.add_argument(
        "--no-shrink",
        action="store_true",
        help="refuse images over 2 MB instead of re-encoding them to a JPEG under the limit",
    )
    run.add_argument(
        "--storage-options",
        type=json.loads,
        metavar="JSON",
        help="fsspec options for s3:// gs:// ... paths, e.g. '{\"anon\": true}'",
    )
    run.add_argument(
        "--dry-run",
        action="store_true",
        help="read and hash the inputs, ask the cache, print how many calls would be billed",
    )
    run.add_argument("--price", type=float, help="price per call, for --dry-run's estimate")
    audit = run.add_argument_group("audit (the table is read back into memory)")
    audit.add_argument("--checks", action="store_true", help="add the KYC check_* columns")
    audit.add_argument(
        "--as-of", type=_date, metavar="YYYY-MM-DD", help="judge expiry on this date (today)"
    )
    audit.add_argument("--report", metavar="FILE.html", help="write an HTML audit report")
    audit.add_argument(
        "--mask", action="store_true", help="mask names, ID/card/plate numbers in the output"
    )
    run.add_argument(
        "--file-mode",
        type=_file_mode,
        default=DEFAULT_FILE_MODE,
        metavar="MODE",
        help="permissions of the output and report files (default 0600: they hold personal "
        "data); e.g. 0640 or 0644 to share them",
    )

    cache_cmd = sub.add_parser(
        "cache",
        help="inspect or manage the answer cache",
        description="Inspect or manage the answer cache (default: the user cache dir).",
        epilog="examples:\n  ocr-frames cache stats\n  ocr-frames cache prune --older-than 30d"
        "\n  ocr-frames cache export answers.jsonl   # holds personal data: file is 0600",
        formatter_class=argparse.RawDescriptionHelpFormatter,
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

    raw = argparse.RawDescriptionHelpFormatter
    sub.add_parser(
        "kinds",
        help="list the document kinds and their columns",
        description="List the 8 document kinds and the columns of each output table.",
        epilog="example:\n  ocr-frames kinds | grep -A1 driving",
        formatter_class=raw,
    )
    sub.add_parser(
        "codes",
        help="list the error codes (platform and local)",
        description="List every errcode a row can carry: the platform's and ours (9000xx).",
        epilog="example:\n  ocr-frames codes | grep 9000",
        formatter_class=raw,
    )

    demo = sub.add_parser(
        "demo",
        help="run every kind on the bundled sample images (no account needed)",
        description="Run every kind on the bundled samples: offline local engine (or the loopback "
        "emulator) unless WECHAT_* credentials are set, then the real, billed API.",
        epilog="example:\n  ocr-frames demo --out /tmp/demo",
        formatter_class=raw,
    )
    demo.add_argument("--samples", default="sample_data", help="sample folder")
    demo.add_argument("--out", default="out/demo", help="output folder")

    serve = sub.add_parser(
        "serve", help="serve the WeChat OCR protocol on loopback, answered by the local engine"
    )
    serve.add_argument("--engine", choices=("local",), default="local")
    serve.add_argument("--port", type=int, default=0, help="TCP port (default: a free one)")
    serve.add_argument("--host", default="127.0.0.1", help="loopback address to bind")
    return parser


def _file_mode(text: str) -> int:
    try:
        return parse_file_mode(text)
    except ConfigurationError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {text!r}") from None


def _engine(args: argparse.Namespace) -> Engine:
    if args.engine == "local":
        if args.proxy:
            raise SystemExit(
                "ocr-frames run: error: --proxy is for --engine wechat "
                "(downloads follow HTTPS_PROXY/HTTP_PROXY from the environment)"
            )
        from ocr_frames.local import LocalEngine

        return LocalEngine()
    from ocr_frames._engine.engine import WeChatEngine

    return WeChatEngine.from_env(
        appid=args.appid,
        base_url=args.base_url,
        token_endpoint=args.token_endpoint,
        proxy=args.proxy,
    )


def _cmd_run(args: argparse.Namespace) -> int:
    from ocr_frames._run.pipeline import recognize_to_parquet
    from ocr_frames.cli.inputs import read_images

    if args.concurrency < 1:
        raise SystemExit("ocr-frames run: error: --concurrency must be >= 1")
    images = read_images(args.input, column=args.column)
    engine = _engine(args)
    if args.dry_run:
        from ocr_frames._cache.tools import estimate_cost
        from ocr_frames._http.urlpolicy import UrlPolicy

        estimate = estimate_cost(
            images,
            args.kind,
            engine_identity=engine.identity,
            cache_dir=args.cache_dir,
            price_per_call=args.price,
            url_policy=UrlPolicy(args.url_allow_host, private=not args.no_url_private),
            proxy=args.proxy,
        )
        print(f"dry run: {estimate.line()}; nothing was sent")
        return EXIT_OK
    summary = recognize_to_parquet(
        images,
        args.kind,
        args.out,
        engine=engine,
        cache_dir=False if args.no_cache else args.cache_dir,
        concurrency=args.concurrency,
        rate_limit=args.rate_limit,
        progress=not args.no_progress,
        url_mode=args.url_mode,
        shrink=not args.no_shrink,
        storage_options=args.storage_options,
        file_mode=args.file_mode,
        url_allow_hosts=args.url_allow_host,
        url_private=not args.no_url_private,
    )
    if args.checks or args.mask or args.report:
        from ocr_frames._run.pipeline import finish_parquet

        finish_parquet(
            args.out,
            args.kind,
            checks=args.checks,
            as_of=args.as_of,
            mask=args.mask,
            report=args.report,
            file_mode=args.file_mode,
        )
        if args.report:
            print(f"audit report: {args.report}", file=sys.stderr)
    print(f"{summary.line()}; wrote {summary.output}", file=sys.stderr)
    if summary.stopped:
        print(
            "stopped by quota: the file holds every row, unfinished ones with errcode 900011; "
            "rerun the same command when quota is back (answered rows are cached)",
            file=sys.stderr,
        )
        return EXIT_QUOTA
    return EXIT_OK


def _cmd_cache(args: argparse.Namespace) -> int:
    import json
    from datetime import datetime, timezone

    from ocr_frames._cache import tools as cachetools
    from ocr_frames._cache.store import ResultCache

    with ResultCache(args.cache_dir) as cache:
        if args.action == "stats":
            info = cachetools.summarize(cache)
            for stamp in ("oldest", "newest"):
                if info[stamp] is not None:
                    moment = datetime.fromtimestamp(info[stamp], tz=timezone.utc)
                    info[stamp] = moment.isoformat(timespec="seconds")
            print(json.dumps(info, indent=2, ensure_ascii=False))
        elif args.action == "clear":
            print(f"removed {cache.clear()} cached answers from {cache.directory}")
        elif args.action == "export":
            if not args.path:
                raise SystemExit("ocr-frames cache export: error: give an output PATH")
            n = cachetools.export_cache(cache, args.path, file_mode=args.file_mode)
            print(f"exported {n} answers to {args.path}")
        else:
            if not args.older_than:
                raise SystemExit("ocr-frames cache prune: error: give --older-than (e.g. 30d)")
            age = cachetools.parse_age(args.older_than)
            n = cachetools.prune_cache(cache, age, dry_run=args.dry_run)
            print(
                f"{'would remove' if args.dry_run else 'removed'} {n} answers older than "
                f"{args.older_than}"
            )
    return EXIT_OK


def _cmd_kinds() -> int:
    for kind in KINDS:
        print(f"{kind:15} {spec(kind).title}")
        print(f"{'':15} columns: {', '.join(schema(kind).names)}")
    return EXIT_OK


def _cmd_codes() -> int:
    for table, origin in ((PLATFORM_CODES, "platform"), (LOCAL_CODES, "local")):
        for code, text in table.items():
            print(f"{code:>7}  {origin:8}  {text}")
    return EXIT_OK


def _cmd_demo(args: argparse.Namespace) -> int:
    from ocr_frames.cli.demo import run_demo

    return run_demo(args.samples, args.out)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``ocr-frames`` console script."""
    args = _build_parser().parse_args(argv)
    logging.basicConfig(
        level=[logging.WARNING, logging.INFO, logging.DEBUG][min(args.verbose, 2)],
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    terminated: list[int] = []
    previous = _stop_on_sigterm(terminated)
    try:
        if args.command == "run":
            return _cmd_run(args)
        if args.command == "kinds":
            return _cmd_kinds()
        if args.command == "codes":
            return _cmd_codes()
        if args.command == "serve":
            from ocr_frames.local import serve

            return serve(engine=args.engine, host=args.host, port=args.port)
        if args.command == "cache":
            return _cmd_cache(args)
        return _cmd_demo(args)
    except OCRError as exc:
        from ocr_frames._errors import QuotaExceeded

        print(f"ocr-frames: error: {exc}", file=sys.stderr)
        return EXIT_QUOTA if isinstance(exc, QuotaExceeded) else EXIT_USAGE
    except KeyboardInterrupt:
        print("ocr-frames: interrupted; answered rows are cached, rerun to resume", file=sys.stderr)
        return EXIT_TERMINATED if terminated else EXIT_INTERRUPTED
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


def _stop_on_sigterm(received: list[int]) -> Any:
    """Make SIGTERM (``docker stop``, ``kill``) stop a run like Ctrl-C does: the run is
    cancelled, answers received are kept, claims released, no output file is left.
    Returns the previous handler (None when not on the main thread)."""
    if threading.current_thread() is not threading.main_thread():
        return None

    def on_sigterm(signum: int, frame: FrameType | None) -> None:
        received.append(signum)
        on_sigint = signal.getsignal(signal.SIGINT)
        if callable(on_sigint):  # Python's (KeyboardInterrupt) or asyncio.run's (cancel)
            on_sigint(signal.SIGINT, frame)
        else:  # SIGINT ignored (a background job) or default: still stop
            raise KeyboardInterrupt

    return signal.signal(signal.SIGTERM, on_sigterm)


if __name__ == "__main__":
    sys.exit(main())
