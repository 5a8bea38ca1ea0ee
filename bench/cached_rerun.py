"""2. Cached rerun: every image already answered, so a rerun is reading + hashing + lookups.

10,000 distinct JPEG-like files of 50-200 KB (random payload, ~1.25 GB) are written to a
temporary directory made for this run (deleted afterwards).  A first run against the
emulator (latency 0, own process) fills a fresh cache directory; then:

* floor: sha256 of every file, read in one process with hashlib (open, read, hash, one
  file after the other), and ``sha256sum`` (coreutils, fed the list by ``xargs``);
  the faster of the two is the floor;
* rerun: ``ocr_frames.recognize(paths, "idcard", engine=..., cache_dir=<that cache>,
  progress=False)`` wall time, end to end (reading, hashing, cache lookups, flattening
  to the typed DataFrame);
* lookups alone: ``ResultCache.get_many`` of all 10,000 keys in one call.

The files are in the page cache for all three (the first run has just read them), so
this measures CPU, not the disk.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

from bench import common

KIND = "idcard"
TARGET_RATIO = 1.5


def hash_floor_hashlib(paths: list[str]) -> float:
    started = time.perf_counter()
    for path in paths:
        with open(path, "rb") as f:
            hashlib.sha256(f.read()).hexdigest()
    return time.perf_counter() - started


def hash_floor_sha256sum(paths: list[str]) -> float | None:
    if shutil.which("sha256sum") is None or shutil.which("xargs") is None:
        return None
    data = "\0".join(paths).encode()
    started = time.perf_counter()
    subprocess.run(["xargs", "-0", "sha256sum"], input=data, stdout=subprocess.DEVNULL, check=True)
    return time.perf_counter() - started


def _profile_rerun(paths: list[str], engine: Any, cache_dir: Path) -> list[dict[str, Any]]:
    """Top functions (event-loop thread) of one more rerun, by cumulative share."""
    import cProfile
    import pstats

    import ocr_frames as of

    profiler = cProfile.Profile()
    profiler.enable()
    of.recognize(paths, KIND, engine=engine, cache_dir=cache_dir, progress=False)
    profiler.disable()
    return top_functions(pstats.Stats(profiler), 12)


def top_functions(stats: Any, n: int, key: str = "cumulative") -> list[dict[str, Any]]:
    """``n`` rows of a pstats table as dicts: function, cumulative/own seconds and share."""
    total = max(getattr(stats, "total_tt", 0.0), 1e-9)
    rows = []
    for (filename, line, name), (_cc, calls, tottime, cumtime, _callers) in stats.stats.items():
        where = _short(filename)
        if where.startswith(("~", "<")) and name.startswith("<"):
            continue
        rows.append(
            {
                "function": f"{where}:{line}({name})",
                "calls": calls,
                "own_s": tottime,
                "cum_s": cumtime,
                "cum_share": cumtime / total,
                "own_share": tottime / total,
            }
        )
    rows.sort(key=lambda r: r["cum_s" if key == "cumulative" else "own_s"], reverse=True)
    return rows[:n]


def _short(filename: str) -> str:
    for marker in ("site-packages/", "/lib/python3."):
        if marker in filename:
            tail = filename.split(marker, 1)[1]
            return tail.split("/", 1)[1] if marker.startswith("/lib") else tail
    root = os.fspath(common.ROOT) + "/"
    return filename.removeprefix(root)


def run(quick: bool = False) -> dict[str, Any]:
    import ocr_frames as of
    from ocr_frames._cache.store import ResultCache

    common.loopback_only()
    n = 1000 if quick else 10_000
    tmp = Path(tempfile.mkdtemp(prefix="ocr-frames-bench-"))
    try:
        common.log(f"cached rerun: writing {n} images of 50-200 KB to {tmp}")
        with common.timed() as t_write:
            paths, total = common.write_images(
                tmp / "images", n, min_size=50_000, max_size=200_000, seed=2
            )
        cache_dir = tmp / "cache"
        with common.emulator(0.0) as emu:
            engine = common.engine(emu.base_url)
            common.log("cached rerun: first run (fills the cache)")
            with common.timed() as t_first:
                first = of.recognize(
                    paths, KIND, engine=engine, cache_dir=cache_dir, progress=False, concurrency=32
                )
            first_summary = first.attrs["ocr_frames"]
            del first
            common.log("cached rerun: floors and reruns")
            floors_hashlib = [hash_floor_hashlib(paths) for _ in range(3)]
            floors_sum = [hash_floor_sha256sum(paths) for _ in range(2)]
            reruns = []
            for _ in range(3):
                with common.timed() as t_rerun:
                    again = of.recognize(
                        paths, KIND, engine=engine, cache_dir=cache_dir, progress=False
                    )
                summary = again.attrs["ocr_frames"]
                reruns.append(
                    {
                        "wall_s": t_rerun.wall,
                        "cpu_s": t_rerun.cpu,
                        "cache_hits": summary["cache_hits"],
                        "billed_calls": summary["billed_calls"],
                    }
                )
                del again
            keys = [
                ResultCache.key(
                    hashlib.sha256(Path(p).read_bytes()).hexdigest(), KIND, engine.identity
                )
                for p in paths
            ]
            with ResultCache(cache_dir) as cache:
                cache.get_many(keys[:10])  # open the read connection
                started = time.perf_counter()
                found = cache.get_many(keys)
                lookup_s = time.perf_counter() - started
            profile = _profile_rerun(paths, engine, cache_dir)
        floor_hashlib = min(floors_hashlib)
        sums = [s for s in floors_sum if s is not None]
        floor_sum = min(sums) if sums else None
        floor = min(floor_hashlib, floor_sum) if floor_sum is not None else floor_hashlib
        best = min(reruns, key=lambda r: r["wall_s"])
        ratio = best["wall_s"] / floor
        return {
            "kind": KIND,
            "images": n,
            "total_bytes": total,
            "write_s": t_write.wall,
            "first_run_s": t_first.wall,
            "first_run": first_summary,
            "floor_hashlib_s": floor_hashlib,
            "floor_sha256sum_s": floor_sum,
            "floor_s": floor,
            "floor_gb_per_s": total / floor / 1e9,
            "reruns": reruns,
            "rerun_s": best["wall_s"],
            "rerun_cpu_s": best["cpu_s"],
            "rerun_us_per_image": best["wall_s"] / n * 1e6,
            "ratio_to_floor": ratio,
            "lookup_all_keys_s": lookup_s,
            "lookup_found": len(found),
            "lookup_share_of_rerun": lookup_s / best["wall_s"],
            "profile_top": profile,
            "targets": [
                {
                    "what": f"rerun ≤ {TARGET_RATIO}× the hashing floor",
                    "value": ratio,
                    "met": ratio <= TARGET_RATIO,
                },
                {
                    "what": "every row a cache hit, nothing billed",
                    "value": best["cache_hits"],
                    "met": all(r["cache_hits"] == n and r["billed_calls"] == 0 for r in reruns),
                },
            ],
        }
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
