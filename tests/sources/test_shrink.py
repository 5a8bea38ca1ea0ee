"""shrink=True: oversize photos re-encoded upright under 2 MB, keyed by the bytes sent,
rerun without re-encoding; decompression bombs refused before decoding."""

from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

import ocr_frames as of
from ocr_frames._cache.derived import DERIVED_FILE, DerivedStore
from ocr_frames._errors import E_NOT_IMAGE
from ocr_frames._sources import shrink as _shrink
from ocr_frames._sources.limits import MAX_IMAGE_BYTES
from ocr_frames._sources.read import load_local
from ocr_frames.testing import WeChatEmulator
from tests.helpers import EXIF_ORIENTATION, make_png, phone_photo


def _mean_rgb(img: Image.Image, box: tuple[int, int, int, int]) -> tuple[float, ...]:
    return tuple(np.asarray(img.crop(box).convert("RGB"), dtype=float).mean(axis=(0, 1)))


def test_six_mb_sideways_photo_arrives_upright_under_2_mb_and_rerun_bills_nothing(
    emulator: WeChatEmulator,
    engine: of.WeChatEngine,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    photo = tmp_path / "id_front.jpg"
    photo.write_bytes(phone_photo())
    assert photo.stat().st_size > 6_000_000
    cache = tmp_path / "cache"

    df = of.recognize([str(photo)], "idcard", engine=engine, cache_dir=cache, progress=False)
    assert df["errcode"].tolist() == [0]
    sent_sha = df["sha256"].iloc[0]
    assert emulator.billed == {sent_sha: 1}

    # the bytes sent are what load_local(shrink=True) makes (the recipe is deterministic)
    sent = load_local(str(photo), shrink=True)
    assert sent.sha256 == sent_sha and sent.data is not None
    assert len(sent.data) < MAX_IMAGE_BYTES
    assert sent.original_sha256 is not None and sent.original_sha256 != sent_sha
    with Image.open(io.BytesIO(sent.data)) as img:
        assert img.format == "JPEG"
        width, height = img.size
        assert height > width, "stored landscape + orientation 6 = upright portrait"
        assert img.getexif().get(EXIF_ORIENTATION) in (None, 1)
        # orientation 6: the stored top-left corner is shown top-right
        red, green, _ = _mean_rgb(img, (width - 40, 0, width, 40))
        assert red > 200 and green < 60
    assert (cache / DERIVED_FILE).exists()

    def no_encoding(data: bytes, max_bytes: int) -> Any:
        raise AssertionError("a rerun must not re-encode")

    monkeypatch.setattr(_shrink, "convert", no_encoding)
    again = of.recognize([str(photo)], "idcard", engine=engine, cache_dir=cache, progress=False)
    assert again["errcode"].tolist() == [0] and again["cached"].tolist() == [True]
    assert again["sha256"].tolist() == [sent_sha]
    assert emulator.total_billed == 1


def test_known_original_without_a_cached_answer_is_encoded_again(
    emulator: WeChatEmulator, engine: of.WeChatEngine, tmp_path: Path
) -> None:
    """The original→sent table is per encoding, the answer per kind: a new kind re-encodes."""
    photo = tmp_path / "card.jpg"
    photo.write_bytes(phone_photo(2600, 1800, orientation=1, seed=1))
    cache = tmp_path / "cache"
    first = of.recognize([str(photo)], "idcard", engine=engine, cache_dir=cache, progress=False)
    other = of.recognize([str(photo)], "bankcard", engine=engine, cache_dir=cache, progress=False)
    assert first["errcode"].tolist() == other["errcode"].tolist() == [0]
    assert first["sha256"].tolist() == other["sha256"].tolist()
    assert other["cached"].tolist() == [False]
    assert emulator.total_billed == 2


def test_small_rotated_jpeg_is_sent_byte_for_byte(
    emulator: WeChatEmulator, engine: of.WeChatEngine, tmp_path: Path
) -> None:
    """Decision: no re-encoding just for EXIF orientation (cache keys stay the file's)."""
    small = phone_photo(400, 300, orientation=6)
    df = of.recognize([small], "idcard", engine=engine, cache_dir=False, progress=False)
    assert df["errcode"].tolist() == [0]
    assert df["sha256"].tolist() == [load_local(small).sha256]


def test_shrink_false_keeps_the_2_mb_row_error() -> None:
    photo = phone_photo(seed=2)
    assert load_local(photo).errcode == 900005
    assert load_local(photo, shrink=True).errcode == 0


def test_png_with_alpha_and_bytes_input() -> None:
    rng = np.random.default_rng(3)
    rgba = rng.integers(0, 256, (1100, 1100, 4), dtype=np.uint8)
    out = io.BytesIO()
    Image.fromarray(rgba, "RGBA").save(out, "PNG", compress_level=1)
    assert len(out.getvalue()) >= MAX_IMAGE_BYTES
    src = load_local(out.getvalue(), shrink=True)
    assert src.ok and src.data is not None and len(src.data) < MAX_IMAGE_BYTES
    assert src.data[:3] == b"\xff\xd8\xff"


def _jpeg_claiming(width: int, height: int) -> bytes:
    """A small JPEG whose header claims another size (a decompression bomb's header)."""
    out = io.BytesIO()
    Image.new("RGB", (8, 8)).save(out, "JPEG")
    data = bytearray(out.getvalue())
    sof = data.index(b"\xff\xc0")
    data[sof + 5 : sof + 9] = height.to_bytes(2, "big") + width.to_bytes(2, "big")
    return bytes(data)


@pytest.mark.parametrize("side", [10_000, 30_000])  # Pillow warns at 1x its limit, raises at 2x
def test_decompression_bomb_refused_from_the_header(side: int) -> None:
    with pytest.raises(_shrink.ConversionError) as info:
        _shrink.convert(_jpeg_claiming(side, side), MAX_IMAGE_BYTES)
    assert info.value.errcode == E_NOT_IMAGE
    assert "decompression bomb" in info.value.message


def test_oversize_data_that_does_not_decode_is_a_row_error() -> None:
    junk = bytes(np.random.default_rng(5).integers(0, 256, 3 * 1024 * 1024, dtype=np.uint8))
    idat = (
        struct.pack(">I", len(junk))
        + b"IDAT"
        + junk
        + struct.pack(">I", zlib.crc32(b"IDAT" + junk))
    )
    broken = make_png(1, 64, 64)[:33] + idat
    src = load_local(broken, shrink=True)
    assert src.errcode == E_NOT_IMAGE and "cannot be decoded" in src.errmsg
    assert load_local(junk, shrink=True).errcode == E_NOT_IMAGE  # not an image at all


def test_derived_store_round_trip(tmp_path: Path) -> None:
    store = DerivedStore(tmp_path)
    assert store.get("a" * 64, "p") is None
    store.put("a" * 64, "p", ["b" * 64, "c" * 64])
    assert store.get("a" * 64, "p") == ["b" * 64, "c" * 64]
    assert store.get("a" * 64, "other recipe") is None
    store.close()
    store.close()
    assert DerivedStore(tmp_path).get("a" * 64, "p") == ["b" * 64, "c" * 64]
    assert (tmp_path / DERIVED_FILE).stat().st_mode & 0o077 == 0
