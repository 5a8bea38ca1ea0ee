"""ocr_frames.dask on a real 4-process LocalCluster against the emulator.

One cluster for the module (starting one costs seconds).  The emulator runs in this
process, on 127.0.0.1, and the workers reach it there.

The emulator's quota window is 60 s; to test a rate in seconds instead of minutes, the
window is scaled down to 2 s (``MINUTE_WINDOW`` patched in the emulator module), and a
subclass records when each call was admitted (the emulator keeps counts, not times).
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import os
import pickle
import time
from collections.abc import Callable, Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

dd = pytest.importorskip("dask.dataframe")
distributed = pytest.importorskip("distributed")

import ocr_frames as of  # noqa: E402
import ocr_frames.dask as ofd  # noqa: E402
from ocr_frames.dask._limiter import _SlotBook  # noqa: E402
from ocr_frames.testing import WeChatEmulator  # noqa: E402
from ocr_frames.testing import _emulator as emulator_module  # noqa: E402
from tests.helpers import ImageFiles  # noqa: E402

# No warning filter needed: dask/distributed 2026.8 emit none here under -W error.
pytestmark = pytest.mark.timeout(180)

WORKERS = 4
WINDOW = 2.0  # the emulator's quota window in these tests (60 s on the platform)
QUOTA = 20  # admitted calls per window
RATE = 8.0  # the configured cluster-wide rate: 16 calls per window, 80% of the quota
CALLS = 48  # 12 per worker: 6 s at RATE
NO_RETRY = of.RetryPolicy(max_attempts=1)  # a refusal shows up as a row, not a 60-s pause
GOOD_ID = "11010519491231002X"  # born 1949-12-31


class TimedEmulator(WeChatEmulator):
    """The emulator, also recording the monotonic time of every admitted OCR call."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.admitted: list[float] = []

    def _admit(self, access_token: str) -> int:  # called with the emulator's lock held
        code = super()._admit(access_token)
        if code == 0:
            self.admitted.append(time.monotonic())
        return code


def max_in_window(times: list[float], window: float) -> int:
    """Most calls admitted in any sliding window of ``window`` seconds."""
    best, start = 0, 0
    for end, t in enumerate(times):
        while t - times[start] >= window:
            start += 1
        best = max(best, end - start + 1)
    return best


@pytest.fixture(scope="module")
def client() -> Iterator[Any]:
    cluster = distributed.LocalCluster(
        n_workers=WORKERS,
        threads_per_worker=1,
        processes=True,
        host="127.0.0.1",
        # port 0 on loopback: dashboard_address=None would still try the default 8787
        # (and warn when another cluster on the machine holds it)
        dashboard_address="127.0.0.1:0",
    )
    with cluster, distributed.Client(cluster) as dask_client:
        yield dask_client


@pytest.fixture
def quota_emulator(monkeypatch: pytest.MonkeyPatch) -> Iterator[TimedEmulator]:
    monkeypatch.setattr(emulator_module, "MINUTE_WINDOW", WINDOW)
    with TimedEmulator(minute_quota=QUOTA, latency=0.05) as emu:
        yield emu


def engine_for(emu: WeChatEmulator) -> of.WeChatEngine:
    return of.WeChatEngine(appid=emu.appid, secret=emu.secret, base_url=emu.base_url)


def frame_of(paths: list[Any], partitions: int = WORKERS, first: int = 0) -> Any:
    frame = pd.DataFrame({"path": paths}, index=range(first, first + len(paths)))
    return dd.from_pandas(frame, npartitions=partitions)


def workers_used(client: Any, compute: Callable[[], pd.DataFrame]) -> tuple[pd.DataFrame, int]:
    with distributed.get_task_stream(client) as stream:
        df = compute()
    return df, len({task["worker"] for task in stream.data})


def test_meta_bills_nothing_and_each_image_once(
    client: Any, emulator: WeChatEmulator, image_files: ImageFiles, tmp_path: Path
) -> None:
    distinct = image_files(10)
    # duplicates in other partitions, a missing file and a null: 14 rows, 10 images
    paths: list[Any] = [*distinct, distinct[0], distinct[9], str(tmp_path / "gone.png"), None]
    ddf = frame_of(paths, first=100)  # a non-default index must survive

    out = ofd.recognize(ddf, "path", "idcard", engine=engine_for(emulator), cache_dir=tmp_path)
    assert emulator.total_billed == 0  # meta is given: no sample rows went to the API
    assert list(out.columns) == of.schema("idcard").names
    assert out.npartitions == ddf.npartitions

    df = out.compute()
    assert emulator.total_billed == 10  # duplicates across workers: shared cache + claims
    assert list(df.index) == list(range(100, 114))
    assert df["errcode"].tolist()[:12] == [0] * 12
    assert df["errcode"].tolist()[12:] == [900001, 900000]
    assert dict(df.dtypes) == dict(ofd.meta("idcard").dtypes)

    again = ofd.recognize(ddf, "path", "idcard", engine=engine_for(emulator), cache_dir=tmp_path)
    assert again.compute()["cached"].tolist()[:12] == [True] * 12
    assert emulator.total_billed == 10  # the rerun is free


def test_join_prefix_and_engine_factory(
    client: Any, emulator: WeChatEmulator, image_files: ImageFiles
) -> None:
    ddf = frame_of(image_files(4), partitions=2).assign(batch="b1")
    base_url, appid, secret = emulator.base_url, emulator.appid, emulator.secret

    def factory() -> of.WeChatEngine:
        return of.WeChatEngine(appid=appid, secret=secret, base_url=base_url)

    out = ofd.recognize(ddf, "path", "bankcard", engine=factory, cache_dir=False, join=True)
    df = out.compute()
    assert list(df.columns) == ["path", "batch", *of.schema("bankcard").names]
    assert (df["errcode"] == 0).all()
    assert list(out.dtypes.index) == list(df.dtypes.index)

    prefixed = ofd.recognize(
        ddf, "path", "bankcard", engine=factory, cache_dir=False, prefix="ocr_"
    )
    assert list(prefixed.columns) == [f"ocr_{c}" for c in of.schema("bankcard").names]
    with pytest.raises(ValueError, match="prefix="):
        ofd.recognize(ddf.assign(errcode=1), "path", "bankcard", engine=factory, join=True)


def test_every_run_option_reaches_the_partitions(
    client: Any, emulator: WeChatEmulator, image_files: ImageFiles
) -> None:
    paths = image_files(4)
    for path, number in zip(paths, ["11010519491231002X", "110105194912310021"] * 2, strict=True):
        emulator.register(Path(path).read_bytes(), "idcard", {"type": "Front", "id": number})
    kw: dict[str, Any] = {"engine": engine_for(emulator), "cache_dir": False}
    options = {"checks": True, "mask": True, "as_of": date(2026, 1, 1), "chunk_size": 1}
    options.update(chunk_bytes=1 << 20, download_timeout=5.0, on_error="keep")
    out = ofd.recognize(frame_of(paths, partitions=2), "path", "idcard", **kw, **options)
    assert "check_id_checksum" in out.columns  # meta has the check columns
    df = out.compute()
    assert list(out.dtypes.index) == list(df.columns)
    assert dict(out.dtypes) == dict(df.dtypes)
    assert df["check_id_checksum"].tolist() == [True, False, True, False]
    assert all("*" in v for v in df["id"])
    # duplicates are judged within a partition (documented): none in these
    assert df["check_image_unique"].tolist() == [True] * 4


def test_checks_judge_every_partition_on_the_day_the_graph_was_built(
    emulator: WeChatEmulator, image_files: ImageFiles, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``as_of`` left out: not each worker's own today (a partition may run after
    midnight, or on a machine whose clock differs), but one day for the whole frame."""
    paths = image_files(2)
    for path in paths:
        emulator.register(Path(path).read_bytes(), "idcard", {"type": "Front", "id": GOOD_ID})
    built_on = date.today()
    out = ofd.recognize(
        frame_of(paths, partitions=2),
        "path",
        "idcard",
        engine=engine_for(emulator),
        checks=True,
        cache_dir=False,
    )
    # the workers' clock from now on: a day on which that person was 40
    monkeypatch.setattr(of.checks, "_as_of", lambda day: day or date(1990, 1, 1))
    df = out.compute(scheduler="sync")  # in this process, so the clock above applies
    born = date(1949, 12, 31)
    age = built_on.year - born.year - ((built_on.month, built_on.day) < (born.month, born.day))
    assert df["check_id_age"].tolist() == [age, age]


def test_bad_arguments_fail_before_anything_runs(tmp_path: Path) -> None:
    ddf = frame_of(["a.png"], partitions=1)
    with pytest.raises(of.ConfigurationError):
        ofd.recognize(ddf, "path", "passport")
    with pytest.raises(KeyError):
        ofd.recognize(ddf, "nope", "idcard")

    class Unpicklable(of.BaseEngine):
        identity = "unpicklable"

        def __reduce__(self) -> Any:
            raise TypeError("no")

    with pytest.raises(of.ConfigurationError, match="factory"):
        ofd.recognize(ddf, "path", "idcard", engine=Unpicklable())
    with pytest.raises(of.ConfigurationError):
        ofd.GlobalRateLimit(0)


class LocalSlots(ofd.GlobalRateLimit):
    """The limiter with the scheduler's slot book in this process (no cluster)."""

    book = _SlotBook()

    async def _reserve(self) -> None:
        now = time.monotonic()
        for delay in self.book.reserve(self.name, self.rate, self.batch):
            heapq.heappush(self._slots, now + delay)


def test_slot_book_spaces_slots_per_name() -> None:
    book = _SlotBook()
    first = book.reserve("a", 10.0, 3)
    assert first[0] == pytest.approx(0.0, abs=0.01)
    assert [round(b - a, 6) for a, b in itertools.pairwise(first)] == [0.1, 0.1]
    assert book.reserve("a", 10.0, 1)[0] == pytest.approx(0.3, abs=0.01)  # after the others
    assert book.reserve("b", 10.0, 1)[0] == pytest.approx(0.0, abs=0.01)  # its own schedule


def test_slots_missed_by_a_stalled_process_are_not_bunched() -> None:
    limiter = LocalSlots(20.0, name="stall-test")
    returned: list[float] = []

    async def call() -> None:
        await limiter.acquire()
        returned.append(time.monotonic())

    async def run() -> None:
        tasks = [asyncio.ensure_future(call()) for _ in range(6)]
        await asyncio.sleep(0.01)
        time.sleep(0.2)  # noqa: ASYNC251  # the loop stalls past four slots (0.05 s apart)
        await asyncio.gather(*tasks)

    asyncio.run(run())
    gaps = [b - a for a, b in itertools.pairwise(sorted(returned))]
    assert min(gaps) >= 0.05 * 0.6, gaps  # without the lateness rule: 4 calls at once


def test_limiter_pickles_without_its_slots() -> None:
    limiter = ofd.GlobalRateLimit(5, name="acct-1", batch=3)
    limiter._slots = [1.0, 2.0]
    copy = pickle.loads(pickle.dumps(limiter))
    assert (copy.rate, copy.name, copy.batch, copy._slots) == (5.0, "acct-1", 3, [])
    assert isinstance(copy, of.Limiter)


def test_global_rate_limit_holds_the_quota_across_4_workers(
    client: Any, quota_emulator: TimedEmulator, image_files: ImageFiles
) -> None:
    ddf = frame_of(image_files(CALLS))
    out = ofd.recognize(
        ddf,
        "path",
        "idcard",
        engine=engine_for(quota_emulator),
        cache_dir=False,
        rate_limit=RATE,
        retry=NO_RETRY,
    )
    started = time.monotonic()
    df, workers = workers_used(client, out.compute)
    elapsed = time.monotonic() - started

    assert workers == WORKERS
    assert quota_emulator.refused[45011] == 0
    assert (df["errcode"] == 0).all()
    times = quota_emulator.admitted
    achieved = (len(times) - 1) / (times[-1] - times[0])
    busiest = max_in_window(times, WINDOW)
    print(  # shown with pytest -s: the numbers for the record
        f"\nglobal limit: {len(times)} calls on {workers} workers in {elapsed:.1f}s; "
        f"configured {RATE}/s, achieved {achieved:.2f}/s; busiest {WINDOW:.0f}-s window "
        f"{busiest} calls (quota {QUOTA}), busiest 1-s window {max_in_window(times, 1.0)}"
    )
    assert busiest <= QUOTA
    assert RATE * 0.85 <= achieved <= RATE * 1.1


def test_control_per_worker_limits_alone_break_the_quota(
    client: Any, quota_emulator: TimedEmulator, image_files: ImageFiles
) -> None:
    """The same run with what a worker can do alone (the same rate per process): the
    cluster sends 4x the rate and the platform refuses calls."""
    ddf = frame_of(image_files(CALLS))
    engine = engine_for(quota_emulator)

    def per_worker(part: pd.DataFrame) -> pd.DataFrame:
        return of.recognize(
            part["path"],
            "idcard",
            engine=engine,
            cache_dir=False,
            rate_limit=RATE,
            retry=NO_RETRY,
            progress=False,
        )

    out = ddf.map_partitions(per_worker, meta=ofd.meta("idcard"))
    df, workers = workers_used(client, out.compute)

    refused = quota_emulator.refused[45011]
    print(f"\ncontrol: {workers} workers at {RATE}/s each: {refused} of {CALLS} refused (45011)")
    assert workers == WORKERS
    assert refused > 0
    assert (df["errcode"] == 45011).sum() == refused


def test_recognize_with_a_rate_needs_a_distributed_client(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def no_client() -> Any:  # as distributed.get_client() says it when there is none
        raise ValueError("No clients found")

    monkeypatch.setattr(distributed, "get_client", no_client)  # this module has a client
    ddf = frame_of(["a.png"], partitions=1)
    with pytest.raises(of.ConfigurationError, match="Client"):
        ofd.recognize(ddf, "path", "idcard", rate_limit=5.0)


def test_import_ocr_frames_does_not_import_dask() -> None:
    import subprocess
    import sys

    code = "import sys, ocr_frames; print('dask' in sys.modules, 'distributed' in sys.modules)"
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert out.stdout.split() == ["False", "False"], out.stderr


def test_a_cascade_runs_on_the_workers_and_pays_only_for_escalated_rows(
    client: Any, emulator: WeChatEmulator, image_files: ImageFiles, tmp_path: Path
) -> None:
    """Both engines reach the workers; the paid one is asked about the unsure rows only,
    under the cluster-wide rate limit."""
    paths = image_files(8)
    with WeChatEmulator() as free:
        for n, path in enumerate(paths):
            data = Path(path).read_bytes()
            sure = 0.3 if n % 3 == 0 else 0.99  # rows 0, 3, 6: unsure of the number
            free.register(data, "bankcard", {"number": f"free{n}", "confidence": {"number": sure}})
            emulator.register(data, "bankcard", {"number": f"paid{n}"})
        cascade = of.Cascade(engine_for(free), engine_for(emulator), quality=False, checks=False)
        out = ofd.recognize(
            frame_of(paths), "path", "bankcard", engine=cascade, cache_dir=tmp_path, rate_limit=50
        )
        df = out.compute()
    assert list(df["number"]) == [f"paid{n}" if n % 3 == 0 else f"free{n}" for n in range(8)]
    assert [list(r) for r in df["escalated_because"]] == [
        ["low confidence: number"] if n % 3 == 0 else [] for n in range(8)
    ]
    assert emulator.total_billed == 3
