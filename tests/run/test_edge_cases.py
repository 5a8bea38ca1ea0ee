"""Regression tests for edge cases found in review: hangs, double billing, odd engines."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import ocr_frames as of
from ocr_frames._cache.claims import Claims
from ocr_frames._run import run as _run
from tests.helpers import ScriptedEngine, make_png


def test_a_failing_chunk_preparation_raises_instead_of_hanging(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    async def broken(self: Any, *args: Any) -> Any:
        raise of.ConfigurationError("cache could not be read")

    monkeypatch.setattr(_run._Run, "prepare", broken)
    engine = ScriptedEngine(lambda kind, image: {"errcode": 0, "number": "1"})
    with pytest.raises(of.ConfigurationError, match="could not be read"):
        of.recognize([make_png(1)], "bankcard", engine=engine, cache_dir=tmp_path, progress=False)


def test_a_non_integer_errcode_is_a_row_not_a_crash() -> None:
    engine = ScriptedEngine(lambda kind, image: {"errcode": None, "number": "1"})
    df = of.recognize(
        [make_png(1), make_png(2)], "bankcard", engine=engine, cache_dir=False, progress=False
    )
    assert df["errcode"].tolist() == [900010, 900010]
    assert engine.calls == 2


def test_duplicate_after_an_uncached_answer_is_not_sent_again(tmp_path: Path) -> None:
    image = make_png(7)
    sent: list[bytes | None] = []

    def reply(kind: str, data: bytes | None) -> dict[str, Any]:
        sent.append(data)
        return {"errcode": -1, "errmsg": "system error"}

    engine = ScriptedEngine(reply)
    images = [image, *(make_png(100 + i) for i in range(10)), image]
    df = of.recognize(
        images,
        "bankcard",
        engine=engine,
        cache_dir=tmp_path,
        progress=False,
        chunk_size=1,
        retry=of.RetryPolicy(max_attempts=2, base_delay=0.001),
    )
    assert sent.count(image) == 2  # its own two attempts, none for the duplicate
    assert df["errcode"].tolist() == [-1] * 12
    assert df["cached"].tolist()[-1] is True


def test_two_runs_in_one_process_do_not_share_claims(tmp_path: Path) -> None:
    first, second = Claims(tmp_path), Claims(tmp_path)
    try:
        assert first.acquire(["k"]) == {"k"}
        assert second.acquire(["k"]) == set()  # another run of this process holds it
        second.release(["k"])  # must not drop the other run's claim
        assert second.acquire(["k"]) == set()
        first.release(["k"])
        assert second.acquire(["k"]) == {"k"}
    finally:
        first.close()
        second.close()


def test_engine_repr_hides_proxy_credentials() -> None:
    engine = of.WeChatEngine(access_token="t", base_url="http://user:pa55@127.0.0.1:9/")
    assert "pa55" not in repr(engine) and "127.0.0.1:9" in repr(engine)
