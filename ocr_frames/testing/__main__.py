"""``python -m ocr_frames.testing serve``: run the emulator until Ctrl-C or SIGTERM."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from ocr_frames.testing._emulator import DEFAULT_APPID, DEFAULT_SECRET, WeChatEmulator


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m ocr_frames.testing",
        description="A loopback emulator of the WeChat OCR platform (127.0.0.1 only).",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="serve until Ctrl-C or SIGTERM")
    serve.add_argument("--port", type=int, default=0, help="TCP port (default: a free one)")
    serve.add_argument("--latency", type=float, default=0.0, help="seconds added to each answer")
    serve.add_argument("--appid", default=DEFAULT_APPID, help="the appid to accept")
    serve.add_argument("--secret", default=DEFAULT_SECRET, help="the (fake) secret to accept")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Parse ``argv``, serve, return the exit status."""
    args = _parser().parse_args(argv)
    emulator = WeChatEmulator(
        port=args.port, latency=args.latency, appid=args.appid, secret=args.secret
    )

    def announce() -> None:
        print(f"base_url: {emulator.base_url}", flush=True)
        print(f"appid: {emulator.appid}", flush=True)
        print(f"secret: {emulator.secret} (a fake credential for this emulator only)", flush=True)

    emulator.serve_until_stopped(announce)
    return 0


if __name__ == "__main__":
    sys.exit(main())
