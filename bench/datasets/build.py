"""Build an evaluation set: every kind x variant x index, reproducibly, with its truth.

The seed of an image is ``split start + crc32("kind/variant/index") % split size``, so the
same arguments always give the same bytes, and an image does not change when other kinds,
variants or counts are added.
"""

from __future__ import annotations

import importlib
import json
import random
import zlib
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

from bench.datasets import photo
from bench.datasets._common import REPORT_SEEDS, TEXT_FACES, TUNE_SEEDS, Sample, pick_face

Generator = Callable[[random.Random, str], Sample]

#: kind -> "module:function"; modules are imported on first use, so kinds whose module is
#: not written yet only fail when asked for.
_SOURCES: dict[str, str] = {
    "idcard": "bench.datasets.cards:generate_idcard",
    "bankcard": "bench.datasets.cards:generate_bankcard",
    "driving": "bench.datasets.vehicle:generate_driving",
    "drivinglicense": "bench.datasets.vehicle:generate_drivinglicense",
    "bizlicense": "bench.datasets.bizlicense:generate_bizlicense",
    "comm": "bench.datasets.text:generate_comm",
    "platenum": "bench.datasets.cards:generate_platenum",
    "menu": "bench.datasets.text:generate_menu",
}
VARIANTS = photo.VARIANTS
SPLITS = {"tune": TUNE_SEEDS, "report": REPORT_SEEDS}


def _lazy(source: str) -> Generator:
    module, name = source.split(":")

    def generate(rng: random.Random, face: str) -> Sample:
        fn: Generator = getattr(importlib.import_module(module), name)
        return fn(rng, face)

    generate.__name__ = name
    generate.__qualname__ = name
    generate.__doc__ = f"{source} (imported on first call)"
    return generate


#: The 8 kinds of the evaluation set and their generators.
KINDS: dict[str, Generator] = {kind: _lazy(src) for kind, src in _SOURCES.items()}


def seed_for(kind: str, split: str, index: int, variant: str) -> int:
    """The seed of one image: stable across runs, Python versions and machines."""
    seeds = SPLITS[split]
    return seeds.start + zlib.crc32(f"{kind}/{variant}/{index}".encode()) % len(seeds)


def make_one(
    kind: str, split: str, index: int, variant: str, face: str | None = None
) -> tuple[bytes, dict[str, Any]]:
    """The encoded image of one (kind, split, index, variant) and its truth entry.

    ``face`` forces the text face (one of ``TEXT_FACES``) instead of drawing it from the
    seed; the face is then not drawn from the random stream at all, so with
    ``OCR_FRAMES_BENCH_FONTS=wheel`` the image does not depend on the fonts a machine has."""
    if split not in SPLITS:
        raise ValueError(f"split must be one of {sorted(SPLITS)}, not {split!r}")
    if face is not None and face not in TEXT_FACES:
        raise ValueError(f"face must be one of {TEXT_FACES}, not {face!r}")
    seed = seed_for(kind, split, index, variant)
    rng = random.Random(seed)
    if face is None:
        face = pick_face(rng, split)
    sample = KINDS[kind](rng, face)
    data, info = photo.render(sample.image, variant, rng)
    entry = {
        "kind": kind,
        "variant": variant,
        "layout": sample.layout,
        "face": sample.face,
        "seed": seed,
        "rotation": info["rotation"],
        "format": info["format"],
        "split": split,
        "answer": sample.answer,
    }
    return data, entry


def jobs(
    per_kind: int, kinds: Iterable[str], variants: Iterable[str]
) -> Iterator[tuple[str, str, int]]:
    """(kind, variant, index) in output order."""
    variants = list(variants)
    for kind in kinds:
        for variant in variants:
            for index in range(per_kind):
                yield kind, variant, index


def generate(
    out: Path,
    split: str,
    per_kind: int,
    kinds: Iterable[str] | None = None,
    variants: Iterable[str] | None = None,
    progress: Callable[[int], object] | None = None,
) -> dict[str, dict[str, Any]]:
    """Write ``out/<kind>/<kind>_<variant>_<index:03d>.<fmt>`` for ``per_kind`` indices of
    every kind and variant, and ``out/truth.json`` (relative path -> entry); returns the
    truth mapping.  ``progress`` is called with 1 after each image."""
    kinds = list(kinds or KINDS)
    variants = list(variants or VARIANTS)
    unknown = [k for k in kinds if k not in KINDS] + [v for v in variants if v not in VARIANTS]
    if unknown:
        raise ValueError(f"unknown kinds/variants: {unknown}")
    out = Path(out)
    truth: dict[str, dict[str, Any]] = {}
    for kind, variant, index in jobs(per_kind, kinds, variants):
        data, entry = make_one(kind, split, index, variant)
        rel = f"{kind}/{kind}_{variant}_{index:03d}.{entry['format']}"
        path = out / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        truth[rel] = entry
        if progress is not None:
            progress(1)
    out.mkdir(parents=True, exist_ok=True)
    (out / "truth.json").write_text(
        json.dumps(truth, ensure_ascii=False, indent=1) + "\n", encoding="utf-8"
    )
    return truth
