"""The cascade measured (issue 17): what it bills and what it reads, against WeChat-only
and local-only, on the evaluation report split.

    python -m bench.cascade --split report --per-kind 15     # the reported figures
    python -m bench.run --only cascade                       # the same, as ``make bench``

Images and truth come from the ``bench/datasets`` generator (``bench.generalise.dataset``,
as ``bench/trust.py`` uses it).  WeChat is played by the bundled emulator
(:class:`ocr_frames.testing.WeChatEmulator` on 127.0.0.1) with every image's TRUE answer
registered, so WeChat-only is the accuracy ceiling and every escalated row comes back
right.  Every configuration runs through ``of.recognize`` (one call per kind).

Caching, and why a copy per configuration: the local engine's answers are made once, by
the local-only run, into one base cache directory (next to the dataset, so a rerun does
not recompute them).  Each other configuration runs on a fresh copy of that directory:
the cascade finds the local answers there (cached under the local engine's identity), but
no WeChat answer, because a WeChat answer cached by an earlier configuration would be
reused for free and hide the bill.  Billed calls are the emulator's ``total_billed``
delta over the configuration's runs (checked against the runs' ``billed_calls``).

Scoring: the final answer of each row is read back from the run's own cache (the run
stores each answer under the top engine's identity, the cascade's included, with
``answered_by``); each field is scored with ``bench.trust.fields`` (equal to the truth
after NFKC with whitespace removed; comm lines and menu items aligned as sequences), so
the exact-match share is the trust bench's rule.  Nothing is tuned here: the thresholds
are the ones the issue names, the default one being ``DEFAULT_ESCALATE_BELOW``.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench import common
from bench.generalise import VARIANTS, dataset
from bench.trust import REPORT_PER_KIND, fields
from ocr_frames.cascade import DEFAULT_QUALITY

#: the thresholds the issue asks for; 0.9 is the default
THRESHOLDS = (0.5, 0.8, 0.9, 0.95, 0.99)
#: the targets, at the default threshold: share of WeChat-only's calls, points lost
TARGET_SHARE = 0.20
TARGET_POINTS = 0.5


@dataclass
class Config:
    """One configuration: a label, and the cascade's settings (None: a single engine)."""

    label: str
    engine: str  # "wechat", "local" or "cascade"
    below: float = 0.9
    quality: bool = DEFAULT_QUALITY


CONFIGS = (
    Config("WeChat only", "wechat"),
    Config("local only", "local"),
    *(Config(f"cascade, escalate_below={t:g}", "cascade", below=t) for t in THRESHOLDS),
    Config(
        f"cascade 0.9, quality={not DEFAULT_QUALITY}",
        "cascade",
        below=0.9,
        quality=not DEFAULT_QUALITY,
    ),
)


@dataclass
class Outcome:
    billed: int = 0
    summary_billed: int = 0
    escalated: int = 0
    answered_by: Counter[str] = field(default_factory=Counter)
    reasons: Counter[str] = field(default_factory=Counter)
    seconds: float = 0.0
    records: list[dict[str, Any]] = field(default_factory=list)
    #: escalated rows per kind and per variant
    escalated_by: Counter[str] = field(default_factory=Counter)


def _engine(config: Config, base_url: str) -> Any:
    import ocr_frames as of
    from ocr_frames.local import LocalEngine

    if config.engine == "local":
        return LocalEngine()
    wechat = common.engine(base_url)
    if config.engine == "wechat":
        return wechat
    return of.Cascade(LocalEngine(), wechat, escalate_below=config.below, quality=config.quality)


def _run(
    config: Config,
    folder: Path,
    truth: Mapping[str, Mapping[str, Any]],
    cache_dir: Path,
    emu: Any,
) -> Outcome:
    """Run ``config`` over every kind of ``folder``; score the final answers."""
    import ocr_frames as of
    from ocr_frames._cache.store import ResultCache
    from ocr_frames.kinds import ANSWERED_BY, ESCALATED_BECAUSE

    by_kind: dict[str, list[str]] = {}
    for name in sorted(truth):
        by_kind.setdefault(truth[name]["kind"], []).append(name)
    out = Outcome()
    billed_before = emu.total_billed
    started = time.perf_counter()
    for kind, names in by_kind.items():
        engine = _engine(config, emu.base_url)
        paths = [str(folder / n) for n in names]
        df = of.recognize(paths, kind, engine=engine, cache_dir=cache_dir)
        summary = df.attrs["ocr_frames"]
        summary = summary.to_dict() if hasattr(summary, "to_dict") else summary
        # the local engine's calls are not billed; count only calls that reach WeChat
        out.summary_billed += summary["billed_calls"] if config.engine != "local" else 0
        cascade = summary.get("cascade") or {}
        out.escalated += cascade.get("escalated", 0)
        out.reasons.update(cascade.get("reasons", {}))
        # the final answers, as the run cached them under the top engine's identity
        cache = ResultCache(cache_dir)
        try:
            for i, name in enumerate(names):
                key = ResultCache.key(str(df["sha256"].iloc[i]), kind, engine.identity)
                got = cache.get(key)
                if got is None:
                    raise RuntimeError(f"{config.label}: no cached answer for {name}")
                if config.engine == "cascade":
                    # the frame and the cached answer must tell the same route
                    if got.get(ANSWERED_BY) != df[ANSWERED_BY].iloc[i]:
                        raise RuntimeError(f"{config.label}: route differs for {name}")
                    out.answered_by[str(got.get(ANSWERED_BY))] += 1
                    if got.get(ESCALATED_BECAUSE):
                        entry = truth[name]
                        out.escalated_by[f"kind:{entry['kind']}"] += 1
                        out.escalated_by[f"variant:{entry['variant']}"] += 1
                entry = truth[name]
                for record in fields(kind, entry["answer"], got):
                    out.records.append(
                        {"kind": kind, "variant": entry["variant"], "right": record["right"]}
                    )
        finally:
            cache.close()
    out.seconds = time.perf_counter() - started
    out.billed = emu.total_billed - billed_before
    if out.billed != out.summary_billed:
        raise RuntimeError(
            f"{config.label}: emulator billed {out.billed}, runs counted {out.summary_billed}"
        )
    return out


def _share(records: Sequence[Mapping[str, Any]]) -> float:
    return float(sum(r["right"] for r in records)) / max(1, len(records))


def measure(split: str, per_kind: int) -> dict[str, Any]:
    """Every configuration on the split; the figures for the table, plot and targets."""
    from ocr_frames.testing import WeChatEmulator

    common.loopback_only()
    folder = dataset(split, per_kind, VARIANTS)
    truth: dict[str, dict[str, Any]] = json.loads((folder / "truth.json").read_text("utf-8"))
    # the local answers, kept between reruns while the local engine's code is unchanged
    # (its identity names the model and layout version, not every change of its code)
    code = common.source_digest(common.ROOT / "ocr_frames" / "local", "**/*.py")
    base = folder / f"cascade-cache-{code}"
    images = len(truth)
    results: list[dict[str, Any]] = []
    with WeChatEmulator() as emu:
        for name, entry in truth.items():
            emu.register((folder / name).read_bytes(), entry["kind"], entry["answer"])
        for config in CONFIGS:
            common.log(f"cascade bench: {config.label}")
            if config.engine == "local":
                outcome = _run(config, folder, truth, base, emu)
            else:
                with tempfile.TemporaryDirectory(prefix="cascade-bench-") as tmp:
                    cache_dir = Path(tmp) / "cache"
                    if base.exists():
                        shutil.copytree(base, cache_dir)
                    outcome = _run(config, folder, truth, cache_dir, emu)
            recs = outcome.records
            results.append(
                {
                    "label": config.label,
                    "engine": config.engine,
                    "escalate_below": config.below if config.engine == "cascade" else None,
                    "quality": config.quality if config.engine == "cascade" else None,
                    "images": images,
                    "billed": outcome.billed,
                    "billed_per_1000": 1000 * outcome.billed / images,
                    "fields": len(recs),
                    "right": sum(r["right"] for r in recs),
                    "exact": _share(recs),
                    "by_kind": {
                        k: _share([r for r in recs if r["kind"] == k])
                        for k in sorted({r["kind"] for r in recs})
                    },
                    "by_variant": {
                        v: _share([r for r in recs if r["variant"] == v])
                        for v in sorted({r["variant"] for r in recs})
                    },
                    "escalated": outcome.escalated,
                    "answered_by": dict(outcome.answered_by.most_common()),
                    "reasons": dict(outcome.reasons.most_common()),
                    "escalated_by": dict(sorted(outcome.escalated_by.items())),
                    "seconds": round(outcome.seconds, 1),
                }
            )
    wechat = next(r for r in results if r["engine"] == "wechat")
    for r in results:
        r["share_of_wechat"] = r["billed"] / max(1, wechat["billed"])
        r["delta_points"] = 100 * (r["exact"] - wechat["exact"])
    return {
        "split": split,
        "per_kind": per_kind,
        "images": images,
        "command": f"python -m bench.cascade --split {split} --per-kind {per_kind}",
        "configs": results,
    }


def default(result: Mapping[str, Any]) -> dict[str, Any]:
    """The default cascade's figures (escalate_below and quality as of.Cascade's)."""
    from ocr_frames.cascade import DEFAULT_ESCALATE_BELOW

    return next(
        r
        for r in result["configs"]
        if r["engine"] == "cascade"
        and r["escalate_below"] == DEFAULT_ESCALATE_BELOW
        and r["quality"] == DEFAULT_QUALITY
    )


def targets(result: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The issue's targets, at the default threshold, on this result."""
    d = default(result)
    return [
        {
            "what": f"default cascade bills <= {TARGET_SHARE:.0%} of WeChat-only's calls",
            "value": d["share_of_wechat"],
            "met": d["share_of_wechat"] <= TARGET_SHARE,
        },
        {
            "what": f"default cascade field exact-match within {TARGET_POINTS} points "
            "of WeChat-only",
            "value": d["delta_points"],
            "met": d["delta_points"] >= -TARGET_POINTS,
        },
    ]


def plot(result: Mapping[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.5, 4.5))
    cascades = [
        r for r in result["configs"] if r["engine"] == "cascade" and r["quality"] == DEFAULT_QUALITY
    ]
    ax.plot(
        [r["billed_per_1000"] for r in cascades],
        [100 * r["exact"] for r in cascades],
        color="grey",
        linewidth=1,
        zorder=1,
    )
    # configurations that land on the same point share one label
    points: dict[tuple[float, float], list[dict[str, Any]]] = {}
    for r in result["configs"]:
        points.setdefault((r["billed_per_1000"], 100 * r["exact"]), []).append(r)
    above = True  # near the top, alternate labels above and below so they do not collide
    for (x, y), group in sorted(points.items()):
        marker = {"wechat": "s", "local": "D"}.get(group[0]["engine"], "o")
        ax.scatter(x, y, marker=marker, zorder=2)
        names = [
            r["label"].replace("cascade, escalate_below=", "cascade ")
            + (" (default)" if r is default(result) else "")
            for r in group
        ]
        label = " = ".join(names)
        if group[0]["quality"] is not None and group[0]["quality"] != DEFAULT_QUALITY:
            # the other quality setting: labelled left of its point, the sweep is right
            ax.annotate(label, (x, y), fontsize=7, xytext=(4, -22), textcoords="offset points")
            continue
        if y >= 99.5:
            above = not above
        ax.annotate(
            label,
            (x, y),
            fontsize=7,
            xytext=(4, 6 if y >= 99.5 and above else -11),
            textcoords="offset points",
        )
    ax.set_ylim(top=max(100 * r["exact"] for r in result["configs"]) + 0.4)
    ax.set_xlabel("billed WeChat calls per 1,000 images")
    ax.set_ylabel("field exact-match (%)")
    ax.set_title(
        f"Cascade: bill vs accuracy ({result['split']} split, {result['images']} images)",
        fontsize=9,
    )
    ax.grid(alpha=0.3)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def markdown(result: Mapping[str, Any]) -> str:
    d = default(result)
    lines = [
        "# Cascade: bill vs accuracy (issue 17)",
        "",
        f"Command: `{result['command']}`; {result['images']} images of the {result['split']} "
        "split, WeChat played by the emulator answering the true answers.",
        "",
        "| configuration | billed calls / 1,000 images | share of WeChat-only "
        "| field exact-match | Δ vs WeChat-only (points) |",
        "|---|---|---|---|---|",
    ]
    for r in result["configs"]:
        lines.append(
            f"| {r['label']} | {r['billed_per_1000']:.0f} | {r['share_of_wechat']:.1%} | "
            f"{r['exact']:.2%} | {r['delta_points']:+.2f} |"
        )
    wechat = next(r for r in result["configs"] if r["engine"] == "wechat")
    local = next(r for r in result["configs"] if r["engine"] == "local")
    lines += [
        "",
        "![bill vs accuracy](bench/plots/cascade.png)",
        "",
        f"Default cascade (escalate_below={d['escalate_below']:g}), per kind and variant "
        "(escalated: rows sent to WeChat):",
        "",
        "| kind / variant | escalated | local only | default cascade | WeChat only |",
        "|---|---|---|---|---|",
    ]
    for group, key in (("kind", "by_kind"), ("variant", "by_variant")):
        for name in d[key]:
            lines.append(
                f"| {name} | {d['escalated_by'].get(f'{group}:{name}', 0)} | "
                f"{local[key][name]:.2%} | {d[key][name]:.2%} | {wechat[key][name]:.2%} |"
            )
    lines += [
        "",
        "Escalation reasons (rows, default cascade): "
        + ", ".join(f"{k} {v}" for k, v in d["reasons"].items())
        + ".",
        "",
        "Targets (default cascade): "
        + "; ".join(
            f"{t['what']}: {'met' if t['met'] else 'NOT met'} ({t['value']:.3g})"
            for t in targets(result)
        )
        + ".",
        "",
    ]
    return "\n".join(lines)


def write(result: Mapping[str, Any]) -> None:
    """``bench/results/cascade.md`` (the JSON is saved by the caller)."""
    common.RESULTS.mkdir(parents=True, exist_ok=True)
    (common.RESULTS / "cascade.md").write_text(markdown(result), "utf-8")


def bench(quick: bool) -> dict[str, Any]:
    """``make bench``'s entry: the report split (4 per kind and variant when ``quick``)."""
    per_kind = 4 if quick else REPORT_PER_KIND
    result = measure("report", per_kind)
    result["targets"] = targets(result)
    if not quick:  # the markdown is the reported one
        write(result)
    return result


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.cascade", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--split", choices=("tune", "report"), required=True)
    parser.add_argument("--per-kind", type=int, required=True)
    args = parser.parse_args(argv)
    started = time.perf_counter()
    result = measure(args.split, args.per_kind)
    result["targets"] = targets(result)
    result["elapsed_s"] = time.perf_counter() - started
    if args.split == "report" and args.per_kind == REPORT_PER_KIND:  # only the reported run
        common.save("cascade", result)
        write(result)
        plot(result, common.PLOTS / "cascade.png")
    print(markdown(result))
    common.log(f"done in {result['elapsed_s']:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
