"""The ``df.ocr`` accessor (a delegate to ``ocr_frames.recognize``) and polars input."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pyarrow as pa
import pytest

import ocr_frames as of
from ocr_frames._run.accessor import OCRAccessor, register_accessor
from ocr_frames.testing import WeChatEmulator
from tests.helpers import ImageFiles


@pytest.fixture(autouse=True)
def _registered() -> None:
    register_accessor()  # what `import ocr_frames` does; a second call is a no-op


def test_registering_again_is_silent_and_keeps_the_accessor() -> None:
    register_accessor()  # filterwarnings=error: pandas' "overriding" warning would fail
    assert pd.DataFrame.ocr is OCRAccessor
    assert isinstance(pd.DataFrame({"a": [1]}).ocr, OCRAccessor)


def test_recognize_appends_result_columns(
    engine: of.WeChatEngine, emulator: WeChatEmulator, image_files: ImageFiles
) -> None:
    paths = image_files(3)
    # a duplicated, non-default index: rows are matched by position, never multiplied
    df = pd.DataFrame({"path": [*paths, None], "batch": list("aabb")}, index=[7, 7, 3, 1])

    out = df.ocr.recognize("path", kind="idcard", engine=engine, cache_dir=False, progress=False)

    assert list(out.columns) == ["path", "batch", *of.schema("idcard").names]
    assert list(out.index) == [7, 7, 3, 1]
    assert out["path"].tolist() == df["path"].tolist()
    assert out["errcode"].tolist() == [0, 0, 0, 900000]
    expected = of.recognize(df["path"], "idcard", engine=engine, cache_dir=False, progress=False)
    pd.testing.assert_frame_equal(out[expected.columns], expected)
    assert out.attrs["ocr_frames"]["rows"] == 4
    assert emulator.total_billed == 6  # 3 per run, cache disabled
    assert list(df.columns) == ["path", "batch"]  # the input is not modified


def test_prefix_and_name_clash(engine: of.WeChatEngine, image_files: ImageFiles) -> None:
    df = pd.DataFrame({"path": image_files(2), "name": ["x", "y"]})
    with pytest.raises(ValueError, match="prefix="):
        df.ocr.recognize("path", "idcard", engine=engine, cache_dir=False, progress=False)

    out = df.ocr.recognize(
        "path", "idcard", prefix="ocr_", engine=engine, cache_dir=False, progress=False
    )
    assert out.columns[:3].tolist() == ["path", "name", "ocr_type"]
    assert out["name"].tolist() == ["x", "y"]
    assert (out["ocr_errcode"] == 0).all()
    with pytest.raises(KeyError, match="nope"):
        df.ocr.recognize("nope", "idcard", engine=engine)


def test_explode_delegates(engine: of.WeChatEngine, image_files: ImageFiles) -> None:
    df = pd.DataFrame({"path": image_files(2), "doc": ["d1", "d2"]})
    out = df.ocr.recognize("path", "comm", engine=engine, cache_dir=False, progress=False)
    lines = out.ocr.explode("items")
    pd.testing.assert_frame_equal(lines, of.explode(out, "items"))
    assert {"doc", "items_text", "items_pos_left_top_x"} <= set(lines.columns)
    assert len(lines) > len(df)


def test_options_reach_recognize(tmp_path: Path) -> None:
    df = pd.DataFrame({"path": [str(tmp_path / "missing.png")]})
    with pytest.raises(of.OCRError):
        df.ocr.recognize("path", "idcard", on_error="raise", cache_dir=False, progress=False)


def test_polars_series_in(engine: of.WeChatEngine, image_files: ImageFiles, tmp_path: Path) -> None:
    pl = pytest.importorskip("polars")
    paths = [*image_files(2), None]
    series = pl.Series("path", paths)

    df = of.recognize(series, "idcard", engine=engine, cache_dir=tmp_path, progress=False)
    assert df["errcode"].tolist() == [0, 0, 900000]

    table = of.recognize_arrow(series, "idcard", engine=engine, cache_dir=tmp_path, progress=False)
    assert isinstance(table, pa.Table)
    assert table.schema.remove_metadata() == of.schema("idcard")
    assert table.column("cached").to_pylist() == [True, True, False]
    back = pl.from_arrow(table)
    assert back.height == 3


def test_accessor_repeats_rows_for_multipage_documents(
    engine: of.WeChatEngine, tmp_path: Path
) -> None:
    from PIL import Image

    tiff = tmp_path / "two.tiff"
    pages = [Image.new("RGB", (64, 48), color) for color in ("white", "gray")]
    pages[0].save(tiff, save_all=True, append_images=pages[1:])
    frame = pd.DataFrame({"path": [str(tiff)], "customer": ["c1"]}, index=["row-a"])
    out = frame.ocr.recognize("path", "comm", engine=engine, cache_dir=False, progress=False)
    assert out.index.tolist() == ["row-a", "row-a"]
    assert out["customer"].tolist() == ["c1", "c1"]
    assert out["page"].tolist() == [1, 2]
    assert (out["errcode"] == 0).all()
