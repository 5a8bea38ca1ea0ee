"""Tests of ocr_frames._tables: to_arrow (schema, values, totality), to_pandas, explode."""

from __future__ import annotations

import copy
import datetime as dt
import gc
import math
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ocr_frames import ConfigurationError
from ocr_frames._tables.flatten import to_arrow
from ocr_frames._tables.frames import explode, to_pandas
from ocr_frames.kinds import COMM_ITEM, CORNERS, ESCALATED_BECAUSE, KINDS, schema, spec
from tests.helpers import IDCARD_FRONT, corners


def _quad(x: int, y: int) -> dict[str, Any]:
    return {"pos": {c: {"x": x + i, "y": y + 10 * i} for i, c in enumerate(CORNERS)}}


def _status(n: int) -> dict[str, Any]:
    return {"errcode": 0, "errmsg": "ok", "rid": None, "sha256": f"{n:064x}", "cached": False}


# Realistic answers, shaped as in the platform documentation (after wechat.parse_response).
DOC_DRIVING: dict[str, Any] = {
    **_status(3),
    "plate_num": "粤xxxxx",
    "vehicle_type": "小型普通客车",
    "owner": "东莞市xxxxx机械厂",
    "addr": "广东省东莞市xxxxx号",
    "use_character": "非营运",
    "model": "江淮牌HFCxxxxxxx",
    "vin": "LJ166xxxxxxxx51",
    "engine_num": "J3xxxxx3",
    "register_date": "2018-07-06",
    "issue_date": "2018-07-01",
    "plate_num_b": "粤xxxxx",
    "record": "441xxxxxx3",
    "passengers_num": "7人",
    "total_quality": "2700kg",
    "prepare_quality": "1995kg",
    "overall_size": "4582x1795x1458mm",
    "card_position_front": {"pos": corners((119, 2925), (1435, 2887), (1435, 3793), (119, 3831))},
    "card_position_back": {"pos": corners((1523, 2849), (2898, 2887), (2927, 3831), (1523, 3831))},
    "img_size": {"w": 3120, "h": 4208},
}
DOC_COMM: dict[str, Any] = {
    **_status(6),
    "items": [
        {"text": "腾讯", "pos": corners((575, 519), (744, 519), (744, 532), (573, 532))},
        {"text": "微信团队", "pos": corners((670, 516), (762, 517), (762, 532), (670, 531))},
    ],
    "img_size": {"w": 1280, "h": 720},
}
REALISTIC: dict[str, list[dict[str, Any]]] = {
    "idcard": [
        {**_status(0), **IDCARD_FRONT},
        {**_status(1), "type": "Back", "valid_date": "20171025-20271025"},
    ],
    "bankcard": [{**_status(2), "number": "6222000000000000"}],
    "driving": [DOC_DRIVING],
    "drivinglicense": [
        {
            **_status(4),
            "id_num": "660601xxxxxxxx1234",
            "name": "张三",
            "sex": "男",
            "nationality": "中国",
            "address": "广东省东莞市xxxxx号",
            "birth_date": "1990-12-21",
            "issue_date": "2012-12-21",
            "car_class": "C1",
            "valid_from": "2018-07-06",
            "valid_to": "2020-07-01",
            "official_seal": "xx市公安局公安交通管理局",
        }
    ],
    "bizlicense": [
        {
            **_status(5),
            "reg_num": "123123",
            "serial": "123123",
            "legal_representative": "张三",
            "enterprise_name": "XX饮食店",
            "type_of_organization": "个人经营",
            "address": "XX市XX区XX路XX号",
            "type_of_enterprise": "xxx",
            "business_scope": "中型餐馆(不含凉菜、不含裱花蛋糕,不含生食海产品)。",
            "registered_capital": "200万",
            "paid_in_capital": "200万",
            "valid_period": "2019年1月1日",
            "registered_date": "2018年1月1日",
            "cert_position": _quad(155, 191),
            "img_size": {"w": 966, "h": 728},
        },
        {**_status(7), "enterprise_name": "only some fields"},  # absent fields stay absent
    ],
    "comm": [DOC_COMM],
    "platenum": [{**_status(8), "number": "粤A123456"}],
    "menu": [
        {
            **_status(9),
            "menu_items": [{"name": "酱鸭", "price": 48.0}, {"name": "龙虾", "price": 80.0}],
        }
    ],
}
ERROR_ANSWER: dict[str, Any] = {
    "errcode": 101001,
    "errmsg": "certificate not found",
    "rid": "6x-y",
    "sha256": "ab" * 32,
    "cached": True,
}
STATUS = ("errcode", "errmsg", "rid", "sha256", "cached")


def _kind_columns(kind: str) -> list[str]:
    return [name for name in schema(kind).names if name not in STATUS]


# --- schema ------------------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
def test_schema_of_realistic_answers(kind: str) -> None:
    table = to_arrow(kind, [*REALISTIC[kind], ERROR_ANSWER])
    assert table.schema.equals(schema(kind), check_metadata=True)
    assert table.schema.metadata == {b"ocr_frames.kind": kind.encode()}
    assert table.num_rows == len(REALISTIC[kind]) + 1
    # realistic answers fill every column family somewhere (no silent all-null column)
    first = table.slice(0, 1).to_pylist()[0]
    assert first["errcode"] == 0 and first["errmsg"] == "ok" and first["cached"] is False
    assert any(first[name] is not None for name in _kind_columns(kind))


@pytest.mark.parametrize("kind", KINDS)
def test_schema_of_empty_batch(kind: str) -> None:
    table = to_arrow(kind, [])
    assert table.schema.equals(schema(kind), check_metadata=True)
    assert table.num_rows == 0


@pytest.mark.parametrize("kind", KINDS)
def test_all_error_batch(kind: str) -> None:
    table = to_arrow(kind, [ERROR_ANSWER, {**ERROR_ANSWER, "errcode": 900001, "cached": False}])
    assert table.schema.equals(schema(kind), check_metadata=True)
    rows = table.to_pylist()
    assert [r["errcode"] for r in rows] == [101001, 900001]
    assert [r["cached"] for r in rows] == [True, False]
    assert rows[0]["errmsg"] == "certificate not found" and rows[0]["rid"] == "6x-y"
    assert rows[0]["sha256"] == "ab" * 32
    for row in rows:
        assert all(row[name] is None for name in _kind_columns(kind)), row


def test_unknown_kind() -> None:
    with pytest.raises(ConfigurationError):
        to_arrow("passport", [])


# --- exact values --------------------------------------------------------------------


def test_driving_positions_flattened_exactly() -> None:
    row = to_arrow("driving", [DOC_DRIVING]).to_pylist()[0]
    front = {k: v for k, v in row.items() if k.startswith("card_position_front_")}
    assert front == {
        "card_position_front_pos_left_top_x": 119,
        "card_position_front_pos_left_top_y": 2925,
        "card_position_front_pos_right_top_x": 1435,
        "card_position_front_pos_right_top_y": 2887,
        "card_position_front_pos_right_bottom_x": 1435,
        "card_position_front_pos_right_bottom_y": 3793,
        "card_position_front_pos_left_bottom_x": 119,
        "card_position_front_pos_left_bottom_y": 3831,
    }
    back = [v for k, v in row.items() if k.startswith("card_position_back_")]
    assert back == [1523, 2849, 2898, 2887, 2927, 3831, 1523, 3831]
    assert (row["img_size_w"], row["img_size_h"]) == (3120, 4208)
    assert row["register_date"] == dt.date(2018, 7, 6) and row["register_date_raw"] is None
    assert row["issue_date"] == dt.date(2018, 7, 1)
    assert row["plate_num"] == "粤xxxxx" and row["overall_size"] == "4582x1795x1458mm"


def test_driving_missing_back_position_is_null() -> None:
    answer = {k: v for k, v in DOC_DRIVING.items() if k != "card_position_back"}
    rows = to_arrow("driving", [answer, DOC_DRIVING]).to_pylist()
    assert all(v is None for k, v in rows[0].items() if k.startswith("card_position_back_"))
    assert rows[1]["card_position_back_pos_left_top_x"] == 1523
    assert rows[0]["card_position_front_pos_left_top_x"] == 119


def test_comm_items_flattened_exactly() -> None:
    row = to_arrow("comm", [DOC_COMM]).to_pylist()[0]
    assert row["items"] == [
        {
            "text": "腾讯",
            "conf": None,  # WeChat gives no confidence
            "pos_left_top_x": 575,
            "pos_left_top_y": 519,
            "pos_right_top_x": 744,
            "pos_right_top_y": 519,
            "pos_right_bottom_x": 744,
            "pos_right_bottom_y": 532,
            "pos_left_bottom_x": 573,
            "pos_left_bottom_y": 532,
        },
        {
            "text": "微信团队",
            "conf": None,
            "pos_left_top_x": 670,
            "pos_left_top_y": 516,
            "pos_right_top_x": 762,
            "pos_right_top_y": 517,
            "pos_right_bottom_x": 762,
            "pos_right_bottom_y": 532,
            "pos_left_bottom_x": 670,
            "pos_left_bottom_y": 531,
        },
    ]
    assert (row["img_size_w"], row["img_size_h"]) == (1280, 720)


def test_confidence_and_suggestions_become_typed_columns() -> None:
    answers = [
        {
            "errcode": 0,
            "id": "11010519491231002X",
            "confidence": {"id": 0.25, "name": 1, "addr": 1.5, "gender": "high", "type": None},
            "suggested": {"id": "110105194912310021", "name": "x"},
            "items": [],
        },
        {"errcode": 0, "confidence": "not an object", "suggested": ["x"]},
        {"errcode": 101001, "suggested": {"id": 1.5}},  # a number is no reading
    ]
    table = to_arrow("idcard", answers)
    assert table.schema.field("id_conf").type == pa.float32()
    assert table["id_conf"].to_pylist() == [0.25, None, None]
    assert table["name_conf"].to_pylist() == [1.0, None, None]
    assert table["addr_conf"].to_pylist() == [None, None, None]  # outside 0..1: null
    assert table["gender_conf"].to_pylist() == [None, None, None]  # not a number
    assert table["id_suggested"].to_pylist() == ["110105194912310021", None, None]
    assert "name_suggested" not in table.column_names  # only numbers with a check character
    assert table["extra"].to_pylist()[0] == '{"items": []}'  # confidence is no extra key


def test_menu_items() -> None:
    row = to_arrow("menu", REALISTIC["menu"]).to_pylist()[0]
    assert row["menu_items"] == [
        {"name": "酱鸭", "price": 48.0, "conf": None},
        {"name": "龙虾", "price": 80.0, "conf": None},
    ]


# --- dates ---------------------------------------------------------------------------

DATE_CASES: list[tuple[object, dt.date | None, str | None]] = [
    ("2018-07-06", dt.date(2018, 7, 6), None),
    ("2018-7-6", dt.date(2018, 7, 6), None),
    ("20180706", dt.date(2018, 7, 6), None),
    ("2018/07/06", dt.date(2018, 7, 6), None),
    ("2018.07.06", dt.date(2018, 7, 6), None),
    ("2018年1月1日", dt.date(2018, 1, 1), None),
    ("2018年01月01日", dt.date(2018, 1, 1), None),
    ("  2018-07-06 \n", dt.date(2018, 7, 6), None),
    ("\u30002018年1月1日\u3000", dt.date(2018, 1, 1), None),  # ideographic spaces
    ("2016-02-29", dt.date(2016, 2, 29), None),
    ("2018-02-30", None, "2018-02-30"),  # not in the calendar
    ("2018-02-29", None, "2018-02-29"),
    ("20181301", None, "20181301"),
    ("0000-01-01", None, "0000-01-01"),  # Arrow's cast would take it, Python's date not
    ("2018-07/06", None, "2018-07/06"),  # mixed separators
    ("2018-07-06T00:00", None, "2018-07-06T00:00"),
    ("２０１８-07-06", None, "２０１８-07-06"),  # fullwidth digits
    ("长期", None, "长期"),
    ("", None, None),  # empty is missing, not a failure
    ("   ", None, None),
    (None, None, None),
    (20180706, dt.date(2018, 7, 6), None),  # a number is read as its text
    ({"y": 2018}, None, None),  # not text at all: null, no raw
    (True, None, None),
]


@pytest.mark.parametrize(("value", "expected", "raw"), DATE_CASES)
def test_date_parsing(value: object, expected: dt.date | None, raw: str | None) -> None:
    row = to_arrow("drivinglicense", [{"birth_date": value}]).to_pylist()[0]
    assert row["birth_date"] == expected
    assert row["birth_date_raw"] == raw


def test_dates_in_one_batch_match_one_by_one() -> None:
    """The vectorised all-ISO path and the per-string path agree, row by row."""
    values = [value for value, _, _ in DATE_CASES]
    table = to_arrow("drivinglicense", [{"valid_to": v} for v in values * 3])
    got = list(zip(table["valid_to"].to_pylist(), table["valid_to_raw"].to_pylist(), strict=True))
    assert got == [(expected, raw) for _, expected, raw in DATE_CASES] * 3


def test_all_iso_batch_takes_no_raw() -> None:
    dates = [f"2020-01-{d:02d}" for d in range(1, 29)] * 5
    table = to_arrow("driving", [{"issue_date": d} for d in dates])
    assert table["issue_date"].to_pylist() == [dt.date.fromisoformat(d) for d in dates]
    assert table["issue_date_raw"].null_count == len(dates)


def test_raw_lists_only_failures() -> None:
    answers = [{"registered_date": d} for d in ("2018年1月1日", "soon", None, "", "2019.1.2")]
    df = to_pandas(to_arrow("bizlicense", answers))
    failures = df[df.registered_date_raw.notna()]
    assert failures.registered_date_raw.tolist() == ["soon"]
    assert df.registered_date.tolist()[0] == dt.date(2018, 1, 1)
    assert df.registered_date.tolist()[4] == dt.date(2019, 1, 2)


VALIDITY_CASES: list[tuple[object, dt.date | None, dt.date | None, bool | None]] = [
    ("20171025-20271025", dt.date(2017, 10, 25), dt.date(2027, 10, 25), False),
    ("20171025-长期", dt.date(2017, 10, 25), None, True),
    ("20171025-长期有效", dt.date(2017, 10, 25), None, True),
    ("2017.10.25-2027.10.25", dt.date(2017, 10, 25), dt.date(2027, 10, 25), False),
    ("2017.10.25—2027.10.25", dt.date(2017, 10, 25), dt.date(2027, 10, 25), False),
    ("2017.10.25 至 2027.10.25", dt.date(2017, 10, 25), dt.date(2027, 10, 25), False),
    ("2017.10.25-长期", dt.date(2017, 10, 25), None, True),
    ("2017-10-25-2027-10-25", dt.date(2017, 10, 25), dt.date(2027, 10, 25), False),
    (" 20171025 - 20271025 ", dt.date(2017, 10, 25), dt.date(2027, 10, 25), False),
    ("20171025-20270230", None, None, None),  # impossible end date
    ("20171325-长期", None, None, None),
    ("20171025", None, None, None),
    ("长期", None, None, None),
    ("garbage", None, None, None),
    ("", None, None, None),
    (None, None, None, None),  # a front side: no validity at all
    (["20171025-20271025"], None, None, None),
]


@pytest.mark.parametrize(("value", "start", "end", "long_term"), VALIDITY_CASES)
def test_valid_date_split(
    value: object, start: dt.date | None, end: dt.date | None, long_term: bool | None
) -> None:
    row = to_arrow("idcard", [{"type": "Back", "valid_date": value}]).to_pylist()[0]
    assert (row["valid_date_start"], row["valid_date_end"], row["valid_date_long_term"]) == (
        start,
        end,
        long_term,
    )
    assert row["valid_date"] == (value if isinstance(value, str) else None)


_USUAL = ("20171025-20271025", "20171025-长期", None)


@pytest.mark.parametrize("usual_only", [True, False])
def test_validity_in_one_batch_matches_one_by_one(usual_only: bool) -> None:
    """The vectorised path (only the usual YYYYMMDD-... shapes) and the per-string path."""
    cases = [c for c in VALIDITY_CASES if not usual_only or c[0] in _USUAL]
    table = to_arrow("idcard", [{"valid_date": c[0]} for c in cases * 2])
    got = zip(
        table["valid_date_start"].to_pylist(),
        table["valid_date_end"].to_pylist(),
        table["valid_date_long_term"].to_pylist(),
        strict=True,
    )
    assert list(got) == [c[1:] for c in cases] * 2


def test_front_side_has_no_validity() -> None:
    row = to_arrow("idcard", REALISTIC["idcard"][:1]).to_pylist()[0]
    assert row["valid_date"] is None
    assert row["valid_date_start"] is row["valid_date_end"] is row["valid_date_long_term"] is None


# --- wrong types -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("粤A123", "粤A123"),
        (7, "7"),
        (1.5, "1.5"),
        (True, None),
        ({"a": 1}, None),
        (["x"], None),
        (None, None),
        ("bad \ud800 surrogate", "bad \ufffd surrogate"),
    ],
)
def test_string_field_coercion(value: object, expected: str | None) -> None:
    rows = to_arrow("platenum", [{"number": value}, {"number": "ok"}]).to_pylist()
    assert rows[0]["number"] == expected
    assert rows[1]["number"] == "ok"  # a neighbour's odd value changes nothing here


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (12, 12),
        (-3, -3),
        ("12", 12),
        (" 12 ", 12),
        ("12.0", 12),
        ("+7", 7),
        (12.0, 12),
        (1.5, None),  # pa.array(type=int32) would silently truncate this to 1
        ("1.5", None),
        (True, None),
        (False, None),
        ("abc", None),
        ("1_000", None),
        (2**31 - 1, 2**31 - 1),
        (2**31, None),
        (-(2**31) - 1, None),
        (10**30, None),
        (math.nan, None),
        (math.inf, None),
        ({"x": 1}, None),
        ([1], None),
        (None, None),
    ],
)
def test_int_field_coercion(value: object, expected: int | None) -> None:
    answers: list[dict[str, Any]] = [{"img_size": {"w": value, "h": 5}}, {"img_size": {"w": 9}}]
    rows = to_arrow("comm", answers).to_pylist()
    assert rows[0]["img_size_w"] == expected
    assert rows[0]["img_size_h"] == 5
    assert (rows[1]["img_size_w"], rows[1]["img_size_h"]) == (9, None)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (48.0, 48.0),
        (48, 48.0),
        ("48", 48.0),
        ("48.0", 48.0),
        ("¥48", 48.0),
        ("￥ 48.5", 48.5),
        ("48元", 48.0),
        ("free", None),
        (True, None),
        (math.nan, None),
        (math.inf, None),
        (10**400, None),
        ([48], None),
        (None, None),
    ],
)
def test_price_coercion(value: object, expected: float | None) -> None:
    answer = {"menu_items": [{"name": "鸭", "price": value}, {"name": "虾", "price": 2.5}]}
    items = to_arrow("menu", [answer]).to_pylist()[0]["menu_items"]
    assert items == [
        {"name": "鸭", "price": expected, "conf": None},
        {"name": "虾", "price": 2.5, "conf": None},
    ]


def test_errcode_and_cached_coercion() -> None:
    answers: list[dict[str, Any]] = [
        {"errcode": "101001", "cached": True},
        {"errcode": 2**70, "cached": None},
        {"errcode": 1.5, "cached": "yes"},
        {},
    ]
    rows = to_arrow("bankcard", answers).to_pylist()
    assert [r["errcode"] for r in rows] == [101001, None, None, None]
    assert [r["cached"] for r in rows] == [True, False, None, False]


def test_nested_shapes_that_are_wrong() -> None:
    answers: list[dict[str, Any]] = [
        {"card_position_front": "here", "img_size": [3120, 4208]},
        {"card_position_front": {"pos": []}, "img_size": {"w": "3120"}},
        {"card_position_front": {"pos": {"left_top": 5, "right_top": {"x": 1}}}},
    ]
    rows = to_arrow("driving", answers).to_pylist()
    assert rows[0]["card_position_front_pos_left_top_x"] is None
    assert rows[0]["img_size_w"] is None
    assert rows[1]["img_size_w"] == 3120 and rows[1]["img_size_h"] is None
    assert rows[2]["card_position_front_pos_left_top_x"] is None
    assert rows[2]["card_position_front_pos_right_top_x"] == 1
    assert rows[2]["card_position_front_pos_right_top_y"] is None


def test_list_field_not_a_list_and_odd_items() -> None:
    answers: list[Any] = [
        {"items": "text"},
        {"items": {"text": "a dict"}},
        {"items": [None, "x", 3, {"text": "kept", "pos": "nowhere"}, ["y"]]},
        {"items": []},
        {},
    ]
    values = to_arrow("comm", answers)["items"].to_pylist()
    assert values[0] is None and values[1] is None and values[4] is None
    assert values[3] == []
    kept = values[2]
    assert len(kept) == 1 and kept[0]["text"] == "kept"
    assert all(v is None for k, v in kept[0].items() if k != "text")


def test_answers_that_are_not_dicts() -> None:
    class Answer(dict[str, Any]):
        pass

    answers: list[Any] = [None, "nope", Answer(number="A1"), {"number": "B2"}]
    rows = to_arrow("platenum", answers).to_pylist()
    assert [r["number"] for r in rows] == [None, None, "A1", "B2"]
    assert [r["cached"] for r in rows] == [False] * 4


def test_input_is_not_modified() -> None:
    answers = copy.deepcopy([DOC_DRIVING, DOC_COMM])
    to_arrow("driving", answers)
    to_arrow("comm", answers)
    assert answers == [DOC_DRIVING, DOC_COMM]


@pytest.mark.parametrize("enabled", [True, False])
def test_gc_state_is_restored(enabled: bool) -> None:
    was = gc.isenabled()
    try:
        (gc.enable if enabled else gc.disable)()
        to_arrow("driving", [DOC_DRIVING])
        assert gc.isenabled() is enabled
    finally:
        (gc.enable if was else gc.disable)()


# --- hypothesis: arbitrary JSON-like values never raise -----------------------------

_ODD_TEXT = st.sampled_from(
    ["", " ", "12", "1.5", "¥48", "2018-07-06", "2018年1月1日", "20171025-长期", "\ud800", "长期"]
)
_SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats()
    | st.text(max_size=12)
    | _ODD_TEXT
)
_JSON = st.recursive(
    _SCALARS,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3)
    ),
    max_leaves=6,
)


def _maybe_dict(fields: dict[str, st.SearchStrategy[Any]]) -> st.SearchStrategy[Any]:
    return st.fixed_dictionaries({}, optional=fields) | _JSON


_CORNER = _maybe_dict({"x": _JSON, "y": _JSON})
_POSITION = _maybe_dict({"pos": _maybe_dict(dict.fromkeys(CORNERS, _CORNER))})
_ITEM = {
    "items": _maybe_dict({"text": _JSON, "pos": _maybe_dict(dict.fromkeys(CORNERS, _CORNER))}),
    "menu_items": _maybe_dict({"name": _JSON, "price": _JSON}),
}


def _answers(kind: str) -> st.SearchStrategy[list[Any]]:
    s = spec(kind)
    fields: dict[str, st.SearchStrategy[Any]] = dict.fromkeys(
        (*s.strings, *s.dates, *STATUS), _JSON
    )
    fields.update(dict.fromkeys(s.positions, _POSITION))
    if s.img_size:
        fields["img_size"] = _maybe_dict({"w": _JSON, "h": _JSON})
    if s.list_field:
        fields[s.list_field] = st.lists(_ITEM[s.list_field], max_size=4) | _JSON
    answer = st.fixed_dictionaries({}, optional=fields)
    return st.lists(answer | st.none(), max_size=5)


def _odd_cached(answer: object) -> bool:
    """Whether ``cached`` is present, not null and not a bool (the one null case)."""
    value = answer.get("cached") if isinstance(answer, dict) else None
    return value is not None and not isinstance(value, bool)


def _same(a: object, b: object) -> bool:
    return a == b or (
        isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b)
    )


@pytest.mark.parametrize("kind", KINDS)
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_arbitrary_values_never_raise(kind: str, data: st.DataObject) -> None:
    answers = data.draw(_answers(kind))
    table = to_arrow(kind, answers)
    assert table.schema.equals(schema(kind), check_metadata=True)
    assert table.num_rows == len(answers)
    assert table["cached"].null_count == sum(map(_odd_cached, answers))
    # A batch flattens each answer as if it were alone: the fast whole-column paths and
    # the per-value coercion agree.
    alone = [row for a in answers for row in to_arrow(kind, [a]).to_pylist()]
    together = table.to_pylist()
    assert len(alone) == len(together)
    for one, other in zip(alone, together, strict=True):
        assert one.keys() == other.keys()
        for key in one:
            assert _same(one[key], other[key]), (key, one[key], other[key])


# --- to_pandas ---------------------------------------------------------------------


def _expected_dtype(arrow_type: pa.DataType) -> Any:
    if arrow_type == pa.int64():
        return pd.Int64Dtype()
    if arrow_type == pa.int32():
        return pd.Int32Dtype()
    if arrow_type == pa.float64():
        return pd.Float64Dtype()
    if arrow_type == pa.float32():
        return pd.Float32Dtype()
    if arrow_type == pa.bool_():
        return pd.BooleanDtype()
    if arrow_type == pa.string():
        return pd.StringDtype("pyarrow")
    return pd.ArrowDtype(arrow_type)


@pytest.mark.parametrize("kind", KINDS)
def test_to_pandas_dtypes(kind: str) -> None:
    df = to_pandas(to_arrow(kind, [*REALISTIC[kind], ERROR_ANSWER]))
    assert list(df.columns) == schema(kind).names
    for field in schema(kind):
        if field.name == ESCALATED_BECAUSE:  # Python lists: see to_pandas
            assert df[field.name].dtype == object
            continue
        assert df[field.name].dtype == _expected_dtype(field.type), field.name
    assert isinstance(df.index, pd.RangeIndex)


def test_to_pandas_values() -> None:
    df = to_pandas(to_arrow("driving", [DOC_DRIVING, ERROR_ANSWER]))
    assert df["register_date"].dtype == pd.ArrowDtype(pa.date32())
    assert df["register_date"].iloc[0] == dt.date(2018, 7, 6)
    assert isinstance(df["register_date"].iloc[0], dt.date)
    assert df["register_date"].isna().tolist() == [False, True]
    assert df["img_size_w"].tolist() == [3120, pd.NA]
    assert df["cached"].tolist() == [False, True]
    assert df["plate_num"].iloc[0] == "粤xxxxx" and df["plate_num"].iloc[1] is pd.NA


def test_to_pandas_index() -> None:
    index = pd.Index(["a.jpg", "b.jpg"], name="path")
    df = to_pandas(to_arrow("platenum", [{"number": "1"}, {"number": "2"}]), index=index)
    assert df.index.equals(index) and df.index.name == "path"
    assert df.loc["b.jpg", "number"] == "2"
    with pytest.raises(ValueError, match="index"):
        to_pandas(to_arrow("platenum", [{}]), index=index)


# --- explode -----------------------------------------------------------------------

ITEM_COLUMNS = ["items_index", *(f"items_{field.name}" for field in COMM_ITEM)]


def _comm_answers() -> list[dict[str, Any]]:
    return [
        DOC_COMM,
        {**_status(1), "items": [], "img_size": {"w": 1, "h": 1}},
        {**ERROR_ANSWER},
        {**_status(2), "items": [{"text": "只有一个", "pos": {}}]},
    ]


def _comm_frame() -> pd.DataFrame:
    index = pd.Index(["a", "b", "c", "a"], name="path")  # labels repeat, like user data
    return to_pandas(to_arrow("comm", _comm_answers()), index=index)


def _check_comm_explosion(out: pd.DataFrame, labels: list[Any]) -> None:
    """``labels``: the index of the 4 rows of :func:`_comm_answers` before exploding."""
    assert list(out.index) == [labels[0], labels[0], labels[1], labels[2], labels[3]]
    assert out["items_index"].tolist() == [0, 1, pd.NA, pd.NA, 0]
    assert out["items_text"].tolist() == ["腾讯", "微信团队", pd.NA, pd.NA, "只有一个"]
    assert out["items_pos_left_top_x"].tolist() == [575, 670, pd.NA, pd.NA, pd.NA]
    assert out["items_pos_left_bottom_y"].tolist() == [532, 531, pd.NA, pd.NA, pd.NA]
    assert out["errcode"].tolist() == [0, 0, 0, 101001, 0]
    assert out["sha256"].tolist()[2:4] == [f"{1:064x}", "ab" * 32]


def test_explode_comm_items() -> None:
    df = _comm_frame()
    out = explode(df, "items")
    _check_comm_explosion(out, ["a", "b", "c", "a"])
    assert out.index.name == "path"
    assert "items" not in out.columns
    # the item columns sit where the list was, the other columns keep their order
    names = list(df.columns)
    at = names.index("items")
    assert list(out.columns) == names[:at] + ITEM_COLUMNS + names[at + 1 :]
    assert out["items_index"].dtype == pd.Int64Dtype()
    assert out["items_text"].dtype == pd.StringDtype("pyarrow")
    assert out["items_pos_right_top_y"].dtype == pd.Int32Dtype()
    assert out["img_size_w"].dtype == pd.Int32Dtype()
    assert out["cached"].dtype == pd.BooleanDtype()
    assert list(df.index) == ["a", "b", "c", "a"]  # input untouched
    assert "items" in df.columns


def test_explode_menu_items() -> None:
    answers = [*REALISTIC["menu"], {"menu_items": [{"name": "鸭头", "price": "¥5"}]}]
    out = explode(to_pandas(to_arrow("menu", answers)), "menu_items")
    assert out["menu_items_name"].tolist() == ["酱鸭", "龙虾", "鸭头"]
    assert out["menu_items_price"].tolist() == [48.0, 80.0, 5.0]
    assert out["menu_items_price"].dtype == pd.Float64Dtype()
    assert out["menu_items_index"].tolist() == [0, 1, 0]
    assert list(out.index) == [0, 0, 1]


def test_explode_empty_frame() -> None:
    out = explode(to_pandas(to_arrow("comm", [])), "items")
    assert len(out) == 0
    assert ITEM_COLUMNS[0] in out.columns and "items" not in out.columns


@pytest.mark.parametrize("dtype_backend", [None, "pyarrow"])
def test_explode_after_parquet_round_trip(tmp_path: Path, dtype_backend: str | None) -> None:
    pq.write_table(to_arrow("comm", _comm_answers()), tmp_path / "comm.parquet")
    if dtype_backend is None:
        back = pd.read_parquet(tmp_path / "comm.parquet")
        assert back["items"].dtype == object  # arrays of dicts: the other shape we accept
    else:
        back = pd.read_parquet(tmp_path / "comm.parquet", dtype_backend="pyarrow")
        assert isinstance(back["items"].dtype, pd.ArrowDtype)
    out = explode(back, "items")
    _check_comm_explosion(out, [0, 1, 2, 3])
    assert out["items_pos_left_top_x"].dtype == pd.Int32Dtype()
    assert out["items_text"].dtype == pd.StringDtype("pyarrow")
    expected = explode(to_pandas(to_arrow("comm", _comm_answers())), "items")
    for name in ITEM_COLUMNS:
        pd.testing.assert_series_equal(out[name], expected[name])


def test_explode_parquet_written_by_pyarrow(tmp_path: Path) -> None:
    pq.write_table(to_arrow("menu", REALISTIC["menu"] * 2), tmp_path / "menu.parquet")
    back = pd.read_parquet(tmp_path / "menu.parquet")
    out = explode(back, "menu_items")
    assert out["menu_items_price"].tolist() == [48.0, 80.0] * 2
    assert list(out.index) == [0, 0, 1, 1]


def test_explode_object_column_of_plain_lists() -> None:
    df = pd.DataFrame({"k": [1, 2, 3], "tags": [["a", "b"], None, []]})
    out = explode(df, "tags")
    assert out["tags"].tolist() == ["a", "b", pd.NA, pd.NA]
    assert out["tags_index"].tolist() == [0, 1, pd.NA, pd.NA]
    assert out["k"].tolist() == [1, 1, 2, 3]


def test_explode_errors() -> None:
    df = _comm_frame()
    with pytest.raises(ValueError, match="no column 'nope'"):
        explode(df, "nope")
    with pytest.raises(ValueError, match="not a list column"):
        explode(df, "errmsg")
    with pytest.raises(ValueError, match="not a list column"):
        explode(pd.DataFrame({"x": ["a", 1]}), "x")
    with pytest.raises(ValueError, match="already exist"):
        explode(df.assign(items_text="clash"), "items")


def test_a_frame_with_routing_columns_round_trips_through_plain_pandas_parquet(
    tmp_path: Path,
) -> None:
    answers = [
        {"number": "1", "answered_by": "local", "escalated_because": []},
        {"number": "2", "answered_by": "wechat", "escalated_because": ["low confidence: number"]},
        {"number": "3"},
    ]
    df = to_pandas(to_arrow("platenum", answers))
    df.to_parquet(tmp_path / "p.parquet")  # pandas' own metadata, no help from us
    again = pd.read_parquet(tmp_path / "p.parquet")
    assert [None if v is None else list(v) for v in again["escalated_because"]] == [
        [],
        ["low confidence: number"],
        None,
    ]
    assert list(again["answered_by"].fillna("-")) == ["local", "wechat", "-"]
