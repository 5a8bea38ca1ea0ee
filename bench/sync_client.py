"""The blocking ``WeChatClient`` against a plain ``httpx.Client``, calls per second.

The emulator (own process, latency 0) answers ``comm`` calls on distinct 2 KB images.
Each round runs, in a fresh process, four measurements of ``--calls`` calls each:
``WeChatClient.request`` one after the other and from 8 threads, and the baseline, the
same calls through a plain ``httpx.Client`` (the multipart body and the token query
built by hand, the JSON answer parsed), one after the other and from 8 threads.  A
process per round, so that rounds of trees can alternate: ``--compare DIR`` runs the
rounds of the ``ocr_frames`` in DIR (an older checkout) between those of this tree,
against the same emulator, so both see the same machine load.  The report gives each
measurement's median over the rounds and the client's ratio to the baseline.

    python -m bench.sync_client [--rounds 7] [--calls 300] [--compare /path/to/old/tree]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

THREADS = 8
KIND = "comm"
_ROOT = Path(__file__).resolve().parent.parent


def _images(n: int) -> list[bytes]:
    rng = random.Random(0)
    return [b"\xff\xd8\xff\xe0" + rng.randbytes(2040) + b"\xff\xd9" for _ in range(n)]


def _rate(calls: int, threads: int, one: Callable[[int], object]) -> float:
    """Calls per second of ``one(i)`` for ``calls`` values of i, spread over ``threads``."""
    todo = iter(range(calls))
    lock = threading.Lock()

    def work() -> None:
        while True:
            with lock:
                i = next(todo, None)
            if i is None:
                return
            one(i)

    workers = [threading.Thread(target=work) for _ in range(threads)]
    start = time.perf_counter()
    for each in workers:
        each.start()
    for each in workers:
        each.join()
    return calls / (time.perf_counter() - start)


def round_(base_url: str, calls: int) -> dict[str, float]:
    """One round in this process: the four measurements, in calls per second."""
    import httpx

    from ocr_frames.testing import DEFAULT_APPID, DEFAULT_SECRET
    from ocr_frames.wechat import WeChatClient

    images = _images(64)
    out: dict[str, float] = {}
    with WeChatClient(appid=DEFAULT_APPID, secret=DEFAULT_SECRET, base_url=base_url) as client:
        client.request(KIND, images[0])  # token, loop, a connection

        def ours(i: int) -> None:
            assert client.request(KIND, images[i % 64])["errcode"] == 0

        out["client_seq"] = _rate(calls, 1, ours)
        out[f"client_{THREADS}thr"] = _rate(calls, THREADS, ours)
    with httpx.Client(trust_env=False) as http:
        body = {"grant_type": "client_credential", "appid": DEFAULT_APPID, "secret": DEFAULT_SECRET}
        token = http.post(f"{base_url}/cgi-bin/stable_token", json=body).json()["access_token"]
        url = f"{base_url}/cv/ocr/{KIND}"

        def raw(i: int) -> None:
            files = {"img": ("image", images[i % 64], "application/octet-stream")}
            answer = http.post(url, params={"access_token": token}, files=files).json()
            assert answer["errcode"] == 0

        raw(0)
        out["httpx_seq"] = _rate(calls, 1, raw)
        out[f"httpx_{THREADS}thr"] = _rate(calls, THREADS, raw)
    return out


def _round_in(tree: Path, base_url: str, calls: int) -> dict[str, float]:
    """:func:`round_` in a fresh process that imports ``ocr_frames`` from ``tree``."""
    env = {**os.environ, "PYTHONPATH": str(tree)}  # proxies: dropped by loopback_only
    command = [sys.executable, __file__, "--round", base_url, "--calls", str(calls)]
    done = subprocess.run(command, env=env, cwd=tree, capture_output=True, text=True, check=True)
    result: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def _summary(rounds: list[dict[str, float]]) -> dict[str, Any]:
    medians = {key: statistics.median(r[key] for r in rounds) for key in rounds[0]}
    ratios = {
        f"ratio_{how}": statistics.median(r[f"client_{how}"] / r[f"httpx_{how}"] for r in rounds)
        for how in ("seq", f"{THREADS}thr")
    }
    return {"median_calls_per_s": medians, "median_client_over_httpx": ratios, "rounds": rounds}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--calls", type=int, default=300)
    parser.add_argument("--compare", type=Path, help="an older checkout to measure in turn")
    parser.add_argument("--round", metavar="BASE_URL", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.round:
        print(json.dumps(round_(args.round, args.calls)))
        return 0
    sys.path.insert(0, str(_ROOT))
    from bench import common

    common.loopback_only()
    trees = {"this": _ROOT} | ({"compare": args.compare.resolve()} if args.compare else {})
    results: dict[str, list[dict[str, float]]] = {name: [] for name in trees}
    with common.emulator(0.0) as emu:
        for n in range(args.rounds):
            for name, tree in trees.items():
                results[name].append(_round_in(tree, emu.base_url, args.calls))
                common.log(f"round {n + 1}/{args.rounds} {name}: {results[name][-1]}")
    report = {name: _summary(rounds) for name, rounds in results.items()}
    if args.compare:
        this, other = (report[n]["median_calls_per_s"] for n in ("this", "compare"))
        report["this_over_compare"] = {
            key: round(this[key] / other[key], 3) for key in this if key.startswith("client")
        }
    print(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
