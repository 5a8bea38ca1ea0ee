"""Checksum suggestions measured on numbers with one digit deliberately smudged.

    python -m bench.suggestions --split report --per-kind 15

For every clean and noisy image of the ``bench/datasets`` split whose kind has a number
with a check character (ID number, bank card, VIN, credit code, licence number), the
line holding that number alone is found with the OCR core, one of its digits (drawn by a
seeded generator) is covered on one half (top, bottom, left or right, also drawn) with
the paper's colour, and the local engine reads the smudged image.  Outcomes per number:

* ``still right``: the engine read it right all the same;
* ``misread, check fails``: then the suggestion is right, wrong, or absent;
* ``misread, check passes``: no checksum can see it (the confidence may);
* ``not found``: the engine returned no value.

Photos are left out: their lines are not level, so a digit's place cannot be drawn from
the line's box.  A number sharing its line with other text is skipped too (counted).
"""

from __future__ import annotations

import argparse
import io
import json
import random
import sys
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from bench.generalise import VARIANTS, dataset

FIELDS = {
    "idcard": "id",
    "bankcard": "number",
    "driving": "vin",
    "drivinglicense": "id_num",
    "bizlicense": "reg_num",
}


def _alnum(text: str) -> str:
    return "".join(c for c in text.upper() if c.isascii() and c.isalnum())


def smudge(data: bytes, number: str, rng: random.Random) -> bytes | None:
    """The image with one digit of ``number`` half covered, or None (line not alone)."""
    from ocr_frames.local._ocr import decode_image, get_core

    image = decode_image(data)
    if image is None:
        return None
    lines = [b for b in get_core().read(image) if _alnum(b.text) == number]
    if len(lines) != 1:
        return None
    box = lines[0]
    text = box.text
    digits = [i for i, c in enumerate(text) if c.isdigit()]
    if not digits:
        return None
    at = rng.choice(digits)
    x0, x1, y0, y1 = int(box.left), int(box.right), int(box.top), int(box.bottom)
    width = (x1 - x0) / len(text)
    left, right = int(x0 + at * width), int(x0 + (at + 1) * width)
    rgb = np.ascontiguousarray(image[:, :, ::-1])
    paper = np.percentile(rgb[y0:y1, x0:x1].reshape(-1, 3), 90, axis=0)  # the ground
    half = rng.choice(("top", "bottom", "left", "right"))
    mid_y, mid_x = (y0 + y1) // 2, (left + right) // 2
    region = {
        "top": (slice(y0, mid_y), slice(left, right)),
        "bottom": (slice(mid_y, y1), slice(left, right)),
        "left": (slice(y0, y1), slice(left, mid_x)),
        "right": (slice(y0, y1), slice(mid_x, right)),
    }[half]
    rgb[region] = paper.astype(np.uint8)
    out = io.BytesIO()
    Image.fromarray(rgb).save(out, format="PNG")
    return out.getvalue()


def outcome(kind: str, field: str, number: str, answer: dict[str, Any]) -> str:
    from ocr_frames._numbers.compact import compact
    from ocr_frames.local._suggest import _CHECKS

    value = answer.get(field)
    if not isinstance(value, str) or not value:
        return "not found"
    read = compact(value)
    if read == number:
        return "still right"
    valid, _ = _CHECKS[field]
    if valid(read):
        return "misread, check passes"
    suggested = (answer.get("suggested") or {}).get(field)
    if suggested is None:
        return "misread, check fails: no suggestion"
    return f"misread, check fails: suggestion {'right' if suggested == number else 'wrong'}"


def run(split: str, per_kind: int, seed: int = 15) -> dict[str, Any]:
    from tqdm import tqdm

    from ocr_frames.local import LocalEngine

    folder = dataset(split, per_kind, VARIANTS)
    truth: dict[str, Any] = json.loads((folder / "truth.json").read_text("utf-8"))
    engine = LocalEngine()
    counts: dict[str, Counter[str]] = {kind: Counter() for kind in FIELDS}
    for name in tqdm(sorted(truth), desc="images", unit="img", leave=False):
        entry = truth[name]
        kind, field = entry["kind"], FIELDS.get(entry["kind"], "")
        number = _alnum(str(entry["answer"].get(field) or ""))
        if not field or not number or entry["variant"] == "photo":
            continue
        if field == "reg_num" and len(number) == 15:  # a legacy number: no check character
            continue
        rng = random.Random(f"{seed}:{name}")
        data = smudge((folder / name).read_bytes(), number, rng)
        if data is None:
            counts[kind]["skipped: number not alone on its line"] += 1
            continue
        counts[kind][outcome(kind, field, number, engine.recognize_bytes(kind, data))] += 1
    total: Counter[str] = Counter()
    for c in counts.values():
        total.update(c)
    return {"split": split, "per_kind": per_kind, "kinds": counts, "total": total}


def markdown(result: dict[str, Any]) -> str:
    columns = [
        "still right",
        "misread, check fails: suggestion right",
        "misread, check fails: suggestion wrong",
        "misread, check fails: no suggestion",
        "misread, check passes",
        "not found",
        "skipped: number not alone on its line",
    ]
    lines = ["| kind | " + " | ".join(columns) + " |", "|---" * (len(columns) + 1) + "|"]
    for kind, counts in [*result["kinds"].items(), ("all", result["total"])]:
        lines.append(f"| {kind} | " + " | ".join(str(counts.get(c, 0)) for c in columns) + " |")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.suggestions", description=__doc__)
    parser.add_argument("--split", choices=("tune", "report"), required=True)
    parser.add_argument("--per-kind", type=int, required=True)
    parser.add_argument("--out", type=Path, help="write the result as JSON here")
    args = parser.parse_args(argv)
    result = run(args.split, args.per_kind)
    print(markdown(result))
    if args.out:
        args.out.write_text(json.dumps(result, indent=1, ensure_ascii=False), "utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
