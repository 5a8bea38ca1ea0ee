"""BENCHMARKS.md from ``bench/results/*.json`` (and ``bench/notes.md``, hand-written)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from bench import cascade, common, generalise, local_throughput, trust

OUT = common.ROOT / "BENCHMARKS.md"
NOTES = common.ROOT / "bench" / "notes.md"
LOCAL_ENGINE = common.RESULTS / "local_engine.md"
QUALITY = common.RESULTS / "quality.md"
CASCADE = common.RESULTS / "cascade.md"


def _f(value: Any, digits: int = 1) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:,.{digits}f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{value:.1%}"


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return [*lines, ""]


def _failed(name: str, result: dict[str, Any]) -> list[str]:
    error = result["error"].strip().splitlines()[-1]
    return [f"**This benchmark failed in the last run:** `{error}`", ""]


def _plot(name: str, alt: str) -> list[str]:
    path = common.PLOTS / f"{name}.png"
    return [f"![{alt}](bench/plots/{name}.png)", ""] if path.exists() else []


# --- sections --------------------------------------------------------------------------


def _machine(run: dict[str, Any]) -> list[str]:
    packages = ", ".join(f"{k} {v}" for k, v in run["packages"].items())
    busy = run["loadavg_start"][0] > 0.5 * (run["nproc"] or 1)
    lines = [
        f"* **Command:** `{run['command']}` (`python -m bench.run`), started {run['started']},"
        f" took **{run['total_s'] / 60:.1f} minutes**"
        f" ({', '.join(f'{k} {v:.0f} s' for k, v in run['benchmarks'].items())}).",
        f"* **Machine:** {run['nproc']} CPUs ({run['cpu']}, SHA extensions: "
        f"{'yes' if run['sha_ni'] else 'no'}), {run['ram_gib']} GiB RAM, {run['os']}, "
        f"{run['python']}.",
        f"* **Packages:** {packages}.",
        f"* **Load average** (1/5/15 min) at the start: {run['loadavg_start']}, at the end: "
        f"{run.get('loadavg_end')}.",
    ]
    if busy:
        lines.append(
            "* ⚠ **The machine was busy** (other processes were running): these numbers are "
            "provisional; rerun `make bench` on a quiet machine."
        )
    if run.get("quick"):
        lines.append("* ⚠ **Quick mode** (small sizes): not numbers to publish.")
    return [*lines, ""]


def _summary(results: dict[str, dict[str, Any]]) -> list[str]:
    rows = []
    for name, result in results.items():
        for target in result.get("targets", []):
            value = target["value"]
            shown = _f(value, 2) if isinstance(value, float) else _f(value)
            if isinstance(value, float) and "%" in target["what"]:
                shown = _pct(value)
            if isinstance(value, float) and "×" in target["what"]:
                shown = f"{value:.2f}×"
            rows.append([name, target["what"], shown, "✅ met" if target["met"] else "❌ missed"])
    return _table(["benchmark", "target", "measured", ""], rows)


def _throughput(r: dict[str, Any]) -> list[str]:
    lines = [
        '`ocr_frames.recognize(images, "idcard", engine=WeChatEngine(...), cache_dir=False, '
        "progress=False, concurrency=C)` against the emulator in its own process, on distinct "
        f"{r['image_bytes']:,}-byte in-memory images. **End to end**: a new engine per run, "
        "so the token call (delayed by the latency too) and opening the connections are "
        "included. **Steady state**: answers after the first C, over the time from the C-th "
        "answer to the last. Sequential baselines: a loop of `httpx.post(...)` (a new client "
        "per call, as most scripts do) and a loop of wechatpy 2.x "
        "`client.wxa.ocr_idcard(file_bytes=...)` (requests, keep-alive; wechatpy has no "
        "base-URL option: its `API_BASE_URL` and token URL are overridden to reach the "
        "emulator), token fetched before the clock starts. Ideal = C / latency.",
        "",
    ]
    for latency, entry in r["latencies"].items():
        h, w = entry["httpx_sequential"], entry["wechatpy_sequential"]
        lines += [
            f"**Latency {float(latency) * 1000:.0f} ms.** Sequential httpx loop: "
            f"{h['rate']:.2f} calls/s ({h['images']} images); wechatpy loop: {w['rate']:.2f} "
            f"calls/s ({w['images']} images).",
            "",
        ]
        rows = [
            [
                str(x["concurrency"]),
                _f(x["images"]),
                _f(x["wall_s"], 2),
                _f(x["rate"]),
                _f(x["ideal"], 0),
                _pct(x["share_of_ideal"]),
                _pct(x["steady_share_of_ideal"]),
                f"{x['speedup_vs_httpx_sequential']:.1f}×",
                f"{x['speedup_vs_wechatpy_sequential']:.1f}×",
                _f(x["client_cpu_us_per_call"], 0),
                _f(x["server_cpu_us_per_call"], 0),
            ]
            for x in entry["ocr_frames"]
        ]
        lines += _table(
            [
                "C",
                "images",
                "wall s",
                "calls/s",
                "ideal",
                "% ideal (e2e)",
                "% ideal (steady)",
                "× httpx loop",
                "× wechatpy loop",
                "client CPU µs/call",
                "emulator CPU µs/call",
            ],
            rows,
        )
    return [*lines, *_plot("throughput", "calls per second against concurrency")]


def _cached(r: dict[str, Any]) -> list[str]:
    floor_sum = r["floor_sha256sum_s"]
    rows = [
        ["first run (fills the cache; emulator, latency 0, C=32)", _f(r["first_run_s"], 2), ""],
        [
            "floor: hashlib sha256 of every file, one process",
            _f(r["floor_hashlib_s"], 2),
            f"{r['total_bytes'] / r['floor_hashlib_s'] / 1e9:.2f} GB/s",
        ],
        [
            "floor: `sha256sum` (coreutils, via xargs)",
            _f(floor_sum, 2),
            "" if floor_sum is None else f"{r['total_bytes'] / floor_sum / 1e9:.2f} GB/s",
        ],
        [
            "**rerun, all cached** (`recognize`, best of 3)",
            f"**{r['rerun_s']:.2f}**",
            f"{r['rerun_us_per_image']:.0f} µs/image; **{r['ratio_to_floor']:.2f}× the floor**",
        ],
        [
            "`ResultCache.get_many` of all keys at once",
            _f(r["lookup_all_keys_s"], 3),
            f"{r['lookup_share_of_rerun']:.0%} of the rerun",
        ],
    ]
    return [
        f"{r['images']:,} distinct JPEG-like files of 50–200 KB ({r['total_bytes'] / 1e9:.2f} "
        "GB, random payload) written to a temporary directory (deleted afterwards); the files "
        "are in the page cache for every measurement. The rerun is "
        '`recognize(paths, "idcard", engine=..., cache_dir=<cache>, progress=False)`, end to '
        "end (read, hash, look up, flatten to the typed DataFrame). Floor = the faster of the "
        "two hashing runs.",
        "",
        *_table(["what", "seconds", ""], rows),
        f"Rerun CPU time {r['rerun_cpu_s']:.2f} s for {r['rerun_s']:.2f} s of wall time: the "
        "files are read and hashed in worker threads (hashlib releases the GIL), so the "
        "rerun can use both cores while the one-process floor uses one.",
        "",
    ]


def _flatten(r: dict[str, Any]) -> list[str]:
    rows = [
        [
            k["kind"],
            _f(k["to_arrow_s"], 3),
            _f(k["ours_s"], 3),
            _f(k["json_normalize_only_s"], 3),
            _f(k["baseline_s"], 3),
            f"**{k['speedup']:.1f}×**",
            f"{k['speedup_vs_json_normalize_only']:.1f}×",
            f"{k['ours_rows_per_s'] / 1e6:.2f} M",
            "yes" if k["identical"] else "**NO**",
        ]
        for k in r["kinds"]
    ]
    return [
        f"{r['rows']:,} answers per kind ({r['distinct']:,} distinct realistic answers from the "
        "emulator's generator, through `parse_response`, 2% of them 101001 errors; each used "
        f"{r['rows'] // r['distinct']} times with its own sha256). *Ours* = "
        "`to_pandas(to_arrow(kind, answers))`; *baseline* = `pd.json_normalize(answers, "
        'sep="_")` then `astype` to the same nullable dtypes, `pd.to_datetime(format=...)` '
        "for dates, `str.split` for the ID card validity and, for the list kinds, "
        "`json_normalize(record_path=...)` for the items regrouped into the same "
        "`list<struct>` column (`bench/flatten.py: baseline`). *Identical*: both frames "
        "converted with `schema(kind)` are `Table.equals` and have the same dtypes. Best of "
        "3 (ours) and 2 (baseline) runs, seconds.",
        "",
        *_table(
            [
                "kind",
                "to_arrow",
                "ours (to_arrow + to_pandas)",
                "json_normalize alone",
                "baseline",
                "speed-up",
                "vs json_normalize alone",
                "rows/s (ours)",
                "identical",
            ],
            rows,
        ),
        *_plot("flatten", "flattening time per kind"),
    ]


def _memory_rows(runs: list[dict[str, Any]]) -> list[list[str]]:
    return [
        [
            _f(x["rows"]),
            _f(x["wall_s"], 1),
            _f(x["rows_per_s"], 0),
            _f(x["rss_before_mb"], 0),
            f"**{x['peak_rss_mb']:.0f}**",
            _f(x["summary"]["billed_calls"]),
            _f(x["summary"]["cache_hits"]),
            _f(x["summary"]["duplicates"]),
        ]
        for x in runs
    ]


_MEMORY_COLUMNS = [
    "rows",
    "wall s",
    "rows/s",
    "RSS before run MB",
    "peak RSS MB",
    "billed calls",
    "cache hits",
    "in-run duplicates",
]


def _memory(r: dict[str, Any]) -> list[str]:
    lines = [
        '`recognize_to_parquet(column, "idcard", out, engine=..., cache_dir=<fresh>, '
        "progress=False)` with library defaults; the column holds paths to "
        f"{r['distinct_images']:,} distinct 2 KB files drawn at random (many duplicates); "
        "emulator at latency 0 in its own process; one subprocess per size. Peak RSS = the "
        "worker's `VmHWM` (its own high-water mark; `ru_maxrss` is also in the JSON, but "
        "Linux starts it at the RSS of the parent at fork/exec, so it would show the "
        "benchmark runner's peak, not the worker's).",
        "",
        *_table(_MEMORY_COLUMNS, _memory_rows(r["runs"])),
        f"Peak RSS grows by {r['growth_smallest_to_largest']:.1%} from the smallest to the "
        f"largest size ({r['mb_per_100k_rows']:.1f} MB per 100,000 rows, the input list itself "
        "included).",
        "",
    ]
    no_cache = r.get("no_cache")
    if no_cache:
        lines += [
            "**Without a cache** (`cache_dir=False`): the column is drawn from `rows / 2` "
            "distinct 2 KB files, so most answers are new and duplicates span the whole run "
            "(each must still be sent once only: billed calls = distinct images).",
            "",
            *_table(_MEMORY_COLUMNS, _memory_rows(no_cache["runs"])),
            f"Peak RSS grows by {no_cache['growth_smallest_to_largest']:.1%} from the smallest "
            f"to the largest size ({no_cache['mb_per_100k_rows']:.1f} MB per 100,000 rows).",
            "",
        ]
    pdf = r.get("pdf")
    if pdf:
        lines += [
            f"**PDFs**: {pdf['documents']} distinct scanned PDFs of {pdf['pages']} pages "
            f"({pdf['pdf_mb'] / pdf['documents']:.1f} MB each, every page rendering to a "
            "~0.9 MB JPEG at 200 dpi), fresh cache, library defaults: "
            f"{pdf['summary']['rows']:,} rows ({pdf['summary']['billed_calls']:,} billed calls) "
            f"in {pdf['wall_s']:.0f} s, RSS before the run {pdf['rss_before_mb']:.0f} MB, "
            f"**peak RSS {pdf['peak_rss_mb']:.0f} MB**.",
            "",
        ]
    return [*lines, *_plot("memory", "peak RSS against rows")]


def _overhead(r: dict[str, Any]) -> list[str]:
    rows = [
        [
            str(x["concurrency"]),
            _f(x["calls"]),
            _f(x["rate"], 0),
            f"**{x['cpu_us_per_call']:.0f}**",
            _f(x["hashing_us_per_call"], 1),
            _f(x["raw_httpx"]["cpu_us_per_call"], 0),
            _f(x["raw_httpx_engine_transport"]["cpu_us_per_call"], 0),
            _f(x["library_us_per_call"], 0),
            _f(x["server_cpu_us_per_call"], 0),
        ]
        for x in r["runs"]
    ]
    prof = r["profile"]
    shares = ", ".join(f"{name} {share:.0%}" for name, share in prof["own_share_by_package"][:9])
    top = [
        [f"`{t['function']}`", _f(t["calls"]), _pct(t["own_share"]), _pct(t["cum_share"])]
        for t in prof["top_own"][:12]
    ]
    cumulative = [
        [f"`{t['function']}`", _f(t["calls"]), _pct(t["own_share"]), _pct(t["cum_share"])]
        for t in prof["top_cumulative"]
        if "asyncio/" not in t["function"] and "_runner" not in t["function"]
    ][:14]
    return [
        "Emulator at latency 0 (own process), distinct 2 KB in-memory images, "
        "`recognize(..., cache_dir=False, progress=False, concurrency=C)`. *CPU µs/call* = CPU "
        "time of the client process (all threads) per call, minus the sha256 of the images "
        "(timed apart). *Raw httpx* = C asyncio workers doing `AsyncClient.post(files=...)` + "
        "`.json()` on the same images, with httpx's default pool and with the transport "
        f"`WeChatEngine` uses by default (`{r['engine_transport']}`): the cost of an httpx "
        "call with nothing around it; *library adds* = ours − raw with the same transport.",
        "",
        *_table(
            [
                "C",
                "calls",
                "calls/s",
                "ocr_frames CPU µs/call",
                "hashing µs/call",
                "raw httpx µs/call",
                f"raw httpx + {r['engine_transport']} µs/call",
                "library adds µs/call",
                "emulator CPU µs/call",
            ],
            rows,
        ),
        f"cProfile of the C={prof['concurrency']} run ({prof['calls']:,} calls; profiled "
        f"{prof['profiled_s']:.2f} s): own time by package: {shares}.",
        "",
        "Top functions by own time (share of the profiled time; cumulative share too; "
        "cProfile counts every resumption of a coroutine as a call):",
        "",
        *_table(["function", "calls", "own", "cumulative"], top),
        "Top call paths by cumulative share (asyncio's loop frames left out):",
        "",
        *_table(["function", "calls", "own", "cumulative"], cumulative),
    ]


SECTIONS = (
    ("throughput", "1. Throughput against latency", _throughput),
    ("cached_rerun", "2. Cached rerun", _cached),
    ("flatten", "3. Typed flattening", _flatten),
    ("memory", "4. Memory at scale", _memory),
    ("overhead", "5. Library overhead per call", _overhead),
)


# --- closing note -------------------------------------------------------------------------


def _why(name: str, target: dict[str, Any], results: dict[str, dict[str, Any]]) -> str:
    """A measured explanation of a missed target (the numbers that show the bottleneck)."""
    if "why" in target:
        return str(target["why"])
    if name == "throughput":
        entry = results[name]["latencies"].get(f"{target.get('latency', 0):g}")
        runs = [] if entry is None else entry["ocr_frames"]
        x = next((r for r in runs if r["concurrency"] == target.get("concurrency")), None)
        if x is None:
            return "see section 1."
        latency = target["latency"]
        ideal_wall = x["images"] / x["ideal"]
        cap = ideal_wall / (ideal_wall + latency)
        cpus = (x["client_cpu_us_per_call"] + x["server_cpu_us_per_call"]) * x["ideal"] / 1e6
        return (
            f"the run took {x['wall_s']:.2f} s where the ideal is {ideal_wall:.2f} s. The token "
            f"call comes first and costs one latency ({latency:g} s), which alone caps end to "
            f"end at {cap:.0%}; the first round of C calls opens C connections. In steady "
            f"state the pool ran at {_pct(x['steady_share_of_ideal'])} of ideal: every answer "
            "waits for the client's event loop, and at this rate client + emulator need "
            f"{cpus:.2f} of the {os.cpu_count()} CPUs ({x['client_cpu_us_per_call']:.0f} + "
            f"{x['server_cpu_us_per_call']:.0f} µs per call) on a machine whose load average "
            f"was {x['loadavg'][0]} (other processes). Less client CPU per call is the lever: "
            "section 5 and the notes above (proposal 1: −20 %)."
        )
    if name == "cached_rerun":
        r = results[name]
        return (
            f"rerun {r['rerun_s']:.2f} s vs floor {r['floor_s']:.2f} s; cache lookups take "
            f"{r['lookup_all_keys_s']:.2f} s ({r['lookup_share_of_rerun']:.0%}); the rest is "
            "reading, hashing and flattening (profile in bench/results/cached_rerun.json)."
        )
    if name == "flatten":
        return (
            "see the table: the baseline is as fast as json_normalize allows; our time is "
            "dominated by building the Arrow arrays."
        )
    if name == "memory":
        return "peak RSS measured per case and size in its own process; see section 4."
    return ""


def _closing(results: dict[str, dict[str, Any]]) -> list[str]:
    missed = [
        (name, t) for name, r in results.items() for t in r.get("targets", []) if not t["met"]
    ]
    failed = [name for name, r in results.items() if "error" in r]
    lines = ["## Closing note", ""]
    if not missed and not failed:
        return [*lines, "Every target is met in this run.", ""]
    for name in failed:
        lines.append(f"* **{name}** did not run to the end (see its section).")
    for name, t in missed:
        value = t["value"]
        shown = f"{value:.1%}" if "%" in t["what"] else f"{value:.2f}"
        lines.append(f"* **{name}: {t['what']}** — measured {shown}. Why: {_why(name, t, results)}")
    return [*lines, ""]


def local_throughput_targets(result: dict[str, Any]) -> list[dict[str, Any]]:
    ratio = result["configs"]["b"]["ratio_to_a"]
    return [
        {
            "what": "default LocalEngine() ≥ 1.7× LocalEngine(workers=1, threads=1) (×)",
            "value": float(ratio),
            "met": ratio >= 1.7,
            "why": "see the local engine throughput section and the notes on it: 93 % of the "
            "time is onnxruntime; through the pipeline, (a) gets the pipeline's own work "
            "done on the idle second core, (b) shares that core with onnxruntime.",
        }
    ]


def write(path: Path = OUT) -> Path:
    run = common.load("run")
    results = {name: r for name, _, _ in SECTIONS if (r := common.load(name)) is not None}
    for name, targets in (
        ("local_accuracy", generalise.targets),
        ("local_throughput", local_throughput_targets),
        ("trust", trust.targets),
        ("cascade", cascade.targets),
    ):
        if (r := common.load(name)) is not None and "error" not in r:
            results[name] = {**r, "targets": targets(r)}
    lines = [
        "# Benchmarks",
        "",
        "Generated by `make bench` (`python -m bench.run`, code in `bench/`) — do not edit by "
        "hand; hand-written analysis lives in `bench/notes.md` and is included below. Raw "
        "results: `bench/results/*.json`.",
        "",
    ]
    if run is not None:
        lines += _machine(run)
    lines += ["## Targets", "", *_summary(results)]
    for name, title, render in SECTIONS:
        result = results.get(name)
        if result is None:
            continue
        lines += [f"## {title}", ""]
        lines += _failed(name, result) if "error" in result else render(result)
    local = [
        section(result)
        for name, section in (
            ("local_accuracy", generalise.markdown),
            ("local_throughput", local_throughput.markdown),
        )
        if (result := common.load(name)) is not None and "error" not in result
    ]
    if LOCAL_ENGINE.exists():
        local.append(LOCAL_ENGINE.read_text())
    if local:
        text = "\n".join(part.strip() + "\n" for part in local).splitlines()
        demoted = [f"##{line}" if line.startswith("#") else line for line in text]
        lines += ["## Local engine", "", *demoted, ""]
    if (result := common.load("trust")) is not None and "error" not in result:
        text = trust.markdown(result).splitlines()
        lines += [f"#{line}" if line.startswith("#") else line for line in text] + [""]
    if CASCADE.exists():  # python -m bench.cascade --split report --per-kind 15
        text = CASCADE.read_text().strip().splitlines()
        lines += [f"#{line}" if line.startswith("#") else line for line in text] + [""]
    if QUALITY.exists():  # python -m bench.quality --split report (see docs/quality.md)
        text = QUALITY.read_text().strip().splitlines()
        lines += [f"#{line}" if line.startswith("#") else line for line in text] + [""]
    if NOTES.exists():
        lines += [NOTES.read_text().strip(), ""]
    lines += _closing(results)
    path.write_text("\n".join(lines).rstrip() + "\n")
    return path
