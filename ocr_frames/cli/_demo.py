"""``make demo`` / ``ocr-frames demo``: every kind on the bundled samples, no account needed.

Which engine answers:

* ``local`` (the default when no WeChat credentials are set): the offline
  :class:`~ocr_frames.local.LocalEngine` reads the images on this machine;
* ``wechat`` (the default when ``WECHAT_APPID``/``WECHAT_SECRET`` or
  ``WECHAT_ACCESS_TOKEN`` are set): the real platform, billed as usual;
* ``emulator``: the bundled loopback emulator (:mod:`ocr_frames.testing`), taught the
  expected answers from ``truth.json``; also the fallback when the ``local`` extra is not
  installed.

``engine=`` (or ``OCR_FRAMES_DEMO_ENGINE``) picks one explicitly.  Each kind is written to
``OUT/<kind>.parquet`` with a cache under ``OUT/cache``, then the same run is repeated to
show that a rerun costs nothing.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
from collections.abc import Iterator, Mapping
from importlib import util
from pathlib import Path
from typing import Any

import pandas as pd

from ocr_frames._engine.contract import Engine
from ocr_frames._run.output import recognize_to_parquet
from ocr_frames.checks import add_checks, report, report_html
from ocr_frames.cli._inputs import read_images
from ocr_frames.kinds import KINDS
from ocr_frames.local import LocalEngine
from ocr_frames.mask import mask_frame
from ocr_frames.testing import WeChatEmulator
from ocr_frames.wechat import WeChatEngine

ENGINES = ("local", "wechat", "emulator")


def choose_engine(env: Mapping[str, str] | None = None) -> str:
    """The demo's engine: ``OCR_FRAMES_DEMO_ENGINE``, else wechat with credentials, else
    local when installed, else the emulator."""
    env = os.environ if env is None else env
    chosen = env.get("OCR_FRAMES_DEMO_ENGINE", "").strip().lower()
    if chosen:
        return chosen
    if env.get("WECHAT_ACCESS_TOKEN") or (env.get("WECHAT_APPID") and env.get("WECHAT_SECRET")):
        return "wechat"
    return "local" if util.find_spec("rapidocr") else "emulator"


@contextlib.contextmanager
def _engine(name: str, truth: Mapping[str, Any]) -> Iterator[tuple[Engine, str]]:
    if name == "local":
        local = LocalEngine()
        yield local, f"demo: using the offline local engine, no WeChat account ({local.identity})"
    elif name == "wechat":
        yield (
            WeChatEngine.from_env(),
            "demo: WeChat credentials found - calling the WeChat API (billed)",
        )
    else:
        with WeChatEmulator() as emu:
            for entry in truth.values():
                emu.register(entry["sha256"], entry["kind"], entry["answer"])
            emulated = WeChatEngine(appid=emu.appid, secret=emu.secret, base_url=emu.base_url)
            yield (
                emulated,
                "demo: using the bundled WeChat emulator on 127.0.0.1 (answers from truth.json)",
            )


def run_demo(samples: str | Path, out: str | Path, *, engine: str | None = None) -> int:
    """Run the demo; returns the process exit code."""
    samples, out = Path(samples), Path(out)
    truth_file = samples / "truth.json"
    if not truth_file.exists():
        print(f"ocr-frames demo: no {truth_file}; run `make samples` first", file=sys.stderr)
        return 2
    name = engine or choose_engine()
    if name not in ENGINES:
        print(f"ocr-frames demo: unknown engine {name!r}; one of {ENGINES}", file=sys.stderr)
        return 2
    truth = json.loads(truth_file.read_text(encoding="utf-8"))
    with _engine(name, truth) as (chosen, line):
        print(line, flush=True)
        for kind in KINDS:
            images = read_images(str(samples / kind))
            path = out / f"{kind}.parquet"
            runs = [
                recognize_to_parquet(
                    images, kind, path, engine=chosen, cache_dir=out / "cache", progress=False
                )
                for _ in range(2)
            ]
            print(f"{kind:15} {runs[0].line()}")
            rerun = runs[1]
            calls = f"{rerun.billed_calls} {rerun.calls_label}"
            print(f"{'':15} rerun: {rerun.cache_hits} cache hits, {calls}")
        _audit(out)
        _trust(samples, out, chosen)
    print(f"\nParquet files and audit reports written to {out.resolve()}/")
    # the last line: where a person takes over (the app needs the review extra)
    print(
        "look at the flagged ID cards beside their images, approve or correct them:\n"
        f"  ocr-frames review {out / 'idcard_trust.parquet'}"
    )
    return 0


def _trust(samples: Path, out: Path, engine: Engine) -> None:
    """The ID cards again, with the two degraded copies of ``quality/``: which rows need a
    look and why (checks, image-quality warnings, confidences, suggestions)."""
    images = [*read_images(str(samples / "idcard")), *read_images(str(samples / "quality"))]
    path, review = out / "idcard_trust.parquet", out / "idcard_review.parquet"
    recognize_to_parquet(
        images,
        "idcard",
        path,
        engine=engine,
        cache_dir=out / "cache",
        progress=False,
        checks=True,
        quality=True,
        mask=True,
        review_path=review,
    )
    df = pd.read_parquet(path)
    df["reasons"] = [", ".join(r) for r in df["review_reasons"]]
    df["source"] = [Path(str(s)).name for s in df["source"]]
    cols = ["source", "id", "id_conf", "quality_score", "needs_review", "reasons"]
    with pd.option_context("display.width", 200, "display.max_colwidth", 90):
        print(
            "\nwhich rows need a human look, and why (quality=True, checks=True):\n"
            f"{df[cols].to_string(index=False)}"
        )
    flagged = int(df["needs_review"].sum())
    print(f"{flagged} of {len(df)} rows need review; just those: {review}")


def _audit(out: Path) -> None:
    """KYC checks on the ID cards (``check_*`` columns), a count table, an HTML report."""
    checked = add_checks(pd.read_parquet(out / "idcard.parquet"), "idcard")
    report_html(checked, "idcard", path=out / "idcard_report.html")
    shown = mask_frame(checked, "idcard")  # the demo prints no full ID number or name
    cols = [
        "source",
        "type",
        "name",
        "id",
        "valid_date_end",
        "errcode",
        "check_id_valid",
        "check_not_expired",
        "check_image_unique",
        "check_passed",
        "check_problems",
    ]
    counts = report(checked, "idcard")
    with pd.option_context("display.width", 200, "display.max_columns", 20):
        print(
            f"\nidcard with KYC checks (personal data masked):\n"
            f"{shown[cols].to_string(max_colwidth=28)}"
        )
        print(f"\ncheck summary:\n{counts.to_string()}")
    print(f"audit report (open in a browser): {out / 'idcard_report.html'}")
