"""The dataframe pipeline against the emulator over real HTTP, real caches, real Parquet."""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import Iterator
from http.server import ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import ocr_frames as of
from ocr_frames._run.output import output_schema
from ocr_frames.testing import WeChatEmulator
from tests.helpers import ImageFiles, QuietHandler, corners, make_png, serving

FAST_RETRY = of.RetryPolicy(max_attempts=6, base_delay=0.01, max_delay=0.05, rate_limited_delay=0.1)


def test_recognize_returns_one_typed_row_per_input(
    emulator: WeChatEmulator, engine: of.WeChatEngine, image_files: ImageFiles, tmp_path: Path
) -> None:
    paths = image_files(3)
    sha = hashlib.sha256(Path(paths[0]).read_bytes()).hexdigest()
    emulator.register(
        sha,
        "driving",
        {
            "errcode": 0,
            "errmsg": "ok",
            "plate_num": "粤A12345",
            "vhicle_type": "小型普通客车",
            "register_date": "2018-07-06",
            "issue_date": "2018年7月1日",
            "card_position_front": {"pos": corners((1, 2), (3, 4), (5, 6), (7, 8))},
            "img_size": {"w": 640, "h": 480},
        },
    )
    df = of.recognize(paths, "driving", engine=engine, cache_dir=tmp_path / "c", progress=False)
    assert len(df) == 3
    row = df.iloc[0]
    assert row["plate_num"] == "粤A12345"
    assert row["vehicle_type"] == "小型普通客车"
    assert str(row["register_date"]) == "2018-07-06"
    assert str(row["issue_date"]) == "2018-07-01"
    assert row["card_position_front_pos_right_bottom_x"] == 5
    assert row["img_size_w"] == 640
    assert row["sha256"] == sha
    assert list(df.columns) == of.schema("driving").names
    assert str(df["errcode"].dtype) == "Int64"
    assert (df["errcode"] == 0).all()
    assert df.attrs["ocr_frames"]["billed_calls"] == 3


def test_rerun_is_served_from_cache_and_bills_nothing(
    emulator: WeChatEmulator, engine: of.WeChatEngine, image_files: ImageFiles, tmp_path: Path
) -> None:
    paths = image_files(20)
    first = of.recognize(paths, "idcard", engine=engine, cache_dir=tmp_path / "c", progress=False)
    assert emulator.total_billed == 20
    assert not first["cached"].any()
    second = of.recognize(paths, "idcard", engine=engine, cache_dir=tmp_path / "c", progress=False)
    assert emulator.total_billed == 20
    assert second["cached"].all()
    pd.testing.assert_frame_equal(first.drop(columns="cached"), second.drop(columns="cached"))
    # another kind for the same bytes is another answer: billed again
    of.recognize(paths[:2], "bankcard", engine=engine, cache_dir=tmp_path / "c", progress=False)
    assert emulator.total_billed == 22


def test_same_bytes_under_two_names_bill_once(
    emulator: WeChatEmulator, engine: of.WeChatEngine, tmp_path: Path
) -> None:
    data = make_png(7)
    a, b = tmp_path / "a.png", tmp_path / "renamed.png"
    a.write_bytes(data)
    b.write_bytes(data)
    df = of.recognize(
        [str(a), str(b), data], "bankcard", engine=engine, cache_dir=False, progress=False
    )
    assert emulator.total_billed == 1
    assert df["number"].nunique() == 1
    assert df["cached"].tolist() == [False, True, True]
    assert df.attrs["ocr_frames"]["duplicates"] == 2


def test_mixed_batch_keeps_order_index_and_explains_each_row(
    emulator: WeChatEmulator, engine: of.WeChatEngine, tmp_path: Path
) -> None:
    good = tmp_path / "good.png"
    good.write_bytes(make_png(1))
    text = tmp_path / "notes.jpg"
    text.write_text("hello")
    big = tmp_path / "big.png"
    big.write_bytes(make_png(2) + b"\0" * (2 * 1024 * 1024))
    empty = tmp_path / "empty.png"
    empty.write_bytes(b"")
    series = pd.Series(
        [
            str(good),
            None,
            str(tmp_path / "missing.png"),
            str(text),
            str(big),
            str(empty),
            42,
            make_png(3),
            str(tmp_path),
        ],
        index=[10, 3, 99, 4, 5, 6, 7, 8, 1],
    )
    df = of.recognize(  # shrink=False: an oversize image is a row error, not re-encoded
        series, "platenum", engine=engine, cache_dir=False, progress=False, shrink=False
    )
    assert df.index.tolist() == series.index.tolist()
    assert df["errcode"].tolist() == [0, 900000, 900001, 900006, 900005, 900004, 900008, 0, 900002]
    assert emulator.total_billed == 2  # bad rows never reach the platform
    assert df.loc[10, "number"] is not pd.NA and df.loc[99, "number"] is pd.NA
    assert all(isinstance(m, str) and m for m in df["errmsg"])


@pytest.mark.parametrize("kind", of.KINDS)
def test_all_error_batch_has_the_kind_schema(
    kind: str, engine: of.WeChatEngine, tmp_path: Path
) -> None:
    df = of.recognize(
        [None, "/nonexistent.png"], kind, engine=engine, cache_dir=False, progress=False
    )
    good = of.recognize([make_png(5)], kind, engine=engine, cache_dir=False, progress=False)
    assert df["errcode"].tolist() == [900000, 900001]
    assert list(df.columns) == of.schema(kind).names
    assert df.dtypes.to_dict() == good.dtypes.to_dict()
    of.write_parquet(df, tmp_path / "e.parquet")
    assert pq.read_schema(tmp_path / "e.parquet").equals(of.schema(kind), check_metadata=False)


def test_inputs_numpy_pyarrow_and_empty(engine: of.WeChatEngine, image_files: ImageFiles) -> None:
    paths = image_files(2)
    a = of.recognize(np.array(paths), "comm", engine=engine, cache_dir=False, progress=False)
    b = of.recognize(pa.array(paths), "comm", engine=engine, cache_dir=False, progress=False)
    assert a["items"].tolist() == b["items"].tolist()
    empty = of.recognize([], "comm", engine=engine, cache_dir=False, progress=False)
    assert len(empty) == 0 and list(empty.columns) == of.schema("comm").names


def test_explode_comm_items(
    emulator: WeChatEmulator, engine: of.WeChatEngine, tmp_path: Path
) -> None:
    data = make_png(11)
    quad = corners((1, 2), (3, 2), (3, 4), (1, 4))
    emulator.register(
        data,
        "comm",
        {
            "items": [{"text": "腾讯", "pos": quad}, {"text": "微信团队", "pos": quad}],
            "img_size": {"w": 10, "h": 20},
        },
    )
    df = of.recognize(
        pd.Series([data], index=["doc"]), "comm", engine=engine, cache_dir=False, progress=False
    )
    lines = of.explode(df, "items")
    assert lines["items_text"].tolist() == ["腾讯", "微信团队"]
    assert lines.index.tolist() == ["doc", "doc"]
    assert lines["items_pos_right_bottom_y"].tolist() == [4, 4]
    assert "items" not in lines.columns


def test_menu_items_typed(emulator: WeChatEmulator, engine: of.WeChatEngine) -> None:
    data = make_png(12)
    content = json.dumps(
        {"menu_items": [{"name": "酱鸭", "price": 48.0}, {"name": "龙虾", "price": 80}]}
    )
    emulator.register(data, "menu", {"content": content})
    items = of.explode(
        of.recognize([data], "menu", engine=engine, cache_dir=False, progress=False), "menu_items"
    )
    assert items["menu_items_name"].tolist() == ["酱鸭", "龙虾"]
    assert items["menu_items_price"].tolist() == [48.0, 80.0]
    assert str(items["menu_items_price"].dtype) == "Float64"


def test_daily_quota_stops_keeps_results_and_rerun_finishes_the_rest(
    emulator: WeChatEmulator, engine: of.WeChatEngine, image_files: ImageFiles, tmp_path: Path
) -> None:
    paths = image_files(12)
    emulator.daily_quota = 5
    df = of.recognize(
        paths, "idcard", engine=engine, cache_dir=tmp_path / "c", progress=False, concurrency=1
    )
    summary = df.attrs["ocr_frames"]
    assert summary["stopped"] and "45009" in summary["stopped"]
    assert (df["errcode"] == 0).sum() == 5
    assert set(df["errcode"]) == {0, 45009, 900011}
    assert emulator.total_billed == 5
    emulator.reset_day()
    emulator.daily_quota = None
    emulator.reset_counters()
    again = of.recognize(paths, "idcard", engine=engine, cache_dir=tmp_path / "c", progress=False)
    assert (again["errcode"] == 0).all()
    assert emulator.total_billed == 7  # only the rows not done
    assert again["cached"].sum() == 5


def test_quota_with_on_error_raise(
    emulator: WeChatEmulator, engine: of.WeChatEngine, image_files: ImageFiles
) -> None:
    emulator.daily_quota = 1
    with pytest.raises(of.QuotaExceeded):
        of.recognize(
            image_files(3),
            "idcard",
            engine=engine,
            cache_dir=False,
            progress=False,
            concurrency=1,
            on_error="raise",
        )


def test_on_error_raise_names_the_first_bad_row(
    engine: of.WeChatEngine, image_files: ImageFiles
) -> None:
    paths = [*image_files(1), "/no/such/file.png"]
    with pytest.raises(of.ImageError, match="1 of 2 rows failed") as info:
        of.recognize(
            paths, "idcard", engine=engine, cache_dir=False, progress=False, on_error="raise"
        )
    assert info.value.errcode == 900001


def test_retries_on_injected_faults_answer_every_row(
    emulator: WeChatEmulator, engine: of.WeChatEngine, image_files: ImageFiles, tmp_path: Path
) -> None:
    paths = image_files(60)
    emulator.set_faults(system_error=0.2, http_500=0.05, drop=0.05)
    df = of.recognize(
        paths, "bankcard", engine=engine, cache_dir=tmp_path / "c", progress=False, retry=FAST_RETRY
    )
    assert (df["errcode"] == 0).all(), df["errcode"].value_counts()
    summary = df.attrs["ocr_frames"]
    assert summary["retries"] > 0
    assert emulator.total_billed <= 60 + summary["retries"]
    expected = [WeChatEmulator.fallback_answer("bankcard", h)["number"] for h in df["sha256"]]
    assert df["number"].tolist() == expected


def test_minute_quota_slows_down_and_completes(
    emulator: WeChatEmulator, engine: of.WeChatEngine, image_files: ImageFiles
) -> None:
    emulator.fail_next(3, errcode=45011)
    df = of.recognize(
        image_files(5), "platenum", engine=engine, cache_dir=False, progress=False, retry=FAST_RETRY
    )
    assert (df["errcode"] == 0).all()
    assert df.attrs["ocr_frames"]["retries"] == 3


def test_works_inside_a_running_event_loop(
    engine: of.WeChatEngine, image_files: ImageFiles
) -> None:
    paths = image_files(4)

    async def notebook_cell() -> tuple[pd.DataFrame, pd.DataFrame]:
        sync_df = of.recognize(paths, "idcard", engine=engine, cache_dir=False, progress=False)
        async_df = await of.arecognize(
            paths, "idcard", engine=engine, cache_dir=False, progress=False
        )
        return sync_df, async_df

    sync_df, async_df = asyncio.run(notebook_cell())
    assert (sync_df["errcode"] == 0).all()
    pd.testing.assert_frame_equal(sync_df, async_df)


def test_recognize_to_parquet_streams_with_schema_and_metadata(
    emulator: WeChatEmulator, engine: of.WeChatEngine, image_files: ImageFiles, tmp_path: Path
) -> None:
    paths = [*image_files(50), None]
    out = tmp_path / "out" / "ids.parquet"
    summary = of.recognize_to_parquet(
        paths, "idcard", out, engine=engine, cache_dir=tmp_path / "c", progress=False, chunk_size=8
    )
    assert summary.rows == 51 and summary.ok == 50 and summary.errors == {900000: 1}
    table = pq.read_table(out)
    assert table.schema.equals(output_schema("idcard"), check_metadata=False)
    assert table.column("source").to_pylist() == paths
    meta = json.loads(table.schema.metadata[b"ocr_frames"])
    assert meta["kind"] == "idcard" and meta["engine"].startswith("wechat@http://127.0.0.1")
    assert meta["version"] == of.__version__
    raw = out.read_bytes()
    assert emulator.secret.encode() not in raw
    assert not list(out.parent.glob(".*tmp*"))  # no temporary left behind


def test_write_parquet_round_trip(
    engine: of.WeChatEngine, image_files: ImageFiles, tmp_path: Path
) -> None:
    df = of.recognize(
        image_files(3), "drivinglicense", engine=engine, cache_dir=False, progress=False
    )
    of.write_parquet(df, tmp_path / "dl.parquet")
    back = pq.read_table(tmp_path / "dl.parquet")
    assert back.schema.equals(of.schema("drivinglicense"), check_metadata=False)
    assert back.column("birth_date").type == pa.date32()
    assert back.column("id_num").to_pylist() == df["id_num"].tolist()


@pytest.mark.parametrize("kind", of.KINDS)
def test_read_parquet_gives_back_the_frame_recognize_returned(
    kind: str, engine: of.WeChatEngine, image_files: ImageFiles, tmp_path: Path
) -> None:
    paths = [*image_files(3), str(tmp_path / "missing.png")]  # an error row: nulls too
    df = of.recognize(paths, kind, engine=engine, cache_dir=False, progress=False)
    of.write_parquet(df, tmp_path / "k.parquet")
    back = of.read_parquet(tmp_path / "k.parquet")
    pd.testing.assert_frame_equal(back, df)  # dtypes included (page Int32, dates, strings)
    assert back.attrs["ocr_frames"]["kind"] == kind
    plain = pd.read_parquet(tmp_path / "k.parquet")  # what read_parquet is there to avoid
    assert not plain.dtypes.equals(df.dtypes)


class _FileServer(ThreadingHTTPServer):
    files: dict[str, bytes]


class _Handler(QuietHandler):
    server: _FileServer

    def do_GET(self) -> None:
        body = self.server.files.get(self.path.split("?")[0])
        if body is None:
            self.send_error(404)
            return
        self.send_body(body)


@pytest.fixture
def file_server() -> Iterator[_FileServer]:
    server = _FileServer(("127.0.0.1", 0), _Handler)
    server.files = {}
    with serving(server):
        yield server


def test_urls_are_downloaded_hashed_and_deduplicated(
    emulator: WeChatEmulator, engine: of.WeChatEngine, file_server: _FileServer, tmp_path: Path
) -> None:
    data = make_png(21)
    file_server.files = {"/a.png": data, "/mirror/b.png": data}
    base = f"http://127.0.0.1:{file_server.server_address[1]}"
    urls = [f"{base}/a.png", f"{base}/missing.png"]
    df = of.recognize(urls, "bankcard", engine=engine, cache_dir=tmp_path / "c", progress=False)
    assert df["errcode"].tolist() == [0, 900007]
    assert df.loc[0, "sha256"] == hashlib.sha256(data).hexdigest()
    # a re-hosted copy of a known image costs nothing
    again = of.recognize(
        [f"{base}/mirror/b.png"],
        "bankcard",
        engine=engine,
        cache_dir=tmp_path / "c",
        progress=False,
    )
    assert again["cached"].tolist() == [True]
    assert emulator.total_billed == 1


def test_img_url_passthrough(
    emulator: WeChatEmulator, engine: of.WeChatEngine, file_server: _FileServer
) -> None:
    data = make_png(22)
    file_server.files = {"/p.png": data}
    url = f"http://127.0.0.1:{file_server.server_address[1]}/p.png"
    df = of.recognize(
        [url], "platenum", engine=engine, cache_dir=False, progress=False, url_mode="passthrough"
    )
    assert df["errcode"].tolist() == [0]
    assert df["sha256"].isna().all()
    assert emulator.billed[hashlib.sha256(data).hexdigest()] == 1


def test_configuration_error_stops_the_run(
    emulator: WeChatEmulator, image_files: ImageFiles
) -> None:
    bad = of.WeChatEngine(appid=emulator.appid, secret="wrong", base_url=emulator.base_url)
    with pytest.raises(of.ConfigurationError) as info:
        of.recognize(image_files(2), "idcard", engine=bad, cache_dir=False, progress=False)
    assert "wrong" not in str(info.value)


def test_unknown_kind_is_a_configuration_error(engine: of.WeChatEngine) -> None:
    with pytest.raises(of.ConfigurationError, match="unknown kind"):
        of.recognize(["x.png"], "passport", engine=engine, cache_dir=False, progress=False)


def test_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("WECHAT_APPID", raising=False)
    monkeypatch.delenv("WECHAT_SECRET", raising=False)
    monkeypatch.delenv("WECHAT_ACCESS_TOKEN", raising=False)
    with pytest.raises(of.ConfigurationError, match="WECHAT_APPID"):
        of.WeChatEngine.from_env()
    e = of.WeChatEngine.from_env(
        {"WECHAT_ACCESS_TOKEN": "t", "WECHAT_BASE_URL": "http://127.0.0.1:9/"}
    )
    assert e.identity == "wechat@http://127.0.0.1:9"
    assert of.WeChatEngine(appid="a", secret="b").identity == "wechat"


def test_recognize_arrow_has_the_kind_schema_and_summary(
    engine: of.WeChatEngine, image_files: ImageFiles
) -> None:
    table = of.recognize_arrow(
        pa.array([*image_files(3), None]),
        "bankcard",
        engine=engine,
        cache_dir=False,
        progress=False,
    )
    assert table.schema.equals(of.schema("bankcard"), check_metadata=False)
    assert table.column("errcode").to_pylist() == [0, 0, 0, 900000]
    meta = json.loads(table.schema.metadata[b"ocr_frames"])
    assert meta["summary"]["rows"] == 4 and meta["kind"] == "bankcard"


def test_written_parquet_reads_back_with_pandas(
    emulator: WeChatEmulator, engine: of.WeChatEngine, tmp_path: Path
) -> None:
    df = of.recognize([make_png(31)], "comm", engine=engine, cache_dir=False, progress=False)
    of.write_parquet(df, tmp_path / "c.parquet")
    back = pd.read_parquet(tmp_path / "c.parquet")  # list<struct> columns included
    assert back["items"].iloc[0][0]["text"] == df["items"].iloc[0][0]["text"]


def test_all_exports_are_sorted_and_import() -> None:
    def style(name: str) -> tuple[int, str]:  # ruff RUF022: CONSTANTS, Classes, functions
        return (0 if name.isupper() else 1 if name[0].isupper() else 2, name)

    assert of.__all__ == sorted(of.__all__, key=style)
    for name in of.__all__:
        assert getattr(of, name) is not None


def test_column_reference_doc_matches_the_schemas() -> None:
    from ocr_frames.kinds import columns_markdown

    doc = Path(__file__).resolve().parents[2] / "docs" / "columns.md"
    assert doc.read_text(encoding="utf-8") == columns_markdown(), "run `make docs`"


def test_checks_and_mask_options(emulator: WeChatEmulator, engine: of.WeChatEngine) -> None:
    good, bad = make_png(41), make_png(42)
    emulator.register(
        good,
        "idcard",
        {"type": "Front", "name": "张三", "gender": "男", "id": "11010519491231002X"},
    )
    emulator.register(
        bad, "idcard", {"type": "Front", "name": "李四", "gender": "男", "id": "110105194912310021"}
    )
    kw = {"engine": engine, "cache_dir": False, "progress": False}
    checked = of.recognize([good, bad], "idcard", checks=True, **kw)
    assert checked["check_id_checksum"].tolist() == [True, False]
    assert checked["id"].tolist() == ["11010519491231002X", "110105194912310021"]
    masked = of.recognize([good, bad], "idcard", checks=True, mask=True, **kw)
    assert masked["check_id_checksum"].tolist() == [True, False]  # checked before masking
    assert masked["name"].tolist() == ["张*", "李*"]
    assert masked["id"].iloc[0].startswith("1101") and "19491231" not in masked["id"].iloc[0]
    assert masked.attrs["ocr_frames"]["rows"] == 2


def test_summary_says_billed_only_for_the_wechat_platform() -> None:
    def line(engine: str) -> str:
        return of.RunSummary(kind="comm", engine=engine, billed_calls=3).line()

    assert "3 billed calls" in line("wechat")
    assert "3 billed calls" in line("wechat@http://127.0.0.1:8080/~0123456789ab")
    assert "3 engine calls" in line("local/rapidocr-3") and "billed" not in line("local")
    assert "billed" not in line("wechatlike")  # another engine's name, not the platform


def test_on_error_raise_in_the_stream_writes_the_file_then_raises(
    engine: of.WeChatEngine, image_files: ImageFiles, tmp_path: Path
) -> None:
    paths = [*image_files(2), "/no/such/file.png"]
    out = tmp_path / "o.parquet"
    kw = {"engine": engine, "cache_dir": False, "progress": False, "on_error": "raise"}
    with pytest.raises(of.ImageError, match="1 of 3 rows failed; first at index 2"):
        of.recognize_to_parquet(paths, "comm", out, chunk_size=1, **kw)
    assert of.read_parquet(out)["errcode"].tolist() == [0, 0, 900001]
    with pytest.raises(of.ImageError, match="first at index 2"):
        of.recognize_arrow(paths, "comm", **kw)
    assert of.recognize_arrow(paths[:2], "comm", **kw).num_rows == 2
