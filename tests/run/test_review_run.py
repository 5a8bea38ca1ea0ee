"""``quality``, ``checks`` and the review columns through real runs: the loopback emulator
over HTTP, real image files, real Parquet files read back with pyarrow, and the CLI in a
subprocess for ``--review-only``."""

from __future__ import annotations

import stat
import threading
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import ocr_frames as of
from ocr_frames._quality import WARNINGS, Quality, assess
from ocr_frames._run import quality
from ocr_frames._tables.frames import to_pandas
from ocr_frames.checks import add_checks
from ocr_frames.kinds import schema
from ocr_frames.testing import WeChatEmulator
from tests.helpers import cli_env, make_png, run_cli
from tests.sources.test_documents import pdf

REVIEW = ["needs_review", "review_reasons"]
QUALITY = ["quality_score", *WARNINGS]
CLEAN, BAD_CHECK_CHARACTER, OTHER = "11010519491231002X", "110105194912310021", "440106198001101009"


def _images(emulator: WeChatEmulator, folder: Path) -> list[str]:
    """A clean card, one with a wrong check character, one without a name (a key field),
    and a file that does not exist (an error row)."""
    folder.mkdir(exist_ok=True)
    answers = [
        {"name": "王芳", "id": CLEAN},
        {"name": "李四", "id": BAD_CHECK_CHARACTER},
        {"name": "", "id": OTHER},
    ]
    paths = []
    for i, answer in enumerate(answers):
        path = folder / f"card{i}.png"
        path.write_bytes(make_png(700 + i, 64, 40))
        emulator.register(path.read_bytes(), "idcard", {"type": "Front", "gender": "女", **answer})
        paths.append(str(path))
    return [*paths, str(folder / "missing.png")]


def _kw(engine: of.WeChatEngine, **options: Any) -> dict[str, Any]:
    return {"engine": engine, "cache_dir": False, "progress": False, **options}


def _check_columns() -> list[str]:
    empty = to_pandas(schema("idcard").empty_table())
    return [c for c in add_checks(empty, "idcard").columns if c not in empty.columns]


@pytest.mark.parametrize(
    ("options", "added"),
    [
        ({}, []),
        ({"checks": True}, ["checks", *REVIEW]),
        ({"quality": True}, [*QUALITY, *REVIEW]),
        ({"checks": True, "quality": True}, [*QUALITY, "checks", *REVIEW]),
        ({"mask": True}, []),
    ],
)
def test_the_new_columns_and_their_arrow_types(
    options: dict[str, Any],
    added: list[str],
    emulator: WeChatEmulator,
    engine: of.WeChatEngine,
    tmp_path: Path,
) -> None:
    images = _images(emulator, tmp_path / "in")
    expected = [*schema("idcard").names]
    for name in added:
        expected += _check_columns() if name == "checks" else [name]
    table = of.recognize_arrow(images, "idcard", **_kw(engine, **options))
    assert table.column_names == expected
    out = tmp_path / "o.parquet"
    of.recognize_to_parquet(images, "idcard", out, **_kw(engine, **options))
    written = pq.read_schema(out)
    assert written.names == ["source", *expected]
    frame = of.recognize(images, "idcard", **_kw(engine, **options))
    assert list(frame.columns) == expected
    if "quality_score" in added:
        assert written.field("quality_score").type == pa.int32()
        assert all(written.field(w).type == pa.bool_() for w in WARNINGS)
    if REVIEW[0] in added:
        assert written.field("needs_review").type == pa.bool_()
        assert written.field("review_reasons").type == pa.list_(pa.string())
        assert str(frame["needs_review"].dtype) == "boolean"
    empty = of.recognize_arrow([], "idcard", **_kw(engine, **options))
    assert empty.column_names == expected and empty.num_rows == 0


def test_reasons_of_a_real_run(
    emulator: WeChatEmulator, engine: of.WeChatEngine, tmp_path: Path
) -> None:
    images = _images(emulator, tmp_path / "in")
    table = of.recognize_arrow(images, "idcard", **_kw(engine, checks=True))
    reasons = table["review_reasons"].to_pylist()
    errcode = table["errcode"][3].as_py()
    assert errcode != 0
    assert reasons[0] == []  # clean
    assert reasons[1] == ["check_id_checksum"]  # the wrong check character, nothing else
    assert reasons[3] == [f"errcode {errcode}"]
    assert table["needs_review"].to_pylist() == [False, True, reasons[2] != [], True]
    masked = of.recognize_arrow(images, "idcard", **_kw(engine, checks=True, mask=True))
    assert masked["review_reasons"].to_pylist() == reasons  # masking hides no reason


def test_quality_is_each_images_own_and_survives_the_cache(
    emulator: WeChatEmulator, engine: of.WeChatEngine, tmp_path: Path
) -> None:
    images = _images(emulator, tmp_path / "in")
    kw = {**_kw(engine, quality=True), "cache_dir": tmp_path / "cache", "chunk_size": 2}
    first = of.recognize_arrow(images, "idcard", **kw)
    again = of.recognize_arrow(images, "idcard", **kw)
    assert again["cached"].to_pylist()[:3] == [True, True, True]
    assert emulator.total_billed == 3
    columns = [*QUALITY, *REVIEW]
    assert again.select(columns).to_pylist() == first.select(columns).to_pylist()
    for i, path in enumerate(images[:3]):
        judged = assess(Path(path).read_bytes())
        assert judged is not None
        assert first["quality_score"][i].as_py() == judged.score
        for warning in WARNINGS:
            fired = first[warning][i].as_py()
            if warning == "warn_incomplete" and i == 2:  # an ok answer without a name
                assert fired is True
            else:
                assert fired is (warning in judged.warnings), (i, warning)
        assert [r for r in first["review_reasons"][i].as_py() if r.startswith("warn_")] == [
            w for w in WARNINGS if first[w][i].as_py()
        ]
    missing = first.slice(3).select(QUALITY).to_pylist()[0]  # no image: nothing judged
    assert missing == dict.fromkeys(QUALITY)


def test_review_threshold_is_checked(engine: of.WeChatEngine) -> None:
    with pytest.raises(of.ConfigurationError, match="review_threshold must be from 0 to 1"):
        of.recognize_arrow([make_png(1)], "idcard", **_kw(engine, review_threshold=2))


def test_review_path_must_not_be_the_output(
    emulator: WeChatEmulator, engine: of.WeChatEngine, tmp_path: Path
) -> None:
    out = tmp_path / "o.parquet"
    with pytest.raises(of.ConfigurationError, match="review_path must differ from path"):
        of.recognize_to_parquet([make_png(1)], "idcard", out, review_path=out, **_kw(engine))
    html = tmp_path / "r.html"
    with pytest.raises(of.ConfigurationError, match="review_path must differ from path and"):
        of.recognize_to_parquet(
            [make_png(1)], "idcard", out, report=html, review_path=html, **_kw(engine)
        )
    assert emulator.total_billed == 0 and not out.exists() and not html.exists()


def test_review_only_from_the_command_line(emulator: WeChatEmulator, tmp_path: Path) -> None:
    images = _images(emulator, tmp_path / "in")
    out, review = tmp_path / "all.parquet", tmp_path / "sub" / "review.parquet"
    proc = run_cli(
        "run",
        str(tmp_path / "in"),
        "--kind",
        "idcard",
        "--out",
        str(out),
        "--review-only",
        str(review),
        "--no-progress",
        env=cli_env(emulator, tmp_path / "cache"),
    )
    assert proc.returncode == 0, proc.stderr
    assert f"rows to review: {review}" in proc.stderr
    everything, to_review = pq.read_table(out), pq.read_table(review)
    assert to_review.schema == everything.schema  # --review-only implies --checks
    assert "check_passed" in everything.column_names
    flagged = everything.filter(everything["needs_review"])
    assert to_review.to_pylist() == flagged.to_pylist()
    sources = to_review["source"].to_pylist()
    assert images[1] in sources and images[0] not in sources
    assert to_review.num_rows < everything.num_rows == 3  # a folder: the 3 files
    assert stat.S_IMODE(review.stat().st_mode) == 0o600
    threshold = run_cli("run", "x", "-k", "idcard", "-o", str(out), "--review-threshold", "7")
    assert threshold.returncode == 2 and "must be from 0 to 1, got 7" in threshold.stderr


def test_key_fields_alone_fire_warn_incomplete_and_judging_is_off_the_loop(
    emulator: WeChatEmulator,
    engine: of.WeChatEngine,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """An image judged complete still gets ``warn_incomplete`` when its ok answer lacks a
    key field; the judging happens in the run's own threads."""
    threads: list[str] = []

    def clean(data: bytes) -> Quality:
        threads.append(threading.current_thread().name)
        return Quality(score=len(data) % 101, warnings=frozenset(), measures={})

    monkeypatch.setattr(quality, "assess", clean)
    images = _images(emulator, tmp_path / "in")
    table = of.recognize_arrow(images, "idcard", **_kw(engine, quality=True))
    sizes = [len(Path(p).read_bytes()) % 101 for p in images[:3]]
    assert table["quality_score"].to_pylist() == [*sizes, None]
    assert table["warn_incomplete"].to_pylist() == [False, False, True, None]
    assert table["review_reasons"].to_pylist()[:3] == [[], [], ["warn_incomplete"]]
    assert len(threads) == 3 and all(t.startswith("ocr-quality") for t in threads)


def test_each_pdf_page_is_judged_on_a_rerun_from_the_cache_too(
    emulator: WeChatEmulator,
    engine: of.WeChatEngine,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A document's pages are judged one by one; a rerun (every answer cached, the
    document's digests remembered) renders them again so they can be judged."""
    judged: list[bytes] = []

    def record(data: bytes) -> Quality:
        judged.append(data)
        return Quality(score=50, warnings=frozenset({"warn_blur"}), measures={})

    monkeypatch.setattr(quality, "assess", record)
    document = tmp_path / "two.pdf"
    document.write_bytes(pdf(2))
    kw = {**_kw(engine, quality=True), "cache_dir": tmp_path / "cache"}
    first = of.recognize_arrow([str(document)], "comm", **kw)
    again = of.recognize_arrow([str(document)], "comm", **kw)
    assert first["page"].to_pylist() == again["page"].to_pylist() == [1, 2]
    assert again["cached"].to_pylist() == [True, True] and emulator.total_billed == 2
    assert len(judged) == 4 and judged[0] != judged[1]  # two distinct pages, twice
    assert judged[:2] == judged[2:]
    for table in (first, again):
        assert table["quality_score"].to_pylist() == [50, 50]
        assert table["review_reasons"].to_pylist() == [["warn_blur"], ["warn_blur"]]
