"""1. Throughput against latency: ``recognize`` at concurrency C vs sequential loops vs ideal.

For each emulator latency (100 ms, 300 ms; the emulator runs in its own process):

* ``ocr_frames.recognize(images, "idcard", engine=WeChatEngine(...), cache_dir=False,
  progress=False, concurrency=C)`` end to end, on distinct in-memory images (2 KB JPEG-like
  bytes): a new engine per run, so the token call (one round trip, which the emulator
  delays by ``latency`` too) and opening the connections are included.  2,000 images at
  C >= 32; fewer at lower C (20 rounds of C calls) so the curve stays cheap.  The engine
  is wrapped to timestamp each answer: *steady state* is the rate from the C-th answer
  to the last one (warm-up excluded).
* a sequential loop of ``httpx.post(...)`` (one request at a time, what most users
  write) and one of wechatpy 2.x's ``client.wxa.ocr_idcard(...)`` (requests, keep-alive),
  on fewer images; calls per second of the loop (token fetched before the clock starts).
* ideal = C / latency.
"""

from __future__ import annotations

import time
from typing import Any

import httpx

from bench import common

KIND = "idcard"
LATENCIES = (0.1, 0.3)
CONCURRENCIES = (1, 4, 8, 16, 32, 64, 128)
TARGET_CONCURRENCIES = (32, 64)
TARGET_SHARE = 0.90
TARGET_SPEEDUP = 25.0


class _Stamped:
    """An engine that notes when each answer arrives (delegates everything else)."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.done: list[float] = []

    @property
    def identity(self) -> str:
        return str(self.inner.identity)

    async def arecognize(
        self, kind: str, image: bytes | None = None, *, img_url: str | None = None
    ) -> dict[str, Any]:
        answer: dict[str, Any] = await self.inner.arecognize(kind, image, img_url=img_url)
        self.done.append(time.perf_counter())
        return answer

    async def aclose(self) -> None:
        await self.inner.aclose()


def _token(base_url: str) -> str:
    appid, secret = common.credentials()
    body = {"grant_type": "client_credential", "appid": appid, "secret": secret}
    response = httpx.post(f"{base_url}/cgi-bin/stable_token", json=body, trust_env=False)
    return str(response.json()["access_token"])


def sequential_httpx(base_url: str, images: list[bytes]) -> dict[str, Any]:
    """One ``httpx.post`` per image, one after the other."""
    token = _token(base_url)
    url = f"{base_url}/cv/ocr/{KIND}"
    ok = 0
    started = time.perf_counter()
    for image in images:
        response = httpx.post(
            url,
            params={"access_token": token},
            files={"img": ("image.jpg", image, "image/jpeg")},
            trust_env=False,
        )
        ok += response.json().get("errcode") == 0
    wall = time.perf_counter() - started
    return {"images": len(images), "ok": ok, "wall_s": wall, "rate": len(images) / wall}


def _wechatpy_client(base_url: str) -> Any:
    """wechatpy's WeChatClient pointed at the emulator.

    wechatpy has no base-URL option: the OCR endpoints live on ``client.wxa`` whose
    ``API_BASE_URL`` class attribute we shadow on the instance, and its token URL is
    hard-coded, so ``fetch_access_token`` is overridden to ask the emulator.
    Auto-retry is off and requests ignores proxy settings: nothing leaves 127.0.0.1.
    """
    from wechatpy import WeChatClient

    appid, secret = common.credentials()

    class EmulatedClient(WeChatClient):  # type: ignore[misc]
        def fetch_access_token(self) -> Any:
            return self._fetch_access_token(
                url=f"{base_url}/cgi-bin/token",
                params={"grant_type": "client_credential", "appid": appid, "secret": secret},
            )

    client = EmulatedClient(appid, secret, auto_retry=False, timeout=30)
    client._http.trust_env = False
    client.wxa.API_BASE_URL = f"{base_url}/"
    return client


def sequential_wechatpy(base_url: str, images: list[bytes]) -> dict[str, Any]:
    """wechatpy 2.x ``client.wxa.ocr_idcard(file_bytes=...)`` per image, one after the other."""
    client = _wechatpy_client(base_url)
    assert client.access_token  # token fetched before the clock starts
    ok = 0
    started = time.perf_counter()
    for image in images:
        answer = client.wxa.ocr_idcard(
            filename="image.jpg", file_bytes=image, mime_type="image/jpeg"
        )
        ok += answer.get("errcode", 0) == 0
    wall = time.perf_counter() - started
    return {"images": len(images), "ok": ok, "wall_s": wall, "rate": len(images) / wall}


def ocr_frames_run(
    emu: common.EmulatorProcess, images: list[bytes], concurrency: int
) -> dict[str, Any]:
    import ocr_frames as of

    stamped = _Stamped(common.engine(emu.base_url))
    server_cpu = emu.cpu()
    with common.timed() as t:
        df = of.recognize(
            images,
            KIND,
            engine=stamped,
            cache_dir=False,
            progress=False,
            concurrency=concurrency,
        )
    server_cpu = emu.cpu() - server_cpu
    n = len(images)
    ok = int((df["errcode"] == 0).sum())
    done = sorted(stamped.done)
    steady = None
    if len(done) > concurrency + 1:
        steady = (len(done) - concurrency) / (done[-1] - done[concurrency - 1])
    ideal = concurrency / emu.latency
    return {
        "concurrency": concurrency,
        "images": n,
        "ok": ok,
        "wall_s": t.wall,
        "rate": n / t.wall,
        "steady_rate": steady,
        "ideal": ideal,
        "share_of_ideal": n / t.wall / ideal,
        "steady_share_of_ideal": None if steady is None else steady / ideal,
        "client_cpu_us_per_call": t.cpu / n * 1e6,
        "server_cpu_us_per_call": server_cpu / n * 1e6,
        "loadavg": [round(x, 2) for x in common.load_average()],
    }


def _images_for(concurrency: int, quick: bool) -> int:
    if concurrency >= min(TARGET_CONCURRENCIES):
        return 400 if quick else 2000
    return max(10, concurrency * (5 if quick else 20))


def run(quick: bool = False) -> dict[str, Any]:
    common.loopback_only()
    seed = 0
    out: dict[str, Any] = {"kind": KIND, "image_bytes": 2048, "latencies": {}}
    for latency in LATENCIES:
        sequential_n = (20 if quick else 100) if latency < 0.2 else (10 if quick else 40)
        entry: dict[str, Any] = {}
        with common.emulator(latency) as emu:
            common.log(f"throughput: latency {latency * 1000:.0f} ms, sequential baselines")
            seed += 1
            entry["httpx_sequential"] = sequential_httpx(
                emu.base_url, common.small_images(sequential_n, seed=seed)
            )
            seed += 1
            entry["wechatpy_sequential"] = sequential_wechatpy(
                emu.base_url, common.small_images(sequential_n, seed=seed)
            )
            runs = []
            for concurrency in CONCURRENCIES:
                seed += 1
                images = common.small_images(_images_for(concurrency, quick), seed=seed)
                result = ocr_frames_run(emu, images, concurrency)
                common.log(
                    f"throughput: latency {latency * 1000:.0f} ms, c={concurrency}: "
                    f"{result['rate']:.0f}/s = {result['share_of_ideal']:.0%} of ideal"
                )
                runs.append(result)
            entry["ocr_frames"] = runs
        base = entry["httpx_sequential"]["rate"]
        for r in entry["ocr_frames"]:
            r["speedup_vs_httpx_sequential"] = r["rate"] / base
            r["speedup_vs_wechatpy_sequential"] = r["rate"] / entry["wechatpy_sequential"]["rate"]
        entry["targets"] = [
            {
                "what": f"c={r['concurrency']} ≥ {TARGET_SHARE:.0%} of ideal",
                "value": r["share_of_ideal"],
                "met": r["share_of_ideal"] >= TARGET_SHARE,
                "steady": r["steady_share_of_ideal"],
                "latency": latency,
                "concurrency": r["concurrency"],
            }
            for r in entry["ocr_frames"]
            if r["concurrency"] in TARGET_CONCURRENCIES
        ] + [
            {
                "what": f"c={r['concurrency']} ≥ {TARGET_SPEEDUP:.0f}× the sequential httpx loop",
                "value": r["speedup_vs_httpx_sequential"],
                "met": r["speedup_vs_httpx_sequential"] >= TARGET_SPEEDUP,
            }
            for r in entry["ocr_frames"]
            if r["concurrency"] in TARGET_CONCURRENCIES
        ]
        out["latencies"][f"{latency:g}"] = entry
    out["targets"] = [
        {**t, "what": f"{latency * 1000:.0f} ms, {t['what']}"}
        for latency, entry in zip(LATENCIES, out["latencies"].values(), strict=True)
        for t in entry["targets"]
    ]
    return out


def plot(result: dict[str, Any], path: Any) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    entries = result["latencies"]
    fig, axes = plt.subplots(1, len(entries), figsize=(6 * len(entries), 4.5), squeeze=False)
    for ax, (latency, entry) in zip(axes[0], entries.items(), strict=True):
        runs = entry["ocr_frames"]
        cs = [r["concurrency"] for r in runs]
        ax.plot(cs, [r["ideal"] for r in runs], "k--", label="ideal = C / latency")
        ax.plot(cs, [r["rate"] for r in runs], "o-", label="ocr_frames.recognize, end to end")
        steady = [(r["concurrency"], r["steady_rate"]) for r in runs if r["steady_rate"]]
        if steady:
            ax.plot(*zip(*steady, strict=True), "s:", label="ocr_frames, steady state")
        for name, style in (("httpx_sequential", "r-."), ("wechatpy_sequential", "m:")):
            rate = entry[name]["rate"]
            ax.axhline(rate, color=style[0], linestyle=style[1:], label=f"{name} ({rate:.1f}/s)")
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set_xlabel("concurrency C")
        ax.set_ylabel("calls per second")
        ax.set_title(f"emulator latency {float(latency) * 1000:.0f} ms")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
