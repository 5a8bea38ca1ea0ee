"""5. Library overhead per call, with a server that answers at once (latency 0).

The emulator (own process, latency 0) answers distinct 2 KB in-memory images.  For
concurrency C in (1, 16, 64):

* ours: ``recognize(images, "idcard", cache_dir=False, progress=False, concurrency=C)``;
  *client CPU per call* = CPU seconds of this process (every thread) / calls, minus the
  sha256 of the images (timed apart: "hashing excluded");
* raw httpx: an asyncio loop of C workers doing ``AsyncClient.post(files=...)`` + ``.json()``
  on the same images, with httpx's default pool and with the transport ``WeChatEngine``
  uses by default: what an httpx call costs with nothing around it.  Ours minus raw (same
  transport) = what the library adds.

A cProfile of the C=16 run gives the own-time share per package and the top functions.

``python -m bench.overhead --transports [--before old_h11transport.py]`` compares only the
transports (raw httpx calls, C=16 by default, the contenders taking turns): httpx's own,
the tree's ``H11Transport`` and any earlier copy of ``_h11transport.py`` given.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import importlib.util
import pstats
import statistics
import sys
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from bench import common
from bench.cached_rerun import _short, top_functions

KIND = "idcard"
CONCURRENCIES = (1, 16, 64)


def ours(emu: common.EmulatorProcess, images: list[bytes], concurrency: int) -> dict[str, Any]:
    import ocr_frames as of

    hashing = common.sha256_all(images)
    engine = common.engine(emu.base_url)
    server = emu.cpu()
    with common.timed() as t:
        df = of.recognize(
            images, KIND, engine=engine, cache_dir=False, progress=False, concurrency=concurrency
        )
    n = len(images)
    assert int((df["errcode"] == 0).sum()) == n
    return {
        "concurrency": concurrency,
        "calls": n,
        "wall_s": t.wall,
        "rate": n / t.wall,
        "cpu_us_per_call": (t.cpu - hashing) / n * 1e6,
        "hashing_us_per_call": hashing / n * 1e6,
        "server_cpu_us_per_call": (emu.cpu() - server) / n * 1e6,
    }


def engine_transport() -> Any:
    """The transport ``WeChatEngine`` gives its client for direct (unproxied) calls."""
    from ocr_frames.wechat import _client
    from ocr_frames.wechat import _engine as engine

    transports = getattr(_client, "default_transports", None)
    if transports is not None:
        return transports(None, None)[0]
    options = getattr(engine, "_http_options", None)  # older trees
    if options is not None:
        return options(None, None)["transport"]
    make = getattr(engine, "_default_transport", None)
    if make is not None:
        return make()
    from ocr_frames._http.h11 import H11Transport

    return H11Transport()


async def _raw(
    base_url: str,
    images: list[bytes],
    concurrency: int,
    lean: bool,
    make_transport: Callable[[], Any] | None = None,
) -> None:
    appid, secret = common.credentials()
    if make_transport is not None:
        transport = make_transport()
    else:
        transport = engine_transport() if lean else None
    async with httpx.AsyncClient(transport=transport, trust_env=False) as client:
        body = {"grant_type": "client_credential", "appid": appid, "secret": secret}
        token = (await client.post(f"{base_url}/cgi-bin/stable_token", json=body)).json()
        params = {"access_token": token["access_token"]}
        url = f"{base_url}/cv/ocr/{KIND}"
        todo = iter(images)

        async def work() -> None:
            for image in todo:
                response = await client.post(
                    url, params=params, files={"img": ("image", image, "application/octet-stream")}
                )
                response.json()

        await asyncio.gather(*(work() for _ in range(concurrency)))


def raw(
    emu: common.EmulatorProcess,
    images: list[bytes],
    concurrency: int,
    lean: bool,
    make_transport: Callable[[], Any] | None = None,
) -> dict[str, Any]:
    with common.timed() as t:
        asyncio.run(_raw(emu.base_url, images, concurrency, lean, make_transport))
    n = len(images)
    return {"wall_s": t.wall, "rate": n / t.wall, "cpu_us_per_call": t.cpu / n * 1e6}


def _package(filename: str) -> str:
    short = _short(filename)
    if short.startswith("ocr_frames/"):
        return short.removesuffix(".py")
    if short.startswith("~") or short.startswith("<"):
        return "builtins (C)"
    top = short.split("/", 1)[0].removesuffix(".py")
    return top if "/" in short or top in ("selectors", "ssl", "socket") else f"stdlib {top}"


def profile(emu: common.EmulatorProcess, images: list[bytes], concurrency: int) -> dict[str, Any]:
    import ocr_frames as of

    engine = common.engine(emu.base_url)
    profiler = cProfile.Profile()
    profiler.enable()
    of.recognize(
        images, KIND, engine=engine, cache_dir=False, progress=False, concurrency=concurrency
    )
    profiler.disable()
    stats = pstats.Stats(profiler)
    total = stats.total_tt  # type: ignore[attr-defined]
    by_package: dict[str, float] = defaultdict(float)
    for (filename, _line, _name), (_cc, _calls, tottime, _cum, _callers) in stats.stats.items():  # type: ignore[attr-defined]
        by_package[_package(filename)] += tottime
    shares = sorted(((k, v / total) for k, v in by_package.items()), key=lambda kv: -kv[1])
    return {
        "concurrency": concurrency,
        "calls": len(images),
        "profiled_s": total,
        "own_share_by_package": shares[:14],
        "top_own": top_functions(stats, 15, key="own"),
        "top_cumulative": top_functions(stats, 25),
    }


def run(quick: bool = False) -> dict[str, Any]:
    common.loopback_only()
    n = 600 if quick else 3000
    rows = []
    with common.emulator(0.0) as emu:
        seed = 100
        for concurrency in CONCURRENCIES:
            common.log(f"overhead: latency 0, c={concurrency}, {n} calls")
            seed += 1
            row = ours(emu, common.small_images(n, seed=seed), concurrency)
            seed += 1
            row["raw_httpx"] = raw(emu, common.small_images(n, seed=seed), concurrency, False)
            seed += 1
            row["raw_httpx_engine_transport"] = raw(
                emu, common.small_images(n, seed=seed), concurrency, True
            )
            row["library_us_per_call"] = (
                row["cpu_us_per_call"] - row["raw_httpx_engine_transport"]["cpu_us_per_call"]
            )
            rows.append(row)
        common.log("overhead: cProfile of the c=16 run")
        prof = profile(emu, common.small_images(n, seed=seed + 1), 16)
    return {
        "kind": KIND,
        "image_bytes": 2048,
        "engine_transport": type(engine_transport()).__name__,
        "runs": rows,
        "profile": prof,
        "targets": [],
    }


# --- transport A/B: ``python -m bench.overhead --transports`` --------------------------


def _load_transport(path: Path) -> Callable[[], Any]:
    """``H11Transport`` from a copy of ``_h11transport.py`` elsewhere (e.g. the version
    before a change), so that both versions are measured in one run."""
    spec = importlib.util.spec_from_file_location(f"h11_{path.stem}", path)
    if spec is None or spec.loader is None:
        raise SystemExit(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.H11Transport  # type: ignore[no-any-return]


def transport_ab(
    calls: int, concurrency: int, rounds: int, others: dict[str, Callable[[], Any]]
) -> dict[str, list[float]]:
    """Client CPU µs per raw httpx call (no library around it) for httpx's own transport,
    the tree's ``H11Transport`` and ``others``; the transports take turns, ``rounds`` times,
    against one emulator process (latency 0), each on fresh images."""
    from ocr_frames._http.h11 import H11Transport

    contenders: dict[str, Callable[[], Any]] = {
        "httpx.AsyncHTTPTransport": httpx.AsyncHTTPTransport,
        "H11Transport (tree)": H11Transport,
        **others,
    }
    out: dict[str, list[float]] = {name: [] for name in contenders}
    seed = 1000
    with common.emulator(0.0) as emu:
        for i in range(rounds):
            for name, make in contenders.items():
                seed += 1
                images = common.small_images(calls, seed=seed)
                row = raw(emu, images, concurrency, True, make)
                out[name].append(row["cpu_us_per_call"])
                common.log(f"round {i + 1}/{rounds} {name}: {row['cpu_us_per_call']:.0f} µs/call")
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.overhead",
        description="Client CPU per raw httpx call, transport against transport "
        "(prints a table; writes no results and does not touch BENCHMARKS.md).",
    )
    parser.add_argument("--transports", action="store_true", required=True)
    parser.add_argument(
        "--before",
        type=Path,
        action="append",
        default=[],
        help="a copy of _h11transport.py to measure too (repeatable)",
    )
    parser.add_argument("--calls", type=int, default=3000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args(argv)
    common.loopback_only()
    others = {f"H11Transport ({p.name})": _load_transport(p) for p in args.before}
    result = transport_ab(args.calls, args.concurrency, args.rounds, others)
    reference = statistics.median(result["httpx.AsyncHTTPTransport"])
    print(
        f"\n{args.calls} calls x {args.rounds} rounds, C={args.concurrency}, latency 0; "
        "client CPU µs per call"
    )
    print("| transport | median | min | max | median vs httpx transport |")
    print("|---|---|---|---|---|")
    for name, values in result.items():
        median = statistics.median(values)
        print(
            f"| {name} | {median:.0f} | {min(values):.0f} | {max(values):.0f} "
            f"| {median / reference:.2f}x |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
