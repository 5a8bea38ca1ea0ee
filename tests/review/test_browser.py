"""``ocr-frames review`` in a real browser (Chromium driven by Playwright), end to end.

One server (a real subprocess, values masked as by default) and one browser serve the
module; the output is the real pipeline's (``conftest.review_base``), row 4's image is
deleted so its page must say so.  Every test also asserts that the page logged no console
error, threw nothing and broke no Content-Security-Policy rule.

``OCR_FRAMES_SCREENSHOT=1`` rewrites ``docs/review.png`` (the README's screenshot).
"""

from __future__ import annotations

import getpass
import io
import os
import re
import stat
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone

import pandas as pd
import pytest
from PIL import Image
from playwright.sync_api import Browser, ConsoleMessage, Error, Page, ViewportSize, expect

from ocr_frames.mask import mask_frame
from ocr_frames.review import apply_reviews, read_reviews
from ocr_frames.review._view import editable_fields
from tests.helpers import REPO, run_cli
from tests.review.conftest import FLAGGED, KIND, ReviewProcess, StartReview, Workspace

MISSING_ROW = 4  # its image is deleted from this module's workspace
APPROVE_ROW, CORRECT_ROW, SHOT_ROW = 1, 3, 2
VIEWPORT: ViewportSize = {"width": 1200, "height": 800}
# collects CSP violations from the first script on (Playwright's init scripts bypass CSP)
WATCH_CSP = (
    "window.__csp = [];"
    "document.addEventListener('securitypolicyviolation',"
    " (e) => window.__csp.push(e.violatedDirective + ' ' + e.blockedURI));"
)
IMAGE_LOADED = "() => { const i = document.querySelector('img.of-image'); return i && i.complete; }"


@dataclass
class Watched:
    """A page, with the console errors and uncaught exceptions it produced."""

    page: Page
    errors: list[str] = field(default_factory=list)

    def csp_violations(self) -> list[str]:
        found: list[str] = self.page.evaluate("window.__csp || []")
        return found

    def assert_clean(self) -> None:
        assert self.errors == [], f"console errors: {self.errors}"
        assert self.csp_violations() == []


@pytest.fixture(scope="module")
def ws(workspace: Callable[[str], Workspace]) -> Workspace:
    folder = workspace("browser")
    (folder.images / f"driving_0{MISSING_ROW + 1}.jpg").unlink()
    return folder


@pytest.fixture(scope="module")
def server(ws: Workspace, start_review: StartReview) -> Iterator[ReviewProcess]:
    with start_review(ws) as running:
        yield running


@pytest.fixture
def watched(browser: Browser) -> Iterator[Watched]:
    context = browser.new_context(viewport=VIEWPORT)
    context.add_init_script(WATCH_CSP)
    page = context.new_page()
    page.set_default_timeout(10_000)
    out = Watched(page)

    def on_console(message: ConsoleMessage) -> None:
        if message.type == "error":
            out.errors.append(message.text)

    def on_error(error: Error) -> None:
        out.errors.append(f"uncaught: {error}")

    page.on("console", on_console)
    page.on("pageerror", on_error)
    try:
        yield out
    finally:
        context.close()


def _rows_shown(page: Page) -> list[int]:
    rows: list[int] = page.locator("tr.of-line").evaluate_all(
        "lines => lines.map((tr) => Number(tr.dataset.row))"
    )
    return rows


def _badge(page: Page) -> str:
    return page.locator(".of-row .of-status").inner_text()


def test_list_shows_exactly_the_flagged_rows(
    server: ReviewProcess, ws: Workspace, watched: Watched
) -> None:
    page = watched.page
    page.goto(server.first_line.removeprefix("review: "))
    frame = ws.frame()
    flagged = [i for i, f in enumerate(frame["needs_review"]) if f]
    assert flagged == list(FLAGGED)
    assert sorted(_rows_shown(page)) == flagged
    for i in flagged:  # each line lists that row's reasons, as the output says them
        chips = page.locator(f"tr.of-line[data-row='{i}'] .of-reason").all_inner_texts()
        assert chips == list(frame["review_reasons"][i])
    page.get_by_role("link", name=re.compile(r"^all \(")).click()
    page.wait_for_url(re.compile(r"filter=all"))
    assert sorted(_rows_shown(page)) == list(range(len(frame)))
    watched.assert_clean()


def _points(text: str) -> list[tuple[float, float]]:
    return [(float(x), float(y)) for x, y in (p.split(",") for p in text.split())]


def _area(points: list[tuple[float, float]]) -> float:
    pairs = zip(points, points[1:] + points[:1], strict=True)
    return abs(sum(x0 * y1 - x1 * y0 for (x0, y0), (x1, y1) in pairs)) / 2


def test_row_shows_the_image_with_the_card_box(
    server: ReviewProcess, ws: Workspace, watched: Watched
) -> None:
    page = watched.page
    page.goto(server.url("/"))
    page.locator(f"tr.of-line[data-row='{SHOT_ROW}'] a").click()
    page.wait_for_url(re.compile(rf"/rows/{SHOT_ROW}\?"))
    page.wait_for_function(IMAGE_LOADED)
    image = page.locator("img.of-image")
    with Image.open(ws.images / f"driving_0{SHOT_ROW + 1}.jpg") as original:
        size = original.size
    assert image.evaluate("i => [i.naturalWidth, i.naturalHeight]") == list(size)
    polygons = page.locator("svg.of-overlay polygon")
    assert polygons.count() >= 1
    drawn = _points(polygons.first.get_attribute("points") or "")
    row = ws.frame().iloc[SHOT_ROW]
    corners = ("left_top", "right_top", "right_bottom", "left_bottom")
    front = [
        (float(row[f"card_position_front_pos_{c}_x"]), float(row[f"card_position_front_pos_{c}_y"]))
        for c in corners
    ]
    assert drawn == front
    assert _area(drawn) > 0.05 * size[0] * size[1]
    # the overlay lies exactly over the image, so the boxes line up at any display size
    boxes = page.evaluate(
        "['img.of-image', 'svg.of-overlay'].map((s) => {"
        " const e = document.querySelector(s), r = e.getBoundingClientRect();"
        " return [r.left + e.clientLeft, r.top + e.clientTop, e.clientWidth, e.clientHeight]; })"
    )
    assert boxes[0][2] > 100
    assert boxes[1] == pytest.approx(boxes[0], abs=1)
    watched.assert_clean()


def test_keys_move_between_flagged_rows_and_show_help(
    server: ReviewProcess, watched: Watched
) -> None:
    page = watched.page
    page.goto(server.url(f"/rows/{FLAGGED[0]}"))
    assert page.locator("#of-prev").count() == 0  # the first flagged row
    for i in FLAGGED[1:3]:
        page.keyboard.press("j")
        page.wait_for_url(re.compile(rf"/rows/{i}\?"))
    page.keyboard.press("k")
    page.wait_for_url(re.compile(rf"/rows/{FLAGGED[1]}\?"))
    help_box = page.locator("#of-help")
    expect(help_box).to_be_hidden()
    page.keyboard.press("?")
    expect(help_box).to_be_visible()
    expect(help_box).to_contain_text("approve the row")
    page.keyboard.press("Escape")
    expect(help_box).to_be_hidden()
    # the list: j selects the next line, Enter opens it
    page.goto(server.url("/"))
    page.keyboard.press("j")
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(rf"/rows/{sorted(FLAGGED)[1]}\?"))
    watched.assert_clean()


def test_missing_image_says_so_and_the_page_works(server: ReviewProcess, watched: Watched) -> None:
    page = watched.page
    page.goto(server.url(f"/rows/{MISSING_ROW}"))
    expect(page.locator(".of-missing")).to_contain_text("Image not available")
    expect(page.locator(".of-missing")).to_contain_text("not found")
    assert page.locator("img.of-image").count() == 0
    assert page.locator("tr.of-field").count() == len(editable_fields(KIND))
    page.keyboard.press("r")
    expect(page.locator(".of-row .of-status")).to_have_text("rejected")
    page.keyboard.press("?")
    expect(page.locator("#of-help")).to_be_visible()
    watched.assert_clean()


def test_csp_blocks_inline_script_and_outside_images(
    server: ReviewProcess, watched: Watched
) -> None:
    """The guard the other tests rely on: what the policy forbids is refused and seen."""
    page = watched.page
    page.goto(server.url(f"/rows/{SHOT_ROW}"))
    watched.assert_clean()
    page.evaluate(
        "() => { const s = document.createElement('script'); s.textContent = 'window.__ran = 1';"
        " document.body.appendChild(s); const i = document.createElement('img');"
        " i.src = 'http://127.0.0.2:9/x.png'; document.body.appendChild(i); }"
    )
    page.wait_for_function("window.__csp.length >= 2")
    assert page.evaluate("window.__ran") is None
    found = " ".join(watched.csp_violations())
    assert "script-src" in found
    assert "img-src" in found
    assert watched.errors  # Chromium reports each refusal on the console too


def test_screenshot_of_a_flagged_row(
    server: ReviewProcess, ws: Workspace, watched: Watched
) -> None:
    """The README's screenshot: a flagged row with its box, values masked."""
    page = watched.page
    page.goto(server.url(f"/rows/{SHOT_ROW}"))
    page.wait_for_function(IMAGE_LOADED)
    row = ws.frame().iloc[SHOT_ROW]
    text = page.locator("body").inner_text()
    for personal in ("owner", "vin", "addr", "engine_num"):
        assert str(row[personal]) not in text, f"{personal} is shown unmasked"
    assert str(mask_frame(ws.frame(), KIND)["owner"][SHOT_ROW]) in text
    # the least sure field has the focus: owner (0.42, red) before model (0.70, amber)
    assert page.locator("tr.of-field.of-focused").get_attribute("data-field") == "owner"
    shot = page.screenshot()
    with Image.open(io.BytesIO(shot)) as image:
        assert image.size == (VIEWPORT["width"], VIEWPORT["height"])
        assert sum(1 for n in image.convert("L").histogram() if n) > 50  # not a blank page
    if os.environ.get("OCR_FRAMES_SCREENSHOT") == "1":
        (REPO / "docs" / "review.png").write_bytes(shot)
    watched.assert_clean()


def _focus_field(page: Page, name: str) -> None:
    names = [
        str(n)
        for n in page.locator("tr.of-field").evaluate_all("t => t.map((r) => r.dataset.field)")
    ]
    for _ in names:
        page.keyboard.press("ArrowUp")
    for _ in range(names.index(name)):
        page.keyboard.press("ArrowDown")
    assert page.locator("tr.of-field.of-focused").get_attribute("data-field") == name


def test_approve_correct_reload_and_apply(
    server: ReviewProcess, ws: Workspace, watched: Watched
) -> None:
    """approve with ``a``; correct a field with ``e``, typing, Enter; both survive a
    reload, are in the reviews file, and apply (library and ``--apply``)."""
    page, started = watched.page, datetime.now(timezone.utc)
    frame = ws.frame()
    page.goto(server.url(f"/rows/{APPROVE_ROW}"))
    assert _badge(page) == "unreviewed"
    page.keyboard.press("a")
    expect(page.locator(".of-row .of-status")).to_have_text("approved")
    page.reload()
    assert _badge(page) == "approved"

    good, bad = str(frame["vin_suggested"][CORRECT_ROW]), str(frame["vin"][CORRECT_ROW])
    fixed = frame.copy()
    fixed.loc[CORRECT_ROW, "vin"] = good
    masked_good = str(mask_frame(fixed, KIND)["vin"][CORRECT_ROW])
    assert masked_good != good and masked_good[-4:] == good[-4:] != bad[-4:]
    page.goto(server.url(f"/rows/{CORRECT_ROW}"))
    vin = page.locator("tr.of-field[data-field='vin']")
    assert vin.locator(".of-text").inner_text() == str(mask_frame(frame, KIND)["vin"][CORRECT_ROW])
    _focus_field(page, "vin")
    page.keyboard.press("e")  # e, then Enter with nothing typed: no correction recorded
    page.keyboard.press("Enter")
    expect(page.locator("#of-message")).to_have_text("nothing changed")
    assert _badge(page) == "unreviewed"
    page.keyboard.press("e")
    editor = vin.locator("input")
    expect(editor).to_be_focused()
    page.keyboard.type(good)
    page.keyboard.press("Enter")
    expect(page.locator(".of-row .of-status")).to_have_text("corrected")
    expect(vin.locator(".of-text")).to_have_text(masked_good)
    assert editor.count() == 0
    page.reload()
    assert _badge(page) == "corrected"
    expect(vin.locator(".of-text")).to_have_text(masked_good)
    expect(vin).to_have_class(re.compile(r"\bof-corrected\b"))
    watched.assert_clean()

    # the reviews file: both decisions, by whom and when, private
    assert stat.S_IMODE(ws.reviews.stat().st_mode) == 0o600
    reviews = read_reviews(ws.reviews)
    mine = reviews[reviews["row"].isin([APPROVE_ROW, CORRECT_ROW])]
    assert mine["decision"].tolist() == ["approve", "correct"]
    approve, correct = mine.iloc[0], mine.iloc[1]
    assert pd.isna(approve["field"])
    assert (correct["field"], correct["old"], correct["new"]) == ("vin", bad, good)
    assert set(mine["reviewer"]) == {getpass.getuser()}
    assert all(started <= at <= datetime.now(timezone.utc) for at in mine["at"])
    assert list(mine["sha256"]) == list(frame["sha256"][[APPROVE_ROW, CORRECT_ROW]])

    # applied: the corrected value, the statuses, and the VIN check passes now
    applied = apply_reviews(pd.read_parquet(ws.output), reviews, kind=KIND)
    assert applied["vin"][CORRECT_ROW] == good
    assert applied["review_status"][APPROVE_ROW] == "approved"
    assert applied["review_status"][CORRECT_ROW] == "corrected"
    assert applied["review_status"][0] == "unreviewed"
    assert not frame["check_vin_checksum"][CORRECT_ROW]
    assert applied["check_vin_checksum"][CORRECT_ROW]

    # the same from the shell
    corrected = ws.root / "corrected.parquet"
    done = run_cli("review", str(ws.output), "--apply", str(corrected))
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"wrote {corrected}: {len(frame)} rows")
    written = pd.read_parquet(corrected)
    assert written["vin"][CORRECT_ROW] == good
    assert written["review_status"][[APPROVE_ROW, CORRECT_ROW]].tolist() == [
        "approved",
        "corrected",
    ]
    assert stat.S_IMODE(corrected.stat().st_mode) == 0o600
