"""Menus the generator had never made, for checking a change before a report split rerun.

    python -m bench.heldout_menus --split report --first 15 --last 29

Generates menus of ``--split`` with image indices ``--first``..``--last`` (the report split
run by ``make bench`` uses indices 0-14, so 15 and up are images nobody has looked at) in
all three variants, reads them with the local engine, and prints, as ``bench.trust`` counts
them: rows, rows flagged (an item's ``conf`` below 0.9), wrong items, wrong items in flagged
rows, all-right rows, all-right rows flagged, items with conf >= 0.9 and how many are right.
Used once for issue 15 (bench/notes.md, "Trust").
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence

from bench.datasets.build import VARIANTS, make_one
from bench.trust import THRESHOLD, fields


def run(split: str, first: int, last: int) -> dict[str, int]:
    from ocr_frames.local import LocalEngine

    engine = LocalEngine()
    stats = dict.fromkeys(
        (
            "rows",
            "flagged",
            "wrong",
            "wrong_flagged",
            "clean",
            "clean_flagged",
            "sure",
            "sure_right",
        ),
        0,
    )
    for variant in VARIANTS:
        for index in range(first, last + 1):
            data, entry = make_one("menu", split, index, variant)
            answer = engine.recognize_bytes("menu", data)
            records = fields("menu", entry["answer"], answer)
            items = answer.get("menu_items") or []
            flag = any((item.get("conf") or 0) < THRESHOLD for item in items)
            wrong = sum(not r["right"] for r in records)
            stats["rows"] += 1
            stats["flagged"] += flag
            stats["wrong"] += wrong
            stats["wrong_flagged"] += wrong if flag else 0
            stats["clean"] += wrong == 0
            stats["clean_flagged"] += wrong == 0 and flag
            sure = [r for r in records if r["conf"] is not None and r["conf"] >= THRESHOLD]
            stats["sure"] += len(sure)
            stats["sure_right"] += sum(r["right"] for r in sure)
    return stats


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.heldout_menus", description=__doc__)
    parser.add_argument("--split", choices=("tune", "report"), default="report")
    parser.add_argument("--first", type=int, default=15)
    parser.add_argument("--last", type=int, default=29)
    args = parser.parse_args(argv)
    print(json.dumps(run(args.split, args.first, args.last)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
