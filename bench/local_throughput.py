"""Local engine throughput: card images per second through the public API, five ways.

    python bench/local_throughput.py [--quick]        # prints the Markdown section

On the card images of ``sample_data/`` (the idcard, bankcard, driving and drivinglicense
entries of ``truth.json``), every kind run as its own call, the whole set repeated in
rounds until each configuration has processed >= 60 images (quick: >= 12):

a. ``ocr_frames.recognize(paths, kind, engine=LocalEngine(workers=1, threads=1),
   cache_dir=False, progress=False)`` — the baseline;
b. the same with ``LocalEngine()`` (the default: 1 worker, CPU count onnxruntime threads);
c. the same with ``LocalEngine(workers=2)`` (2 pipelines of CPU count / 2 threads);
d. ``ocr_frames.dask.recognize(ddf, "path", kind, engine=LocalEngine(threads=1),
   cache_dir=False)`` computed on a ``distributed.LocalCluster(n_workers=1,
   threads_per_worker=1, processes=True)`` on 127.0.0.1, dashboard off; one image per
   partition, so the scheduler balances the images over the workers;
e. the same on ``n_workers=2``;
f. (e) with the workers' ``MALLOC_TRIM_THRESHOLD_`` left unset: Dask's nanny sets it to
   65536 in every worker by default (``distributed.nanny.pre-spawn-environ``), which makes
   glibc hand freed memory back at once, and the engine's large per-image buffers then
   cost page faults every time (about 1.5x the seconds per image on this machine).

a–c each run in a fresh Python process of their own (so no configuration inherits
another's loaded models or onnxruntime threads); d–f in their Dask worker processes, the
client in this process.  All five are set up first: each loads its models
(``LocalEngine.warm_up()``, timed and reported apart as the model load) and runs one image
through the same call, untimed.  Then the rounds are interleaved — round 1 of a, b, c, d,
e, f, round 2 in the next order (rotated), and so on — so that other work on this shared
machine weighs on every configuration alike; only one configuration computes at a time.
No cache anywhere, and every call has distinct images (a run sends an image that appears
twice only once), so every image is recognised.  Rate = images / the summed wall seconds
of a configuration's timed calls; each ratio is to (a) of the same run.  For (b), the
latency: each card image once through ``engine.recognize_bytes(kind, data)`` (decode,
models, layout; no pipeline), median and p90 seconds.  The load average is recorded at
the start, after each round and at the end.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import statistics
import subprocess
import sys
import time
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make ``bench`` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import common

SAMPLES = common.ROOT / "sample_data"
CARDS = ("idcard", "bankcard", "driving", "drivinglicense")
MIN_IMAGES = 60
MIN_IMAGES_QUICK = 12

#: label → (description, engine keywords) of the in-process configurations.
IN_PROCESS: dict[str, tuple[str, dict[str, int]]] = {
    "a": ("LocalEngine(workers=1, threads=1)", {"workers": 1, "threads": 1}),
    "b": ("LocalEngine() (default)", {}),
    "c": ("LocalEngine(workers=2)", {"workers": 2}),
}
#: label → (Dask worker processes, Dask's default worker environment?); 1 thread each,
#: ``LocalEngine(threads=1)``.
DASK: dict[str, tuple[int, bool]] = {"d": (1, True), "e": (2, True), "f": (2, False)}
TRIM = "distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_"

Call = Callable[[str, list[str]], Any]


def card_images() -> dict[str, list[str]]:
    """Kind → paths of its card images in ``sample_data/truth.json`` (sorted)."""
    truth = json.loads((SAMPLES / "truth.json").read_text("utf-8"))
    out: dict[str, list[str]] = {kind: [] for kind in CARDS}
    for name, entry in sorted(truth.items()):
        if entry["kind"] in out:
            out[entry["kind"]].append(str(SAMPLES / name))
    return out


def rounds_for(images: dict[str, list[str]], quick: bool) -> int:
    """Rounds over the whole set so that >= 60 (quick: 12) images are processed."""
    total = sum(len(paths) for paths in images.values())
    return math.ceil((MIN_IMAGES_QUICK if quick else MIN_IMAGES) / total)


def _loadavg() -> list[float]:
    return [round(x, 2) for x in common.load_average()]


def one_round(call: Call, images: dict[str, list[str]]) -> dict[str, Any]:
    """``call(kind, paths)`` once per kind, timed (wall, and CPU of this process)."""
    n = ok = 0
    with common.timed() as t:
        for kind, paths in images.items():
            df = call(kind, paths)
            n += len(df)
            ok += int((df["errcode"] == 0).sum())
    return {"images": n, "ok": ok, "wall_s": t.wall, "cpu_s": t.cpu}


# --- a-c: ocr_frames.recognize in a process of its own ---------------------------------


def serve_in_process(label: str) -> None:
    """The child process of one in-process configuration: set up (warm-up apart), print
    one JSON line, then one JSON line per command read from stdin ("round", "latency")."""
    import pandas as pd

    import ocr_frames as of
    from ocr_frames.local import LocalEngine

    images = card_images()
    engine = LocalEngine(**IN_PROCESS[label][1])
    started = time.perf_counter()
    engine.warm_up()
    load_s = time.perf_counter() - started

    def call(kind: str, paths: list[str]) -> pd.DataFrame:
        series = pd.Series(paths, name="path")
        return of.recognize(series, kind, engine=engine, cache_dir=False, progress=False)

    kind, paths = next(iter(images.items()))
    call(kind, paths[:1])  # warm-up: one image through the pipeline, not timed
    print(json.dumps({"engine": repr(engine), "model_load_s": round(load_s, 3)}), flush=True)
    for line in sys.stdin:
        if line.strip() == "round":
            print(json.dumps(one_round(call, images)), flush=True)
        elif line.strip() == "latency":
            print(json.dumps(latency(engine, images)), flush=True)


def latency(engine: Any, images: dict[str, list[str]]) -> dict[str, Any]:
    """Seconds per image, one at a time through ``engine.recognize_bytes``."""
    seconds: list[float] = []
    for kind, paths in images.items():
        for path in paths:
            data = Path(path).read_bytes()
            started = time.perf_counter()
            engine.recognize_bytes(kind, data)
            seconds.append(time.perf_counter() - started)
    seconds.sort()
    return {
        "images": len(seconds),
        "median_s": round(statistics.median(seconds), 4),
        "p90_s": round(seconds[min(len(seconds) - 1, int(0.9 * len(seconds)))], 4),
        "max_s": round(seconds[-1], 4),
        "loadavg": _loadavg(),
    }


class _Child:
    """One in-process configuration in its own Python process, driven over stdin."""

    def __init__(self, label: str) -> None:
        command = [sys.executable, str(Path(__file__).resolve()), "--serve", label]
        self.label = label
        self.proc = subprocess.Popen(
            command, cwd=common.ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )

    def read(self) -> dict[str, Any]:
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"configuration {self.label} exited ({self.proc.wait()})")
        result: dict[str, Any] = json.loads(line)
        return result

    def ask(self, command: str) -> dict[str, Any]:
        assert self.proc.stdin is not None
        self.proc.stdin.write(command + "\n")
        self.proc.stdin.flush()
        return self.read()

    def close(self) -> None:
        if self.proc.stdin is not None:
            self.proc.stdin.close()
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


@contextlib.contextmanager
def _child(label: str) -> Iterator[_Child]:
    child = _Child(label)
    try:
        yield child
    finally:
        child.close()


# --- d-e: ocr_frames.dask.recognize on a LocalCluster ----------------------------------


def _warm_worker() -> float:
    """Runs on each Dask worker: load the models of ``LocalEngine(threads=1)``."""
    from ocr_frames.local import LocalEngine

    started = time.perf_counter()
    LocalEngine(threads=1).warm_up()
    return time.perf_counter() - started


def _trim_threshold() -> str | None:
    """Runs on each Dask worker: its ``MALLOC_TRIM_THRESHOLD_``."""
    return os.environ.get("MALLOC_TRIM_THRESHOLD_")


@contextlib.contextmanager
def _dask_config(
    n_workers: int, images: dict[str, list[str]], *, default_environ: bool = True
) -> Iterator[tuple[Call, dict[str, Any]]]:
    """A LocalCluster of ``n_workers`` with models loaded and one image run: (call, info).

    ``default_environ=False``: without Dask's ``MALLOC_TRIM_THRESHOLD_`` for the workers."""
    import dask
    import dask.dataframe as dd
    import distributed
    import pandas as pd

    import ocr_frames.dask as ofd
    from ocr_frames.local import LocalEngine

    started = time.perf_counter()
    environ = {} if default_environ else {TRIM: None}
    if not default_environ:  # a nanny sets its pre-spawn variables in *our* os.environ
        os.environ.pop("MALLOC_TRIM_THRESHOLD_", None)
    with warnings.catch_warnings(), dask.config.set(environ):
        # the scheduler's HTTP routes (dashboard off) try 127.0.0.1:8787, another port if taken
        warnings.filterwarnings("ignore", "Port 8787 is already in use", UserWarning)
        cluster = distributed.LocalCluster(  # type: ignore[no-untyped-call]
            n_workers=n_workers,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address=None,
        )
    with (
        cluster,
        distributed.Client(cluster, set_as_default=False) as client,  # type: ignore[no-untyped-call]
    ):
        cluster_s = time.perf_counter() - started

        def call(kind: str, paths: list[str]) -> pd.DataFrame:
            ddf = dd.from_pandas(pd.DataFrame({"path": paths}), npartitions=len(paths))  # type: ignore[no-untyped-call]
            out = ofd.recognize(ddf, "path", kind, engine=LocalEngine(threads=1), cache_dir=False)
            frame: pd.DataFrame = client.compute(out, sync=True)
            return frame

        loads = client.run(_warm_worker)
        kind, paths = next(iter(images.items()))
        call(kind, paths[:1])  # warm-up (graph, pickling, one partition): not timed
        info = {
            "engine": f"LocalEngine(threads=1) on LocalCluster(n_workers={n_workers})",
            "malloc_trim_threshold": client.run(_trim_threshold),
            "cluster_start_s": round(cluster_s, 3),
            "model_load_s": round(max(loads.values()), 3),
            "model_load_s_per_worker": [round(v, 3) for v in loads.values()],
        }
        yield call, info


# --- the run and its report ------------------------------------------------------------


def _restore_environ(saved: dict[str, str]) -> None:
    os.environ.clear()
    os.environ.update(saved)


def run(quick: bool = False) -> dict[str, Any]:
    common.loopback_only()
    images = card_images()
    rounds = rounds_for(images, quick)
    out: dict[str, Any] = {
        "cpu_count": os.cpu_count(),
        "loadavg_start": _loadavg(),
        "card_images": {kind: len(paths) for kind, paths in images.items()},
        "rounds": rounds,
        "quick": quick,
        "configs": {},
        "loadavg_rounds": [],
    }
    configs: dict[str, dict[str, Any]] = out["configs"]
    saved_environ = dict(os.environ)  # Dask's nannies change it (OMP_NUM_THREADS=1, ...)
    calls: dict[str, Callable[[], dict[str, Any]]] = {}
    children: dict[str, _Child] = {}
    with contextlib.ExitStack() as stack:
        stack.callback(_restore_environ, saved_environ)  # last, after the clusters closed
        for label, (what, _) in IN_PROCESS.items():
            common.log(f"local_throughput: setting up ({label}) {what}")
            child = children[label] = stack.enter_context(_child(label))
            configs[label] = {"what": f"ocr_frames.recognize, {what}", **child.read()}
            calls[label] = lambda child=child: child.ask("round")  # type: ignore[misc]
        for label, (n_workers, default_environ) in DASK.items():
            common.log(f"local_throughput: setting up ({label}) Dask, {n_workers} worker(s)")
            config = _dask_config(n_workers, images, default_environ=default_environ)
            call, info = stack.enter_context(config)
            configs[label] = {
                "what": f"ocr_frames.dask.recognize, LocalEngine(threads=1), "
                f"LocalCluster(n_workers={n_workers}, threads_per_worker=1)"
                + ("" if default_environ else ", workers without MALLOC_TRIM_THRESHOLD_"),
                **info,
            }
            calls[label] = lambda call=call: one_round(call, images)  # type: ignore[misc]
        labels = list(calls)
        per_round: dict[str, list[dict[str, Any]]] = {label: [] for label in labels}
        for r in range(rounds):
            order = labels[r % len(labels) :] + labels[: r % len(labels)]
            for label in order:
                per_round[label].append(calls[label]())
                common.log(
                    f"local_throughput: round {r + 1}/{rounds} ({label}) "
                    f"{per_round[label][-1]['images'] / per_round[label][-1]['wall_s']:.2f}/s"
                )
            out["loadavg_rounds"].append(_loadavg())
        common.log("local_throughput: latency of (b)")
        configs["b"]["latency"] = children["b"].ask("latency")
    for label, results in per_round.items():
        n = sum(x["images"] for x in results)
        wall = sum(x["wall_s"] for x in results)
        configs[label] |= {
            "images": n,
            "ok": sum(x["ok"] for x in results),
            "wall_s": round(wall, 3),
            "rate": n / wall,
            "rate_per_round": [round(x["images"] / x["wall_s"], 3) for x in results],
        }
        if label in IN_PROCESS:  # the whole configuration's CPU (for Dask: the workers')
            configs[label]["cpu_s_per_image"] = round(sum(x["cpu_s"] for x in results) / n, 3)
    base = configs["a"]["rate"]
    for result in configs.values():
        result["ratio_to_a"] = round(result["rate"] / base, 3)
        result["rate"] = round(result["rate"], 3)
    out["loadavg_end"] = _loadavg()
    return out


def markdown(result: dict[str, Any]) -> str:
    configs = result["configs"]
    lines = [
        "## Local engine throughput",
        "",
        "| configuration | images/s | ratio to (a) | per round | model load s |",
        "|---|---|---|---|---|",
    ]
    for label, r in configs.items():
        rounds = ", ".join(f"{x:.2f}" for x in r["rate_per_round"])
        lines.append(
            f"| ({label}) {r['what']} | {r['rate']:.2f} | {r['ratio_to_a']:.2f}x "
            f"| {rounds} | {r['model_load_s']:.1f} |"
        )
    latency = configs.get("b", {}).get("latency")
    lat = (
        " Latency of (b), one image at a time through `engine.recognize_bytes(kind, data)`: "
        f"median {latency['median_s']:.3f} s per card image, p90 {latency['p90_s']:.3f} s "
        f"({latency['images']} images)."
        if latency
        else ""
    )
    counts = ", ".join(f"{n} {kind}" for kind, n in result["card_images"].items())
    ok = ", ".join(f"({label}) {r['ok']}/{r['images']}" for label, r in configs.items())
    load = ", ".join(f"{x[0]:.2f}" for x in result["loadavg_rounds"])
    lines += [
        "",
        f"Measured: the card images of `sample_data/` ({counts}), each kind as its own call "
        f"and the set repeated {result['rounds']} time(s), the same images for every "
        "configuration; (a)–(c) through `ocr_frames.recognize(paths, kind, engine=..., "
        "cache_dir=False)`, each in a process of its own, (d)–(f) through "
        "`ocr_frames.dask.recognize(ddf, 'path', kind, engine=LocalEngine(threads=1), "
        "cache_dir=False)` on a local `distributed.LocalCluster(threads_per_worker=1, "
        "processes=True)`, one image per partition ((f): workers started without Dask's default "
        "`MALLOC_TRIM_THRESHOLD_=65536`). Every configuration first loads its "
        "models (`warm_up()`: the model-load column, for Dask the slowest worker) and runs "
        "one image, untimed; then the rounds are interleaved (a, b, c, d, e, f, then rotated) so "
        "that other work on the machine weighs on all alike. images/s = images / summed wall "
        "seconds of the timed calls; ratios are to (a) of the same run; answered with "
        f"errcode 0: {ok}.{lat} `os.cpu_count()` = {result['cpu_count']}; load average "
        f"(1 min) {result['loadavg_start'][0]:.2f} before, {load} after each round, "
        f"{result['loadavg_end'][0]:.2f} at the end: other work on this shared machine lowers "
        "every rate. Command: `python bench/local_throughput.py"
        f"{' --quick' if result['quick'] else ''}`.",
    ]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help=">= 12 images per configuration")
    parser.add_argument("--serve", choices=sorted(IN_PROCESS), help=argparse.SUPPRESS)
    parser.add_argument("--json", type=Path, help="also write the result here")
    args = parser.parse_args(argv)
    if args.serve:  # the child process of one in-process configuration
        serve_in_process(args.serve)
        return 0
    result = run(args.quick)
    if args.json:
        args.json.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n")
    print(markdown(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
