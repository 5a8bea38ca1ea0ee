"""``python -m bench.datasets``: write an evaluation set and its truth.json."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from tqdm import tqdm

from bench.datasets.build import KINDS, VARIANTS, generate


def _parse_list(text: str, allowed: list[str], what: str) -> list[str]:
    items = [t.strip() for t in text.split(",") if t.strip()]
    bad = [t for t in items if t not in allowed]
    if bad or not items:
        raise SystemExit(f"--{what}: unknown {bad or text!r}; choose from {','.join(allowed)}")
    return items


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.datasets",
        description=(
            "Generate synthetic Chinese document images with ground truth, independent of "
            "sample_data/. Writes OUT/<kind>/<kind>_<variant>_<index>.<png|jpg> and "
            "OUT/truth.json (relative path -> kind, variant, layout, face, seed, rotation, "
            "format, split, answer). Same arguments and fonts, same bytes; "
            "OCR_FRAMES_BENCH_FONTS=wheel draws everything in the Noto Sans CJK of the "
            "manimgx-fonts-cjk wheel, so the bytes do not depend on the machine's fonts."
        ),
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument(
        "--split",
        choices=("tune", "report"),
        required=True,
        help="tune: seeds the engine may be tuned on; report: held-out seeds and fonts "
        "(ming, hei) used only for reported figures",
    )
    parser.add_argument(
        "--per-kind", type=int, required=True, help="images per kind and per variant"
    )
    parser.add_argument("--out", type=Path, required=True, help="output directory")
    parser.add_argument(
        "--kinds",
        default=",".join(KINDS),
        help="comma-separated kinds to generate",
    )
    parser.add_argument(
        "--variants",
        default=",".join(VARIANTS),
        help="comma-separated variants: clean (flat), noisy (scan-like), photo (phone photo)",
    )
    args = parser.parse_args(argv)
    kinds = _parse_list(args.kinds, list(KINDS), "kinds")
    variants = _parse_list(args.variants, list(VARIANTS), "variants")
    if args.per_kind < 1:
        parser.error("--per-kind must be at least 1")
    total = len(kinds) * len(variants) * args.per_kind
    start = time.perf_counter()
    with tqdm(total=total, unit="img", desc=f"{args.split} set") as bar:
        truth = generate(
            args.out, args.split, args.per_kind, kinds, variants, lambda n: bar.update(n)
        )
    elapsed = time.perf_counter() - start
    print(
        f"wrote {len(truth)} images and truth.json to {args.out} "
        f"in {elapsed:.1f}s ({elapsed / max(1, len(truth)):.2f}s/image)",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
