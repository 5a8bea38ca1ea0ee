"""``python -m ocr_frames.testing serve``: run the emulator until Ctrl-C or SIGTERM."""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from collections.abc import Sequence
from types import FrameType

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
    stopping = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stopping.set()

    previous = signal.signal(signal.SIGTERM, on_signal)
    emulator = WeChatEmulator(
        port=args.port, latency=args.latency, appid=args.appid, secret=args.secret
    )
    with emulator:
        print(f"base_url: {emulator.base_url}", flush=True)
        print(f"appid: {emulator.appid}", flush=True)
        print(f"secret: {emulator.secret} (a fake credential for this emulator only)", flush=True)
        try:
            while not stopping.wait(0.5):
                pass
        except KeyboardInterrupt:
            pass
        finally:
            signal.signal(signal.SIGTERM, previous)
    return 0


if __name__ == "__main__":
    sys.exit(main())
