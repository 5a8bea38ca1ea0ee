"""The image-quality and tamper warnings of ``ocr_frames._quality`` on synthetic degradations.

    python -m bench.quality --split tune --per-kind 5      # choose thresholds (prints them)
    python -m bench.quality --split tune --only glare      # one degradation, faster
    python -m bench.quality --split report --per-kind 5    # bench/results/quality.md

Originals: the evaluation generator ``bench/datasets`` (every kind x clean/noisy/photo,
``--per-kind`` images each), plus ``sample_data/*/*.jpg`` for the tune split only.  The
``photo`` variant already has perspective, lighting, shadow, blur and noise: the originals
are "untouched" only in that nothing below was added, and they serve as the negatives.

Each original gets, from an RNG seeded by its name and the degradation
(:mod:`bench.quality_degrade`, where each is described):

* ``blur``: Gaussian blur of sigma 1, 2 and 4 px *at 1000 px* (scaled with the image);
  sigma >= 2 is what should warn, sigma 1 is reported apart (it should not have to);
* ``greyscale_copy``: desaturated, contrast raised, grey noise, sometimes a colour cast;
  made, like its negatives, of the certificate kinds only (``spec(kind).certificate``:
  idcard, bankcard, driving, drivinglicense, bizlicense), the only ones the run raises
  ``warn_greyscale_copy`` for;
* ``glare``: a specular highlight over a text pixel: light added over an ellipse of 5-20 %
  of the document box (at half strength), white or slightly bluish, soft-edged and clipped
  white over its core;
* ``screen_reshoot``: multiplied by a pixel grid of period 2..8 px, then resampled by
  0.55-0.9 without anti-aliasing (as a camera samples a screen), one period per original
  in turn;
* ``incomplete``: cropped so that 12-30 % of the document is cut off at one side or corner;
* ``low_resolution``: scaled to 300 and to 200 px wide;
* ``occluded``: over 8-25 % of the document box, half the time a finger (a shaded,
  out-of-focus capsule of one of seven skin tones reaching in from a side), otherwise a
  rotated sticker with paper grain, of a random colour or (40 %) within 8-30 grey levels
  of the paper's own colour; both cast a soft shadow.  Counted together (``occluded:all``)
  and shown by occluder;
* ``edited``: an editor's name written as EXIF Software (0x0131) - and, as negatives that
  count towards the false-positive rate, a camera firmware name the same way.

Per warning: ROC AUC of its measure (its degradation vs the originals), TPR at the
threshold on its degradation, FPR on the originals (and on the card kinds alone).  The
tune split prints the threshold that maximises TPR with FPR <= 0.05 on the originals; the
report split uses ``DEFAULT_THRESHOLDS`` as they are and writes the table.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections import defaultdict
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

from bench import quality_degrade as degrade
from bench.common import RESULTS, ROOT
from bench.datasets.build import KINDS, VARIANTS, make_one
from ocr_frames._quality import DEFAULT_THRESHOLDS, WARNINGS, assess
from ocr_frames._quality.pixels import DIRECTIONS
from ocr_frames.kinds import spec

CARD_KINDS = ("idcard", "bankcard", "driving", "drivinglicense", "bizlicense", "platenum")
TARGET_TPR, TARGET_FPR = 0.8, 0.1


def originals(split: str, per_kind: int) -> Iterator[tuple[str, str, bytes]]:
    """(name, kind, bytes) of every original image of the split."""
    for kind in KINDS:
        for variant in VARIANTS:
            for index in range(per_kind):
                data, _ = make_one(kind, split, index, variant)
                yield f"{kind}/{variant}/{index}", kind, data
    if split == "tune":
        for path in sorted((ROOT / "sample_data").glob("*/*.jpg")):
            data = path.read_bytes()
            if path.parent.name in KINDS and len(data) > 1000:
                yield f"sample/{path.name}", path.parent.name, data


def auc(positives: Sequence[float], negatives: Sequence[float], direction: int) -> float:
    """Probability that a positive's measure is further in the warning's direction."""
    if not positives or not negatives:
        return float("nan")
    pos = np.asarray(positives) * direction
    neg = np.asarray(negatives) * direction
    greater = (pos[:, None] > neg[None, :]).sum() + 0.5 * (pos[:, None] == neg[None, :]).sum()
    return float(greater / (pos.size * neg.size))


def fires(values: Sequence[float], warning: str, threshold: float) -> float:
    if not values:
        return float("nan")
    if warning == "warn_edited":
        return float(np.mean(np.asarray(values) > 0))
    return float(np.mean(DIRECTIONS[warning] * (np.asarray(values) - threshold) > 0))


def suggest(positives: Sequence[float], negatives: Sequence[float], direction: int) -> float:
    """The threshold with the highest TPR at FPR <= 0.05 on the negatives (tune split)."""
    neg = np.sort(np.asarray(negatives) * direction)
    allowed = int(np.floor(0.05 * neg.size))
    cut = neg[neg.size - 1 - allowed]  # fire strictly above this: at most `allowed` negatives
    return float(cut * direction)


def _degraded(
    job: tuple[str, str, str, bytes, int, tuple[str, ...]],
) -> tuple[str, str, bytes, list[tuple[str, float]]]:
    """Assess every degradation of one original: (name, kind, original, [(label, measure)])."""
    split, name, kind, data, count, only = job
    found = []
    made = degrade.all_degradations(
        data, f"{split}/{name}", count, certificate=spec(kind).certificate, only=only
    )
    for label, image in made:
        quality = assess(image)
        assert quality is not None, (name, label)
        warning = "edited" if label.startswith("edited_negative") else label.split(":")[0]
        found.append((label, quality.measures[f"warn_{warning}"]))
    return name, kind, data, found


def collect(
    split: str, per_kind: int, jobs: int, only: tuple[str, ...] = ()
) -> tuple[dict[str, list[tuple[str, float]]], dict[str, list[float]], list[float]]:
    """Measures of the originals (with their kind), of each degradation, and ms per assess.

    Degradations run in ``jobs`` processes; ``assess`` is then timed on the originals in
    this process alone, after the pool has finished, so the timing is not shared."""
    negatives: dict[str, list[tuple[str, float]]] = defaultdict(list)
    positives: dict[str, list[float]] = defaultdict(list)
    work = [
        (split, name, kind, data, i, only)
        for i, (name, kind, data) in enumerate(originals(split, per_kind))
    ]
    with ProcessPoolExecutor(max_workers=jobs) as pool:
        done = list(pool.map(_degraded, work, chunksize=2))
    times: list[float] = []
    for name, kind, data, found in done:
        start = time.perf_counter()
        quality = assess(data)
        times.append((time.perf_counter() - start) * 1000)
        assert quality is not None, name
        for warning, value in quality.measures.items():
            if warning != "warn_greyscale_copy" or spec(kind).certificate:
                negatives[warning].append((kind, value))
        for label, value in found:
            if label.startswith("edited_negative"):
                negatives["warn_edited"].append((kind, value))
            elif label.startswith("occluded:"):  # counted together, shown by occluder too
                positives["occluded:all"].append(value)
                positives[f"{label}:informational"].append(value)
            else:
                positives[label].append(value)
    return negatives, positives, times


def table(
    negatives: Mapping[str, list[tuple[str, float]]],
    positives: Mapping[str, list[float]],
    thresholds: Mapping[str, float],
) -> list[str]:
    lines = [
        "| warning | degradation (n) | AUC | threshold | TPR | FPR originals (n) | FPR cards"
        " | target met |",
        "|---|---|---:|---:|---:|---:|---:|---|",
    ]
    for warning in WARNINGS:
        threshold = thresholds.get(warning, 0.0)
        direction = DIRECTIONS.get(warning, 1)
        neg_all = [v for _, v in negatives[warning]]
        neg_cards = [v for k, v in negatives[warning] if k in CARD_KINDS]
        fpr = fires(neg_all, warning, threshold)
        for label in sorted(k for k in positives if f"warn_{k.split(':')[0]}" == warning):
            pos = positives[label]
            tpr = fires(pos, warning, threshold)
            counted = not label.endswith(":informational")
            met = (
                ("yes" if tpr >= TARGET_TPR and fpr <= TARGET_FPR else "**no**") if counted else "-"
            )
            shown = (
                "edited: any trace"
                if warning == "warn_edited"
                else f"{'>' if direction > 0 else '<'} {threshold:g}"
            )
            area = auc(pos, neg_all, direction)
            cards = fires(neg_cards, warning, threshold)
            lines.append(
                f"| {warning} | {label} ({len(pos)}) | {area:.3f} | {shown} | {tpr:.2f} "
                f"| {fpr:.3f} ({len(neg_all)}) | {cards:.3f} | {met} |"
            )
    return lines


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--split", choices=("tune", "report"), required=True)
    parser.add_argument("--per-kind", type=int, default=5)
    parser.add_argument("--out", type=Path, default=RESULTS, help="folder of quality.md (report)")
    parser.add_argument("--jobs", type=int, default=2, help="processes making degradations")
    parser.add_argument(
        "--only", default="", help="comma-separated degradations (tune: faster iterations)"
    )
    args = parser.parse_args(argv)
    only = tuple(filter(None, args.only.split(",")))
    if only and args.split == "report":
        parser.error("--only is for the tune split: the report is run whole")
    started = time.perf_counter()
    negatives, positives, times = collect(args.split, args.per_kind, args.jobs, only)
    lines = table(negatives, positives, DEFAULT_THRESHOLDS)
    median = statistics.median(times)
    p95 = float(np.percentile(times, 95))
    n_orig = len(times)
    summary = [
        f"## Quality warnings, {args.split} split ({n_orig} originals, --per-kind {args.per_kind})",
        "",
        f"`python -m bench.quality --split {args.split} --per-kind {args.per_kind}`; thresholds"
        " from `DEFAULT_THRESHOLDS`, chosen on the tune split only.  Negatives are the"
        " untouched originals (the generator's photo variant already has perspective, light,"
        " blur and noise), and for warn_edited also the originals re-saved with a camera"
        " firmware name in EXIF Software.  warn_greyscale_copy is measured on the"
        " certificate kinds only (idcard, bankcard, driving, drivinglicense, bizlicense:"
        " originals and copies), the only kinds the run raises it for.  Glare and occluders"
        " are realistic (soft, tinted, clipped highlights; shaded fingers, stickers of any"
        " colour, some close to the paper's), see `bench/quality_degrade.py`.  `assess` on"
        " the originals (sizes 1000-2400 px;"
        f" one process, nothing else of the bench running): median {median:.1f} ms,"
        f" p95 {p95:.1f} ms per image.",
        "",
        *lines,
        "",
        f"Bench wall time {time.perf_counter() - started:.0f} s.",
    ]
    print("\n".join(summary))
    if args.split == "tune":
        print("\nSuggested thresholds (highest TPR at FPR <= 0.05 on the tune originals):")
        for warning in DEFAULT_THRESHOLDS:
            pos = [
                v
                for k, vs in positives.items()
                if f"warn_{k.split(':')[0]}" == warning and not k.endswith(":informational")
                for v in vs
            ]
            neg = [v for _, v in negatives[warning]]
            if not pos:  # not among --only
                continue
            print(f"  {warning}: {suggest(pos, neg, DIRECTIONS[warning]):.4g}")
    else:
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / "quality.md").write_text("\n".join(summary) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
