"""parse_response: every OCR response → the answer dict (pure function, no I/O)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ocr_frames._errors import E_BAD_RESPONSE, E_TRANSPORT, ConfigurationError, TransportError
from ocr_frames.kinds import KINDS
from ocr_frames.wechat import parse_response
from tests.helpers import IDCARD_FRONT, corners

POS = corners((155, 191), (725, 157), (743, 512), (164, 525))


def parse(kind: str, payload: Any, status: int = 200, ctype: str | None = None) -> dict[str, Any]:
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    return parse_response(kind, status, body, ctype or "application/json")


def bad_response(kind: str, payload: Any, status: int = 200) -> TransportError:
    with pytest.raises(TransportError) as info:
        parse(kind, payload, status)
    assert info.value.errcode == E_BAD_RESPONSE
    return info.value


# --- the kinds, with the official page's samples -------------------------------------


@pytest.mark.parametrize(
    ("kind", "fields"),
    [
        pytest.param("idcard", IDCARD_FRONT, id="idcard_front"),
        pytest.param(
            "drivinglicense",
            {
                "id_num": "660601xxxxxxxx1234",
                "name": "张三",
                "birth_date": "1990-12-21",
                "valid_to": "2020-07-01",
                "official_seal": "xx市公安局公安交通管理局",
            },
            id="drivinglicense",
        ),
        pytest.param(
            "bizlicense",
            {
                "reg_num": "123123",
                "enterprise_name": "XX饮食店",
                "cert_position": {"pos": POS},
                "img_size": {"w": 966, "h": 728},
            },
            id="bizlicense_absent_fields_stay_absent",
        ),
    ],
)
def test_fields_kept_exactly(kind: str, fields: dict[str, Any]) -> None:
    raw = {"errcode": 0, "errmsg": "ok", **fields}
    assert parse(kind, raw) == {**raw, "rid": None}  # nothing renamed, added or dropped


def test_idcard_back_keeps_long_term_validity() -> None:
    answer = parse(
        "idcard", {"errcode": 0, "errmsg": "ok", "type": "Back", "valid_date": "20171025-长期"}
    )
    assert answer == {
        "errcode": 0,
        "errmsg": "ok",
        "rid": None,
        "type": "Back",
        "valid_date": "20171025-长期",
    }


def test_idcard_id_is_not_renamed() -> None:
    assert parse("idcard", {"errcode": 0, "id": "1"})["id"] == "1"


@pytest.mark.parametrize("key", ["number", "id"])
def test_bankcard_number_under_either_key(key: str) -> None:
    answer = parse("bankcard", {"errcode": 0, "errmsg": "ok", key: "6222000011112222"})
    assert answer == {"errcode": 0, "errmsg": "ok", "rid": None, "number": "6222000011112222"}


def test_bankcard_number_wins_over_id() -> None:
    answer = parse("bankcard", {"errcode": 0, "id": "old", "number": "new"})
    assert answer["number"] == "new" and "id" not in answer


def test_driving_vhicle_type_renamed_in_place() -> None:
    raw = {
        "errcode": 0,
        "errmsg": "ok",
        "plate_num": "粤A12345",
        "vhicle_type": "小型普通客车",
        "owner": "东莞市xxxxx机械厂",
        "register_date": "2018-07-06",
        "card_position_front": {"pos": POS},
        "img_size": {"w": 3120, "h": 4208},
    }
    answer = parse("driving", raw)
    assert list(answer) == [
        "errcode",
        "errmsg",
        "rid",
        "plate_num",
        "vehicle_type",
        "owner",
        "register_date",
        "card_position_front",
        "img_size",
    ]
    assert answer["vehicle_type"] == "小型普通客车"
    assert answer["card_position_front"] == {"pos": POS}
    assert "card_position_back" not in answer


def test_driving_both_spellings_keep_vehicle_type() -> None:
    answer = parse("driving", {"errcode": 0, "vhicle_type": "old", "vehicle_type": "new"})
    assert answer["vehicle_type"] == "new" and "vhicle_type" not in answer


def test_comm_items_and_empty_page() -> None:
    items = [{"text": "腾讯", "pos": POS}, {"text": "微信团队", "pos": POS}]
    answer = parse(
        "comm", {"errcode": 0, "errmsg": "ok", "items": items, "img_size": {"w": 1280, "h": 720}}
    )
    assert answer["items"] == items and answer["img_size"] == {"w": 1280, "h": 720}
    assert parse("comm", {"errcode": 0, "items": []})["items"] == []


def test_platenum() -> None:
    assert (
        parse("platenum", {"errcode": 0, "errmsg": "ok", "number": "粤A123456"})["number"]
        == "粤A123456"
    )


def test_menu_content_decoded_into_menu_items() -> None:
    content = json.dumps(
        {"menu_items": [{"name": "酱鸭", "price": 48.0}, {"name": "龙虾", "price": 80}]},
        ensure_ascii=False,
    )
    answer = parse("menu", {"errcode": 0, "errmsg": "ok", "content": content})
    assert answer == {
        "errcode": 0,
        "errmsg": "ok",
        "rid": None,
        "menu_items": [{"name": "酱鸭", "price": 48.0}, {"name": "龙虾", "price": 80.0}],
    }
    assert all(type(item["price"]) is float for item in answer["menu_items"])


def test_menu_price_as_string_and_missing_price() -> None:
    content = json.dumps(
        {"menu_items": [{"name": "a", "price": "12.5"}, {"name": "b", "price": None}]}
    )
    items = parse("menu", {"errcode": 0, "content": content})["menu_items"]
    assert items == [{"name": "a", "price": 12.5}, {"name": "b", "price": None}]


def test_menu_content_already_an_object() -> None:
    answer = parse("menu", {"errcode": 0, "content": {"menu_items": [{"name": "a", "price": 1}]}})
    assert answer["menu_items"] == [{"name": "a", "price": 1.0}]


def test_menu_without_content_has_no_items() -> None:
    answer = parse("menu", {"errcode": 101001, "errmsg": "certificate not found rid: 1-2"})
    assert answer == {"errcode": 101001, "errmsg": "certificate not found", "rid": "1-2"}


@pytest.mark.parametrize(
    "content",
    [
        "not json",
        "",
        "[1, 2]",
        json.dumps({"items": []}),
        json.dumps({"menu_items": "x"}),
        json.dumps({"menu_items": [{"price": 1.0}]}),
        json.dumps({"menu_items": [{"name": "a", "price": "cheap"}]}),
        json.dumps({"menu_items": [{"name": "a", "price": True}]}),
        '{"menu_items": [{"name": "a", "price": NaN}]}',
        json.dumps({"menu_items": [{"name": "a", "price": "inf"}]}),
        12,
    ],
)
def test_menu_undecodable_content_is_a_bad_response(content: object) -> None:
    bad_response("menu", {"errcode": 0, "errmsg": "ok", "content": content})


# --- errcode, errmsg, rid -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("0", 0), ("-1", -1), (" 45009 ", 45009), (0, 0), (-1, -1), (101001, 101001), (None, 0)],
)
def test_errcode_is_always_an_int(raw: object, expected: int) -> None:
    answer = parse("idcard", {"errcode": raw, "errmsg": "x"})
    assert answer["errcode"] == expected and type(answer["errcode"]) is int


def test_absent_errcode_means_ok() -> None:
    assert parse("platenum", {"number": "粤A1"}) == {
        "errcode": 0,
        "errmsg": "ok",
        "rid": None,
        "number": "粤A1",
    }


def test_absent_errmsg_on_error_uses_the_code_table() -> None:
    answer = parse("idcard", {"errcode": 45009})
    assert answer["errmsg"] == "daily API quota reached" and answer["rid"] is None


@pytest.mark.parametrize(
    "raw", ["abc", "1.5", "", "²", "٣", "9" * 5000, 1.0, True, False, [0], {"a": 0}]
)
def test_non_integer_errcode_is_a_bad_response(raw: object) -> None:
    bad_response("idcard", {"errcode": raw, "errmsg": "ok"})


@pytest.mark.parametrize(
    ("errmsg", "message", "rid"),
    [
        ("invalid credential rid: 6xxx-yyy", "invalid credential", "6xxx-yyy"),
        (
            "invalid credential, access_token is invalid or not latest, rid: 64f0-1a2b3c4d-5e6f",
            "invalid credential, access_token is invalid or not latest",
            "64f0-1a2b3c4d-5e6f",
        ),
        ("system error rid:6a-b ", "system error", "6a-b"),
        ("ok", "ok", None),
        ("", "", None),
        ("grid: not a rid", "grid: not a rid", None),
        ("rid:", "rid:", None),
        ("x rid: a b", "x rid: a b", None),
        ("failed; rid: 1-2", "failed", "1-2"),
    ],
)
def test_rid_split_off_errmsg(errmsg: str, message: str, rid: str | None) -> None:
    answer = parse("comm", {"errcode": 40001, "errmsg": errmsg})
    assert (answer["errmsg"], answer["rid"]) == (message, rid)


def test_long_errmsg_is_split_quickly() -> None:
    errmsg = " " * 200_000 + "," * 200_000 + "x"
    answer = parse("comm", {"errcode": -1, "errmsg": errmsg})
    assert answer["errmsg"] == errmsg.strip() and answer["rid"] is None


def test_errmsg_that_echoes_a_token_is_redacted() -> None:
    answer = parse("comm", {"errcode": 40001, "errmsg": "bad access_token=SECRETTOKEN123 rid: 1-2"})
    assert "SECRETTOKEN123" not in json.dumps(answer)
    assert answer["errmsg"] == "bad access_token=***" and answer["rid"] == "1-2"


def test_non_string_errmsg_becomes_a_string() -> None:
    assert parse("comm", {"errcode": -1, "errmsg": 12})["errmsg"] == "12"


def test_status_keys_first_and_typed() -> None:
    answer = parse("platenum", {"number": "x", "errmsg": "ok", "errcode": "0"})
    assert list(answer)[:3] == ["errcode", "errmsg", "rid"]


# --- bodies that are not an answer ------------------------------------------------------------


@pytest.mark.parametrize("ctype", ["text/plain", "text/plain; charset=utf-8", "text/html", None])
def test_json_parsed_whatever_the_content_type(ctype: str | None) -> None:
    body = json.dumps({"errcode": 0, "errmsg": "ok", "number": "粤A1"}, ensure_ascii=False).encode()
    assert parse_response("platenum", 200, body, ctype)["number"] == "粤A1"


def test_utf8_bom_accepted() -> None:
    assert parse("platenum", b'\xef\xbb\xbf{"errcode": 0, "number": "x"}')["number"] == "x"


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"   ",
        b"<html>502 Bad Gateway</html>",
        b'{"errcode": 0',
        b"[]",
        b'[{"errcode": 0}]',
        b'"ok"',
        b"0",
        b"null",
        b'{"errcode": 0, "name": "\xff\xfe"}',
        '{"errcode": 0}'.encode("utf-16"),
        b'{"errcode": 0, "x": NaN}',
        b'{"errcode": 0, "x": Infinity}',
        b'{"errcode": 0, "name": "\\ud800"}',
    ],
)
def test_invalid_bodies_are_bad_responses(body: bytes) -> None:
    bad_response("idcard", body)


def test_moderate_nesting_is_a_bad_response() -> None:
    body = b'{"errcode": 0, "x": ' + b"[" * 40 + b"]" * 40 + b"}"
    assert "nested" in str(bad_response("comm", body))


def test_extreme_nesting_is_caught_not_a_recursion_error() -> None:
    for opener, closer in ((b"[", b"]"), (b'{"a":', b"}")):
        body = opener * 200_000 + b"1" + closer * 200_000
        bad_response("comm", body)


def test_real_answers_are_far_from_the_depth_limit() -> None:
    items = [{"text": "a", "pos": POS}]
    assert parse("comm", {"errcode": 0, "items": items})["items"] == items


@pytest.mark.parametrize("status", [500, 502, 503, 504, 599])
def test_http_5xx_is_a_transport_error_even_with_json(status: int) -> None:
    with pytest.raises(TransportError) as info:
        parse("idcard", {"errcode": 0, "errmsg": "ok"}, status=status)
    assert info.value.errcode == E_TRANSPORT
    assert str(status) in str(info.value)


def test_http_4xx_with_a_json_answer_is_parsed() -> None:
    assert (
        parse("idcard", {"errcode": 43002, "errmsg": "require POST method"}, status=405)["errcode"]
        == 43002
    )


def test_http_4xx_with_html_is_a_bad_response() -> None:
    error = bad_response("idcard", b"<html>404</html>", status=404)
    assert "HTTP 404" in str(error)


def test_unknown_kind_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError):
        parse("passport", {"errcode": 0})


# --- properties -----------------------------------------------------------------------------

# an explicit alphabet: no charmap to build (slow on a fresh machine), and still JSON's
# special characters, CJK and a lone surrogate
SHORT_TEXT = st.text(alphabet='ab0 :-{}[]"\\粤\ud800', max_size=8)
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | SHORT_TEXT,
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(SHORT_TEXT, children, max_size=3)
    ),
    max_leaves=8,
)


@given(kind=st.sampled_from(KINDS), body=st.binary(max_size=200))
def test_any_bytes_give_an_answer_or_a_transport_error(kind: str, body: bytes) -> None:
    check_answer_or_transport_error(kind, body)


@settings(suppress_health_check=[HealthCheck.too_slow])
@given(
    kind=st.sampled_from(KINDS),
    data=st.dictionaries(
        st.sampled_from(["errcode", "errmsg", "content", "id", "vhicle_type", "items", "x"]),
        JSON | st.sampled_from(["0", "-1", "ok rid: 1-2", '{"menu_items": []}']),
        max_size=4,
    ),
)
def test_any_json_object_gives_an_answer_or_a_transport_error(
    kind: str, data: dict[str, Any]
) -> None:
    check_answer_or_transport_error(kind, json.dumps(data).encode())


def check_answer_or_transport_error(kind: str, body: bytes) -> None:
    try:
        answer = parse_response(kind, 200, body)
    except TransportError as exc:
        assert exc.errcode == E_BAD_RESPONSE
        return
    assert type(answer["errcode"]) is int
    assert isinstance(answer["errmsg"], str)
    assert answer["rid"] is None or isinstance(answer["rid"], str)
    json.dumps(answer).encode("utf-8")  # JSON-able: the cache stores exactly this
