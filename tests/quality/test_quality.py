"""The quality and tamper warnings of ``ocr_frames._quality`` on real sample images.

Each warning is shown firing on a degradation of ``sample_data/idcard/idcard_01.jpg`` made
here with Pillow and numpy, and silent on the untouched card; the two bundled images of
``sample_data/quality/`` raise theirs; bytes that are no image give ``None``.
"""

from __future__ import annotations

import io
import math

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageEnhance, ImageFilter, PngImagePlugin

from ocr_frames._quality import PENALTIES, WARNINGS, Quality, assess
from tests.helpers import REPO

CARD = REPO / "sample_data" / "idcard" / "idcard_01.jpg"
QUALITY = REPO / "sample_data" / "quality"


def jpeg(image: Image.Image, **params: object) -> bytes:
    buf = io.BytesIO()
    image.save(buf, "JPEG", quality=92, **params)
    return buf.getvalue()


def png(image: Image.Image, **params: object) -> bytes:
    buf = io.BytesIO()
    image.save(buf, "PNG", **params)
    return buf.getvalue()


def check(data: bytes) -> Quality:
    quality = assess(data)
    assert quality is not None
    return quality


@pytest.fixture(scope="module")
def card() -> Image.Image:
    return Image.open(CARD).convert("RGB")


def _glare(card: Image.Image) -> Image.Image:
    """A saturated highlight with a soft edge over the middle of the card's text."""
    h, w = card.height, card.width
    ys, xs = np.ogrid[:h, :w]
    cx, cy, sx, sy = w * 0.55, h * 0.45, w * 0.09, h * 0.12
    strength = np.minimum(
        1.0, 2.5 * np.exp(-((xs - cx) ** 2 / (2 * sx**2) + (ys - cy) ** 2 / (2 * sy**2)))
    )
    arr = np.asarray(card, np.float32)
    return Image.fromarray(
        np.clip(arr + (255 - arr) * strength[..., None], 0, 255).astype(np.uint8)
    )


def _copy(card: Image.Image) -> Image.Image:
    grey = ImageEnhance.Contrast(card.convert("L")).enhance(1.6)
    noise = np.random.default_rng(7).normal(0, 4, (grey.height, grey.width))
    return Image.fromarray(np.clip(np.asarray(grey) + noise, 0, 255).astype(np.uint8)).convert(
        "RGB"
    )


def _screen(card: Image.Image) -> Image.Image:
    h, w = card.height, card.width
    ys, xs = np.mgrid[:h, :w].astype(np.float32)
    grid = (1 - 0.3 * (0.5 + 0.5 * np.cos(2 * np.pi * (xs + 0.05 * ys) / 4))) * (
        1 - 0.3 * (0.5 + 0.5 * np.cos(2 * np.pi * (ys - 0.05 * xs) / 4))
    )
    shown = Image.fromarray(
        np.clip(np.asarray(card, np.float32) * grid[..., None] / grid.mean(), 0, 255).astype(
            np.uint8
        )
    )
    scale = 0.7
    return shown.transform(
        (round(w * scale), round(h * scale)),
        Image.Transform.AFFINE,
        (1 / scale, 0, 0, 0, 1 / scale, 0),
        Image.Resampling.BILINEAR,
    )


def _occluded(card: Image.Image) -> Image.Image:
    out = card.copy()
    w, h = card.size
    rx = math.sqrt(0.15 * w * h * 1.4 / math.pi)
    ry = 0.15 * w * h / (math.pi * rx)
    ImageDraw.Draw(out).ellipse(
        (w * 0.45 - rx, h * 0.5 - ry, w * 0.45 + rx, h * 0.5 + ry), fill=(222, 170, 140)
    )
    return out.filter(ImageFilter.GaussianBlur(1))


DEGRADATIONS = {
    "warn_blur": lambda c: c.filter(ImageFilter.GaussianBlur(4 * max(c.size) / 1000)),
    "warn_glare": _glare,
    "warn_greyscale_copy": _copy,
    "warn_screen_reshoot": _screen,
    "warn_incomplete": lambda c: c.crop((int(c.width * 0.3), 0, c.width, int(c.height * 0.75))),
    "warn_occluded": _occluded,
    "warn_low_resolution": lambda c: c.resize(
        (200, round(c.height * 200 / c.width)), Image.Resampling.LANCZOS
    ),
}


def test_the_untouched_card_raises_nothing() -> None:
    quality = check(CARD.read_bytes())
    assert quality.warnings == frozenset()
    assert quality.score == 100
    assert set(quality.measures) == set(WARNINGS)


@pytest.mark.parametrize("warning", sorted(DEGRADATIONS))
def test_each_warning_fires_on_its_degradation(card: Image.Image, warning: str) -> None:
    original = check(jpeg(card))
    degraded = check(jpeg(DEGRADATIONS[warning](card)))
    assert warning not in original.warnings
    assert warning in degraded.warnings, degraded.measures
    assert degraded.score <= 100 - PENALTIES[warning]


def test_the_bundled_blurred_card_raises_warn_blur() -> None:
    quality = check((QUALITY / "idcard_blurred.jpg").read_bytes())
    assert "warn_blur" in quality.warnings
    assert "warn_screen_reshoot" not in quality.warnings


def test_the_bundled_screen_photo_raises_warn_screen_reshoot() -> None:
    quality = check((QUALITY / "idcard_screen.jpg").read_bytes())
    assert "warn_screen_reshoot" in quality.warnings
    assert "warn_blur" not in quality.warnings


@pytest.mark.parametrize(
    ("software", "edited"),
    [
        ("Adobe Photoshop 25.0 (Windows)", True),
        ("GIMP 2.10.34", True),
        ("美图秀秀", True),
        ("HDR+ 1.0.540104767zd", False),
        ("iOS 17.1", False),
        ("MIUI Camera", False),
    ],
)
def test_exif_software_of_an_editor_fires_warn_edited(
    card: Image.Image, software: str, edited: bool
) -> None:
    exif = Image.Exif()
    exif[0x0131] = software if software.isascii() else software.encode("utf-8")
    quality = check(jpeg(card, exif=exif.tobytes()))
    assert ("warn_edited" in quality.warnings) is edited


def test_png_text_and_xmp_traces_fire_warn_edited(card: Image.Image) -> None:
    info = PngImagePlugin.PngInfo()
    info.add_text("Software", "GIMP 2.10.34")
    assert "warn_edited" in check(png(card, pnginfo=info)).warnings
    xmp = (
        b'<x:xmpmeta xmlns:x="adobe:ns:meta/">'
        b'<rdf:Description xmp:CreatorTool="Pixelmator Pro 3.5"/></x:xmpmeta>'
    )
    assert "warn_edited" in check(jpeg(card, xmp=xmp)).warnings


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n",
        b"not an image at all",
        CARD.read_bytes()[:5000],
    ],
    ids=["empty", "pdf", "text", "truncated-jpeg"],
)
def test_bytes_that_are_no_image_give_none(data: bytes) -> None:
    assert assess(data) is None


def test_a_png_and_a_greyscale_png_are_assessed(card: Image.Image) -> None:
    colour = check(png(card))
    assert colour.warnings == frozenset()
    grey = check(png(card.convert("L")))
    assert "warn_greyscale_copy" in grey.warnings
    assert grey.warnings <= set(WARNINGS)


def test_exif_orientation_is_applied(card: Image.Image) -> None:
    """A card stored sideways with an orientation tag is assessed upright: same sizes."""
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 CW to display
    sideways = check(jpeg(card.transpose(Image.Transpose.ROTATE_90), exif=exif.tobytes()))
    upright = check(jpeg(card))
    assert sideways.warnings == upright.warnings
    assert sideways.measures["warn_low_resolution"] == pytest.approx(
        upright.measures["warn_low_resolution"], rel=0.05
    )


def _sparse_page() -> Image.Image:
    """A cream page with short dark strokes spread thinly over it (mostly blank paper)."""
    page = Image.new("RGB", (1200, 850), (236, 232, 222))
    draw = ImageDraw.Draw(page)
    for row in range(60, 800, 90):
        for col in range(60, 1140, 180):
            draw.rectangle((col, row, col + 70, row + 6), fill=(40, 40, 45))
    return page


def _highlight(image: Image.Image, share: float) -> Image.Image:
    """Light added over an ellipse of ``share`` of the image, clipped (a specular glare)."""
    w, h = image.size
    ys, xs = np.ogrid[:h, :w]
    a = math.sqrt(share * w * h * 1.3 / math.pi)
    b = share * w * h / (math.pi * a)
    r2 = ((xs - w * 0.5) / a) ** 2 + ((ys - h * 0.5) / b) ** 2
    strength = np.minimum(1.0, 2.5 * np.exp(-r2 * math.log(5.0)))[..., None]
    light = 255 * 1.3 * np.array([0.92, 0.97, 1.0], np.float32)
    arr = np.asarray(image, np.float32) + strength * light
    return Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8))


def test_a_glare_larger_than_the_blank_paper_still_fires() -> None:
    """The clipped glare is left out of the paper level: on a sparse page it covers more
    edge-free cells than the paper shows, and must not lift the paper to its own white."""
    page = _sparse_page()
    assert "warn_glare" not in check(jpeg(page)).warnings
    glared = check(jpeg(_highlight(page, 0.3)))
    assert "warn_glare" in glared.warnings, glared.measures


def test_a_shaded_finger_fires_warn_occluded(card: Image.Image) -> None:
    """A fingertip is a lit cylinder, darker towards its sides: not flat, still an occluder."""
    w, h = card.size
    ys, xs = np.mgrid[:h, :w].astype(np.float32)
    half = h * 0.16
    across = np.abs(xs - w * 0.45) / half  # a vertical finger from the bottom edge
    cover = (across < 1) & (ys > h * 0.35)
    cover |= np.hypot(xs - w * 0.45, ys - h * 0.35) < half
    shade = 1 - 0.35 * np.clip(across, 0, 1) ** 2
    finger = np.array([224, 172, 135], np.float32) * shade[..., None]
    arr = np.where(cover[..., None], finger, np.asarray(card, np.float32))
    blurred = Image.fromarray(arr.astype(np.uint8)).filter(ImageFilter.GaussianBlur(2))
    assert "warn_occluded" in check(jpeg(blurred)).warnings


def test_an_editor_named_in_a_photo_too_big_to_send_survives_the_re_encoding() -> None:
    from ocr_frames._sources.limits import MAX_IMAGE_BYTES
    from ocr_frames._sources.shrink import convert

    noise = np.random.default_rng(3).integers(0, 255, (2400, 3200, 3), dtype=np.uint8)
    exif = Image.Exif()
    exif[0x0131] = "Adobe Photoshop 25.0"
    exif[0x8825] = {2: (39.0, 54.0, 0.0)}  # a GPS position: not carried over
    out = io.BytesIO()
    Image.fromarray(noise).save(out, "JPEG", quality=95, exif=exif.tobytes())
    assert len(out.getvalue()) > MAX_IMAGE_BYTES
    sent = convert(out.getvalue(), MAX_IMAGE_BYTES).pages[0]
    judged = assess(sent)
    assert judged is not None and "warn_edited" in judged.warnings
    kept = Image.open(io.BytesIO(sent)).getexif()
    assert dict(kept) == {0x0131: "Adobe Photoshop 25.0"}
