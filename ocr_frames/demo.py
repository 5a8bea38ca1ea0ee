"""``make demo`` / ``ocr-frames demo``: every kind on the bundled samples, no account needed.

With no WeChat credentials in the environment the demo starts the bundled loopback emulator
(:mod:`ocr_frames.testing`) and teaches it the expected answers from ``truth.json``; nothing
leaves 127.0.0.1.  Each kind is written to ``OUT/<kind>.parquet`` with a throwaway cache
under ``OUT/cache``, then the same run is repeated to show that a rerun bills nothing.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from ._inputs import read_images
from .kinds import KINDS


def run_demo(samples: str | Path, out: str | Path) -> int:
    """Run the demo; returns the process exit code."""
    from .engine import WeChatEngine
    from .pipeline import recognize_to_parquet
    from .testing import WeChatEmulator

    samples, out = Path(samples), Path(out)
    truth_file = samples / "truth.json"
    if not truth_file.exists():
        print(f"ocr-frames demo: no {truth_file}; run `make samples` first", file=sys.stderr)
        return 2
    truth = json.loads(truth_file.read_text(encoding="utf-8"))
    print("demo: no WeChat account needed - using the bundled emulator on 127.0.0.1")
    with WeChatEmulator() as emu:
        for entry in truth.values():
            emu.register(entry["sha256"], entry["kind"], entry["answer"])
        engine = WeChatEngine(appid=emu.appid, secret=emu.secret, base_url=emu.base_url)
        for kind in KINDS:
            images = read_images(str(samples / kind))
            path = out / f"{kind}.parquet"
            first = recognize_to_parquet(
                images, kind, path, engine=engine, cache_dir=out / "cache", progress=False
            )
            again = recognize_to_parquet(
                images, kind, path, engine=engine, cache_dir=out / "cache", progress=False
            )
            print(f"{kind:15} {first.line()}")
            print(
                f"{'':15} rerun: {again.cache_hits} cache hits, {again.billed_calls} billed calls"
            )
        print(f"emulator billed {emu.total_billed} calls in all")
    _preview(out / "idcard.parquet")
    print(f"\nParquet files written to {out.resolve()}/")
    return 0


def _preview(path: Path) -> None:
    import pandas as pd

    df = pd.read_parquet(path)
    cols = [
        "source",
        "type",
        "name",
        "id",
        "valid_date_start",
        "valid_date_end",
        "errcode",
        "errmsg",
    ]
    with pd.option_context("display.width", 160, "display.max_columns", 20):
        print(f"\n{path}:\n{df[cols].to_string(max_colwidth=36)}")
