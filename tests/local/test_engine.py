"""The local engine on bundled sample images: exact field values, error codes, the pipeline
and the CLI.  The models are loaded once per test process (module-scoped engine)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

import ocr_frames as of
from ocr_frames._cache.store import ResultCache
from ocr_frames._errors import E_ENGINE, ConfigurationError
from ocr_frames.cli._demo import choose_engine, run_demo
from ocr_frames.local import LocalEngine, layouts
from ocr_frames.wechat._parse import parse_response
from tests.helpers import REPO

SAMPLES = REPO / "sample_data"
TRUTH: dict[str, dict[str, Any]] = json.loads((SAMPLES / "truth.json").read_text("utf-8"))
POSITIONS = ("card_position_front", "card_position_back", "cert_position")


@pytest.fixture(scope="module")
def engine() -> LocalEngine:
    local = LocalEngine()
    local.warm_up()
    return local


def expected(name: str) -> dict[str, Any]:
    entry = TRUTH[name]
    return parse_response(entry["kind"], 200, json.dumps(entry["answer"]).encode())


def without_trust(answer: dict[str, Any]) -> dict[str, Any]:
    """``answer`` without its confidences (checked to be 0..1, see tests/local/test_trust.py)."""
    answer = dict(answer)
    confidence = answer.pop("confidence", {})
    assert all(0 <= c <= 1 for c in confidence.values()), confidence
    answer.pop("suggested", None)
    answer.pop("field_boxes", None)  # where each field was read (tests/local/test_orientation.py)
    for key in ("items", "menu_items"):
        if isinstance(answer.get(key), list):
            assert all(0 <= item.pop("conf") <= 1 for item in answer[key])
    return answer


def corners(quad: dict[str, Any]) -> list[tuple[int, int]]:
    return [(p["x"], p["y"]) for p in quad["pos"].values()]


@pytest.mark.parametrize(
    "name",
    [
        "idcard/idcard_02.jpg",  # ID number printed with a wrong check character: kept as is
        "idcard/idcard_05.jpg",  # back side, photo-like, valid until 长期
        "bankcard/bankcard_02.jpg",  # card number failing Luhn: kept as is
        "bizlicense/bizlicense_02.jpg",  # sole proprietorship: capital and term absent
        "driving/driving_04.jpg",  # both pages, photo-like: two quadrilaterals
        "menu/menu_02.jpg",
    ],
)
def test_bundled_samples_give_the_exact_fields(engine: LocalEngine, name: str) -> None:
    got = without_trust(engine.recognize_one((SAMPLES / name).read_bytes(), TRUTH[name]["kind"]))
    want = expected(name)
    for key in POSITIONS:  # where the document lies: within 2% of the image diagonal
        if key in want:
            diagonal = (want["img_size"]["w"] ** 2 + want["img_size"]["h"] ** 2) ** 0.5
            pairs = zip(corners(want.pop(key)), corners(got.pop(key)), strict=True)
            assert all(abs(a - c) + abs(b - d) < 0.02 * diagonal for (a, b), (c, d) in pairs)
    assert got == want


def test_comm_lines_in_reading_order(engine: LocalEngine) -> None:
    got = engine.recognize_one((SAMPLES / "comm/comm_01.png").read_bytes(), "comm")
    want = expected("comm/comm_01.png")
    assert [i["text"] for i in got["items"]] == [i["text"] for i in want["items"]]
    assert got["img_size"] == want["img_size"]


def test_no_document_of_that_kind_is_101001(engine: LocalEngine) -> None:
    photo = (SAMPLES / "idcard/idcard_06.jpg").read_bytes()  # a sticky note on a desk
    assert engine.recognize_one(photo, "idcard") == {
        "errcode": 101001,
        "errmsg": "certificate not found",
        "rid": None,
    }


@pytest.mark.parametrize(
    ("data", "errcode"),
    [
        (b"not an image\n", 101002),
        ((SAMPLES / "menu/menu_01.jpg").read_bytes()[:300], 101002),
        (b"", 44002),
    ],
)
def test_bad_image_data(engine: LocalEngine, data: bytes, errcode: int) -> None:
    assert engine.recognize_one(data, "idcard")["errcode"] == errcode


def test_an_engine_failure_is_a_row_error(
    engine: LocalEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: object) -> None:
        raise RuntimeError("boom")

    monkeypatch.setitem(layouts.PARSERS, "bankcard", broken)
    answer = engine.recognize_one((SAMPLES / "bankcard/bankcard_01.jpg").read_bytes(), "bankcard")
    assert answer["errcode"] == E_ENGINE
    assert "RuntimeError: boom" in answer["errmsg"]


def test_unknown_kind_is_a_configuration_error(engine: LocalEngine) -> None:
    with pytest.raises(ConfigurationError):
        engine.recognize_one(b"x", "passport")


def test_identity_names_rapidocr_and_models_and_never_mixes_with_wechat() -> None:
    identity = LocalEngine().identity
    assert identity.startswith("local:rapidocr-3.")
    assert "PP-OCRv6_det_small+PP-OCRv6_rec_small" in identity
    digest = "0" * 64
    assert ResultCache.key(digest, "idcard", identity) != ResultCache.key(
        digest, "idcard", "wechat"
    )


def test_a_faster_detector_setting_is_another_identity() -> None:
    assert LocalEngine(det_limit=736).identity != LocalEngine().identity
    assert "@736" in LocalEngine(det_limit=736).identity
    for bad in ({"workers": 0}, {"threads": -1}, {"det_limit": 10}):
        with pytest.raises(ConfigurationError):
            LocalEngine(**bad)


def test_pipeline_with_the_local_engine_and_its_cache(engine: LocalEngine, tmp_path: Path) -> None:
    paths = pd.Series([str(SAMPLES / "platenum/platenum_01.jpg"), None], index=[7, 9])
    first = of.recognize(paths, "platenum", engine=engine, cache_dir=tmp_path, progress=False)
    again = of.recognize(paths, "platenum", engine=engine, cache_dir=tmp_path, progress=False)
    assert list(first.index) == [7, 9]
    assert first.loc[7, "number"] == "粤B12345"
    assert again.loc[7, "number"] == "粤B12345"
    assert bool(again.loc[7, "cached"])
    assert first.loc[9, "errcode"] == 900000


def _run(code: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=REPO,
        check=False,
    )


def test_import_loads_no_model_and_loading_opens_no_socket() -> None:
    code = f"""
        import socket, sys

        def no_network(event, args):
            if event in ("socket.connect", "socket.getaddrinfo", "socket.gethostbyname"):
                raise RuntimeError(f"network access during model load: {{event}} {{args}}")

        import ocr_frames.local
        assert "onnxruntime" not in sys.modules and "rapidocr" not in sys.modules
        sys.addaudithook(no_network)
        engine = ocr_frames.local.LocalEngine()
        data = open({str(SAMPLES / "platenum/platenum_03.jpg")!r}, "rb").read()
        print(engine.recognize_one(data, "platenum")["number"])
    """
    done = _run(code)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "苏E5F678"


def test_cli_run_with_the_local_engine(tmp_path: Path) -> None:
    folder = tmp_path / "plates"
    folder.mkdir()
    name = "platenum/platenum_02.jpg"  # green new-energy plate, 8 characters
    (folder / "a.jpg").write_bytes((SAMPLES / name).read_bytes())
    out = tmp_path / "plates.parquet"
    options = ["--kind", "platenum", "--engine", "local", "--out", str(out), "--no-cache"]
    done = subprocess.run(
        [sys.executable, "-m", "ocr_frames.cli", "run", str(folder), *options, "--no-progress"],
        capture_output=True,
        text=True,
        timeout=180,
        cwd=REPO,
        env={**os.environ, "WECHAT_APPID": "", "WECHAT_SECRET": ""},
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert pd.read_parquet(out)["number"].tolist() == [TRUTH[name]["answer"]["number"]]


def test_demo_engine_choice() -> None:
    assert choose_engine({}) == "local"
    assert choose_engine({"WECHAT_APPID": "wx", "WECHAT_SECRET": "s"}) == "wechat"
    assert choose_engine({"WECHAT_ACCESS_TOKEN": "t"}) == "wechat"
    assert choose_engine({"WECHAT_APPID": "wx", "OCR_FRAMES_DEMO_ENGINE": "emulator"}) == "emulator"


def test_demo_still_runs_on_the_emulator(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run_demo(SAMPLES, tmp_path, engine="emulator") == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0].startswith("demo: using the bundled WeChat emulator")
    assert "rerun: 5 cache hits, 0 billed calls" in out
    assert pd.read_parquet(tmp_path / "bankcard.parquet")["number"].notna().all()


def test_dask_malloc_trim_setting_is_named_with_its_fix(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from ocr_frames.local import _ocr

    monkeypatch.setenv("MALLOC_TRIM_THRESHOLD_", "65536")
    with caplog.at_level("WARNING", logger="ocr_frames.local"):
        _ocr._warn_malloc_trim()
    assert "pre-spawn-environ.MALLOC_TRIM_THRESHOLD_" in caplog.text
    caplog.clear()
    monkeypatch.delenv("MALLOC_TRIM_THRESHOLD_")
    with caplog.at_level("WARNING", logger="ocr_frames.local"):
        _ocr._warn_malloc_trim()
    assert caplog.text == ""
