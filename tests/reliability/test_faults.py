"""Must hold 1 and 3: injected faults and quotas over real HTTP, every row answered."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

import ocr_frames as of
from ocr_frames.testing import WeChatEmulator
from tests.helpers import ImageFiles

FAST_RETRY = of.RetryPolicy(
    max_attempts=12, base_delay=0.005, max_delay=0.05, rate_limited_delay=0.2
)


def test_500_images_under_faults_are_all_answered_correctly(
    image_files: ImageFiles, tmp_path: Path
) -> None:
    paths = image_files(500)
    with WeChatEmulator(latency=0.01, jitter=0.01, seed=5) as emu:
        emu.set_faults(system_error=0.20, http_500=0.05, drop=0.05)
        engine = of.WeChatEngine(appid=emu.appid, secret=emu.secret, base_url=emu.base_url)
        df = of.recognize(
            paths,
            "idcard",
            engine=engine,
            cache_dir=tmp_path / "c",
            progress=False,
            concurrency=16,
            retry=FAST_RETRY,
        )
        billed, billed_per_image = emu.total_billed, emu.billed
    summary = df.attrs["ocr_frames"]
    assert (df["errcode"] == 0).all(), df["errcode"].value_counts().to_dict()
    expected = [WeChatEmulator.fallback_answer("idcard", h).get("id") for h in df["sha256"]]
    assert [None if pd.isna(v) else v for v in df["id"]] == expected
    # ~30% of calls fail: retries were needed, and every billed call is an image's first
    # try or a retry we counted - nothing billed behind our back
    assert summary["retries"] > 100
    assert billed == 500 + summary["retries"] == summary["billed_calls"]
    assert set(billed_per_image) == set(df["sha256"])
    print(f"faults: 500 images, {summary['retries']} retries, {billed} billed calls, 0 rows lost")


def test_minute_quota_pauses_the_pool_and_completes(image_files: ImageFiles) -> None:
    with WeChatEmulator() as emu:
        engine = of.WeChatEngine(appid=emu.appid, secret=emu.secret, base_url=emu.base_url)
        emu.minute_quota = 10

        def new_minute_soon() -> None:
            emu.reset_minute()

        import threading

        timer = threading.Timer(0.5, new_minute_soon)
        timer.start()
        try:
            df = of.recognize(
                image_files(15),
                "platenum",
                engine=engine,
                cache_dir=False,
                progress=False,
                concurrency=4,
                retry=of.RetryPolicy(max_attempts=20, base_delay=0.01, rate_limited_delay=0.3),
            )
        finally:
            timer.cancel()
        refused = emu.refused[45011]
    assert (df["errcode"] == 0).all()
    assert refused >= 1
    assert df.attrs["ocr_frames"]["retries"] == refused


def test_daily_quota_mid_run_keeps_answers_and_next_day_finishes_the_rest(
    image_files: ImageFiles, tmp_path: Path
) -> None:
    paths = image_files(40)
    with WeChatEmulator(latency=0.005) as emu:
        engine = of.WeChatEngine(appid=emu.appid, secret=emu.secret, base_url=emu.base_url)
        emu.daily_quota = 25

        def run(**options: Any) -> of.RunSummary:
            return of.recognize_to_parquet(
                paths,
                "comm",
                tmp_path / "a.parquet",
                engine=engine,
                cache_dir=tmp_path / "c",
                progress=False,
                **options,
            )

        first = run(concurrency=8)
        assert first.stopped and first.ok == 25
        assert first.not_done + first.errors.get(45009, 0) == 15
        assert emu.total_billed == 25
        emu.reset_day()  # the next "day"
        emu.reset_counters()
        second = run()
        assert second.ok == 40 and second.cache_hits == 25 and emu.total_billed == 15
