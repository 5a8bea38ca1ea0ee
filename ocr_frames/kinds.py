"""The 8 WeChat OCR kinds, declared once: fields, date fields, positions, lists, schemas.

Every table ocr-frames produces for a kind has exactly :func:`schema` (kind) as its Arrow
schema, whatever the batch contains (even an all-error batch).  Column names are the
platform's JSON keys; nested objects are flattened by joining keys with ``_``
(``img_size_w``, ``card_position_front_pos_left_top_x``).  List fields (``comm`` items,
``menu`` menu_items) are ``list<struct>`` columns whose struct fields are already flat
(``text``, ``pos_left_top_x``, ...), so :func:`ocr_frames.explode` yields
``items_text``, ``items_pos_left_top_x``, ``menu_items_price``...

Date fields become ``date32`` columns; where the platform's string cannot be parsed the
date is null and the original string is kept in ``<field>_raw`` (null otherwise).

Every text and date field has a ``<field>_conf`` column (float32, 0-1: how sure the engine
is that the value is exactly right; null for engines that give none, such as WeChat), read
from the answer's ``confidence`` object; list items carry a ``conf`` member.  Numbers with a
check character have a ``<field>_suggested`` column (from the answer's ``suggested``
object): see ``docs/trust.md``.

Keys of an ok answer that no column holds are kept in the ``extra`` column (JSON object
text, null when there are none): a field the platform adds tomorrow is never dropped.
(Top-level keys only: a new key inside an object a column already reads, such as
``img_size`` or a list item, is not kept; the cache keeps the whole answer regardless.)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import pyarrow as pa

from ocr_frames._errors import ConfigurationError

__all__ = [
    "ANSWERED_BY",
    "CONF_SUFFIX",
    "ESCALATED_BECAUSE",
    "EXTRA_COLUMN",
    "FIELD_BOXES",
    "KINDS",
    "STATUS_COLUMNS",
    "SUGGESTED_SUFFIX",
    "KindSpec",
    "check_kind",
    "schema",
    "spec",
]

CORNERS: Final = ("left_top", "right_top", "right_bottom", "left_bottom")

#: Columns every table carries, after the kind's own fields.
STATUS_COLUMNS: Final = ("errcode", "errmsg", "rid", "sha256", "cached")

#: Keys of an ok answer that no column holds (a field the platform added after this
#: release), kept as JSON text so nothing the engine said is silently dropped.
EXTRA_COLUMN: Final = "extra"


@dataclass(frozen=True)
class KindSpec:
    """Declarative description of one kind's answer."""

    name: str
    title: str
    #: plain string fields, in the platform's order
    strings: tuple[str, ...]
    #: fields holding a date string, parsed into ``date32`` (+ ``<field>_raw``)
    dates: tuple[str, ...] = ()
    #: objects of the form ``{"pos": {corner: {x, y}}}`` (flattened into 8 int32 columns)
    positions: tuple[str, ...] = ()
    #: whether the answer has ``img_size: {w, h}``
    img_size: bool = False
    #: name of the list field, if any, and the (flat) struct of its items
    list_field: str | None = None
    list_item: pa.StructType | None = None
    #: idcard ``valid_date`` "YYYYMMDD-YYYYMMDD|长期": split into start/end dates
    validity_field: str | None = None
    #: fields an ok answer must fill, or ``warn_incomplete`` fires (the document's identity)
    key_fields: tuple[str, ...] = ()
    #: an identity document or certificate: a copy or a screen photo of it is a risk
    #: signal (``warn_greyscale_copy`` is only raised for these; a black-and-white menu or
    #: page is just a page)
    certificate: bool = False
    #: the field naming the side of a two-sided card (idcard ``type``: Front/Back), and the
    #: key fields of its back (``key_fields`` are then those of the front)
    side_field: str | None = None
    back_key_fields: tuple[str, ...] = ()
    #: fields every document of the kind prints (beyond ``key_fields``): an engine that
    #: gives confidences gives 0.0 to one it did not find, so the row is looked at
    expected: tuple[str, ...] = ()
    #: numbers with a check character (ID, USCC, VIN, bank card): each gets a
    #: ``<field>_suggested`` column, a checksum-valid reading an engine proposes
    suggested: tuple[str, ...] = ()

    def keys_for(self, side: object) -> tuple[str, ...]:
        """The key fields of an answer whose :attr:`side_field` holds ``side``."""
        return self.back_key_fields if self.side_field and side == "Back" else self.key_fields

    @property
    def confidence_fields(self) -> tuple[str, ...]:
        """The fields that get a ``<field>_conf`` column: every text and date field."""
        return (*self.strings, *self.dates)


def _quad_fields(prefix: str) -> list[pa.Field]:
    return [
        pa.field(f"{prefix}_{corner}_{axis}", pa.int32()) for corner in CORNERS for axis in "xy"
    ]


#: Suffixes of the trust columns: ``<field>_conf`` (0..1, the engine's confidence that the
#: value is exactly right; null when the engine gives none) and ``<field>_suggested``.
CONF_SUFFIX: Final = "_conf"
SUGGESTED_SUFFIX: Final = "_suggested"

#: ``field_boxes``: where on the image each field was read, as JSON text
#: ``{"name": [[x, y] x 4 corners], ...}`` (corners in :data:`CORNERS` order; engines that
#: say so: the local engine; null for WeChat, which does not).  Text rather than a list of
#: structs, so a frame holding it round-trips through plain ``to_parquet``/``read_parquet``.
FIELD_BOXES: Final = "field_boxes"

#: Which engine's answer a row holds, and why it was escalated to it
#: (:class:`ocr_frames.Cascade`; null for a single engine).
ANSWERED_BY: Final = "answered_by"
ESCALATED_BECAUSE: Final = "escalated_because"

COMM_ITEM: Final = pa.struct(
    [pa.field("text", pa.string()), pa.field("conf", pa.float32()), *_quad_fields("pos")]
)
MENU_ITEM: Final = pa.struct(
    [
        pa.field("name", pa.string()),
        pa.field("price", pa.float64()),
        pa.field("conf", pa.float32()),
    ]
)

_SPECS: Final[tuple[KindSpec, ...]] = (
    KindSpec(
        "idcard",
        "身份证 (resident ID card)",
        strings=("type", "name", "id", "addr", "gender", "nationality", "valid_date"),
        validity_field="valid_date",
        suggested=("id",),
        key_fields=("name", "id"),
        certificate=True,
        side_field="type",
        back_key_fields=("valid_date",),
    ),
    KindSpec(
        "bankcard",
        "银行卡 (bank card)",
        strings=("number",),
        suggested=("number",),
        key_fields=("number",),
        certificate=True,
    ),
    KindSpec(
        "driving",
        "行驶证 (vehicle registration certificate)",
        strings=(
            "plate_num",
            "vehicle_type",
            "owner",
            "addr",
            "use_character",
            "model",
            "vin",
            "engine_num",
            "plate_num_b",
            "record",
            "passengers_num",
            "total_quality",
            "prepare_quality",
            "overall_size",
        ),
        dates=("register_date", "issue_date"),
        positions=("card_position_front", "card_position_back"),
        img_size=True,
        suggested=("vin",),
        key_fields=("plate_num", "vin"),
        certificate=True,
        expected=(
            "vehicle_type",
            "owner",
            "addr",
            "use_character",
            "model",
            "engine_num",
            "register_date",
            "issue_date",
        ),
    ),
    KindSpec(
        "drivinglicense",
        "驾驶证 (driver's licence)",
        strings=("id_num", "name", "sex", "nationality", "address", "car_class", "official_seal"),
        dates=("birth_date", "issue_date", "valid_from", "valid_to"),
        suggested=("id_num",),
        key_fields=("id_num", "name"),
        certificate=True,
        expected=(
            "sex",
            "nationality",
            "address",
            "car_class",
            "official_seal",
            "birth_date",
            "issue_date",
            "valid_from",
        ),
    ),
    KindSpec(
        "bizlicense",
        "营业执照 (business licence)",
        strings=(
            "reg_num",
            "serial",
            "legal_representative",
            "enterprise_name",
            "type_of_organization",
            "address",
            "type_of_enterprise",
            "business_scope",
            "registered_capital",
            "paid_in_capital",
            "valid_period",
        ),
        dates=("registered_date",),
        positions=("cert_position",),
        img_size=True,
        suggested=("reg_num",),
        key_fields=("reg_num", "enterprise_name"),
        certificate=True,
        expected=(
            "legal_representative",
            "address",
            "type_of_enterprise",
            "business_scope",
            "registered_date",
        ),
    ),
    KindSpec(
        "comm",
        "通用印刷体 (printed text)",
        strings=(),
        img_size=True,
        list_field="items",
        list_item=COMM_ITEM,
    ),
    KindSpec("platenum", "车牌 (licence plate)", strings=("number",), key_fields=("number",)),
    KindSpec(
        "menu",
        "菜单 (menu)",
        strings=(),
        list_field="menu_items",
        list_item=MENU_ITEM,
    ),
)

_BY_NAME: Final = {s.name: s for s in _SPECS}

#: The 8 kinds, in the order of the platform's documentation.
KINDS: Final[tuple[str, ...]] = tuple(s.name for s in _SPECS)


def check_kind(kind: str) -> str:
    """Return ``kind`` if it is one of :data:`KINDS`, else raise ConfigurationError."""
    if kind not in _BY_NAME:
        raise ConfigurationError(f"unknown kind {kind!r}; expected one of {', '.join(KINDS)}")
    return kind


def spec(kind: str) -> KindSpec:
    """The :class:`KindSpec` of ``kind``."""
    return _BY_NAME[check_kind(kind)]


def _build_schema(s: KindSpec) -> pa.Schema:
    fields: list[pa.Field] = [pa.field(name, pa.string()) for name in s.strings]
    if s.validity_field:
        fields += [
            pa.field(f"{s.validity_field}_start", pa.date32()),
            pa.field(f"{s.validity_field}_end", pa.date32()),
            pa.field(f"{s.validity_field}_long_term", pa.bool_()),
        ]
    for name in s.dates:
        fields += [pa.field(name, pa.date32()), pa.field(f"{name}_raw", pa.string())]
    for name in s.positions:
        fields += _quad_fields(f"{name}_pos")
    if s.img_size:
        fields += [pa.field("img_size_w", pa.int32()), pa.field("img_size_h", pa.int32())]
    if s.list_field and s.list_item is not None:
        fields.append(pa.field(s.list_field, pa.list_(s.list_item)))
    fields += [pa.field(name + CONF_SUFFIX, pa.float32()) for name in s.confidence_fields]
    fields += [pa.field(name + SUGGESTED_SUFFIX, pa.string()) for name in s.suggested]
    fields.append(pa.field(FIELD_BOXES, pa.string()))
    fields.append(pa.field(ANSWERED_BY, pa.string()))
    fields.append(pa.field(ESCALATED_BECAUSE, pa.list_(pa.string())))
    fields += [
        pa.field(EXTRA_COLUMN, pa.string()),
        pa.field("page", pa.int32()),
        pa.field("errcode", pa.int64()),
        pa.field("errmsg", pa.string()),
        pa.field("rid", pa.string()),
        pa.field("sha256", pa.string()),
        pa.field("cached", pa.bool_()),
    ]
    return pa.schema(fields, metadata={b"ocr_frames.kind": s.name.encode()})


_SCHEMAS: Final = {s.name: _build_schema(s) for s in _SPECS}


def schema(kind: str) -> pa.Schema:
    """The Arrow schema of every table produced for ``kind``."""
    return _SCHEMAS[check_kind(kind)]


#: What each platform field holds (the API page's own comments, in English).
FIELD_NOTES: Final[dict[str, str]] = {
    "type": "`Front` (photo side) or `Back` (issuing authority side)",
    "name": "姓名 name",
    "id": "公民身份号码 resident ID number (18 characters)",
    "addr": "住址 address",
    "gender": "性别 sex (男/女)",
    "nationality": "民族 ethnic group (idcard) / 国籍 nationality (drivinglicense)",
    "valid_date": "有效期限 validity as printed, e.g. `20171025-20271025` or `20150301-长期`",
    "number": "card or plate number",
    "plate_num": "号牌号码 plate number",
    "plate_num_b": "plate number as printed on the back page",
    "vehicle_type": "车辆类型 vehicle type (`vhicle_type` in some answers, normalised)",
    "owner": "所有人 owner",
    "use_character": "使用性质 use (e.g. 非营运, private)",
    "model": "品牌型号 make and model",
    "vin": "车辆识别代号 VIN",
    "engine_num": "发动机号码 engine number",
    "record": "档案编号 file number",
    "passengers_num": "核定载人数 approved passengers, as printed",
    "total_quality": "总质量 gross mass, as printed",
    "prepare_quality": "整备质量 kerb mass, as printed",
    "overall_size": "外廓尺寸 overall dimensions, as printed",
    "id_num": "证号 licence number (the holder's resident ID number)",
    "sex": "性别 sex",
    "address": "住址 / 住所 address",
    "car_class": "准驾车型 licence class (e.g. C1)",
    "official_seal": "印章文字 text of the issuing seal",
    "reg_num": "注册号 / 统一社会信用代码 registration number or credit code",
    "serial": "编号 certificate serial",
    "legal_representative": "法定代表人 legal representative",
    "enterprise_name": "企业名称 company name",
    "type_of_organization": "组成形式 form of organisation",
    "type_of_enterprise": "公司类型 company type",
    "business_scope": "经营范围 business scope",
    "registered_capital": "注册资本 registered capital, as printed",
    "paid_in_capital": "实收资本 paid-in capital, as printed",
    "valid_period": "营业期限 business term, as printed (may be 长期)",
    "register_date": "注册日期 registration date",
    "issue_date": "发证日期 / 初次领证日期 issue date",
    "birth_date": "出生日期 date of birth",
    "valid_from": "有效期限起始日 valid from",
    "valid_to": "有效期限终止日 valid to",
    "registered_date": "成立日期 date of establishment (printed like 2018年1月1日)",
}


def _describe(name: str, s: KindSpec) -> str:
    if name == EXTRA_COLUMN:
        return (
            "keys of an ok answer that no column holds (fields the platform added later), "
            "as a JSON object text; null when there are none"
        )
    if name == "page":
        return "page of a PDF or multi-page TIFF input (1-based); null for a single image"
    if name in STATUS_COLUMNS:
        return {
            "errcode": "0 = ok; platform code or local 9000xx code (`ocr-frames codes`)",
            "errmsg": "what happened, in words",
            "rid": "the platform's request id (quote it to WeChat support)",
            "sha256": "sha256 of the image bytes sent (the cache key)",
            "cached": "answer came from the cache or a duplicate row: not billed",
        }[name]
    if name.endswith(CONF_SUFFIX) and name[: -len(CONF_SUFFIX)] in s.confidence_fields:
        return (
            f"confidence (0-1) that `{name[: -len(CONF_SUFFIX)]}` is exactly right, calibrated "
            "(see docs/trust.md); 0 for a key field not found; null when the engine gives none"
        )
    if name.endswith(SUGGESTED_SUFFIX):
        return (
            f"a reading of `{name[: -len(SUGGESTED_SUFFIX)]}` that passes its check character, "
            "proposed when the value read fails it (never applied); null otherwise"
        )
    if name == ANSWERED_BY:
        return (
            "with `of.Cascade`: the short name of the engine whose answer the row holds "
            "(`local`, `wechat`...); null for a single engine"
        )
    if name == ESCALATED_BECAUSE:
        return (
            "with `of.Cascade`: why the row went to the second engine (the reasons of "
            "`review_reasons`); empty when it did not, null for a single engine"
        )
    if name == FIELD_BOXES:
        return (
            'where each field was read, as JSON text `{"name": [[x, y], ...], ...}`: the 4 '
            "corners (left top, right top, right bottom, left bottom) of its text in the "
            "image, pixels; null when the engine gives none (WeChat)"
        )
    if name.endswith("_raw"):
        return f"original text of `{name[:-4]}` when it could not be parsed as a date"
    if name in s.dates:
        return f"{FIELD_NOTES.get(name, 'date')} (parsed)"
    if s.validity_field and name.startswith(s.validity_field + "_"):
        part = name[len(s.validity_field) + 1 :]
        return {
            "start": "start of the validity period",
            "end": "end of the validity period (null for 长期, no expiry)",
            "long_term": "true when the period ends 长期 (never expires)",
        }[part]
    if name.startswith(("card_position", "cert_position")):
        return "corner of the document in the image, pixels"
    if name.startswith("img_size"):
        return "image width / height, pixels"
    if name == s.list_field:
        return (
            "one item per line/dish (with its `conf`); `ocr_frames.explode(df, column)` gives "
            "one row each"
        )
    return FIELD_NOTES.get(name, "as returned by the platform")


def columns_markdown() -> str:
    """The column reference of every kind (``docs/columns.md`` is this text)."""
    lines = [
        "# Column reference",
        "",
        "Generated from `ocr_frames.kinds` by `make docs`; a test fails if this file drifts.",
        "",
    ]
    for s in _SPECS:
        lines += [f"## `{s.name}`: {s.title}", "", "| column | type | meaning |", "|---|---|---|"]
        for f in schema(s.name):
            lines.append(f"| `{f.name}` | `{f.type}` | {_describe(f.name, s)} |")
        lines.append("")
    return "\n".join(lines)
