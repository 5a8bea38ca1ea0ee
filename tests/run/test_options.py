"""One ``RunOptions`` behind every entry point: the same keywords everywhere, the same
defaults, the same validation."""

from __future__ import annotations

import argparse
import dataclasses
import inspect
from collections.abc import Callable
from datetime import date, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

import ocr_frames as of
import ocr_frames.dask
from ocr_frames._run.accessor import OCRAccessor
from ocr_frames._run.options import RunKeywords, RunOptions
from ocr_frames.cli._parser import RUN_EXTRAS, build_parser, run_options
from ocr_frames.kinds import KINDS
from ocr_frames.testing import WeChatEmulator
from tests.helpers import make_png

FIELDS = frozenset(f.name for f in dataclasses.fields(RunOptions))

#: entry point → (its own parameters besides the run options, documented in options.py)
ENTRY_POINTS: dict[str, tuple[Callable[..., Any], frozenset[str]]] = {
    "recognize": (of.recognize, frozenset({"images", "kind", "engine", "cache_dir"})),
    "arecognize": (of.arecognize, frozenset({"images", "kind", "engine", "cache_dir"})),
    "recognize_arrow": (of.recognize_arrow, frozenset({"images", "kind", "engine", "cache_dir"})),
    "recognize_to_parquet": (
        of.recognize_to_parquet,
        frozenset(
            {"images", "kind", "path", "engine", "cache_dir", "file_mode", "report"}
            | {"review_path", "report_thumbnails"}
        ),
    ),
    "df.ocr.recognize": (
        OCRAccessor.recognize,
        frozenset({"self", "column", "kind", "prefix", "engine", "cache_dir"}),
    ),
    "ocr_frames.dask.recognize": (
        ocr_frames.dask.recognize,
        frozenset(
            {"ddf", "column", "kind", "engine", "cache_dir", "limiter_name", "join", "prefix"}
            | {"client"}
        ),
    ),
    **{
        f"of.{kind}": (getattr(of, kind), frozenset({"images", "engine", "cache_dir"}))
        for kind in KINDS
    },
}


def _run_parser() -> argparse.ArgumentParser:
    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    run: argparse.ArgumentParser = sub.choices["run"]
    return run


@pytest.mark.parametrize("name", sorted(ENTRY_POINTS))
def test_every_entry_point_takes_exactly_the_run_options(name: str) -> None:
    func, extras = ENTRY_POINTS[name]
    params = inspect.signature(func).parameters
    assert not any(p.kind is p.VAR_KEYWORD for p in params.values()), "options spelled out"
    assert set(params) == FIELDS | extras, set(params) ^ (FIELDS | extras)
    for field in dataclasses.fields(RunOptions):
        param = params[field.name]
        assert param.kind is param.KEYWORD_ONLY
        dask_progress = (name, field.name) == ("ocr_frames.dask.recognize", "progress")
        assert param.default == (False if dask_progress else field.default), (name, field.name)


def test_the_cli_run_flags_are_the_run_options_and_its_extras() -> None:
    dests = {a.dest for a in _run_parser()._actions if a.dest != "help"}
    assert dests == FIELDS | RUN_EXTRAS, dests ^ (FIELDS | RUN_EXTRAS)
    args = build_parser().parse_args(["run", "x", "--kind", "comm", "--out", "o.parquet"])
    assert run_options(args) == RunOptions()  # the CLI's defaults are RunOptions' defaults


def test_cli_flags_reach_their_option() -> None:
    flags = """run x -k comm -o o.parquet --chunk-size 3 --chunk-bytes 1000
        --download-timeout 2.5 --max-bytes 99 --retries 2 --on-error raise --no-progress
        --no-shrink --url-allow-host a.example --no-url-private --as-of 2026-01-02
        --checks --mask --concurrency 4 --rate-limit 7 --quality --review-threshold 0.75"""
    args = build_parser().parse_args(flags.split())
    opts = run_options(args)
    assert (opts.chunk_size, opts.chunk_bytes, opts.download_timeout, opts.max_bytes) == (
        3,
        1000,
        2.5,
        99,
    )
    assert opts.retry == of.RetryPolicy(max_attempts=2) and opts.on_error == "raise"
    assert not opts.progress and not opts.shrink and not opts.url_private
    assert opts.url_allow_hosts == ("a.example",) and opts.as_of == date(2026, 1, 2)
    assert opts.checks and opts.mask and (opts.concurrency, opts.rate_limit) == (4, 7.0)
    assert opts.quality and opts.review_threshold == 0.75


def test_the_typed_keywords_match_the_fields() -> None:
    annotations = RunKeywords.__annotations__
    assert list(annotations) == [f.name for f in dataclasses.fields(RunOptions)]
    for field in dataclasses.fields(RunOptions):  # both written as text (future annotations)
        assert annotations[field.name].__forward_arg__ == field.type, field.name


BAD_OPTIONS: list[tuple[dict[str, Any], str]] = [
    ({"chunk_size": 0}, "chunk_size must be >= 1, got 0"),
    ({"chunk_bytes": 0}, "chunk_bytes must be >= 1"),
    ({"concurrency": 0}, "concurrency must be >= 1"),
    ({"max_bytes": 0}, "max_bytes must be >= 1"),
    ({"rate_limit": 0}, "rate_limit must be > 0"),
    ({"rate_limit": float("nan")}, "rate_limit must be > 0"),
    ({"download_timeout": 0}, "download_timeout must be > 0"),
    ({"download_timeout": float("inf")}, "download_timeout must be > 0 seconds .and finite"),
    ({"url_mode": "upload"}, "url_mode must be 'download' or 'passthrough', not 'upload'"),
    ({"on_error": "ignore"}, "on_error must be 'keep' or 'raise'"),
    ({"as_of": "2026-01-01"}, "as_of must be a datetime.date, not str"),
    ({"url_allow_hosts": "images.internal"}, "url_allow_hosts must be a list"),
    ({"url_allow_hosts": 5}, "url_allow_hosts must be a list of host names, not int 5"),
    # the type of each field: never a TypeError, nor a value taken that fails later
    ({"retry": 3}, "retry must be a RetryPolicy .* not int 3"),
    ({"storage_options": "abc"}, "storage_options must be a mapping .* not str 'abc'"),
    ({"storage_options": [1]}, "storage_options must be a mapping"),
    ({"storage_options": {1: 2}}, "storage_options must be a mapping of option names"),
    ({"chunk_size": "10"}, "chunk_size must be a whole number, not str '10'"),
    ({"chunk_bytes": 1e6}, "chunk_bytes must be a whole number, not float"),
    ({"concurrency": 2.5}, "concurrency must be a whole number, not float 2.5"),
    ({"concurrency": True}, "concurrency must be a whole number, not bool True"),
    ({"max_bytes": 2.5}, "max_bytes must be a whole number"),
    ({"rate_limit": "5"}, "rate_limit must be a number of calls per second, not str '5'"),
    ({"rate_limit": True}, "rate_limit must be a number of calls per second, not bool"),
    ({"download_timeout": "5"}, "download_timeout must be a number of seconds, not str"),
    ({"shrink": "no"}, "shrink must be True or False, not str 'no'"),
    ({"checks": "yes"}, "checks must be True or False"),
    ({"mask": 1}, "mask must be True or False, not int 1"),
    ({"progress": None}, "progress must be True or False, not NoneType"),
    ({"url_private": 0}, "url_private must be True or False"),
    ({"quality": "yes"}, "quality must be True or False, not str 'yes'"),
    ({"review_threshold": 1.5}, "review_threshold must be from 0 to 1, got 1.5"),
    ({"review_threshold": -0.1}, "review_threshold must be from 0 to 1, got -0.1"),
    ({"review_threshold": float("nan")}, "review_threshold must be from 0 to 1, got nan"),
    ({"review_threshold": "0.9"}, "review_threshold must be a number from 0 to 1, not str"),
    ({"review_threshold": True}, "review_threshold must be a number from 0 to 1, not bool"),
]
"""Run options refused, with (a pattern of) the message."""


@pytest.mark.parametrize(
    ("options", "message"), BAD_OPTIONS, ids=[repr(options) for options, _ in BAD_OPTIONS]
)
def test_bad_options_are_configuration_errors_at_every_entry_point(
    options: dict[str, Any],
    message: str,
    emulator: WeChatEmulator,
    engine: of.WeChatEngine,
    tmp_path: Path,
) -> None:
    """Before anything is read or sent: one real image, an engine that would answer."""
    with pytest.raises(of.ConfigurationError, match=message):
        RunOptions(**options)
    image = [make_png(1)]
    kw: dict[str, Any] = {"engine": engine, "cache_dir": False, **options}
    calls: list[Callable[[], object]] = [
        lambda: of.recognize(image, "comm", **kw),
        lambda: of.recognize_arrow(image, "comm", **kw),
        lambda: of.recognize_to_parquet(image, "comm", tmp_path / "o.parquet", **kw),
        lambda: pd.DataFrame({"p": image}).ocr.recognize("p", "comm", **kw),
        lambda: of.comm(image, **kw),
    ]
    for call in calls:
        with pytest.raises(of.ConfigurationError, match=message):
            call()
    assert not (tmp_path / "o.parquet").exists()
    assert emulator.total_billed == 0


@pytest.mark.parametrize(
    ("where", "message"),
    [
        ({"report": "{tmp}/no-such-dir/r.html"}, "report: no such directory"),
        ({"report": "{tmp}"}, "report is a directory"),
        ({"report": "{tmp}/a-file/r.html"}, "report: no such directory"),
        ({"path": "{tmp}"}, "path is a directory"),
        ({"path": "{tmp}/a-file/o.parquet"}, "path: no such directory"),
    ],
)
def test_output_and_report_paths_are_checked_before_anything_is_sent(
    where: dict[str, str],
    message: str,
    emulator: WeChatEmulator,
    engine: of.WeChatEngine,
    tmp_path: Path,
) -> None:
    (tmp_path / "a-file").write_bytes(b"")
    out = tmp_path / "out" / "o.parquet"
    paths = {"path": str(out), **{k: v.format(tmp=tmp_path) for k, v in where.items()}}
    with pytest.raises(of.ConfigurationError, match=message):
        of.recognize_to_parquet(
            [make_png(1)], "comm", engine=engine, cache_dir=False, progress=False, **paths
        )
    assert emulator.total_billed == 0 and not out.exists()
    # a missing folder of the output itself is made, as before
    of.recognize_to_parquet([make_png(1)], "comm", out, engine=engine, cache_dir=False)
    assert out.exists() and emulator.total_billed == 1


def test_unknown_options_are_refused() -> None:
    with pytest.raises(TypeError, match="chunksize"):
        of.recognize([], "comm", engine=_idle_engine(), chunksize=3)  # type: ignore[call-arg]


def test_options_are_normalised_and_frozen() -> None:
    opts = RunOptions(
        as_of=datetime(2026, 3, 4, 5, 6), url_allow_hosts=["A.example"], storage_options={}
    )
    assert opts.as_of == date(2026, 3, 4) and type(opts.as_of) is date
    numbers = RunOptions(concurrency=np.int64(3), rate_limit=2, download_timeout=np.float32(1.5))
    assert (numbers.concurrency, numbers.rate_limit, numbers.download_timeout) == (3, 2.0, 1.5)
    assert type(numbers.concurrency) is int and type(numbers.rate_limit) is float
    hosts = RunOptions(url_allow_hosts=(h for h in ["a.example"]))  # any iterable, read once
    assert hosts.url_allow_hosts == ("a.example",) and "a.example" in hosts.url_policy.allow_hosts
    assert opts.url_allow_hosts == ("A.example",) and "a.example" in opts.url_policy.allow_hosts
    with pytest.raises(dataclasses.FrozenInstanceError):
        opts.chunk_size = 3  # type: ignore[misc]
    assert RunOptions(**opts.as_keywords()) == opts


def test_every_option_is_accepted_by_every_entry_point(tmp_path: Path) -> None:
    """Non-default values for all of them, on an empty input (nothing is sent)."""
    options: dict[str, Any] = {
        "concurrency": 2,
        "rate_limit": 5.0,
        "retry": of.RetryPolicy(max_attempts=2),
        "progress": False,
        "on_error": "raise",
        "url_mode": "passthrough",
        "max_bytes": 1000,
        "chunk_size": 3,
        "chunk_bytes": 4096,
        "download_timeout": 1.0,
        "shrink": False,
        "storage_options": {"anon": True},
        "url_allow_hosts": ["images.internal"],
        "url_private": False,
        "checks": True,
        "as_of": date(2026, 1, 1),
        "mask": True,
        "quality": True,
        "review_threshold": 0.5,
    }
    assert set(options) == FIELDS  # a new option must be added here too
    kw = {"engine": _idle_engine(), "cache_dir": False, **options}
    assert len(of.recognize([], "idcard", **kw)) == 0
    assert of.recognize_arrow([], "idcard", **kw).num_rows == 0
    assert of.recognize_to_parquet([], "idcard", tmp_path / "o.parquet", **kw).rows == 0
    assert len(pd.DataFrame({"p": []}).ocr.recognize("p", "idcard", **kw)) == 0
    assert len(of.idcard([], **kw)) == 0


def _idle_engine() -> of.WeChatEngine:
    """An engine that is never called: the inputs are empty or the options refused
    (and nothing listens on port 9 of 127.0.0.1)."""
    return of.WeChatEngine(access_token="t", base_url="http://127.0.0.1:9")
