"""What the cascade does when the paid engine fails, and with rules that fail: found by the
cold review of issue 17.  Same deterministic ``first`` as tests/cascade/test_cascade.py."""

from __future__ import annotations

import asyncio
from datetime import date
from pathlib import Path
from typing import Any

import pytest

import ocr_frames as of
from ocr_frames.testing import WeChatEmulator
from tests.cascade.test_cascade import Canned, card, sha, wechat
from tests.helpers import ImageFiles


def unsure(paths: list[Any]) -> Canned:
    """``first`` unsure of every card's ID number: every row escalates."""
    return Canned(
        {sha(Path(p).read_bytes()): card(f"本地{n}", id=0.3) for n, p in enumerate(paths)}
    )


def test_a_spent_paid_quota_stops_the_run_and_a_rerun_finishes_it(
    image_files: ImageFiles, tmp_path: Path
) -> None:
    paths = image_files(6)
    with WeChatEmulator(daily_quota=2) as emu:
        for n, p in enumerate(paths):
            emu.register(Path(p).read_bytes(), "idcard", wechat(f"微信{n}"))
        paid = of.WeChatEngine(appid=emu.appid, secret=emu.secret, base_url=emu.base_url)
        cascade = of.Cascade(unsure(paths), paid)
        kw: dict[str, Any] = {"cache_dir": tmp_path / "cache", "progress": False, "concurrency": 1}
        df = of.recognize(paths, "idcard", engine=cascade, **kw)
        summary = df.attrs["ocr_frames"]
        assert summary["stopped"] and "45009" in summary["stopped"]
        answered = df[df["errcode"] == 0]
        assert len(answered) == 2 and set(answered["answered_by"]) == {"wechat"}
        # no row kept the unsure local answer as if it were final
        assert not (df["name"].fillna("").str.startswith("本地")).any()
        emu.reset_day()
        emu.daily_quota = None
        again = of.recognize(paths, "idcard", engine=of.Cascade(unsure(paths), paid), **kw)
        assert list(again["name"]) == [f"微信{n}" for n in range(6)]
        assert emu.total_billed == 6  # each image paid once in all


def test_a_passing_failure_of_the_paid_engine_is_asked_again_next_run(
    emulator: WeChatEmulator, engine: of.WeChatEngine, image_files: ImageFiles, tmp_path: Path
) -> None:
    paths = image_files(1)
    emulator.register(Path(paths[0]).read_bytes(), "idcard", wechat("微信"))
    emulator.fail_next(2, errcode=-1)  # a system error, on both attempts allowed
    kw: dict[str, Any] = {"cache_dir": tmp_path / "cache", "progress": False}
    retry = of.RetryPolicy(max_attempts=2, base_delay=0.0)
    df = of.recognize(paths, "idcard", engine=of.Cascade(unsure(paths), engine), retry=retry, **kw)
    assert df["errcode"].iloc[0] == -1  # not the unsure local answer, passed off as final
    assert df.attrs["ocr_frames"]["retries"] >= 1
    again = of.recognize(paths, "idcard", engine=of.Cascade(unsure(paths), engine), **kw)
    assert (again["errcode"].iloc[0], again["name"].iloc[0]) == (0, "微信")


def test_one_cascade_serves_one_run_at_a_time(
    emulator: WeChatEmulator, engine: of.WeChatEngine, image_files: ImageFiles, tmp_path: Path
) -> None:
    paths = image_files(2)
    cascade = of.Cascade(unsure(paths), engine)

    async def both() -> Any:
        return await asyncio.gather(
            of.arecognize(paths[:1], "idcard", engine=cascade, cache_dir=tmp_path / "a"),
            of.arecognize(paths[1:], "idcard", engine=cascade, cache_dir=tmp_path / "b"),
            return_exceptions=True,
        )

    results = asyncio.run(both())
    assert any(isinstance(r, of.ConfigurationError) for r in results)
    # after both ended the object serves a new run
    df = of.recognize(paths, "idcard", engine=cascade, cache_dir=tmp_path / "c", progress=False)
    assert len(df) == 2


def test_a_rule_that_fails_on_a_row_escalates_it(
    emulator: WeChatEmulator, engine: of.WeChatEngine, image_files: ImageFiles, tmp_path: Path
) -> None:
    paths = image_files(1)
    no_conf = card("本地")
    del no_conf["confidence"]  # an engine without confidences: id_conf is NA
    first = Canned({sha(Path(paths[0]).read_bytes()): no_conf})
    emulator.register(Path(paths[0]).read_bytes(), "idcard", wechat("微信"))
    rule = of.Cascade(first, engine, escalate=lambda row: row["id_conf"] < 0.95, rule_name="id")
    df = of.recognize(paths, "idcard", engine=rule, cache_dir=tmp_path, progress=False)
    assert [list(r) for r in df["escalated_because"]] == [["escalate rule failed: TypeError"]]
    assert df["name"].iloc[0] == "微信"


def test_the_day_checks_are_judged_on_is_part_of_the_identity() -> None:
    first = Canned({})
    assert (
        of.Cascade(first, None, as_of=date(2026, 1, 1)).identity
        != of.Cascade(first, None, as_of=date(2027, 1, 1)).identity
    )


@pytest.mark.parametrize("code", [101001])
def test_an_audit_where_the_paid_engine_finds_nothing_counts_as_disagreement(
    emulator: WeChatEmulator,
    engine: of.WeChatEngine,
    image_files: ImageFiles,
    tmp_path: Path,
    code: int,
) -> None:
    paths = image_files(1)
    first = Canned({sha(Path(paths[0]).read_bytes()): card("本地")})
    emulator.register(Path(paths[0]).read_bytes(), "idcard", {"errcode": code, "errmsg": "none"})
    auditing = of.Cascade(first, engine, audit_sample=1.0)
    df = of.recognize(paths, "idcard", engine=auditing, cache_dir=tmp_path, progress=False)
    rates = df.attrs["ocr_frames"]["cascade"]["agree_rate"]
    assert rates and set(rates.values()) == {0.0}
    assert df["answered_by"].iloc[0] == "local"
