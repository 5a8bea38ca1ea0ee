"""The local engine on documents of the independent generator (``bench/datasets``): every
layout form of every kind it makes, and photos turned by 90, 180 and 270 degrees, read with
exact field values.

The cases name only (kind, index, variant) of the TUNE split (never the report split) and
the layout form (and quarter turn) that index was picked for; the expected values are the
generator's own truth.  Every document is drawn in Noto Sans CJK from the
manimgx-fonts-cjk wheel (``font_mode("wheel")``, face "sans"), whatever fonts the machine
has, so the images are the same on every machine.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from collections.abc import Mapping
from typing import Any

import pytest

from bench.common import norm, price
from bench.datasets import build
from bench.datasets._common import REPORT_SEEDS, TUNE_SEEDS, font_mode
from ocr_frames.local import LocalEngine
from tests.helpers import REPO

#: (kind, tune-split index, variant, layout form wanted, quarter turn wanted).
CASES = [
    ("bizlicense", 1, "clean", "正本", 0),
    ("bizlicense", 0, "clean", "副本", 0),
    ("bizlicense", 2, "noisy", "正本", 0),
    ("bizlicense", 0, "noisy", "副本", 0),
    ("driving", 0, "clean", "main", 0),
    ("driving", 4, "clean", "main+sub", 0),
    ("driving", 3, "clean", "main/sub", 0),
    ("driving", 0, "noisy", "main+sub", 0),
    ("drivinglicense", 2, "clean", "main/one-line", 0),
    ("drivinglicense", 0, "clean", "main/two-lines", 0),
    ("drivinglicense", 5, "clean", "main/start+end", 0),
    ("drivinglicense", 1, "noisy", "main/sub/one-line", 0),
    ("idcard", 3, "clean", "front", 0),
    ("idcard", 0, "clean", "back", 0),
    ("idcard", 0, "noisy", "front", 0),
    ("idcard", 2, "noisy", "back", 0),
    ("menu", 1, "clean", "menu-2col", 0),
    ("menu", 6, "clean", "menu-3col", 0),
    ("menu", 1, "noisy", "menu-3col", 0),
    ("comm", 1, "clean", "page-2col", 0),
    ("comm", 0, "noisy", "page-2col", 0),
    ("idcard", 0, "photo", "front", 90),
    ("idcard", 10, "photo", "back", 180),
    ("drivinglicense", 27, "photo", "main/one-line", 270),
]
_SKIP = frozenset({"errcode", "errmsg", "rid", "img_size"})


def generated(
    kind: str, index: int, variant: str, split: str = "tune"
) -> tuple[bytes, dict[str, Any]]:
    """One document of the generator, drawn with the wheel's font only, face "sans"."""
    with font_mode("wheel"):
        return build.make_one(kind, split, index, variant, face="sans")


def differences(want: Mapping[str, Any], got: Mapping[str, Any]) -> list[str]:
    """What the answer ``got`` gets wrong against the truth ``want`` (NFKC, whitespace
    removed): every text field, no invented text field, comm lines and menu items (name,
    price) all and in order."""
    if "items" in want:
        lines = [norm(i["text"]) for i in want["items"]]
        read = [norm(i.get("text", "")) for i in got.get("items") or []]
        return [] if lines == read else [f"items: want {lines}\n       got  {read}"]
    if "menu_items" in want:
        items = [(norm(i["name"]), price(i["price"])) for i in want["menu_items"]]
        read_items = [
            (norm(i.get("name", "")), price(i.get("price"))) for i in got.get("menu_items") or []
        ]
        return [] if items == read_items else [f"menu: want {items}\n      got  {read_items}"]
    wrong = [
        f"{key}: want {value!r} got {got.get(key)!r}"
        for key, value in want.items()
        if isinstance(value, str)
        and not (isinstance(got.get(key), str) and norm(got[key]) == norm(value))
    ]
    wrong += [
        f"{key}: not in the truth, got {value!r}"
        for key, value in got.items()
        if key not in want and key not in _SKIP and isinstance(value, str) and value
    ]
    return wrong


def _case_id(kind: str, index: int, variant: str, layout: str, turn: int) -> str:
    form = {"正本": "original", "副本": "duplicate"}.get(layout, layout)
    return f"{kind}-{index}-{variant}-{form}" + (f"-{turn}deg" if turn else "")


@pytest.fixture(scope="module")
def engine() -> LocalEngine:
    local = LocalEngine()
    local.warm_up()
    return local


@pytest.mark.parametrize(
    ("kind", "index", "variant", "layout", "turn"),
    CASES,
    ids=[_case_id(*case) for case in CASES],
)
def test_engine_reads_every_field_of_a_generated_document(
    engine: LocalEngine, kind: str, index: int, variant: str, layout: str, turn: int
) -> None:
    data, entry = generated(kind, index, variant)
    # the generator still makes the form this index was chosen for
    assert (entry["layout"], entry["rotation"], entry["face"]) == (layout, turn, "sans")
    assert entry["split"] == "tune" and entry["seed"] not in REPORT_SEEDS  # never the report
    got = engine.recognize_one(data, kind)
    assert got.get("errcode", 0) == 0, got
    wrong = differences(entry["answer"], got)
    assert not wrong, "\n".join(wrong)


#: (kind, index, variant) whose bytes are compared across processes.
_SAME = [(kind, 0, build.VARIANTS[n % len(build.VARIANTS)]) for n, kind in enumerate(build.KINDS)]
_DIGEST = """
import hashlib, json, sys
from bench.datasets import build
out = {}
for kind, index, variant in json.loads(sys.argv[1]):
    data, entry = build.make_one(kind, "tune", index, variant, face="sans")
    out[f"{kind}/{index}/{variant}"] = [hashlib.sha256(data).hexdigest(), entry]
print(json.dumps(out, ensure_ascii=False))
"""


def test_the_generator_is_reproducible() -> None:
    """Same arguments, same bytes and truth: here, after other documents were made, and in
    a fresh process with another hash seed that chooses wheel mode by the environment."""
    here: dict[str, Any] = {}
    for kind, index, variant in _SAME:
        data, entry = generated(kind, index, variant)
        here[f"{kind}/{index}/{variant}"] = [hashlib.sha256(data).hexdigest(), entry]
    env = {**os.environ, "OCR_FRAMES_BENCH_FONTS": "wheel", "PYTHONHASHSEED": "12345"}
    run = subprocess.run(
        [sys.executable, "-c", _DIGEST, json.dumps(_SAME)],
        capture_output=True,
        text=True,
        env=env,
        cwd=REPO,
        check=True,
        timeout=100,
    )
    assert json.loads(run.stdout) == here


def test_the_tune_and_report_splits_never_share_a_seed() -> None:
    assert max(TUNE_SEEDS) < min(REPORT_SEEDS)
    _, entry = generated("idcard", 0, "clean", split="report")
    assert entry["split"] == "report" and entry["seed"] in REPORT_SEEDS
    _, entry = generated("idcard", 0, "clean", split="tune")
    assert entry["split"] == "tune" and entry["seed"] in TUNE_SEEDS
