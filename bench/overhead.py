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
"""

from __future__ import annotations

import asyncio
import cProfile
import pstats
from collections import defaultdict
from typing import Any

import httpx

from . import common
from .cached_rerun import _short, top_functions

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
    """The transport ``WeChatEngine`` gives its client by default."""
    from ocr_frames import engine

    make = getattr(engine, "_default_transport", None)
    if make is not None:
        return make()
    from ocr_frames._transport import ShardedTransport

    return ShardedTransport()


async def _raw(base_url: str, images: list[bytes], concurrency: int, lean: bool) -> None:
    appid, secret = common.credentials()
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
    emu: common.EmulatorProcess, images: list[bytes], concurrency: int, lean: bool
) -> dict[str, Any]:
    with common.timed() as t:
        asyncio.run(_raw(emu.base_url, images, concurrency, lean))
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
