"""4. Memory at scale: ``recognize_to_parquet`` over 10k / 50k / 200k rows.

The column holds paths to 2,000 distinct small files (2 KB JPEG-like, in a temporary
directory), drawn at random: many duplicates, as in a real table of scans.  Every size
runs in a fresh subprocess (``python -m bench.memory --worker``) with a fresh cache
directory, against the emulator (latency 0, its own process), with the library's
defaults (cache on, concurrency 16, chunk size 256).  The worker reports its peak RSS
(``VmHWM``; ``ru_maxrss`` too, see :func:`_peak_mb`), its RSS before the run (after
imports and building the input list) and an RSS trace sampled every 50 ms.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from . import common

KIND = "idcard"
SIZES = (10_000, 50_000, 200_000)
DISTINCT = 2_000
TARGET_PEAK_MB = 400.0
#: "flat": the peak grows by less than this from the smallest to the largest size.
TARGET_GROWTH = 0.20


def _rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def _peak_mb() -> float:
    """Peak RSS of this process: ``VmHWM``, the high-water mark of this process's memory.

    ``ru_maxrss`` is reported too, but on Linux it starts at the RSS of the parent at the
    moment of fork/exec (the kernel carries the old address space's peak over), so a
    worker started by a big parent would show the parent's peak, not its own.
    """
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def worker(rows: int, base_url: str, images: Path, out_dir: Path, seed: int) -> dict[str, Any]:
    import ocr_frames as of

    common.loopback_only()
    files = sorted(os.fspath(p) for p in images.iterdir())
    rng = random.Random(seed)
    column = [files[rng.randrange(len(files))] for _ in range(rows)]
    before = _rss_mb()
    trace: list[tuple[float, float]] = []
    stop = threading.Event()
    started = time.perf_counter()

    def sample() -> None:
        while not stop.wait(0.05):
            trace.append((time.perf_counter() - started, _rss_mb()))

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    summary = of.recognize_to_parquet(
        column,
        KIND,
        out_dir / "out.parquet",
        engine=common.engine(base_url),
        cache_dir=out_dir / "cache",
        progress=False,
    )
    wall = time.perf_counter() - started
    stop.set()
    sampler.join()
    return {
        "rows": rows,
        "wall_s": wall,
        "rows_per_s": rows / wall,
        "rss_before_mb": before,
        "peak_rss_mb": _peak_mb(),
        "ru_maxrss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "trace": trace,
        "summary": summary.to_dict(),
        "parquet_bytes": (out_dir / "out.parquet").stat().st_size,
    }


def run(quick: bool = False) -> dict[str, Any]:
    common.loopback_only()
    sizes = (2_000, 5_000, 20_000) if quick else SIZES
    tmp = Path(tempfile.mkdtemp(prefix="ocr-frames-bench-"))
    try:
        images = tmp / "images"
        common.write_images(images, DISTINCT, min_size=1500, max_size=2500, seed=4)
        results = []
        with common.emulator(0.0) as emu:
            for i, rows in enumerate(sizes):
                common.log(f"memory: recognize_to_parquet over {rows} rows (subprocess)")
                out_dir = tmp / f"run{i}"
                out_dir.mkdir()
                command = [
                    sys.executable,
                    "-m",
                    "bench.memory",
                    "--worker",
                    "--rows",
                    str(rows),
                    "--base-url",
                    emu.base_url,
                    "--images",
                    os.fspath(images),
                    "--out",
                    os.fspath(out_dir),
                ]
                done = subprocess.run(
                    command, cwd=common.ROOT, capture_output=True, text=True, check=True
                )
                results.append(json.loads(done.stdout))
                shutil.rmtree(out_dir, ignore_errors=True)
        peaks = [r["peak_rss_mb"] for r in results]
        growth = peaks[-1] / peaks[0] - 1
        slope = (peaks[-1] - peaks[0]) / (sizes[-1] - sizes[0]) * 100_000
        return {
            "kind": KIND,
            "distinct_images": DISTINCT,
            "runs": results,
            "growth_smallest_to_largest": growth,
            "mb_per_100k_rows": slope,
            "targets": [
                {
                    "what": f"peak RSS < {TARGET_PEAK_MB:.0f} MB at {sizes[-1]:,} rows",
                    "value": peaks[-1],
                    "met": peaks[-1] < TARGET_PEAK_MB,
                },
                {
                    "what": f"flat: peak grows < {TARGET_GROWTH:.0%} from {sizes[0]:,} "
                    f"to {sizes[-1]:,} rows",
                    "value": growth,
                    "met": growth < TARGET_GROWTH,
                },
            ],
        }
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def plot(result: dict[str, Any], path: Any) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    runs = result["runs"]
    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4.5))
    rows = [r["rows"] for r in runs]
    left.plot(rows, [r["peak_rss_mb"] for r in runs], "o-", label="peak RSS (VmHWM)")
    left.plot(rows, [r["rss_before_mb"] for r in runs], "s--", label="RSS before the run")
    left.axhline(TARGET_PEAK_MB, color="r", linestyle=":", label=f"target {TARGET_PEAK_MB:.0f} MB")
    left.set_xscale("log")
    left.set_ylim(0, max(TARGET_PEAK_MB * 1.1, *(r["peak_rss_mb"] * 1.1 for r in runs)))
    left.set_xlabel("rows")
    left.set_ylabel("MB")
    left.set_title("recognize_to_parquet: peak RSS vs rows")
    left.legend()
    left.grid(True, alpha=0.3)
    for r in runs:
        if r["trace"]:
            t, rss = zip(*r["trace"], strict=True)
            share = [x / r["wall_s"] for x in t]
            right.plot(share, rss, label=f"{r['rows']:,} rows ({r['wall_s']:.1f} s)")
    right.set_xlabel("fraction of the run")
    right.set_ylabel("RSS, MB")
    right.set_title("RSS during the run (sampled every 50 ms)")
    right.set_ylim(0, None)
    right.legend()
    right.grid(True, alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.memory")
    parser.add_argument("--worker", action="store_true")
    parser.add_argument("--rows", type=int)
    parser.add_argument("--base-url")
    parser.add_argument("--images", type=Path)
    parser.add_argument("--out", type=Path)
    parser.add_argument("--seed", type=int, default=5)
    args = parser.parse_args(argv)
    if not args.worker:
        print(json.dumps(run(), indent=2))
        return 0
    print(json.dumps(worker(args.rows, args.base_url, args.images, args.out, args.seed)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
