"""The ``ocr-frames`` command: argument parsing only; every command is one library call.

Exit codes: 0 every row answered (per-row errors are data), 2 usage or configuration
error (or a failed row with ``--on-error raise``), 3 stopped by quota (partial output
written), 130 interrupted (Ctrl-C), 143 terminated (SIGTERM); an interrupted run keeps its
answers in the cache and writes no file.
"""

from __future__ import annotations

import argparse
import json
import logging
import signal
import sys
import threading
from collections.abc import Sequence
from datetime import datetime, timezone
from types import FrameType
from typing import Any

from ocr_frames import review
from ocr_frames._cache import tools as cachetools
from ocr_frames._cache.store import ResultCache
from ocr_frames._engine.contract import Engine
from ocr_frames._errors import LOCAL_CODES, PLATFORM_CODES, OCRError, QuotaExceeded
from ocr_frames._run.estimate import estimate_cost
from ocr_frames._run.output import check_file_path, recognize_to_parquet
from ocr_frames._run.pipeline import recognize
from ocr_frames.cascade import Cascade
from ocr_frames.cli._demo import run_demo
from ocr_frames.cli._inputs import read_images
from ocr_frames.cli._parser import build_parser, run_options
from ocr_frames.kinds import KINDS, schema, spec
from ocr_frames.local import LocalEngine, serve
from ocr_frames.wechat import WeChatEngine

__all__ = ["main"]

EXIT_OK, EXIT_USAGE, EXIT_QUOTA, EXIT_INTERRUPTED = 0, 2, 3, 130
EXIT_TERMINATED = 143  # 128 + SIGTERM, as a shell reports a process killed by it


def _engine(args: argparse.Namespace) -> Engine:
    if args.engine == "cascade":
        paid = None if args.dry_run else _wechat(args)
        return Cascade(
            LocalEngine(),
            paid,
            escalate_below=args.escalate_below,
            quality=args.escalate_on_quality,
            audit_sample=args.audit_sample,
        )
    if args.engine == "local":
        if args.proxy:
            raise SystemExit(
                "ocr-frames run: error: --proxy is for --engine wechat "
                "(downloads follow HTTPS_PROXY/HTTP_PROXY from the environment)"
            )
        return LocalEngine()
    return _wechat(args)


def _wechat(args: argparse.Namespace) -> WeChatEngine:
    return WeChatEngine.from_env(
        appid=args.appid,
        base_url=args.base_url,
        token_endpoint=args.token_endpoint,
        proxy=args.proxy,
    )


def _cmd_run(args: argparse.Namespace) -> int:
    opts = run_options(args)  # bad values stop here, before any input is read
    if not args.dry_run:  # nor a file it could not write
        check_file_path(args.out, "--out", folder_made=True)
        if args.report:
            check_file_path(args.report, "--report")
        if args.review_only:
            check_file_path(args.review_only, "--review-only", folder_made=True)
    images = read_images(args.input, column=args.column)
    engine = _engine(args)
    if args.dry_run and isinstance(engine, Cascade):
        return _cascade_dry_run(images, args, engine)
    if args.dry_run:
        estimate = estimate_cost(
            images,
            args.kind,
            engine_identity=engine.identity,
            cache_dir=args.cache_dir,
            price_per_call=args.price,
            url_policy=opts.url_policy,
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
        file_mode=args.file_mode,
        report=args.report,
        report_thumbnails=args.report_thumbnails,
        review_path=args.review_only,
        **opts.as_keywords(),
    )
    if args.report:
        print(f"audit report: {args.report}", file=sys.stderr)
    if args.review_only:
        print(f"rows to review: {args.review_only}", file=sys.stderr)
    print(f"{summary.line()}; wrote {summary.output}", file=sys.stderr)
    if summary.stopped:
        print(
            "stopped by quota: the file holds every row, unfinished ones with errcode 900011; "
            "rerun the same command when quota is back (answered rows are cached)",
            file=sys.stderr,
        )
        return EXIT_QUOTA
    return EXIT_OK


def _cascade_dry_run(images: Any, args: argparse.Namespace, engine: Cascade) -> int:
    """Run the local engine only (free) and say how many rows the cascade would send to
    WeChat, why, and what that costs at ``--price``."""
    df = recognize(
        images,
        args.kind,
        engine=engine,
        cache_dir=False if args.no_cache else args.cache_dir,
        progress=args.progress,
    )
    info = df.attrs["ocr_frames"].get("cascade") or {}
    escalated, rows = int(info.get("escalated", 0)), len(df)
    routed = [bool(r is not None and len(r)) for r in df["escalated_because"]]
    calls = df.loc[routed, "sha256"].nunique()  # a duplicate image is asked about once
    reasons = ", ".join(f"{r} {n}" for r, n in list(info.get("reasons", {}).items())[:8])
    cost = f"; at {args.price:g} a call: at most {calls * args.price:.2f}" if args.price else ""
    print(
        f"dry run (local engine only): {rows} rows, {escalated} would go to wechat "
        f"({100 * escalated / rows if rows else 0:.1f}%; {reasons or 'no reason'}), "
        f"{calls} billed calls{cost}; nothing was sent to wechat"
    )
    return EXIT_OK


def _cmd_cache(args: argparse.Namespace) -> int:
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


def _cmd_review(args: argparse.Namespace) -> int:
    try:
        if args.apply:
            check_file_path(args.apply, "--apply")
            table = review.apply_to_file(args.output, args.apply)
            counts = table["review_status"].value_counts().to_dict()
            done = ", ".join(f"{n} {status}" for status, n in sorted(counts.items()))
            print(f"wrote {args.apply}: {len(table)} rows ({done})")
            return EXIT_OK
        return review.serve(
            args.output,
            port=args.port,
            images=args.images,
            unmask=args.unmask,
            filter=args.filter,
            open_browser=not args.no_browser,
        )
    except (OSError, ValueError) as exc:
        print(f"ocr-frames review: error: {exc}", file=sys.stderr)
        return EXIT_USAGE


def _dispatch(args: argparse.Namespace) -> int:
    if args.command == "run":
        return _cmd_run(args)
    if args.command == "kinds":
        return _cmd_kinds()
    if args.command == "codes":
        return _cmd_codes()
    if args.command == "serve":
        return serve(engine=args.engine, host=args.host, port=args.port)
    if args.command == "cache":
        return _cmd_cache(args)
    if args.command == "review":
        return _cmd_review(args)
    return run_demo(args.samples, args.out)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``ocr-frames`` console script."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=[logging.WARNING, logging.INFO, logging.DEBUG][min(args.verbose, 2)],
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    terminated: list[int] = []
    previous = _stop_on_sigterm(terminated)
    try:
        return _dispatch(args)
    except OCRError as exc:
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
