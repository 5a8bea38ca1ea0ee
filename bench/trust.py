"""The trust layer measured: field confidence (calibration), checksum suggestions, and
how well ``needs_review`` catches the wrong fields.

    python -m bench.trust --split tune --per-kind 10 --fit   # fit the calibration curve
    python -m bench.trust --split report --per-kind 15       # the reported figures

Images come from the ``bench/datasets`` generator (see ``bench/generalise.py``): the curve
in ``ocr_frames/local/_confidence.py`` (``CALIBRATION``) is fitted on the tune split only;
the report split is run with the curve as shipped.

Per field (every text and date field of the truth or the answer; comm lines and menu
items aligned as sequences, each one a field), *right* means equal to the truth after
NFKC with whitespace removed (``bench.generalise.score``'s rule).  A field the engine did
not return is wrong and has no confidence (unless it is a key field: 0.0).

``--fit`` runs the engine with the identity curve, so each confidence is the raw score,
fits an isotonic (pool-adjacent-violators) curve of rightness on raw score, and prints
the knots to paste into ``CALIBRATION``.
"""

from __future__ import annotations

import argparse
import contextlib
import difflib
import json
import sys
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from bench import common
from bench.common import norm, price
from bench.generalise import VARIANTS, dataset

THRESHOLD = 0.9
BINS = 10


@contextmanager
def _identity_curve() -> Iterator[None]:
    """The engine's confidences as raw scores, for fitting (restored afterwards)."""
    from ocr_frames.local import _confidence

    saved = _confidence.CALIBRATION
    _confidence.CALIBRATION = ((0.0, 0.0), (1.0, 1.0))  # type: ignore[misc]
    try:
        yield
    finally:
        _confidence.CALIBRATION = saved  # type: ignore[misc]


def answers(folder: Path, *, raw: bool) -> dict[str, dict[str, Any]]:
    """The local engine's answer for every image of ``folder`` (cached next to it)."""
    from tqdm import tqdm

    from ocr_frames.local import LAYOUT_VERSION, LocalEngine, _confidence

    curve = "raw" if raw else json.dumps(_confidence.CALIBRATION)
    cache = folder / f"trust-answers-{'raw' if raw else 'cal'}.json"
    code = common.source_digest(common.ROOT / "ocr_frames" / "local", "**/*.py")
    stamp = {"layout": LAYOUT_VERSION, "curve": curve, "code": code}
    if cache.exists():
        saved = json.loads(cache.read_text("utf-8"))
        if saved.get("stamp") == stamp:
            return dict(saved["answers"])
    raw_cache = folder / "trust-answers-raw.json"
    if not raw and raw_cache.exists():  # the tune split: fitted from these very answers
        saved = json.loads(raw_cache.read_text("utf-8"))
        if saved.get("stamp") == {**stamp, "curve": "raw"}:
            return _calibrated(saved["answers"])
    truth: dict[str, Any] = json.loads((folder / "truth.json").read_text("utf-8"))
    engine = LocalEngine()
    got: dict[str, dict[str, Any]] = {}
    with _identity_curve() if raw else contextlib.nullcontext():
        for name in tqdm(sorted(truth), desc="images", unit="img", leave=False):
            got[name] = engine.recognize_bytes(truth[name]["kind"], (folder / name).read_bytes())
    cache.write_text(json.dumps({"stamp": stamp, "answers": got}, ensure_ascii=False), "utf-8")
    return got


def _aligned_items(
    truth: Sequence[str], got: Sequence[str], confs: Sequence[Any]
) -> list[dict[str, Any]]:
    matcher = difflib.SequenceMatcher(a=list(truth), b=list(got), autojunk=False)
    hit = {b + k for _, b, size in matcher.get_matching_blocks() for k in range(size)}
    out = [{"field": "item", "right": i in hit, "conf": c} for i, c in enumerate(confs)]
    missed = len(truth) - len(hit)
    out += [{"field": "item", "right": False, "conf": None}] * max(0, missed)
    return out


def fields(kind: str, want: Mapping[str, Any], got: Mapping[str, Any]) -> list[dict[str, Any]]:
    """One record per field: ``{"field", "right", "conf"}`` (conf None: none given)."""
    from ocr_frames.kinds import spec

    if got.get("errcode", 0) != 0:
        got = {}
    if "items" in want or "menu_items" in want:
        key = "items" if "items" in want else "menu_items"

        def text(item: Mapping[str, Any]) -> str:
            if key == "items":
                return norm(item.get("text", ""))
            return f"{norm(item.get('name'))} {price(item.get('price'))}"

        items = got.get(key) or []
        return _aligned_items(
            [text(i) for i in want[key]], [text(i) for i in items], [i.get("conf") for i in items]
        )
    confidence = got.get("confidence") or {}
    out = []
    for name in spec(kind).confidence_fields:
        value, other = want.get(name), got.get(name)
        if not isinstance(value, str) and not (isinstance(other, str) and other):
            continue
        right = isinstance(value, str) and isinstance(other, str) and norm(other) == norm(value)
        out.append({"field": name, "right": right, "conf": confidence.get(name)})
    return out


def records(folder: Path, got: Mapping[str, Mapping[str, Any]]) -> list[dict[str, Any]]:
    truth: dict[str, Any] = json.loads((folder / "truth.json").read_text("utf-8"))
    out = []
    for name, entry in sorted(truth.items()):
        for record in fields(entry["kind"], entry["answer"], got[name]):
            out.append(
                {"image": name, "kind": entry["kind"], "variant": entry["variant"], **record}
            )
    return out


def isotonic(points: Sequence[tuple[float, bool]]) -> list[tuple[float, float]]:
    """Pool-adjacent-violators fit of rightness on score: (score, rate) knots, ascending.

    Each block's rate is smoothed as (right + 1) / (count + 2), so a block of a handful of
    fields does not claim certainty either way, then made non-decreasing again."""
    blocks: list[list[float]] = []  # [sum right, count, first score, last score]
    for score, right in sorted(points):
        blocks.append([float(right), 1.0, score, score])
        while len(blocks) > 1 and blocks[-2][0] / blocks[-2][1] >= blocks[-1][0] / blocks[-1][1]:
            right_sum, count, _, last = blocks.pop()
            blocks[-1][0] += right_sum
            blocks[-1][1] += count
            blocks[-1][3] = last
    knots: list[tuple[float, float]] = [(0.0, 0.0)]
    best = 0.0
    for right_sum, count, first, last in blocks:
        best = max(best, round((right_sum + 1) / (count + 2), 4))
        knots.append((round(first, 5), best))
        if last != first:
            knots.append((round(last, 5), best))
    if knots[-1][0] < 1.0:
        knots.append((1.0, best))
    return knots


def _calibrated(raw: Mapping[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """The answers the engine gives with the shipped curve, from its raw answers (the
    curve is a non-decreasing function of the raw score, applied last)."""
    from ocr_frames.local._confidence import calibrate

    out: dict[str, dict[str, Any]] = {}
    for name, answer in raw.items():
        answer = dict(answer)
        if isinstance(answer.get("confidence"), dict):
            answer["confidence"] = {
                k: round(calibrate(v), 4) if v else v for k, v in answer["confidence"].items()
            }
        for key in ("items", "menu_items"):
            if isinstance(answer.get(key), list):
                answer[key] = [{**i, "conf": round(calibrate(i["conf"]), 4)} for i in answer[key]]
        out[name] = answer
    return out


def reliability(rows: Sequence[Mapping[str, Any]]) -> tuple[list[dict[str, Any]], float]:
    """Per confidence bin: count, mean confidence, share right; and the expected
    calibration error (the count-weighted mean gap)."""
    scored = [r for r in rows if r["conf"] is not None]
    bins: list[dict[str, Any]] = []
    ece = 0.0
    for b in range(BINS):
        low, high = b / BINS, (b + 1) / BINS
        inside = [
            r for r in scored if low <= r["conf"] < high or (b == BINS - 1 and r["conf"] == 1)
        ]
        if not inside:
            continue
        mean_conf = sum(r["conf"] for r in inside) / len(inside)
        accuracy = sum(r["right"] for r in inside) / len(inside)
        bins.append(
            {"bin": f"{low:.1f}-{high:.1f}", "n": len(inside), "conf": mean_conf, "right": accuracy}
        )
        ece += len(inside) / len(scored) * abs(mean_conf - accuracy)
    return bins, ece


def plot(bins: Sequence[Mapping[str, Any]], path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(4.5, 4.5))
    ax.plot([0, 1], [0, 1], color="grey", linestyle="--", linewidth=1, label="perfect")
    ax.plot([b["conf"] for b in bins], [b["right"] for b in bins], marker="o", label="local engine")
    for b in bins:
        ax.annotate(
            str(b["n"]),
            (b["conf"], b["right"]),
            fontsize=7,
            xytext=(3, -10),
            textcoords="offset points",
        )
    ax.set_xlabel("confidence (mean in bin)")
    ax.set_ylabel("share of fields exactly right")
    ax.set_title(title, fontsize=9)
    ax.legend(loc="upper left", fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def summary(rows: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    scored = [r for r in rows if r["conf"] is not None]
    sure = [r for r in scored if r["conf"] >= THRESHOLD]
    bins, ece = reliability(rows)
    return {
        "fields": len(rows),
        "right": sum(r["right"] for r in rows),
        "with_conf": len(scored),
        "sure": len(sure),
        "sure_right": sum(r["right"] for r in sure),
        "wrong": sum(not r["right"] for r in rows),
        "wrong_flagged_by_conf": sum(
            not r["right"] and (r["conf"] is None or r["conf"] < THRESHOLD) for r in rows
        ),
        "ece": ece,
        "bins": bins,
    }


def review(folder: Path, got: Mapping[str, Mapping[str, Any]], quality: bool) -> dict[str, Any]:
    """Rows flagged by ``needs_review`` (checks on, and the quality warnings if
    ``quality``) against the fields that are wrong: the issue's done-when figures."""
    from ocr_frames import checks
    from ocr_frames._quality import assess
    from ocr_frames._run.quality import quality_columns
    from ocr_frames._tables.flatten import to_arrow
    from ocr_frames._tables.frames import to_pandas

    truth: dict[str, Any] = json.loads((folder / "truth.json").read_text("utf-8"))
    by_kind: dict[str, list[str]] = {}
    for name in sorted(truth):
        by_kind.setdefault(truth[name]["kind"], []).append(name)
    wrong_fields = wrong_flagged = clean_rows = clean_flagged = rows = flagged = 0
    reasons: dict[str, int] = {}
    for kind, names in by_kind.items():
        table = to_arrow(kind, [got[n] for n in names])
        if quality:  # as the run adds them (quality=True)
            found = [assess((folder / n).read_bytes()) for n in names]
            table = quality_columns(table, kind, found)
        df = checks.add_review(checks.add_checks(to_pandas(table), kind))
        check_columns = [c for c in df.columns if c == "check_passed"]
        for i, name in enumerate(names):
            records_ = fields(kind, truth[name]["answer"], got[name])
            wrong = sum(not r["right"] for r in records_)
            flag = bool(df["needs_review"].iloc[i])
            rows += 1
            flagged += flag
            for reason in df["review_reasons"].iloc[i]:
                key = reason.split(":")[0] if reason.startswith(("low", "sugg")) else reason
                reasons[key] = reasons.get(key, 0) + 1
            wrong_fields += wrong
            wrong_flagged += wrong if flag else 0
            passes = all(df[c].fillna(False).astype(bool).iloc[i] for c in check_columns)
            if wrong == 0 and passes:
                clean_rows += 1
                clean_flagged += flag
    return {
        "rows": rows,
        "flagged": flagged,
        "wrong_fields": wrong_fields,
        "wrong_fields_in_flagged_rows": wrong_flagged,
        "clean_rows": clean_rows,
        "clean_rows_flagged": clean_flagged,
        "reasons": dict(sorted(reasons.items(), key=lambda kv: -kv[1])),
    }


REPORT_PER_KIND = 15


def bench(quick: bool) -> dict[str, Any]:
    """``make bench``'s entry: the report split (4 per kind and variant when ``quick``):
    calibration, review figures and the smudged-digit suggestions."""
    from bench import suggestions

    per_kind = 4 if quick else REPORT_PER_KIND
    folder = dataset("report", per_kind, VARIANTS)
    got = answers(folder, raw=False)
    rows = records(folder, got)
    result = summary(rows)
    plot(result["bins"], common.PLOTS / "reliability.png", f"report split, {len(rows)} fields")
    result["by_kind"] = {
        kind: summary([r for r in rows if r["kind"] == kind])
        for kind in sorted({r["kind"] for r in rows})
    }
    for kind_result in result["by_kind"].values():
        kind_result.pop("bins")
    result["review"] = review(folder, got, quality=False)
    result["review_quality"] = review(folder, got, quality=True)
    result["suggestions"] = suggestions.run("report", per_kind)
    result["command"] = (
        f"make bench (python -m bench.run --only trust; report split, {per_kind} per kind)"
    )
    return result


def targets(result: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The issue's targets on this result (report split)."""
    review_ = result["review"]
    why = "see the trust section and the closing note of issue 15."
    return [
        {
            "what": "fields with conf ≥ 0.9 exactly right: ≥ 99.5%",
            "value": (v := result["sure_right"] / max(1, result["sure"])),
            "met": v >= 0.995,
            "why": why,
        },
        {
            "what": "wrong fields in rows flagged needs_review (checks=True): ≥ 90%",
            "value": (
                v := review_["wrong_fields_in_flagged_rows"] / max(1, review_["wrong_fields"])
            ),
            "met": v >= 0.9,
            "why": why,
        },
        {
            "what": "all-right rows passing every check that are flagged: ≤ 20%",
            "value": (v := review_["clean_rows_flagged"] / max(1, review_["clean_rows"])),
            "met": v <= 0.2,
            "why": why,
        },
    ]


def markdown(result: Mapping[str, Any]) -> str:
    from bench import suggestions

    def share(a: int, b: int) -> str:
        return f"{a}/{b} ({a / max(1, b):.1%})"

    lines = [
        "# Trust: confidence, review flag, suggestions (issue 15)",
        "",
        f"Command: `{result['command']}`. The calibration curve was fitted on the tune split "
        "(`python -m bench.trust --split tune --per-kind 10 --fit`); these figures are the "
        "report split's with the curve as shipped (the split's runs: bench/notes.md, "
        '"Trust").',
        "",
        f"* Fields: {result['fields']:,}, exactly right "
        f"{share(result['right'], result['fields'])}; with a confidence: {result['with_conf']:,}.",
        f"* **conf >= 0.9:** {result['sure']:,} fields, exactly right "
        f"{share(result['sure_right'], result['sure'])}.",
        f"* Expected calibration error (10 bins): **{result['ece']:.4f}**.",
        f"* Wrong fields with a confidence below 0.9 or none: "
        f"{share(result['wrong_flagged_by_conf'], result['wrong'])}.",
        "",
        "![reliability diagram](bench/plots/reliability.png)",
        "",
        "| confidence bin | fields | mean confidence | exactly right |",
        "|---|---|---|---|",
    ]
    lines += [
        f"| {b['bin']} | {b['n']} | {b['conf']:.3f} | {b['right']:.1%} |" for b in result["bins"]
    ]
    lines += [
        "",
        "| kind | fields | right | conf >= 0.9 | of those right | ECE |",
        "|---|---|---|---|---|---|",
    ]
    for kind, k in result["by_kind"].items():
        lines.append(
            f"| {kind} | {k['fields']} | {k['right'] / max(1, k['fields']):.1%} | {k['sure']} | "
            f"{k['sure_right'] / max(1, k['sure']):.2%} | {k['ece']:.4f} |"
        )
    lines += [
        "",
        "**needs_review** (a row per image; *wrong fields* counts each wrong field once):",
        "",
    ]
    lines += [
        "| with | rows | flagged | wrong fields in flagged rows "
        "| all-right rows passing every check, flagged |",
        "|---|---|---|---|---|",
    ]
    for label, key in (("checks=True", "review"), ("checks=True, quality=True", "review_quality")):
        r = result[key]
        lines.append(
            f"| {label} | {r['rows']} | {r['flagged']} | "
            f"{share(r['wrong_fields_in_flagged_rows'], r['wrong_fields'])} | "
            f"{share(r['clean_rows_flagged'], r['clean_rows'])} |"
        )
    lines += [
        "",
        "Reasons (rows): "
        + ", ".join(f"{k} {v}" for k, v in result["review_quality"]["reasons"].items())
        + ".",
        "",
    ]
    lines += [
        "**Suggestions** on numbers with one digit smudged on purpose "
        "(`python -m bench.suggestions`; clean and noisy images):",
        "",
        suggestions.markdown(result["suggestions"]),
        "",
    ]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.trust", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--split", choices=("tune", "report"), required=True)
    parser.add_argument("--per-kind", type=int, required=True)
    parser.add_argument("--fit", action="store_true", help="fit CALIBRATION (tune split only)")
    args = parser.parse_args(argv)
    if args.fit and args.split != "tune":
        parser.error("--fit is for the tune split only")
    folder = dataset(args.split, args.per_kind, VARIANTS)
    got = answers(folder, raw=args.fit)
    rows = records(folder, got)
    if args.fit:
        knots = isotonic([(r["conf"], r["right"]) for r in rows if r["conf"] is not None])
        print("CALIBRATION = (")
        for x, y in knots:
            print(f"    ({x}, {y}),")
        print(")")
    result = summary(rows)
    print(json.dumps({k: v for k, v in result.items() if k != "bins"}, indent=1))
    for b in result["bins"]:
        print(b)
    if not args.fit:
        for quality in (False, True):
            print("review, quality" if quality else "review, checks only")
            print(json.dumps(review(folder, got, quality), indent=1, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
