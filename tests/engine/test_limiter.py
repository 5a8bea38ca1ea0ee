"""``rate_limit=`` also takes a limiter object (``async acquire()``), e.g. one shared by a
whole Dask cluster: the pool awaits it once per attempt, retries included."""

from __future__ import annotations

import pytest

import ocr_frames as of
from ocr_frames._engine.policy import CallPool, Limiter
from ocr_frames.testing import WeChatEmulator
from tests.helpers import ImageFiles


class CountingLimiter:
    def __init__(self) -> None:
        self.acquired = 0

    async def acquire(self) -> None:
        self.acquired += 1


def test_limiter_object_is_awaited_per_attempt(
    engine: of.WeChatEngine, emulator: WeChatEmulator, image_files: ImageFiles
) -> None:
    limiter = CountingLimiter()
    assert isinstance(limiter, Limiter)
    emulator.fail_next(2)  # two -1 answers: two retries
    retry = of.RetryPolicy(base_delay=0.01, max_delay=0.02)
    df = of.recognize(
        image_files(3),
        "idcard",
        engine=engine,
        cache_dir=False,
        rate_limit=limiter,  # type: ignore[arg-type]  # pipeline annotations: float | None
        retry=retry,
        progress=False,
    )
    assert (df["errcode"] == 0).all()
    assert limiter.acquired == emulator.total_billed == 5


@pytest.mark.parametrize("rate", [0, -1.5])
def test_numbers_are_still_checked(engine: of.WeChatEngine, rate: float) -> None:
    with pytest.raises(of.ConfigurationError, match="rate_limit"):
        CallPool(engine, "idcard", rate_limit=rate)


def test_numbers_still_build_a_local_limiter(engine: of.WeChatEngine) -> None:
    assert CallPool(engine, "idcard", rate_limit=5.0)._limiter is not None
    assert CallPool(engine, "idcard")._limiter is None
