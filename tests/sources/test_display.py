"""Showing a row's image to a reviewer: only files the rows name are reachable, and the
bytes shown are the bytes the run sent (so that the engine's positions line up)."""

from __future__ import annotations

import base64
import hashlib
import io
import os
from pathlib import Path

import pandas as pd
import pytest
from PIL import Image, ImageDraw, ImageStat

import ocr_frames as of
from ocr_frames._sources.display import (
    DisplayError,
    ImageIndex,
    Shown,
    data_uri,
    display_image,
    thumbnail,
)
from ocr_frames._sources.read import load_local
from ocr_frames.testing import WeChatEmulator
from tests.helpers import EXIF_ORIENTATION, phone_photo


def jpeg(size: tuple[int, int] = (300, 200), orientation: int | None = None) -> bytes:
    img = Image.new("RGB", size, (240, 240, 240))
    ImageDraw.Draw(img).rectangle((0, 0, size[0] // 4, size[1] // 4), fill=(255, 0, 0))
    exif = Image.Exif()
    if orientation is not None:
        exif[EXIF_ORIENTATION] = orientation
    out = io.BytesIO()
    img.save(out, "JPEG", quality=90, exif=exif)
    return out.getvalue()


def pdf(pages: int) -> bytes:
    """A PDF of scanned pages (Pillow embeds each page as a JPEG), each page different."""
    images = []
    for i in range(pages):
        img = Image.new("RGB", (600, 400), (250, 250, 250))
        img.paste((40 * i % 256, 30, 90), (10 + 40 * i, 10, 80 + 40 * i, 80))
        images.append(img)
    out = io.BytesIO()
    images[0].save(out, "PDF", save_all=True, append_images=images[1:], resolution=100)
    return out.getvalue()


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def size_of(data: bytes) -> tuple[int, int]:
    with Image.open(io.BytesIO(data)) as img:
        return img.size


# --- which files are reachable ------------------------------------------------------


def test_rows_reach_the_files_they_name_and_nothing_else(tmp_path: Path) -> None:
    run = tmp_path / "run"
    (run / "sub").mkdir(parents=True)
    (run / "a.jpg").write_bytes(jpeg())
    (tmp_path / "x.jpg").write_bytes(jpeg())
    sources = [
        "a.jpg",
        "../x.jpg",  # relative to the run's folder: named by a row, so reachable
        os.fspath(run / "a.jpg"),
        (run / "a.jpg").as_uri(),
        None,
        "http://example.com/a.jpg",
        "https://example.com/a.jpg?sig=secret",
        "s3://bucket/a.jpg",
        "data:image/jpeg;base64," + base64.b64encode(jpeg()).decode(),
        "missing.jpg",
        "sub",
        "file://otherhost/a.jpg",
    ]
    index = ImageIndex(sources, [None] * len(sources), [None] * len(sources), base_dir=run)
    found = [index.resolve(i) for i in range(len(index))]
    assert found[:4] == [
        (run / "a.jpg").resolve(),
        (tmp_path / "x.jpg").resolve(),
        (run / "a.jpg").resolve(),
        (run / "a.jpg").resolve(),
    ]
    assert found[4:] == [None] * 8
    assert [index.missing(i) for i in range(4)] == [""] * 4
    reasons = [index.missing(i) for i in range(4, len(index))]
    assert reasons[0] == "no image source"
    assert reasons[1:3] == ["a URL, not fetched"] * 2
    assert "not fetched" in reasons[3] and "not a file" in reasons[4]
    assert reasons[5] == "not found: missing.jpg"
    assert reasons[6] == "not a regular file (directory): sub"
    assert "another host" in reasons[7]
    assert not any("secret" in r for r in reasons)  # URLs (and their tokens) not quoted
    with pytest.raises(IndexError):
        index.resolve(len(sources))
    with pytest.raises(IndexError):
        index.resolve(-1)  # not Python's "from the end"


def test_a_moved_file_is_looked_up_by_its_name_inside_the_images_folder(tmp_path: Path) -> None:
    run = tmp_path / "run"  # where the run was started: none of the files are there now
    run.mkdir()
    images = tmp_path / "images"
    images.mkdir()
    (images / "a.jpg").write_bytes(jpeg())
    secret = tmp_path / "secret.jpg"
    secret.write_bytes(jpeg())
    (tmp_path / "x").write_bytes(jpeg())
    (images / "out.jpg").symlink_to(secret)
    (images / "in.jpg").symlink_to(images / "a.jpg")
    sources = [
        "/old/place/a.jpg",  # moved: found by its name
        "C:\\scans\\a.jpg",
        "in.jpg",  # a symlink that stays inside
        "../../etc/passwd",  # not where it says: only "passwd" is looked up, in the folder
        "%2e%2e/x",  # not decoded: a folder named %2e%2e
        "../../x",
        "out.jpg",  # a symlink out of the folder
        "..",
        "folder/",
        "file:///nowhere/passwd",
    ]
    index = ImageIndex(
        sources, [None] * len(sources), [None] * len(sources), base_dir=run, images_dir=images
    )
    a = (images / "a.jpg").resolve()
    assert [index.resolve(i) for i in range(3)] == [a, a, a]
    assert [index.resolve(i) for i in range(3, len(sources))] == [None] * 7
    reasons = [index.missing(i) for i in range(3, len(sources))]
    assert reasons[:3] == [
        "not found in the images folder: ../../etc/passwd",
        "not found in the images folder: %2e%2e/x",
        "not found in the images folder: ../../x",
    ]
    assert reasons[3] == "outside the images folder: out.jpg"
    assert reasons[4:6] == ["no file name in the source: ..", "no file name in the source: folder/"]
    assert reasons[6] == "not found in the images folder: file:///nowhere/passwd"
    assert not any(os.fspath(secret) in r for r in reasons)  # a link's target is not shown
    (images / "passwd").write_bytes(b"not the system's")
    assert index.resolve(3) == (images / "passwd").resolve()  # the folder's own file


def test_a_file_still_where_the_row_says_is_shown_from_there(tmp_path: Path) -> None:
    images = tmp_path / "images"
    images.mkdir()
    (images / "a.jpg").write_bytes(jpeg())
    here = tmp_path / "a.jpg"
    here.write_bytes(jpeg())
    index = ImageIndex(["a.jpg"], [None], [None], base_dir=tmp_path, images_dir=images)
    assert index.resolve(0) == here.resolve()


def test_an_index_refuses_columns_of_different_lengths_and_a_missing_folder(
    tmp_path: Path,
) -> None:
    with pytest.raises(ValueError, match="one entry per row"):
        ImageIndex(["a"], [], [None], base_dir=tmp_path)
    with pytest.raises(ValueError, match="not found"):
        ImageIndex(["a"], [None], [None], base_dir=tmp_path, images_dir=tmp_path / "gone")
    (tmp_path / "f").write_bytes(b"x")
    with pytest.raises(ValueError, match="not a directory"):
        ImageIndex(["a"], [None], [None], base_dir=tmp_path, images_dir=tmp_path / "f")


# --- the bytes shown are the bytes sent --------------------------------------------


def test_a_small_jpeg_is_shown_as_it_is(tmp_path: Path) -> None:
    data = jpeg((300, 200))
    path = tmp_path / "a.jpg"
    path.write_bytes(data)
    shown = display_image(path, None, sha(data))
    assert shown == Shown(data, "image/jpeg", 300, 200, 1, True)
    assert display_image(path, None, None).matches is None
    assert display_image(path, None, sha(b"other bytes")).matches is False  # file changed


def test_an_oversize_image_is_shown_as_re_encoded_for_the_run(tmp_path: Path) -> None:
    data = phone_photo(1400, 1000, orientation=1)
    path = tmp_path / "big.jpg"
    path.write_bytes(data)
    limit = len(data)  # the platform takes images smaller than the limit
    sent = load_local(os.fspath(path), max_bytes=limit, shrink=True)
    assert sent.data is not None and sent.sha256 != sha(data)  # re-encoded by the run
    shown = display_image(path, None, sent.sha256, max_bytes=limit)
    assert shown.matches is True and shown.data == sent.data and shown.mime == "image/jpeg"
    assert (shown.width, shown.height) == size_of(sent.data)
    other = display_image(path, None, sent.sha256)  # not the run's max_bytes: as it is
    assert other.matches is False and other.data == data


def test_a_pdf_page_is_rendered_as_the_run_sent_it(tmp_path: Path) -> None:
    data = pdf(2)
    path = tmp_path / "doc.pdf"
    path.write_bytes(data)
    pages = load_local(os.fspath(path), shrink=True).pages
    assert pages is not None and len(pages) == 2
    second = display_image(path, 2, pages[1].sha256)
    assert second.matches is True and second.page_count == 2 and second.mime == "image/jpeg"
    assert second.data == pages[1].data
    first = display_image(path, None, pages[1].sha256)  # page 1 is not what row 2 sent
    assert first.matches is False and first.data == pages[0].data
    for page in (0, 3):
        with pytest.raises(DisplayError, match=f"page {page} out of range"):
            display_image(path, page, None)


def test_tiff_and_bmp_are_shown_as_png_of_the_same_pixels(tmp_path: Path) -> None:
    img = Image.new("RGB", (120, 80), (10, 200, 30))
    for fmt in ("TIFF", "BMP"):
        out = io.BytesIO()
        img.save(out, fmt)
        path = tmp_path / f"a.{fmt.lower()}"
        path.write_bytes(out.getvalue())
        shown = display_image(path, None, sha(out.getvalue()))
        assert shown.mime == "image/png" and shown.matches is True
        assert (shown.width, shown.height) == (120, 80)
        with Image.open(io.BytesIO(shown.data)) as back:
            assert back.format == "PNG" and back.convert("RGB").tobytes() == img.tobytes()
        with pytest.raises(DisplayError, match="page 2 out of range"):
            display_image(path, 2, None)


def test_a_multipage_tiff_page_matches_the_run(tmp_path: Path) -> None:
    frames = [Image.new("RGB", (200, 100), (60 * i, 90, 200)) for i in range(3)]
    out = io.BytesIO()
    frames[0].save(out, "TIFF", save_all=True, append_images=frames[1:])
    path = tmp_path / "scan.tiff"
    path.write_bytes(out.getvalue())
    pages = load_local(os.fspath(path), shrink=True).pages
    assert pages is not None
    shown = display_image(path, 3, pages[2].sha256)
    assert shown.matches is True and shown.page_count == 3 and shown.data == pages[2].data


def test_an_exif_rotated_jpeg_reports_the_upright_size(tmp_path: Path) -> None:
    """Stored 300 x 200 with Orientation 6: shown (and read by the engines) 200 x 300."""
    data = jpeg((300, 200), orientation=6)
    path = tmp_path / "turned.jpg"
    path.write_bytes(data)
    shown = display_image(path, None, sha(data))
    assert shown.data == data and shown.matches is True  # the browser turns it by its tag
    assert (shown.width, shown.height) == (200, 300)
    limit = len(data)  # re-encoded by the run: upright pixels, no tag, the same space
    converted = display_image(
        path, None, load_local(data, max_bytes=limit, shrink=True).sha256, max_bytes=limit
    )
    assert converted.matches is True and size_of(converted.data) == (200, 300)
    with Image.open(io.BytesIO(converted.data)) as img:
        assert img.getexif().get(EXIF_ORIENTATION) is None
        red, green, _ = img.convert("RGB").getpixel((190, 10))  # stored top-left: now top-right
        assert red > 200 and green < 60


def test_a_png_with_an_orientation_tag_is_turned_for_the_browser(tmp_path: Path) -> None:
    img = Image.new("RGB", (90, 30), (0, 0, 255))
    exif = Image.Exif()
    exif[EXIF_ORIENTATION] = 8
    out = io.BytesIO()
    img.save(out, "PNG", exif=exif)
    path = tmp_path / "tagged.png"
    path.write_bytes(out.getvalue())
    shown = display_image(path, None, sha(out.getvalue()))
    assert shown.matches is True and shown.mime == "image/png"
    assert (shown.width, shown.height) == (30, 90) == size_of(shown.data)


def test_files_that_cannot_be_shown_give_short_errors(tmp_path: Path) -> None:
    text = tmp_path / "notes.txt"
    text.write_text("not an image")
    with pytest.raises(DisplayError, match="not an image") as caught:
        display_image(text, None, None)
    assert str(tmp_path) not in str(caught.value)
    big = tmp_path / "big.jpg"
    big.write_bytes(jpeg())
    with pytest.raises(DisplayError, match="not shown"):
        display_image(big, None, None, max_source_bytes=100)
    with pytest.raises(DisplayError, match="cannot be read"):
        display_image(tmp_path / "gone.jpg", None, None)
    with pytest.raises(DisplayError, match="is a directory"):
        display_image(tmp_path, None, None)
    os.mkfifo(tmp_path / "pipe")
    with pytest.raises(DisplayError, match="not a regular file"):  # without waiting
        display_image(tmp_path / "pipe", None, None)
    (tmp_path / "empty.jpg").write_bytes(b"")
    with pytest.raises(DisplayError, match="empty"):
        display_image(tmp_path / "empty.jpg", None, None)


def test_index_display_compares_only_the_rows_own_page(tmp_path: Path) -> None:
    (tmp_path / "doc.pdf").write_bytes(pdf(2))
    pages = load_local(os.fspath(tmp_path / "doc.pdf"), shrink=True).pages
    assert pages is not None
    index = ImageIndex(
        ["doc.pdf", "doc.pdf", "http://h/x.jpg"],
        [1, 2, None],
        [pages[0].sha256, pages[1].sha256, None],
        base_dir=tmp_path,
    )
    assert index.display(1).matches is True and index.display(1).data == pages[1].data
    assert index.display(1, 1).matches is None and index.display(1, 1).data == pages[0].data
    assert index.display(0, 1).matches is True
    with pytest.raises(DisplayError, match="a URL, not fetched"):
        index.display(2)


def test_what_the_emulator_received_is_what_is_shown(tmp_path: Path) -> None:
    """End to end: a real run to Parquet; every row's image, rebuilt, has the sha256 of the
    bytes the engine received, in the upright space the answer's positions use."""
    (tmp_path / "turned.jpg").write_bytes(phone_photo(1400, 1000, orientation=6))
    (tmp_path / "doc.pdf").write_bytes(pdf(2))
    (tmp_path / "small.jpg").write_bytes(jpeg())
    limit = len((tmp_path / "turned.jpg").read_bytes())  # the photo must be re-encoded
    paths = [os.fspath(tmp_path / n) for n in ("turned.jpg", "doc.pdf", "small.jpg")]
    out = tmp_path / "out.parquet"
    with WeChatEmulator() as emu:
        engine = of.WeChatEngine(appid=emu.appid, secret=emu.secret, base_url=emu.base_url)
        of.recognize_to_parquet(
            pd.Series(paths),
            "comm",
            out,
            engine=engine,
            cache_dir=False,
            progress=False,
            max_bytes=limit,
        )
        received = set(emu.billed)
    df = of.read_parquet(out)
    assert len(df) == 4 and (df["errcode"] == 0).all()
    index = ImageIndex(
        df["source"].tolist(), df["page"].tolist(), df["sha256"].tolist(), base_dir=tmp_path
    )
    shown = [index.display(i, max_bytes=limit) for i in range(len(index))]
    assert all(s.matches is True for s in shown)
    assert {sha(s.data) for s in shown} == received
    assert (shown[0].width, shown[0].height) == (1000, 1400)  # upright
    assert [s.page_count for s in shown] == [1, 2, 2, 1]


# --- thumbnails and data URIs ------------------------------------------------------


def test_thumbnails_are_small_upright_and_blurred_past_reading() -> None:
    photo = Image.new("L", (800, 500), 255)
    draw = ImageDraw.Draw(photo)
    for x in range(0, 800, 16):  # fine strokes, like printed digits
        draw.line((x, 0, x, 500), fill=0, width=3)
    out = io.BytesIO()
    photo.save(out, "JPEG", quality=95, exif=_exif(6))
    plain = thumbnail(out.getvalue())
    blurred = thumbnail(out.getvalue(), blur=True)
    assert size_of(plain) == size_of(blurred) == (100, 160)  # upright: portrait
    assert max(size_of(thumbnail(out.getvalue(), side=40))) == 40

    def spread(data: bytes) -> float:
        with Image.open(io.BytesIO(data)) as img:
            return float(ImageStat.Stat(img.convert("L")).stddev[0])

    assert spread(blurred) < spread(plain) / 4
    with Image.open(io.BytesIO(plain)) as img:
        assert img.format == "JPEG" and not img.getexif()
    shown = Shown(out.getvalue(), "image/jpeg", 500, 800, 1, None)
    assert thumbnail(shown) == plain
    with pytest.raises(DisplayError):
        thumbnail(b"not an image")


def _exif(orientation: int) -> Image.Exif:
    exif = Image.Exif()
    exif[EXIF_ORIENTATION] = orientation
    return exif


def test_data_uri() -> None:
    uri = data_uri(b"\xff\xd8\xff", "image/jpeg")
    assert uri == "data:image/jpeg;base64," + base64.b64encode(b"\xff\xd8\xff").decode()
    with pytest.raises(ValueError):
        data_uri(b"x", 'image/png" onerror="alert(1)')


def test_a_heic_photo_is_shown_as_the_jpeg_the_run_sent(tmp_path: Path) -> None:
    pillow_heif = pytest.importorskip("pillow_heif")
    pillow_heif.register_heif_opener()
    out = io.BytesIO()
    Image.new("RGB", (320, 200), (20, 120, 220)).save(out, "HEIF", quality=90)
    path = tmp_path / "photo.heic"
    path.write_bytes(out.getvalue())
    sent = load_local(os.fspath(path), shrink=True)
    assert sent.data is not None and sent.sha256 != sha(out.getvalue())
    shown = display_image(path, None, sent.sha256)
    assert shown.matches is True and shown.mime == "image/jpeg" and shown.data == sent.data
    assert (shown.width, shown.height) == (320, 200)
