"""``of.Cascade`` against the WeChat emulator: routing, caching of both engines' answers,
``answered_by``/``escalated_because``, the audit sample's agreement figure, the dry run,
the rate limit on paid calls only, and the Parquet output (issue 17, "Done when").

``first`` is :class:`Canned`, an engine that answers each image by its sha256 from a dict
the test fills (with per-field ``confidence`` as the local engine gives) and counts its
calls, so every routing decision is known in advance; ``then`` is a real
``WeChatEngine`` talking to the emulator on 127.0.0.1, whose ``billed`` counter (per
image sha256) is the bill.  Caches are real directories under ``tmp_path``.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

import ocr_frames as of
from ocr_frames._cache.store import ResultCache, cache_key
from ocr_frames.testing import WeChatEmulator
from tests.helpers import REPO, ImageFiles, ScriptedEngine

IDCARD = REPO / "sample_data" / "idcard"
#: sharp, clean cards (no quality warning) and one the blur warning fires on
CLEAN, ERROR, LOWCONF, BADCHECK = (IDCARD / f"idcard_0{i}.jpg" for i in (1, 2, 3, 4))
BLURRED = REPO / "sample_data" / "quality" / "idcard_blurred.jpg"
BATCH = [CLEAN, ERROR, LOWCONF, BADCHECK, BLURRED]
#: what each row of BATCH must give, judged alone
REASONS = [[], ["errcode 101001"], ["low confidence: id"], ["check_id_checksum"], ["warn_blur"]]

VALID_ID = "11010519491231002X"  # check character right, born 1949-12-31, female
WRONG_CHECK_ID = "110105194912310021"  # same number, check character wrong
FIELDS = ("type", "name", "id", "addr", "gender", "nationality")


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def card(
    name: str, *, id_: str = VALID_ID, addr: str = "北京市朝阳区", **conf: float
) -> dict[str, Any]:
    """An idcard front as the local engine answers it: every field 0.99 sure unless
    ``conf`` says otherwise."""
    return {
        "errcode": 0,
        "errmsg": "ok",
        "type": "Front",
        "name": name,
        "id": id_,
        "addr": addr,
        "gender": "女",
        "nationality": "汉",
        "confidence": {f: conf.get(f, 0.99) for f in FIELDS},
    }


def wechat(name: str, addr: str = "北京市朝阳区") -> dict[str, Any]:
    """What the emulator answers as WeChat (no confidences, as the platform)."""
    answer = card(name, addr=addr)
    del answer["errcode"], answer["errmsg"], answer["confidence"]
    return answer


class Canned(ScriptedEngine):
    """A deterministic ``first``: the answer registered for the image's sha256 (an
    errcode 101001 for any other image); ``calls`` counts every call."""

    def __init__(
        self, answers: dict[str, dict[str, Any]], identity: str = "local:canned-v1"
    ) -> None:
        self.answers = answers
        super().__init__(self._answer, identity)

    def _answer(self, kind: str, image: bytes | None) -> dict[str, Any]:
        assert image is not None
        return dict(self.answers.get(sha(image), {"errcode": 101001, "errmsg": "no card"}))


class CountingLimiter:
    """A rate limiter (``ocr_frames`` ``Limiter`` protocol) that never waits and counts
    how many calls asked for a turn."""

    def __init__(self) -> None:
        self.acquired = 0

    async def acquire(self) -> None:
        self.acquired += 1


def batch_first(identity: str = "local:canned-v1") -> Canned:
    """``first`` for BATCH: one row for each reason to escalate, and a confident clean one."""
    b = {p: p.read_bytes() for p in BATCH}
    return Canned(
        {
            sha(b[CLEAN]): card("本地一"),
            sha(b[ERROR]): {"errcode": 101001, "errmsg": "certificate not found in image"},
            sha(b[LOWCONF]): card("本地三", id=0.3),
            sha(b[BADCHECK]): card("本地四", id_=WRONG_CHECK_ID),
            sha(b[BLURRED]): card("本地五"),
        },
        identity,
    )


def register_batch(emulator: WeChatEmulator) -> dict[Path, str]:
    """WeChat's answer for every BATCH image (a name of its own): {path: name}."""
    names = {p: f"微信{i}" for i, p in enumerate(BATCH)}
    for p, name in names.items():
        emulator.register(p.read_bytes(), "idcard", wechat(name))
    return names


def cascade(*engines: Any, **options: Any) -> of.Cascade:
    """``of.Cascade`` judging image quality too (off by default), so that BATCH's blurred
    card escalates."""
    return of.Cascade(*engines, **{"quality": True, **options})


def run(engine: of.Cascade, images: list[Any], cache: Path, **kw: Any) -> Any:
    return of.recognize(
        [str(p) for p in images], "idcard", engine=engine, cache_dir=cache, progress=False, **kw
    )


def reasons_of(df: Any) -> list[list[str]]:
    return [list(r) for r in df["escalated_because"]]


def cascade_info(df: Any) -> dict[str, Any]:
    info: dict[str, Any] = df.attrs["ocr_frames"]["cascade"]
    return info


# --- 1. routing -------------------------------------------------------------------------


def test_each_reason_escalates_and_a_confident_clean_row_stays_local(
    emulator: WeChatEmulator, engine: of.WeChatEngine, tmp_path: Path
) -> None:
    names = register_batch(emulator)
    first = batch_first()
    df = run(cascade(first, engine), BATCH, tmp_path / "cache")

    assert reasons_of(df) == REASONS
    assert df["answered_by"].tolist() == ["local", "wechat", "wechat", "wechat", "wechat"]
    # escalated rows hold WeChat's answer, the clean one the local engine's
    assert df["name"].tolist() == ["本地一", *(names[p] for p in BATCH[1:])]
    assert df["errcode"].tolist() == [0] * 5
    # WeChat billed once per escalated image, never for the clean one
    billed = emulator.billed
    assert emulator.total_billed == 4
    assert billed[sha(CLEAN.read_bytes())] == 0
    assert first.calls == 5
    info = cascade_info(df)
    assert info["answered_by"] == {"wechat": 4, "local": 1}
    assert info["escalated"] == 4
    assert info["reasons"] == {r[0]: 1 for r in REASONS if r}
    assert df.attrs["ocr_frames"]["billed_calls"] == 4


def test_a_row_wechat_fails_on_keeps_the_local_answer(
    emulator: WeChatEmulator, engine: of.WeChatEngine, tmp_path: Path
) -> None:
    """An escalated row WeChat cannot read (101001) keeps what the local engine read."""
    first = batch_first()
    emulator.register(LOWCONF.read_bytes(), "idcard", {"errcode": 101001, "errmsg": "no card"})
    df = run(cascade(first, engine), [CLEAN, LOWCONF], tmp_path / "cache")
    assert df["answered_by"].tolist() == ["local", "local"]
    assert reasons_of(df) == [[], ["low confidence: id"]]
    assert df["name"].tolist() == ["本地一", "本地三"]
    assert emulator.total_billed == 1


# --- 2. escalate= -----------------------------------------------------------------------


def test_escalate_true_sends_every_row(
    emulator: WeChatEmulator, engine: of.WeChatEngine, tmp_path: Path
) -> None:
    names = register_batch(emulator)
    df = run(cascade(batch_first(), engine, escalate=lambda row: True), BATCH, tmp_path / "c")
    assert df["answered_by"].tolist() == ["wechat"] * 5
    # a row with no reason of its own says it was sent by the rule
    assert reasons_of(df) == [["escalate"], *REASONS[1:]]
    assert df["name"].tolist() == [names[p] for p in BATCH]
    assert emulator.total_billed == 5


def test_escalate_false_keeps_every_readable_row_but_not_an_error(
    emulator: WeChatEmulator, engine: of.WeChatEngine, tmp_path: Path
) -> None:
    """``Cascade.reasons``: an error answer escalates before ``escalate`` is asked (there
    is no local answer to keep); every other row follows the callable's verdict."""
    names = register_batch(emulator)
    df = run(cascade(batch_first(), engine, escalate=lambda row: False), BATCH, tmp_path / "c")
    assert df["answered_by"].tolist() == ["local", "wechat", "local", "local", "local"]
    assert reasons_of(df) == [[], ["errcode 101001"], [], [], []]
    assert df["name"][1] == names[ERROR]
    assert emulator.billed == {sha(ERROR.read_bytes()): 1}


def test_escalate_sees_the_judged_row(
    emulator: WeChatEmulator, engine: of.WeChatEngine, tmp_path: Path
) -> None:
    """The callable gets the row with ``<field>_conf``, checks and ``review_reasons``."""
    register_batch(emulator)
    seen: list[list[str]] = []

    def only_unsure_ids(row: Any) -> bool:
        seen.append(list(row["review_reasons"]))
        return bool(row["id_conf"] < 0.5)

    df = run(cascade(batch_first(), engine, escalate=only_unsure_ids), BATCH, tmp_path / "c")
    assert df["answered_by"].tolist() == ["local", "wechat", "wechat", "local", "local"]
    assert sorted(seen) == sorted(r for r in REASONS if not r or r[0] != "errcode 101001")
    assert emulator.total_billed == 2


def test_another_escalate_rule_is_not_served_from_the_cache(
    emulator: WeChatEmulator, engine: of.WeChatEngine, tmp_path: Path
) -> None:
    register_batch(emulator)
    cache = tmp_path / "cache"
    run(cascade(batch_first(), engine, escalate=lambda row: True), BATCH, cache)
    df = run(cascade(batch_first(), engine, escalate=lambda row: False), BATCH, cache)
    assert df["answered_by"].tolist() == ["local", "wechat", "local", "local", "local"]
    # a named rule: the same name on a rerun is served from the run's cache
    named = cascade(batch_first(), engine, escalate=lambda row: False, rule_name="none")
    assert named.identity == cascade(batch_first(), engine, rule_name="none").identity


# --- 3. caching of both answers -----------------------------------------------------------


def test_a_rerun_with_another_threshold_costs_nothing(
    emulator: WeChatEmulator, engine: of.WeChatEngine, tmp_path: Path
) -> None:
    register_batch(emulator)
    first = batch_first()
    cache = tmp_path / "cache"
    before = run(cascade(first, engine), BATCH, cache)
    assert (emulator.total_billed, first.calls) == (4, 5)

    # 0.2: the id read at 0.3 is now sure enough; nothing else changes
    after = run(cascade(first, engine, escalate_below=0.2), BATCH, cache)
    assert (emulator.total_billed, first.calls) == (4, 5)  # nothing asked again
    assert after["answered_by"].tolist() == ["local", "wechat", "local", "wechat", "wechat"]
    assert reasons_of(after) == [[], ["errcode 101001"], [], ["check_id_checksum"], ["warn_blur"]]
    assert after["name"][2] == "本地三"  # the local answer, from the cache
    cols = ["name", "id", "errcode", "answered_by"]
    same = [0, 1, 3, 4]
    assert after.loc[same, cols].equals(before.loc[same, cols])
    assert reasons_of(after.loc[same]) == reasons_of(before.loc[same])

    # each engine's answers are kept under its own identity
    with ResultCache(cache) as store:
        for path in BATCH:
            digest = sha(path.read_bytes())
            assert cache_key(digest, "idcard", first.identity) in store
            assert (cache_key(digest, "idcard", engine.identity) in store) == (path != CLEAN)


def test_a_third_engine_identity_would_pay(
    emulator: WeChatEmulator, engine: of.WeChatEngine, tmp_path: Path
) -> None:
    """The cache is keyed by ``first``'s identity: a new local engine version asks again
    (so the rerun test's 0 calls come from the cache, not from a missing call)."""
    register_batch(emulator)
    cache = tmp_path / "cache"
    run(cascade(batch_first(), engine), BATCH, cache)
    newer = batch_first("local:canned-v2")
    run(cascade(newer, engine, escalate_below=0.2), BATCH, cache)
    assert newer.calls == 5
    assert emulator.total_billed == 4  # WeChat's answers still cached


# --- 4. audit sample ----------------------------------------------------------------------


def audit_batch(emulator: WeChatEmulator, paths: list[str], differ: int | None) -> Canned:
    """Confident clean answers for ``paths``, WeChat agreeing except on row ``differ``'s
    address."""
    answers: dict[str, dict[str, Any]] = {}
    for i, p in enumerate(paths):
        data = Path(p).read_bytes()
        answers[sha(data)] = card(f"本地{i}")
        addr = "上海市浦东新区" if i == differ else "北京市朝阳区"
        emulator.register(data, "idcard", wechat(f"本地{i}", addr=addr))
    return Canned(answers)


def test_audit_every_clean_row_and_report_agreement(
    emulator: WeChatEmulator, engine: of.WeChatEngine, image_files: ImageFiles, tmp_path: Path
) -> None:
    n = 6
    paths = image_files(n)
    first = audit_batch(emulator, paths, differ=2)
    # quality=False: the tiny test images would all be "low resolution"
    auditing = cascade(first, engine, quality=False, audit_sample=1.0)
    df = run(auditing, paths, tmp_path / "cache")

    assert df["answered_by"].tolist() == ["local"] * n
    assert reasons_of(df) == [[]] * n
    assert df["addr"][2] == "北京市朝阳区"  # the local answer is kept
    assert emulator.total_billed == n
    assert set(emulator.billed.values()) == {1}
    info = cascade_info(df)
    assert info["audited"] == n
    assert info["escalated"] == 0
    expected = {f: 1.0 for f in FIELDS} | {"addr": round((n - 1) / n, 4)}
    assert info["agree_rate"] == expected
    assert "audit" not in df.columns


def audited_set(
    emulator: WeChatEmulator, engine: of.WeChatEngine, paths: list[str], cache: Path, seed: int
) -> set[str]:
    emulator.reset_counters()
    first = audit_batch(emulator, paths, differ=None)
    run(cascade(first, engine, quality=False, audit_sample=0.5, seed=seed), paths, cache)
    return set(emulator.billed)


def test_the_audit_sample_is_seeded(
    emulator: WeChatEmulator, engine: of.WeChatEngine, image_files: ImageFiles, tmp_path: Path
) -> None:
    paths = image_files(20)
    a = audited_set(emulator, engine, paths, tmp_path / "a", seed=0)
    b = audited_set(emulator, engine, paths, tmp_path / "b", seed=0)
    c = audited_set(emulator, engine, paths, tmp_path / "c", seed=1)
    assert 0 < len(a) < 20
    assert a == b
    assert c != a


# --- 5. dry run ---------------------------------------------------------------------------


def test_dry_run_bills_nothing_and_lists_the_rows_to_escalate(
    emulator: WeChatEmulator, tmp_path: Path
) -> None:
    first = batch_first()
    df = run(cascade(first, None), BATCH, tmp_path / "cache")
    assert emulator.total_billed == 0
    assert emulator.requests == 0
    assert df["answered_by"].tolist() == ["local"] * 5
    assert reasons_of(df) == REASONS
    info = cascade_info(df)
    assert info["escalated"] == 4
    assert info["answered_by"] == {"local": 5}
    assert df.attrs["ocr_frames"]["billed_calls"] == 0


# --- 6. the rate limit is for paid calls only ---------------------------------------------


def test_rate_limit_applies_to_paid_calls_only(
    emulator: WeChatEmulator, engine: of.WeChatEngine, image_files: ImageFiles, tmp_path: Path
) -> None:
    paths = image_files(12)
    first = audit_batch(emulator, paths, differ=None)
    for p in paths[:2]:  # two rows the local engine is unsure of
        first.answers[sha(Path(p).read_bytes())] = card("?", nationality=0.2)
    limiter = CountingLimiter()
    df = run(cascade(first, engine, quality=False), paths, tmp_path / "cache", rate_limit=limiter)
    assert df["answered_by"].tolist() == ["wechat"] * 2 + ["local"] * 10
    assert first.calls == 12
    assert emulator.total_billed == 2
    assert limiter.acquired == 2
    assert reasons_of(df)[:3] == [["low confidence: nationality"]] * 2 + [[]]


# --- 7. Parquet -------------------------------------------------------------------------


def test_recognize_to_parquet_keeps_the_routing_columns(
    emulator: WeChatEmulator, engine: of.WeChatEngine, tmp_path: Path
) -> None:
    names = register_batch(emulator)
    out = tmp_path / "out.parquet"
    summary = of.recognize_to_parquet(
        [str(p) for p in BATCH],
        "idcard",
        out,
        engine=cascade(batch_first(), engine),
        cache_dir=tmp_path / "cache",
        progress=False,
    )
    table = pq.read_table(out)
    assert table.schema.field("answered_by").type == pa.string()
    assert table.schema.field("escalated_because").type == pa.list_(pa.string())
    assert table.column("answered_by").to_pylist() == ["local"] + ["wechat"] * 4
    assert table.column("escalated_because").to_pylist() == REASONS
    assert table.column("name").to_pylist() == ["本地一", *(names[p] for p in BATCH[1:])]
    assert "answered by 4 wechat, 1 local (4 escalated)" in summary.line()
    assert "4 billed calls" in summary.line()
    info = summary.to_dict()
    assert info["billed_calls"] == emulator.total_billed == 4
    assert info["cascade"]["answered_by"] == {"wechat": 4, "local": 1}
    assert info["cascade"]["escalated"] == 4


def test_what_a_second_reading_cannot_change_is_not_escalated(
    emulator: WeChatEmulator, engine: of.WeChatEngine, tmp_path: Path
) -> None:
    """An expired card stays expired and a screen photo stays one: the cascade does not
    pay WeChat for them, though needs_review still asks a person to look."""
    screen = REPO / "sample_data" / "quality" / "idcard_screen.jpg"
    expired_back = {
        "errcode": 0,
        "type": "Back",
        "valid_date": "20050101-20150101",  # expired long before the run
        "confidence": {"type": 0.99, "valid_date": 0.99},
    }
    first = Canned({sha(CLEAN.read_bytes()): expired_back, sha(screen.read_bytes()): card("屏")})
    for path in (CLEAN, screen):
        emulator.register(path.read_bytes(), "idcard", wechat("微信"))
    df = run(cascade(first, engine), [CLEAN, screen], tmp_path / "cache")
    assert reasons_of(df) == [[], []]
    assert df["answered_by"].tolist() == ["local", "local"]
    assert emulator.total_billed == 0
    checked = of.recognize(
        [str(CLEAN), str(screen)],
        "idcard",
        engine=first,
        cache_dir=False,
        progress=False,
        checks=True,
        quality=True,
    )
    reasons = [list(r) for r in checked["review_reasons"]]
    assert "check_not_expired" in reasons[0] and "warn_screen_reshoot" in reasons[1]


def test_by_default_quality_warnings_do_not_escalate(
    emulator: WeChatEmulator, engine: of.WeChatEngine, tmp_path: Path
) -> None:
    register_batch(emulator)
    df = run(of.Cascade(batch_first(), engine), BATCH, tmp_path / "cache")
    assert reasons_of(df) == [*REASONS[:4], []]  # the blurred card read with confidence
    assert df["answered_by"].tolist()[-1] == "local"
    assert emulator.total_billed == 3
