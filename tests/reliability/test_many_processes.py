"""Must hold 5: 4 processes, one cache dir, one appid, overlapping batches at the same
time - no token stomping (40001), no corrupted cache, no image billed twice."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd

from ocr_frames._cache.store import ResultCache
from ocr_frames.testing import WeChatEmulator
from tests.helpers import ImageFiles, cli_env


def test_four_processes_share_token_and_cache_without_double_billing(
    image_files: ImageFiles, tmp_path: Path
) -> None:
    paths = image_files(160)
    # process k takes images [40k, 40k + 80): every image is wanted by two processes
    batches = [paths[40 * k : 40 * k + 80] for k in range(3)] + [paths[120:] + paths[:40]]
    cache = tmp_path / "shared-cache"
    with WeChatEmulator(latency=0.03, token_grace=0.0) as emu:
        env = cli_env(emu, cache)
        procs = []
        for k, batch in enumerate(batches):
            listing = tmp_path / f"batch{k}.csv"
            pd.DataFrame({"path": batch}).to_csv(listing, index=False)
            cmd = [
                sys.executable,
                "-m",
                "ocr_frames.cli",
                "run",
                str(listing),
                "--kind",
                "idcard",
                "--out",
                str(tmp_path / f"out{k}.parquet"),
                "--no-progress",
                "--concurrency",
                "8",
            ]
            procs.append(
                subprocess.Popen(
                    cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
                )
            )
        errors = [p.communicate(timeout=120)[1] for p in procs]
        assert [p.returncode for p in procs] == [0, 0, 0, 0], errors
        billed = emu.billed
        refused = emu.refused
        token_calls = emu.token_calls
        identity = f"wechat@http://127.0.0.1:{emu.port}"
    assert refused[40001] == 0 and refused[42001] == 0, refused
    assert token_calls["token"] == 0 and token_calls["stable_token"] <= 4
    assert sum(billed.values()) == 160 and max(billed.values()) == 1
    for k, batch in enumerate(batches):
        out = pd.read_parquet(tmp_path / f"out{k}.parquet")
        assert out["source"].tolist() == batch and (out["errcode"] == 0).all()
    with ResultCache(cache) as store:  # the cache is intact and holds JSON answers
        assert len(store) == 160
        answers = store.get_many(
            [
                ResultCache.key(h, "idcard", identity)
                for h in pd.read_parquet(tmp_path / "out0.parquet")["sha256"]
            ]
        )
        assert len(answers) == 80 and all(json.dumps(a) for a in answers.values())
