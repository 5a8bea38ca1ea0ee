"""4. Memory at scale: ``recognize_to_parquet`` with and without a cache, and on PDFs.

Three cases, each size in a fresh subprocess (``python -m bench.memory --worker``) against
the emulator (latency 0, its own process), with the library's defaults (concurrency 16,
chunks of 256 rows / 32 MB):

* **cache**: the column holds paths to 2,000 distinct small files (2 KB JPEG-like, in a
  temporary directory) drawn at random, many duplicates as in a real table of scans;
  10k / 50k / 200k rows, fresh cache directory;
* **no cache** (``cache_dir=False``): the same kind of column drawn from ``rows / 2``
  distinct files (so most answers are new and duplicates still span the whole run);
  10k / 50k / 200k rows;
* **PDF**: 20 distinct scanned PDFs of 100 pages (~27 MB each, every page half noise so
  it renders to a ~0.9 MB JPEG), fresh cache directory.

The worker reports its peak RSS (``VmHWM``; ``ru_maxrss`` too, see :func:`_peak_mb`),
its RSS before the run (after imports and building the input list) and an RSS trace
sampled every 50 ms.
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

from bench import common

KIND = "idcard"
SIZES = (10_000, 50_000, 200_000)
DISTINCT = 2_000
#: PDF case: documents x pages (quick runs use fewer of both).
PDFS, PDF_PAGES = 20, 100
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


def worker(
    rows: int,
    base_url: str,
    images: Path,
    out_dir: Path,
    seed: int,
    *,
    pool: int | None = None,
    each: bool = False,
    cache: bool = True,
) -> dict[str, Any]:
    """One run: ``rows`` values drawn at random from the first ``pool`` files of
    ``images`` (all of them by default), or the first ``rows`` files in order (``each``)."""
    import ocr_frames as of

    common.loopback_only()
    files = sorted(os.fspath(p) for p in images.iterdir())
    if each:
        column = files[:rows]
    else:
        rng = random.Random(seed)
        drawn = len(files) if pool is None else pool
        column = [files[rng.randrange(drawn)] for _ in range(rows)]
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
        cache_dir=out_dir / "cache" if cache else False,
        progress=False,
    )
    wall = time.perf_counter() - started
    stop.set()
    sampler.join()
    trace = trace[:: max(1, len(trace) // 300)]  # enough for the plot, small in the JSON
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


def write_pdfs(folder: Path, count: int, pages: int, *, seed: int = 7) -> int:
    """``count`` distinct scanned PDFs of ``pages`` US-letter pages at 100 dpi; the top
    half of every page is noise (a ~285 KB JPEG inside the PDF, a ~0.9 MB JPEG once
    rendered at 200 dpi).  Returns the total size in bytes."""
    import io

    import numpy as np
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    total = 0
    for i in range(count):
        images = []
        for _ in range(pages):
            page = np.full((1100, 850, 3), 245, dtype=np.uint8)
            page[:550] = rng.integers(0, 256, (550, 850, 3), dtype=np.uint8)
            images.append(Image.fromarray(page))
        out = io.BytesIO()
        images[0].save(
            out, "PDF", save_all=True, append_images=images[1:], resolution=100, quality=72
        )
        (folder / f"doc_{i:03d}.pdf").write_bytes(out.getvalue())
        total += out.tell()
    return total


def _subprocess(
    base_url: str, images: Path, out_dir: Path, rows: int, *extra: str
) -> dict[str, Any]:
    out_dir.mkdir()
    command = [
        sys.executable,
        "-m",
        "bench.memory",
        "--worker",
        "--rows",
        str(rows),
        "--base-url",
        base_url,
        "--images",
        os.fspath(images),
        "--out",
        os.fspath(out_dir),
        *extra,
    ]
    try:
        done = subprocess.run(command, cwd=common.ROOT, capture_output=True, text=True, check=True)
        return dict(json.loads(done.stdout))
    finally:
        shutil.rmtree(out_dir, ignore_errors=True)


def _flat(runs: list[dict[str, Any]], label: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Growth figures of one case and its two targets (peak under the cap, flat)."""
    peaks = [r["peak_rss_mb"] for r in runs]
    rows = [r["rows"] for r in runs]
    growth = peaks[-1] / peaks[0] - 1
    figures = {
        "growth_smallest_to_largest": growth,
        "mb_per_100k_rows": (peaks[-1] - peaks[0]) / (rows[-1] - rows[0]) * 100_000,
    }
    targets = [
        {
            "what": f"{label}peak RSS < {TARGET_PEAK_MB:.0f} MB at {rows[-1]:,} rows",
            "value": peaks[-1],
            "met": peaks[-1] < TARGET_PEAK_MB,
        },
        {
            "what": f"{label}flat: peak grows < {TARGET_GROWTH:.0%} from {rows[0]:,} "
            f"to {rows[-1]:,} rows",
            "value": growth,
            "met": growth < TARGET_GROWTH,
        },
    ]
    return figures, targets


def run(quick: bool = False) -> dict[str, Any]:
    common.loopback_only()
    sizes = (2_000, 5_000, 20_000) if quick else SIZES
    pdfs, pages = (4, 20) if quick else (PDFS, PDF_PAGES)
    tmp = Path(tempfile.mkdtemp(prefix="ocr-frames-bench-"))
    try:
        images = tmp / "images"
        common.write_images(images, DISTINCT, min_size=1500, max_size=2500, seed=4)
        distinct = tmp / "distinct"
        common.write_images(distinct, sizes[-1] // 2, min_size=1500, max_size=2500, seed=6)
        documents = tmp / "pdfs"
        pdf_bytes = write_pdfs(documents, pdfs, pages)
        results, no_cache = [], []
        with common.emulator(0.0) as emu:
            for i, rows in enumerate(sizes):
                common.log(f"memory: recognize_to_parquet over {rows} rows (subprocess)")
                results.append(_subprocess(emu.base_url, images, tmp / f"run{i}", rows))
            for i, rows in enumerate(sizes):
                common.log(f"memory: {rows} rows, cache_dir=False (subprocess)")
                extra = ("--pool", str(rows // 2), "--no-cache")
                out = tmp / f"nocache{i}"
                no_cache.append(_subprocess(emu.base_url, distinct, out, rows, *extra))
            common.log(f"memory: {pdfs} PDFs of {pages} pages (subprocess)")
            pdf = _subprocess(emu.base_url, documents, tmp / "pdf", pdfs, "--each")
        figures, targets = _flat(results, "")
        no_cache_figures, no_cache_targets = _flat(no_cache, "cache_dir=False: ")
        pdf.update(documents=pdfs, pages=pages, pdf_mb=pdf_bytes / 2**20)
        return {
            "kind": KIND,
            "distinct_images": DISTINCT,
            "runs": results,
            **figures,
            "no_cache": {"runs": no_cache, **no_cache_figures},
            "pdf": pdf,
            "targets": [
                *targets,
                *no_cache_targets,
                {
                    "what": f"PDFs: peak RSS < {TARGET_PEAK_MB:.0f} MB on {pdfs} PDFs of "
                    f"{pages} pages",
                    "value": pdf["peak_rss_mb"],
                    "met": pdf["peak_rss_mb"] < TARGET_PEAK_MB,
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
    no_cache = result.get("no_cache", {}).get("runs", [])
    if no_cache:
        left.plot(
            [r["rows"] for r in no_cache],
            [r["peak_rss_mb"] for r in no_cache],
            "^-",
            label="peak RSS, cache_dir=False",
        )
    if "pdf" in result:
        pdf = result["pdf"]
        left.plot(
            [pdf["summary"]["rows"]],
            [pdf["peak_rss_mb"]],
            "D",
            label=f"peak RSS, {pdf['documents']} PDFs ({pdf['summary']['rows']:,} pages)",
        )
    left.axhline(TARGET_PEAK_MB, color="r", linestyle=":", label=f"target {TARGET_PEAK_MB:.0f} MB")
    left.set_xscale("log")
    peaks = [
        r["peak_rss_mb"] for r in [*runs, *no_cache, *([result["pdf"]] if "pdf" in result else [])]
    ]
    left.set_ylim(0, max(TARGET_PEAK_MB * 1.1, *(p * 1.1 for p in peaks)))
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
    parser.add_argument("--pool", type=int, help="draw from the first POOL files only")
    parser.add_argument("--each", action="store_true", help="the first ROWS files, in order")
    parser.add_argument("--no-cache", action="store_true", help="cache_dir=False")
    args = parser.parse_args(argv)
    if not args.worker:
        print(json.dumps(run(), indent=2))
        return 0
    result = worker(
        args.rows,
        args.base_url,
        args.images,
        args.out,
        args.seed,
        pool=args.pool,
        each=args.each,
        cache=not args.no_cache,
    )
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
