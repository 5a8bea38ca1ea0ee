"""``ocr_frames.dask.recognize(..., engine=LocalEngine())`` on a real 2-process LocalCluster.

The engine travels as a few hundred bytes of settings, not as models: each worker process
loads the models itself, once (``ocr_frames.local._ocr`` keeps one core per process and
configuration, and the core counts the pipelines it has built), however many partitions,
and so engine copies, it runs.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import cloudpickle  # type: ignore[import-untyped]
import pandas as pd
import pytest

dd = pytest.importorskip("dask.dataframe")
distributed = pytest.importorskip("distributed")

import ocr_frames.dask as ofd  # noqa: E402
from ocr_frames.local import LocalEngine, _ocr  # noqa: E402
from tests.helpers import REPO  # noqa: E402

pytestmark = pytest.mark.timeout(180)

SAMPLES = REPO / "sample_data"
TRUTH: dict[str, dict[str, Any]] = json.loads((SAMPLES / "truth.json").read_text("utf-8"))
#: Every ID card sample with a known answer (fronts, backs, a copy, no card at all), and
#: the first one again: 8 rows in 4 partitions, so each worker runs more than one.
NAMES = [*sorted(n for n in TRUTH if n.startswith("idcard/")), "idcard/idcard_01.jpg"]
KB = 1024


@pytest.fixture(scope="module")
def client() -> Iterator[Any]:
    cluster = distributed.LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=True,
        host="127.0.0.1",
        dashboard_address="127.0.0.1:0",  # None would still try 8787
    )
    with cluster, distributed.Client(cluster) as dask_client:
        yield dask_client


def pipelines_built() -> int:
    """Runs on a worker: the model pipelines this process has loaded, over all cores."""
    return sum(core._made for core in _ocr._CORES.values())


def test_each_worker_loads_the_models_once_and_reads_the_truth(client: Any, tmp_path: Path) -> None:
    engine = LocalEngine()
    assert len(cloudpickle.dumps(engine)) < 1 * KB  # settings only: the model files are ~32 MB
    frame = pd.DataFrame({"path": [str(SAMPLES / n) for n in NAMES]})
    ddf = dd.from_pandas(frame, npartitions=4)

    out: Any = ofd.recognize(ddf, "path", "idcard", engine=engine, cache_dir=tmp_path / "cache")
    graph = cloudpickle.dumps(dict(out.__dask_graph__()))
    assert len(graph) < 100 * KB
    with distributed.get_task_stream(client) as stream:
        df = out.compute()

    for row, name in enumerate(NAMES):
        answer = TRUTH[name]["answer"]
        got = {key: df.loc[row, key] for key in answer}
        assert got == answer, name
    ran = Counter(
        task["worker"] for task in stream.data if "_recognize_partition" in str(task["key"])
    )
    assert sum(ran.values()) == 4
    assert max(ran.values()) >= 2  # some worker unpickled several engine copies
    built = client.run(pipelines_built)
    assert set(built) == set(client.scheduler_info()["workers"])
    # a worker that ran partitions built exactly one pipeline (one engine copy per
    # partition, one core per process); one that ran none built none
    assert built == {worker: int(worker in ran) for worker in built}
