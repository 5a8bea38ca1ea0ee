"""Scale out on Dask: one call per partition, one rate limit for the whole cluster.

>>> import dask.dataframe as dd                                          # doctest: +SKIP
>>> from distributed import Client
>>> import ocr_frames.dask
>>> client = Client("tcp://scheduler:8786")
>>> ddf = dd.read_parquet("s3://bucket/scans.parquet")                  # a "path" column
>>> out = ocr_frames.dask.recognize(ddf, "path", "idcard", rate_limit=15, cache_dir="/cache")
>>> out.to_parquet("s3://bucket/ids/")

What happens, per partition, on the worker that runs it:

* a fresh engine: the one you pass is pickled once here and unpickled once per partition
  (engines hold HTTP clients bound to one event loop, so partitions never share one); or
  your zero-argument factory is called; or, with ``engine=None``, ``WeChatEngine.from_env()``
  reads ``WECHAT_APPID``/``WECHAT_SECRET`` *on the worker*, so the secret never enters
  the task graph;
* :func:`ocr_frames.recognize` on the partition's column, with the shared disk cache
  (``cache_dir``: diskcache is process-safe, and claims make sure two processes of one
  machine never pay for the same image) and the cluster-wide
  :class:`GlobalRateLimit`;
* the result keeps the partition's index (and its other columns with ``join=True``).

``meta`` is built from :func:`ocr_frames.schema`, so Dask never runs the function on
made-up sample rows: nothing is billed for graph construction.

On a real cluster:

* install ``ocr-frames[dask]`` on the scheduler *and* the workers: the shared schedule of
  :class:`GlobalRateLimit` lives in a small ``SchedulerPlugin`` (Dask's default of
  accepting pickled plugins must be kept);
* set the credentials in the workers' environment and pass ``engine=None``; keep the
  default ``token_endpoint="stable_token"`` (``/cgi-bin/token`` would make each partition's
  engine retire the others' tokens);
* give the workers images they can read (a shared mount, URLs or a bytes column);
* ``rate_limit`` is for the whole cluster: about ``0.9 * minute_quota / 60``, one
  ``limiter_name`` per account; two clusters on one account must split the quota;
* ``cache_dir`` on local disk (SQLite is not for NFS): a rerun on the same nodes is free;
* with ``engine=LocalEngine(threads=1)``, start the workers without Dask's default
  ``MALLOC_TRIM_THRESHOLD_=65536``: it makes onnxruntime about 1.5x slower per image
  (measured in ``bench/local_throughput.py``)::

      dask.config.set({"distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_": None})
      cluster = LocalCluster(n_workers=2, threads_per_worker=1)

  The local engine logs a warning when it starts in a process with that setting.

Requires ``pip install 'ocr-frames[dask]'`` (dask[dataframe] and distributed); a plain
``import ocr_frames`` does not import Dask.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable
from datetime import date
from typing import TYPE_CHECKING, Any, Literal

import cloudpickle  # type: ignore[import-untyped]
import pandas as pd

from ocr_frames._engine.contract import Engine
from ocr_frames._engine.policy import Limiter
from ocr_frames._errors import ConfigurationError
from ocr_frames._run.accessor import join_results
from ocr_frames._run.options import RunKeywords, RunOptions, run_entry
from ocr_frames._run.pipeline import audit_frame
from ocr_frames._run.pipeline import recognize as _recognize
from ocr_frames._tables.frames import to_pandas
from ocr_frames.dask._limiter import DEFAULT_LIMITER_NAME, GlobalRateLimit
from ocr_frames.kinds import check_kind, schema

if TYPE_CHECKING:
    import dask.dataframe as dd
    from distributed import Client
    from typing_extensions import Unpack

__all__ = ["DEFAULT_LIMITER_NAME", "GlobalRateLimit", "meta", "recognize"]

EngineSpec = Engine | Callable[[], Engine] | None


class _EngineSource:
    """Picklable recipe for one new engine per partition."""

    def __init__(self, engine: EngineSpec) -> None:
        self._pickled: bytes | None = None
        self._factory: Callable[[], Engine] | None = None
        if isinstance(engine, Engine):
            try:  # by value when needed (an engine class defined in a notebook)
                self._pickled = cloudpickle.dumps(engine)
            except Exception as exc:  # any pickling failure means the same to the user
                raise ConfigurationError(
                    f"the engine {engine!r} cannot be sent to Dask workers ({exc}); pass a "
                    "zero-argument factory that builds it instead (engine=lambda: ...)"
                ) from exc
        elif engine is not None:
            if not callable(engine):
                raise ConfigurationError(f"engine must be an Engine, a factory or None: {engine!r}")
            self._factory = engine

    def __dask_tokenize__(self) -> object:
        return ("ocr_frames.dask._EngineSource", self._pickled, self._factory)

    def build(self) -> Engine | None:
        if self._pickled is not None:
            engine: Engine = cloudpickle.loads(self._pickled)
            return engine
        return self._factory() if self._factory is not None else None


def meta(kind: str, index: pd.Index | None = None) -> pd.DataFrame:
    """The empty result frame of ``kind`` (Dask's ``meta``), with ``index``'s dtype."""
    empty = schema(check_kind(kind)).empty_table()
    return to_pandas(empty, index=None if index is None else index[:0])


def _recognize_partition(
    part: pd.DataFrame,
    *,
    column: str,
    kind: str,
    engine: _EngineSource,
    options: dict[str, Any],
    join: bool,
    prefix: str,
) -> pd.DataFrame:
    """Runs on a worker: one partition in, its results out (same index)."""
    results = _recognize(part[column], kind, engine=engine.build(), **options)
    results.attrs = {}  # per-partition summaries do not concatenate; keep meta-like frames
    if join:
        return join_results(part, results, prefix)
    return results.add_prefix(prefix) if prefix else results


def _cluster_limiter(
    rate_limit: float | Limiter | None, name: str, client: Client | None
) -> Limiter | None:
    if rate_limit is None:
        return None
    limiter = (
        rate_limit if isinstance(rate_limit, Limiter) else GlobalRateLimit(rate_limit, name=name)
    )
    if isinstance(limiter, GlobalRateLimit):
        try:
            limiter.install(client)
        except ValueError as exc:  # distributed.get_client(): no client
            raise ConfigurationError(
                "rate_limit across a cluster needs a dask.distributed Client (its scheduler "
                "keeps the shared schedule): create one first, or pass client="
            ) from exc
    return limiter


@run_entry(progress=False)
def recognize(
    ddf: dd.DataFrame,
    column: str,
    kind: str,
    *,
    engine: EngineSpec = None,
    cache_dir: str | os.PathLike[str] | Literal[False] | None = None,
    limiter_name: str = DEFAULT_LIMITER_NAME,
    join: bool = False,
    prefix: str = "",
    client: Client | None = None,
    **options: Unpack[RunKeywords],
) -> dd.DataFrame:
    """:func:`ocr_frames.recognize` on every partition of ``ddf[column]``, lazily.

    Returns a Dask DataFrame with the partitions (and index) of ``ddf``: the result
    columns of ``kind`` (named ``prefix + column``), after ``ddf``'s own columns when
    ``join=True``.  Nothing runs until you compute it.

    The run options are those of :func:`ocr_frames.recognize`, applied per partition on
    the workers (``progress`` defaults to False there), except:

    * ``rate_limit``: calls per second for the **whole cluster** (the platform's minute
      quota is per account): a number builds a :class:`GlobalRateLimit` named
      ``limiter_name`` and installs it on the scheduler of ``client`` (default: the
      current client; one is required), or pass a limiter object.  ``concurrency`` is
      per partition;
    * ``as_of`` (for ``checks``) defaults to the day the graph is built, the same for
      every partition (not each worker's day when it runs);
    * ``checks``: the duplicate checks (``check_image_*``, ``check_number_*`` and so
      ``check_passed``) compare the rows of one partition only; for the whole table, run
      :func:`ocr_frames.checks.add_checks` on the computed frame instead.

    ``engine``: an :class:`~ocr_frames.Engine` (must pickle; each partition gets its own
    copy), a zero-argument factory, or ``None`` for ``WeChatEngine.from_env()`` on each
    worker.  ``cache_dir``, ``storage_options``, paths and URLs are seen from the workers.
    """
    options.setdefault("progress", False)  # no bars on the workers unless asked
    opts = RunOptions(**options)
    if opts.checks and opts.as_of is None:  # one day for every partition, wherever it runs
        opts = dataclasses.replace(opts, as_of=date.today())
    check_kind(kind)
    if column not in ddf.columns:
        raise KeyError(f"no column {column!r} in the Dask DataFrame")
    source = _EngineSource(engine)
    limiter = _cluster_limiter(opts.rate_limit, limiter_name, client)
    # plain keywords travel in the task graph (and pickle) better than the frozen object
    keywords = {**opts.as_keywords(), "rate_limit": limiter, "cache_dir": cache_dir}
    empty = ddf._meta
    result_meta = audit_frame(meta(kind, empty.index), kind, opts)  # check_* columns too
    result_meta = (
        join_results(empty, result_meta, prefix)
        if join
        else (result_meta.add_prefix(prefix) if prefix else result_meta)
    )
    out: dd.DataFrame = ddf.map_partitions(
        _recognize_partition,
        column=column,
        kind=kind,
        engine=source,
        options=keywords,
        join=join,
        prefix=prefix,
        meta=result_meta,
    )  # type: ignore[no-untyped-call]
    return out
