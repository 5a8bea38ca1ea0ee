"""Documents and formats: multi-page TIFF and PDF give one row per page (``page`` column,
input index repeated), HEIC photos are converted; the issue's "done when" folder."""

from __future__ import annotations

import base64
import hashlib
import io
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest
from fsspec.implementations.memory import MemoryFileSystem
from PIL import Image

import ocr_frames as of
from ocr_frames._sources import shrink as _shrink
from ocr_frames._sources.limits import MAX_IMAGE_BYTES
from ocr_frames._sources.read import load_local
from ocr_frames.cli._inputs import read_images
from ocr_frames.testing import WeChatEmulator
from tests.helpers import cli_env, make_png, phone_photo


def _page(seed: int, size: tuple[int, int] = (320, 200)) -> Image.Image:
    img = Image.new("RGB", size, (250, 250, 250))
    img.paste((seed * 40 % 256, 30, 90), (10 + seed * 20, 10, 60 + seed * 20, 60))
    return img


def tiff(pages: int) -> bytes:
    out = io.BytesIO()
    first, *rest = [_page(i) for i in range(pages)]
    first.save(out, "TIFF", save_all=True, append_images=rest, compression="tiff_deflate")
    return out.getvalue()


def pdf(pages: int) -> bytes:
    """A PDF of scanned pages (Pillow embeds each page as a JPEG)."""
    out = io.BytesIO()
    first, *rest = [_page(i, (600, 400)) for i in range(pages)]
    first.save(out, "PDF", save_all=True, append_images=rest, resolution=100)
    return out.getvalue()


def heic() -> bytes:
    from pillow_heif import register_heif_opener

    register_heif_opener()
    out = io.BytesIO()
    _page(5).save(out, "HEIF", quality=90)
    return out.getvalue()


def test_multipage_tiff_and_pdf_become_pages() -> None:
    for data, count in ((tiff(3), 3), (pdf(2), 2)):
        src = load_local(data, shrink=True)
        assert src.ok and src.pages is not None and src.data is None
        assert [p.page for p in src.pages] == list(range(1, count + 1))
        assert len({p.sha256 for p in src.pages}) == count
        for part in src.pages:
            assert part.data is not None and part.data[:3] == b"\xff\xd8\xff"
            assert part.original_sha256 == hashlib.sha256(data).hexdigest()
    single = io.BytesIO()
    _page(1).save(single, "TIFF")
    assert load_local(single.getvalue(), shrink=True).data == single.getvalue()  # as it is
    assert load_local(tiff(3)).data == tiff(3)  # shrink=False: sent as it is, like before


def test_heic_is_converted_and_missing_extras_are_clear_row_errors(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    src = load_local(heic(), shrink=True)
    assert src.ok and src.page is None and src.data is not None
    with Image.open(io.BytesIO(src.data)) as img:
        assert img.format == "JPEG" and img.size == (320, 200)
    assert load_local(heic()).errcode == 900006  # shrink=False: not sent
    photo, document = heic(), pdf(1)
    monkeypatch.setitem(sys.modules, "pypdfium2", None)  # the extras not installed
    monkeypatch.setitem(sys.modules, "pillow_heif", None)
    no_pdf = load_local(document, shrink=True)
    assert no_pdf.errcode == 900006 and "ocr-frames[pdf]" in no_pdf.errmsg
    no_heif = load_local(photo, shrink=True)
    assert no_heif.errcode == 900006 and "ocr-frames[heic]" in no_heif.errmsg
    broken = load_local(b"%PDF-1.4\n%...", shrink=True)
    assert broken.errcode == 900006 and "PDF" in broken.errmsg


def test_too_many_pages_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_shrink, "MAX_PAGES", 2)
    assert "pages" in load_local(tiff(3), shrink=True).errmsg
    assert "pages" in load_local(pdf(3), shrink=True).errmsg


def _done_when_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "kyc"
    folder.mkdir()
    (folder / "a_phone.jpg").write_bytes(phone_photo())
    (folder / "b_licence.pdf").write_bytes(pdf(2))
    (folder / "c_scan.tiff").write_bytes(tiff(3))
    (folder / "d_iphone.heic").write_bytes(heic())
    return folder


def test_done_when_folder_data_uri_and_memory_path(
    emulator: WeChatEmulator, engine: of.WeChatEngine, tmp_path: Path
) -> None:
    folder = _done_when_folder(tmp_path)
    assert os.path.getsize(folder / "a_phone.jpg") > 6_000_000
    fs = MemoryFileSystem()
    remote = f"/ocr-{uuid.uuid4().hex}/e.png"
    fs.pipe(remote, make_png(11))
    values = [
        *read_images(str(folder)),  # the CLI's folder walk
        "data:image/png;base64," + base64.b64encode(make_png(12)).decode(),
        f"memory://{remote}",
    ]
    series = pd.Series(values, index=[f"row{i}" for i in range(len(values))])
    cache = tmp_path / "cache"
    try:
        df = of.recognize(series, "comm", engine=engine, cache_dir=cache, progress=False)
        assert df["errcode"].tolist() == [0] * 9, df["errmsg"].tolist()
        assert df.index.tolist() == [
            "row0",
            *["row1"] * 2,
            *["row2"] * 3,
            "row3",
            "row4",
            "row5",
        ]
        assert df["page"].tolist() == [pd.NA, 1, 2, 1, 2, 3, pd.NA, pd.NA, pd.NA]
        assert str(df["page"].dtype) == "Int32"
        assert emulator.total_billed == 9 and set(emulator.billed.values()) == {1}
        sent = load_local(values[0], shrink=True).data
        assert sent is not None and len(sent) < MAX_IMAGE_BYTES
        with Image.open(io.BytesIO(sent)) as photo:
            assert photo.height > photo.width  # upright

        again = of.recognize(series, "comm", engine=engine, cache_dir=cache, progress=False)
        assert again["cached"].all() and emulator.total_billed == 9
        pd.testing.assert_series_equal(again["sha256"], df["sha256"])
    finally:
        fs.rm(remote.rsplit("/", 1)[0], recursive=True)


def test_cli_folder_with_documents_repeats_the_source(
    emulator: WeChatEmulator, tmp_path: Path
) -> None:
    folder = tmp_path / "scans"
    folder.mkdir()
    (folder / "licence.pdf").write_bytes(pdf(2))
    (folder / "card.png").write_bytes(make_png(3))
    out = tmp_path / "out.parquet"
    env = cli_env(emulator, tmp_path / "cache")
    args = ["run", str(folder), "--kind", "comm", "--out", str(out), "--no-progress"]
    proc = subprocess.run(
        [sys.executable, "-m", "ocr_frames.cli", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    table = pq.read_table(out)
    pdf_path, png_path = str(folder / "licence.pdf"), str(folder / "card.png")
    assert table.column("source").to_pylist() == [png_path, pdf_path, pdf_path]
    assert table.column("page").to_pylist() == [None, 1, 2]
    assert table.column("errcode").to_pylist() == [0, 0, 0]


def test_dask_partition_with_a_pdf_repeats_the_index(
    emulator: WeChatEmulator, engine: of.WeChatEngine, tmp_path: Path
) -> None:
    dd = pytest.importorskip("dask.dataframe")
    import ocr_frames.dask

    (tmp_path / "a.pdf").write_bytes(pdf(2))
    (tmp_path / "b.png").write_bytes(make_png(21))
    frame = pd.DataFrame({"path": [str(tmp_path / "a.pdf"), str(tmp_path / "b.png")]}, index=[7, 8])
    ddf = dd.from_pandas(frame, npartitions=1)
    out = ocr_frames.dask.recognize(ddf, "path", "comm", engine=engine, cache_dir=False)
    df = out.compute(scheduler="sync")
    assert df.index.tolist() == [7, 7, 8]
    assert df["page"].tolist() == [1, 2, pd.NA]
    assert df["errcode"].tolist() == [0, 0, 0]


def test_symlink_loops_in_a_folder_input_end(tmp_path: Path) -> None:
    folder = tmp_path / "scans"
    (folder / "sub").mkdir(parents=True)
    (folder / "sub" / "a.png").write_bytes(make_png(1))
    (folder / "sub" / "loop").symlink_to(folder, target_is_directory=True)
    (folder / "self").symlink_to(folder / "self")  # a link to itself
    assert read_images(str(folder)) == [str(folder / "sub" / "a.png")]


def _pdf_with_a_missing_page() -> bytes:
    """A PDF that says it has 2 pages but holds 1: PDFium fails to load page 2."""
    stream = b"0 0 1 rg 10 10 50 50 re f"
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Count 2 /Kids [3 0 R] >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 200 100] /Contents 4 0 R >>",
        b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream",
    ]
    out, offsets = b"%PDF-1.4\n", []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        xref,
    )
    return out


def test_a_page_that_cannot_be_rendered_is_one_error_row_not_a_failed_run() -> None:
    values = [make_png(i) for i in range(20)] + [_pdf_with_a_missing_page()]
    values += [make_png(i) for i in range(20, 25)]
    with WeChatEmulator() as emu:
        engine = of.WeChatEngine(appid=emu.appid, secret=emu.secret, base_url=emu.base_url)
        df = of.recognize(
            pd.Series(values),
            "comm",
            engine=engine,
            cache_dir=False,
            chunk_size=8,
            progress=False,
        )
        billed = emu.total_billed
    assert len(df) == 27  # 20 images, the PDF's 2 pages, 5 images
    bad = df[df["errcode"] != 0]
    assert bad["errcode"].tolist() == [900006] and bad["page"].tolist() == [2]
    assert "PDF page cannot be rendered" in bad["errmsg"].iloc[0]
    assert billed == 26  # every other row was sent, and its answer kept


def test_a_broken_multipage_tiff_never_fails_the_run() -> None:
    broken = tiff(3)[: len(tiff(3)) // 2]  # the directory chain ends mid-page
    with WeChatEmulator() as emu:
        engine = of.WeChatEngine(appid=emu.appid, secret=emu.secret, base_url=emu.base_url)
        df = of.recognize(
            pd.Series([make_png(1), broken, make_png(2)]),
            "comm",
            engine=engine,
            cache_dir=False,
            progress=False,
        )
    assert len(df) == 3 and df["errcode"].iloc[[0, 2]].tolist() == [0, 0]
