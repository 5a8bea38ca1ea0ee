"""Tests of ocr_frames._cache.store against real cache directories (and real SQLite files)."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import pickle
import sqlite3
import stat
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import diskcache
import pytest

from ocr_frames._cache.store import (
    CACHE_DIR_ENV,
    DEFAULT_SETTINGS,
    FORMAT_VERSION,
    NullCache,
    ResultCache,
    cache_key,
)
from ocr_frames._errors import CACHEABLE_CODES

SHA = hashlib.sha256(b"image").hexdigest()
ANSWER: dict[str, Any] = {
    "errcode": 0,
    "errmsg": "ok",
    "rid": None,
    "name": "张三",
    "id": "110101199001011234",
    "card_position_front": {"pos": {"left_top": {"x": 1, "y": 2}}},
    "price": 12.5,
    "items": [],
}


def sha_of(n: int) -> str:
    return hashlib.sha256(str(n).encode()).hexdigest()


def key_of(n: int, kind: str = "idcard") -> str:
    return ResultCache.key(sha_of(n), kind, "wechat")


@pytest.fixture
def cache(tmp_path: Path) -> Iterator[ResultCache]:
    with ResultCache(tmp_path / "cache") as opened:
        yield opened


def stored_rows(directory: Path) -> list[tuple[str, str, Any]]:
    """(key, SQLite type of value, value) straight from diskcache's SQLite file."""
    con = sqlite3.connect(directory / "cache.db")
    try:
        return con.execute("SELECT key, typeof(value), value FROM Cache ORDER BY key").fetchall()
    finally:
        con.close()


def execute(directory: Path, sql: str, *params: object) -> None:
    con = sqlite3.connect(directory / "cache.db")
    try:
        with con:
            con.execute(sql, params)
    finally:
        con.close()


# --- keys ------------------------------------------------------------------------------


def test_key_format() -> None:
    assert FORMAT_VERSION == 1
    assert ResultCache.key(SHA, "idcard", "wechat") == f"v1:idcard:wechat:-:{SHA}"
    assert (
        ResultCache.key(SHA, "comm", "local:rapidocr-3.4", {})
        == f"v1:comm:local:rapidocr-3.4:-:{SHA}"
    )
    options = {"type": "photo", "img_url": True}
    digest = hashlib.sha256(json.dumps(options, sort_keys=True).encode()).hexdigest()[:16]
    assert ResultCache.key(SHA, "idcard", "wechat", options) == f"v1:idcard:wechat:{digest}:{SHA}"
    reordered = {"img_url": True, "type": "photo"}
    assert ResultCache.key(SHA, "idcard", "wechat", reordered) == cache_key(
        SHA, "idcard", "wechat", options
    )
    assert NullCache.key(SHA, "idcard", "wechat") == ResultCache.key(SHA, "idcard", "wechat")


@pytest.mark.parametrize("bad", ["", "abc", SHA.upper(), SHA[:-1] + "g", SHA + "0"])
def test_key_rejects_bad_digests(bad: str) -> None:
    with pytest.raises(ValueError, match="sha256"):
        ResultCache.key(bad, "idcard", "wechat")


def test_key_rejects_options_that_are_not_json() -> None:
    with pytest.raises(TypeError):
        ResultCache.key(SHA, "idcard", "wechat", {"x": object()})


# --- storage ---------------------------------------------------------------------------


def test_round_trip_and_json_storage(cache: ResultCache) -> None:
    key = key_of(1)
    assert cache.set_many({key: ANSWER}) == 1
    assert cache.get_many([key, key_of(2)]) == {key: ANSWER}
    assert cache.get(key) == ANSWER
    ((stored_key, value_type, value),) = stored_rows(cache.directory)
    assert stored_key == key
    assert value_type == "text"  # JSON text, not a pickle blob
    assert value == json.dumps(ANSWER, ensure_ascii=False, separators=(",", ":"))
    assert "张三" in value
    assert json.loads(value) == ANSWER


def test_only_cacheable_codes_are_stored(cache: ResultCache) -> None:
    codes: list[Any] = [0, 101001, 101002, -1, 45011, 45009, 40001, 101000, 900009, 900001]
    items = {key_of(i): {"errcode": code, "errmsg": "x"} for i, code in enumerate(codes)}
    items[key_of(100)] = {"errcode": "0", "errmsg": "string code"}
    items[key_of(101)] = {"errcode": False, "errmsg": "bool is not an int here"}
    items[key_of(102)] = {"errmsg": "no errcode"}
    assert cache.set_many(items) == 3
    stored = cache.get_many(list(items))
    assert sorted(answer["errcode"] for answer in stored.values()) == sorted(CACHEABLE_CODES)
    assert cache.set(key_of(200), {"errcode": -1}) is False
    assert cache.set(key_of(201), {"errcode": 101001}) is True
    assert len(cache) == 4


def test_unserialisable_answers_are_skipped_not_raised(
    cache: ResultCache, caplog: pytest.LogCaptureFixture
) -> None:
    items: dict[str, dict[str, Any]] = {
        key_of(1): {"errcode": 0, "when": object()},
        key_of(2): {"errcode": 0, "price": float("nan")},
        key_of(3): ANSWER,
    }
    with caplog.at_level(logging.WARNING, logger="ocr_frames._cache.store"):
        assert cache.set_many(items) == 1
    assert list(cache.get_many(list(items))) == [key_of(3)]
    assert "not JSON-serialisable" in caplog.text


def test_lone_surrogates_round_trip(cache: ResultCache) -> None:
    answer = {"errcode": 0, "text": "bad \udcff byte"}
    assert cache.set(key_of(1), answer)
    assert cache.get(key_of(1)) == answer


def test_overwrite_keeps_one_entry(cache: ResultCache) -> None:
    cache.set(key_of(1), {"errcode": 101001})
    cache.set(key_of(1), ANSWER)
    assert len(cache) == 1
    assert cache.get(key_of(1)) == ANSWER


def test_container_protocol_clear_and_stats(tmp_path: Path) -> None:
    directory = tmp_path / "c"
    cache = ResultCache(directory)
    try:
        assert cache.directory == directory
        cache.set_many({key_of(i): ANSWER for i in range(5)})
        assert len(cache) == 5
        assert key_of(1) in cache and key_of(9) not in cache and 3 not in cache
        stats = cache.stats()
        assert stats["count"] == 5 and stats["directory"] == os.fspath(directory)
        assert stats["size_bytes"] >= (directory / "cache.db").stat().st_size > 0
        assert cache.clear() == 5
        assert len(cache) == 0 and cache.get_many([key_of(1)]) == {}
    finally:
        cache.close()
    cache.close()  # idempotent
    with ResultCache(directory) as reopened:  # reopening keeps working after close
        reopened.set(key_of(1), ANSWER)
        assert reopened.get(key_of(1)) == ANSWER
    assert "ResultCache(" in repr(reopened)


def test_entries_survive_reopening(tmp_path: Path) -> None:
    with ResultCache(tmp_path) as first:
        first.set_many({key_of(i): {**ANSWER, "n": i} for i in range(50)})
    with ResultCache(tmp_path) as second:
        got = second.get_many([key_of(i) for i in range(50)])
    assert [got[key_of(i)]["n"] for i in range(50)] == list(range(50))


def test_entries_list_keys_with_store_times_and_delete_many_removes_them(
    cache: ResultCache,
) -> None:
    before = time.time()
    cache.set_many({key_of(i): ANSWER for i in range(3)})
    entries = cache.entries()
    assert sorted(key for key, _ in entries) == sorted(key_of(i) for i in range(3))
    assert all(before - 1 <= stored <= time.time() + 1 for _, stored in entries)
    assert cache.delete_many([key_of(0), key_of(2), key_of(9)]) == 2
    assert cache.delete_many([]) == 0
    assert [key for key, _ in cache.entries()] == [key_of(1)]
    assert cache.get_many([key_of(i) for i in range(3)]) == {key_of(1): ANSWER}


# --- never evict -----------------------------------------------------------------------


def test_settings_never_evict() -> None:
    assert DEFAULT_SETTINGS["eviction_policy"] == "none"
    assert DEFAULT_SETTINGS["size_limit"] >= 2**60
    assert DEFAULT_SETTINGS["statistics"] == 0
    assert DEFAULT_SETTINGS["disk_min_file_size"] >= 2**20


def test_no_eviction_even_over_a_stored_small_limit(tmp_path: Path) -> None:
    evicting = {"size_limit": 50_000, "eviction_policy": "least-recently-stored", "cull_limit": 10}
    payload = "x" * 1000
    # Control: a plain diskcache with these settings does lose entries ...
    with diskcache.Cache(os.fspath(tmp_path / "plain"), **evicting) as plain:
        for i in range(300):
            plain.set(key_of(i), payload)
        assert len(plain) < 300
    # ... while a ResultCache opened on a directory that stored them keeps everything.
    directory = tmp_path / "ours"
    diskcache.Cache(os.fspath(directory), **evicting).close()
    with ResultCache(directory) as cache:
        for start in range(0, 300, 30):
            cache.set_many(
                {key_of(i): {"errcode": 0, "p": payload} for i in range(start, start + 30)}
            )
        for i in range(300, 330):
            cache.set(key_of(i), {"errcode": 0, "p": payload})
        assert len(cache) == 330
        assert len(cache.get_many([key_of(i) for i in range(330)])) == 330
    settings = dict(
        sqlite3.connect(directory / "cache.db").execute("SELECT key, value FROM Settings")
    )
    assert settings["eviction_policy"] == "none"
    assert not list(directory.rglob("*.val"))  # values stayed inside SQLite


# --- corrupt entries are misses --------------------------------------------------------


@pytest.mark.parametrize("bad_value", ["not json { LEAK", '["LEAK"]', '"LEAK"', "null", ""])
def test_corrupted_value_is_a_logged_miss(
    cache: ResultCache, caplog: pytest.LogCaptureFixture, bad_value: str
) -> None:
    cache.set_many({key_of(1): ANSWER, key_of(2): ANSWER})
    execute(cache.directory, "UPDATE Cache SET value = ? WHERE key = ?", bad_value, key_of(1))
    with caplog.at_level(logging.WARNING, logger="ocr_frames._cache.store"):
        got = cache.get_many([key_of(1), key_of(2)])
    assert got == {key_of(2): ANSWER}
    assert key_of(1) in caplog.text
    assert "LEAK" not in caplog.text  # the value itself is never logged


class _Explode:
    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Any, ...]:
        return (os.mkdir, (self.marker,))


def test_pickled_values_are_never_loaded(
    cache: ResultCache, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    marker = tmp_path / "unpickled"
    cache.set(key_of(1), ANSWER)
    blob = pickle.dumps(_Explode(os.fspath(marker)))
    execute(cache.directory, "UPDATE Cache SET mode = 4, value = ? WHERE key = ?", blob, key_of(1))
    with caplog.at_level(logging.WARNING, logger="ocr_frames._cache.store"):
        assert cache.get(key_of(1)) is None
    assert not marker.exists()
    assert "not JSON text" in caplog.text


def test_values_stored_in_files_are_read(tmp_path: Path) -> None:
    # An older configuration may have put large values in files next to the database.
    with diskcache.Cache(os.fspath(tmp_path), disk_min_file_size=0) as plain:
        plain.set(key_of(1), json.dumps(ANSWER))
    assert list(tmp_path.rglob("*.val"))
    with ResultCache(tmp_path) as cache:
        assert cache.get(key_of(1)) == ANSWER


def test_broken_database_is_a_configuration_error(tmp_path: Path) -> None:
    from ocr_frames._errors import ConfigurationError

    (tmp_path / "cache.db").write_bytes(b"this is not an SQLite database" * 100)
    with pytest.raises(ConfigurationError, match="cache directory"):
        ResultCache(tmp_path)


def test_read_errors_are_raised_not_treated_as_misses(tmp_path: Path) -> None:
    from ocr_frames._errors import ConfigurationError

    with ResultCache(tmp_path) as cache:
        cache.set(key_of(1), ANSWER)
        execute(tmp_path, "DROP TABLE Cache")
        with pytest.raises(ConfigurationError, match="could not be read"):
            cache.get_many([key_of(1)])


# --- directory and permissions ---------------------------------------------------------


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX modes")
@pytest.mark.parametrize("umask", [0o000, 0o022, 0o277])
def test_permissions_are_private_whatever_the_umask(tmp_path: Path, umask: int) -> None:
    directory = tmp_path / "a" / "b"
    old = os.umask(umask)
    try:
        cache = ResultCache(directory)
    finally:
        os.umask(old)
    try:
        cache.set(key_of(1), ANSWER)
        assert stat.S_IMODE(directory.stat().st_mode) == 0o700
        assert stat.S_IMODE(directory.parent.stat().st_mode) == 0o700
        files = [p for p in directory.iterdir() if p.name.startswith("cache.db")]
        assert any(p.name == "cache.db" for p in files)
        for path in files:
            assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    finally:
        cache.close()


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX modes")
def test_existing_directory_keeps_its_mode(tmp_path: Path) -> None:
    directory = tmp_path / "shared"
    directory.mkdir()
    directory.chmod(0o750)
    with ResultCache(directory):
        pass
    assert stat.S_IMODE(directory.stat().st_mode) == 0o750
    assert stat.S_IMODE((directory / "cache.db").stat().st_mode) == 0o600


def test_default_directory_from_env_at_call_time(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(CACHE_DIR_ENV, os.fspath(tmp_path / "from-env"))
    with ResultCache() as cache:
        assert cache.directory == tmp_path / "from-env"
    monkeypatch.delenv(CACHE_DIR_ENV)
    monkeypatch.setenv("XDG_CACHE_HOME", os.fspath(tmp_path / "xdg"))
    if sys.platform.startswith("linux"):
        with ResultCache() as cache:
            assert cache.directory == tmp_path / "xdg" / "ocr-frames" / "results"


def test_directory_is_absolute_and_expanded_like_diskcache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("OCRF_TEST_PART", "expanded")
    with ResultCache("rel/$OCRF_TEST_PART") as cache:
        assert cache.directory == tmp_path / "rel" / "expanded"
        cache.set(key_of(1), ANSWER)
        monkeypatch.chdir(tmp_path / "rel")
        assert cache.get(key_of(1)) == ANSWER  # reads and writes use the same database
    assert (tmp_path / "rel" / "expanded" / "cache.db").is_file()


def test_unusable_directory_is_a_configuration_error(tmp_path: Path) -> None:
    from ocr_frames._errors import ConfigurationError

    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    with pytest.raises(ConfigurationError, match="cache directory"):
        ResultCache(blocker / "cache")


# --- threads and processes -------------------------------------------------------------


def test_worker_threads_leave_no_connection_open(cache: ResultCache) -> None:
    cache.set(key_of(0), ANSWER)
    seen: list[object] = []

    def work() -> None:
        cache.set_many({key_of(1): ANSWER})
        seen.append(cache.get_many([key_of(0), key_of(1)]))
        seen.append(getattr(cache._cache._local, "con", None))  # diskcache's per-thread one

    threads = [threading.Thread(target=work) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert seen[0::2] == [{key_of(0): ANSWER, key_of(1): ANSWER}] * 4
    assert seen[1::2] == [None] * 4


WORKER = textwrap.dedent(
    """
    import sys
    from ocr_frames._cache.store import ResultCache

    directory, worker = sys.argv[1], int(sys.argv[2])
    # worker w writes keys [50*w, 50*w + 100): every key is written by two workers
    numbers = range(50 * worker, 50 * worker + 100)
    with ResultCache(directory) as cache:
        for round_ in range(5):
            for start in range(0, 100, 10):
                batch = list(numbers)[start:start + 10]
                items = {
                    cache.key(format(n, "064x"), "comm", "wechat"): {
                        "errcode": 0, "errmsg": "ok", "n": n, "w": worker, "r": round_,
                        "items": [{"text": "文字" * 20}] * 5,
                    }
                    for n in batch
                }
                assert cache.set_many(items) == 10
                got = cache.get_many(list(items))
                assert set(got) == set(items), "lost a value just written"
                assert all(got[k]["n"] == items[k]["n"] for k in items)
    print("ok")
    """
)


def test_four_processes_share_one_directory(tmp_path: Path) -> None:
    directory = tmp_path / "shared-cache"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([os.getcwd(), *sys.path])}
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", WORKER, os.fspath(directory), str(worker)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
            text=True,
        )
        for worker in range(4)
    ]
    for proc in procs:
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
        assert out.strip() == "ok"
    rows = stored_rows(directory)
    assert len(rows) == 250  # keys 0..249
    for key, value_type, value in rows:
        assert value_type == "text"
        answer = json.loads(value)
        assert key.endswith(format(answer["n"], "064x"))
    with ResultCache(directory) as cache:
        assert len(cache) == 250


# --- NullCache -------------------------------------------------------------------------


def test_null_cache_stores_nothing() -> None:
    with NullCache() as null:
        assert null.set_many({key_of(1): ANSWER}) == 0
        assert null.set(key_of(1), ANSWER) is False
        assert null.get_many([key_of(1)]) == {}
        assert null.get(key_of(1)) is None
        assert key_of(1) not in null
        assert len(null) == 0
        assert null.clear() == 0
        assert null.directory is None
        assert null.stats() == {"directory": None, "count": 0, "size_bytes": 0}
        assert null.entries() == [] and null.delete_many([key_of(1)]) == 0
    null.close()


def test_null_cache_has_the_same_public_interface() -> None:
    public = {name for name in dir(ResultCache) if not name.startswith("_")}
    assert public <= set(dir(NullCache))
