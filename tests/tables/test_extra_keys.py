"""Keys the platform adds after this release survive in the ``extra`` column (issue 12 #10)."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest

import ocr_frames as of
from ocr_frames._tables.flatten import to_arrow
from ocr_frames.testing import WeChatEmulator
from tests.helpers import ImageFiles


@pytest.mark.parametrize("kind", of.KINDS)
def test_every_kind_has_an_extra_text_column(kind: str) -> None:
    field = of.schema(kind).field("extra")
    assert str(field.type) == "string"


def test_unknown_keys_of_an_ok_answer_are_kept_as_json(
    emulator: WeChatEmulator,
    engine: of.WeChatEngine,
    image_files: ImageFiles,
    tmp_path: Path,
) -> None:
    paths = image_files(3)
    new = {"risk_type": "screen", "quality": {"score": 87, "blur": False}, "名称": "新"}
    emulator.register(Path(paths[0]).read_bytes(), "idcard", {"name": "张三", **new})
    emulator.register(Path(paths[1]).read_bytes(), "idcard", {"name": "李四"})
    out = tmp_path / "ids.parquet"
    of.recognize_to_parquet(
        paths, "idcard", out, engine=engine, cache_dir=tmp_path / "c", progress=False
    )
    table = pq.read_table(out)
    extra = table.column("extra").to_pylist()
    assert json.loads(extra[0]) == new  # every unknown key, nested values intact
    assert extra[1] is None  # nothing unknown: null, not "{}"
    assert table.column("name").to_pylist()[:2] == ["张三", "李四"]
    # the cache holds the platform's answer: a rerun gives the same extra
    df = of.recognize(paths, "idcard", engine=engine, cache_dir=tmp_path / "c", progress=False)
    assert df["cached"].all()
    assert json.loads(df["extra"].iloc[0]) == new


def test_error_answers_and_pipeline_keys_never_fill_extra() -> None:
    table = to_arrow(
        "bankcard",
        [
            {"errcode": 101001, "errmsg": "no card", "debug": "x"},
            {
                "errcode": 0,
                "errmsg": "ok",
                "rid": None,
                "sha256": "ab",
                "cached": True,
                "page": 2,
                "number": "6222",
            },
            {"errcode": 0, "number": "1", "score": float("nan")},
        ],
    )
    extra = table.column("extra").to_pylist()
    assert extra[0] is None and extra[1] is None
    assert json.loads(extra[2]) == {"score": "nan"}  # NaN is no JSON: kept as text


def test_a_platform_key_named_extra_is_kept_too() -> None:
    table = to_arrow("platenum", [{"errcode": 0, "number": "京A1", "extra": {"color": "blue"}}])
    assert json.loads(table.column("extra")[0].as_py()) == {"extra": {"color": "blue"}}
