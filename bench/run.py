"""``make bench``: run the nine benchmarks, save their results, regenerate BENCHMARKS.md.

    python -m bench.run                      # everything (~10 minutes on 2 cores)
    python -m bench.run --only flatten       # one or more (comma-separated); the others'
                                             # last results are reused for the report
    python -m bench.run --quick              # small sizes, for developing the bench
    python -m bench.run --report             # only rewrite BENCHMARKS.md from results

Each benchmark writes ``bench/results/<name>.json`` and, where a curve says more than a
table, ``bench/plots/<name>.png``.  A benchmark that fails is reported as failed; the
others still run.
"""

from __future__ import annotations

import argparse
import sys
import time
import traceback
from collections.abc import Callable
from typing import Any

from bench import (
    cached_rerun,
    cascade,
    common,
    flatten,
    generalise,
    local_throughput,
    memory,
    overhead,
    report,
    throughput,
    trust,
)

BENCHMARKS: dict[str, tuple[Callable[[bool], dict[str, Any]], Any]] = {
    "throughput": (throughput.run, throughput.plot),
    "cached_rerun": (cached_rerun.run, None),
    "flatten": (flatten.run, flatten.plot),
    "memory": (memory.run, memory.plot),
    "overhead": (overhead.run, None),
    "local_accuracy": (generalise.bench, None),
    "local_throughput": (local_throughput.run, None),
    "trust": (trust.bench, None),
    "cascade": (cascade.bench, cascade.plot),
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__)
    parser.add_argument("--only", help=f"comma-separated subset of {', '.join(BENCHMARKS)}")
    parser.add_argument("--quick", action="store_true", help="small sizes (not for reporting)")
    parser.add_argument("--report", action="store_true", help="only regenerate BENCHMARKS.md")
    args = parser.parse_args(argv)
    names = list(BENCHMARKS) if not args.only else [n.strip() for n in args.only.split(",")]
    unknown = [n for n in names if n not in BENCHMARKS]
    if unknown:
        parser.error(f"unknown benchmark(s): {', '.join(unknown)}")
    common.loopback_only()
    failed = 0
    if not args.report:
        started = time.perf_counter()
        run_info = common.machine()
        run_info["command"] = (
            "make bench"
            if not (args.only or args.quick)
            else " ".join(["python -m bench.run", *(argv if argv is not None else sys.argv[1:])])
        )
        run_info["quick"] = args.quick
        run_info["started"] = time.strftime("%Y-%m-%d %H:%M:%S %Z")
        run_info["benchmarks"] = {}
        for name in names:
            run, plot = BENCHMARKS[name]
            common.log(f"=== {name} ===")
            t0 = time.perf_counter()
            try:
                result = run(args.quick)
            except Exception:
                failed += 1
                result = {"error": traceback.format_exc(), "targets": []}
                common.log(f"{name} FAILED:\n{result['error']}")
            result["elapsed_s"] = time.perf_counter() - t0
            result["loadavg_end"] = [round(x, 2) for x in common.load_average()]
            result["quick"] = args.quick
            common.save(name, result)
            if plot is not None and "error" not in result:
                common.PLOTS.mkdir(parents=True, exist_ok=True)
                plot(result, common.PLOTS / f"{name}.png")
            run_info["benchmarks"][name] = round(result["elapsed_s"], 1)
        run_info["total_s"] = time.perf_counter() - started
        run_info["loadavg_end"] = [round(x, 2) for x in common.load_average()]
        previous = common.load("run") or {}
        if args.only and previous.get("benchmarks"):  # keep the timings of the others
            run_info["benchmarks"] = {**previous["benchmarks"], **run_info["benchmarks"]}
        common.save("run", run_info)
        common.log(f"all done in {run_info['total_s']:.0f} s")
    path = report.write()
    common.log(f"wrote {path}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
