"""Vehicle documents: the 行驶证 (vehicle registration, two pages) and the 驾驶证."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any, Final

import numpy as np

from ocr_frames.kinds import spec
from ocr_frames.local._geometry import Quad, point_in_quad, quad_dict
from ocr_frames.local._ocr import TextBox
from ocr_frames.local._quad import find_documents, text_bounds
from ocr_frames.local._seal import seal_strip
from ocr_frames.local.layouts._base import Page, Token, compact
from ocr_frames.local.layouts._fix import alnum, id_number, iso_date, only, plate, simplified

__all__ = ["Reader", "parse_driving", "parse_drivinglicense"]

#: Reads the lines of an image (the OCR core's ``read``).
Reader = Callable[[np.ndarray], list[TextBox]]

DRIVING_LABELS: Final = {
    "号牌号码": "plate",
    "车辆类型": "vehicle_type",
    "所有人": "owner",
    "住址": "addr",
    "使用性质": "use_character",
    "品牌型号": "model",
    "车辆识别代号": "vin",
    "发动机号码": "engine_num",
    "注册日期": "register_date",
    "发证日期": "issue_date",
    "档案编号": "record",
    "核定载人数": "passengers_num",
    "总质量": "total_quality",
    "整备质量": "prepare_quality",
    "核定载质量": "approved_load",
    "外廓尺寸": "overall_size",
    "准牵引总质量": "traction_mass",
    "备注": "notes",
    "检验记录": "inspection",
}
_FRONT: Final = frozenset(
    {"vehicle_type", "owner", "use_character", "model", "vin", "engine_num", "register_date"}
)
_BACK: Final = frozenset(
    {"record", "passengers_num", "total_quality", "prepare_quality", "approved_load"}
    | {"overall_size", "traction_mass", "inspection"}
)
_DRIVING: Final = spec("driving")
#: The fields read next to their own label (the plate, on both pages, is read apart).
_SIDE_FIELDS: Final = tuple(
    key for key in (*_DRIVING.strings, *_DRIVING.dates) if key not in ("plate_num", "plate_num_b")
)


def _side(page: Page, token: Token) -> str:
    """ "front" or "back": the page family of the nearest side-specific label."""
    others = [t for t in page.tokens if t.label in _FRONT | _BACK and t.region == token.region]
    if not others:
        return "front"
    near = min(others, key=lambda t: (t.cx - token.cx) ** 2 + (t.cy - token.cy) ** 2)
    return "front" if near.label in _FRONT else "back"


def _clean(key: str, text: str) -> str:
    if key == "vin":
        return alnum(text)
    if key in ("engine_num", "record"):
        return alnum(text, zero="O")
    if key in ("register_date", "issue_date"):
        return iso_date(text) or text
    if key == "passengers_num":
        digits = only(text, "0123456789")
        return f"{digits}人" if digits else text
    if key in ("total_quality", "prepare_quality"):
        digits = only(text, "0123456789")
        return f"{digits}kg" if digits else text
    if key == "overall_size":
        return re.sub(r"(?<=\d)\s*[×xX*]\s*(?=\d)", "x", text).replace("MM", "mm")
    return text


def parse_driving(boxes: Sequence[TextBox], image: np.ndarray) -> dict[str, Any] | None:
    """The 行驶证 fields, each page's quadrilateral and the image size. None: not one."""
    boxes = simplified(boxes)
    labels = Page(boxes, DRIVING_LABELS).tokens
    sides = [[boxes[t.index] for t in labels if t.label in family] for family in (_FRONT, _BACK)]
    quads = find_documents(image, boxes, limit=2, apart=sides)
    if not all(any(point_in_quad((b.cx, b.cy), q) for q in quads) for side in sides for b in side):
        quads = []  # an outline that leaves labels out is not the pages' outline
    page = Page(boxes, DRIVING_LABELS, regions=quads)
    keys = {t.label for t in page.tokens if t.label is not None}
    if len(keys & (_FRONT | _BACK)) < 3:
        return None
    answer: dict[str, Any] = {}
    positions: dict[str, list[Token]] = {"front": [], "back": []}
    for label in page.labels("plate"):
        side = _side(page, label)
        value = plate(page.value_of(label)) or ""
        answer.setdefault("plate_num" if side == "front" else "plate_num_b", value)
        positions[side].append(label)
    for key in _SIDE_FIELDS:
        for label in page.labels(key):
            positions["front" if key in _FRONT or key in ("addr", "issue_date") else "back"].append(
                label
            )
            value = page.value_of(label)
            if value:
                answer.setdefault(key, _clean(key, value))
    for side in ("front", "back"):
        quad = _side_quad(positions[side], quads, boxes)
        if quad is not None:
            answer[f"card_position_{side}"] = quad_dict(quad)
    answer["img_size"] = {"w": int(image.shape[1]), "h": int(image.shape[0])}
    return answer


def _side_quad(labels: list[Token], quads: list[Quad], boxes: Sequence[TextBox]) -> Quad | None:
    """The quadrilateral holding most of a side's labels (or their text's bounds)."""
    if not labels:
        return None
    regions = [t.region for t in labels if t.region >= 0]
    if regions:
        return quads[max(set(regions), key=regions.count)]
    return text_bounds([boxes[t.index] for t in labels], margin=0.15)


DL_LABELS: Final = {
    "证号": "id_num",
    "姓名": "name",
    "性别": "sex",
    "国籍": "nationality",
    "住址": "address",
    "出生日期": "birth_date",
    "初次领证日期": "issue_date",
    "准驾车型": "car_class",
    "有效起始日期": "valid_from",
    "有效期限": "valid",
}
_SEAL: Final = re.compile(r"公安|交通|警察|支队|大队|车辆管理所|车管所")
#: How the issuing authorities' names end (the seal's ring is read letter by letter,
#: and a letter or two of a long name is often misread).
_AUTHORITIES: Final = (
    "公安局交通警察支队",
    "公安局交通警察总队",
    "公安局交通警察大队",
    "公安局公安交通管理局",
    "公安局交通管理局",
    "公安厅交通警察总队",
    "公安局车辆管理所",
)


#: Endings of names that are read as they are (any unit of the traffic police).
_WELL_FORMED: Final = (
    "交通警察支队",
    "交通警察总队",
    "交通警察大队",
    "交通管理局",
    "车辆管理所",
)


def _authority(text: str) -> str:
    """``text`` with its ending put right when a letter or two of a known authority's
    ending was misread (``…公安局交通盛察支队`` → ``…公安局交通警察支队``).  Only an
    ending of the same length with exactly one wrong letter is rewritten, and a name that
    already ends like an authority's (``…分局交通警察大队``, ``…公安厅交通管理局``) is
    kept as read."""
    if text.endswith(_WELL_FORMED):
        return text
    options = [
        (sum(a != b for a, b in zip(text[-len(ending) :], ending, strict=True)), ending)
        for ending in _AUTHORITIES
        if len(ending) <= len(text)
    ]
    if not options:
        return text
    wrong, ending = min(options)
    return text[: -len(ending)] + ending if wrong == 1 else text


def parse_drivinglicense(
    boxes: Sequence[TextBox], image: np.ndarray, *, read: Reader | None = None
) -> dict[str, Any] | None:
    """The 驾驶证 fields; official_seal from the red seal's ring (read with ``read``,
    unrolled) or else from straight lines naming the authority. None: not one."""
    page = Page(simplified(boxes), DL_LABELS, inside={"sex", "nationality"})
    keys = {t.label for t in page.tokens if t.label is not None}
    if len(keys) < 3:
        return None
    answer: dict[str, Any] = {}
    number = id_number(page.value("id_num") or "")
    answer["id_num"] = number or alnum(page.value("id_num") or "")
    answer["name"] = page.value("name") or ""
    answer["sex"] = only(page.value("sex") or "", "男女")[:1]
    answer["nationality"] = page.value("nationality") or ""
    answer["address"] = page.value("address", multiline=True) or ""
    for key in ("birth_date", "issue_date"):
        answer[key] = iso_date(page.value(key) or "") or ""
    answer["car_class"] = alnum(page.value("car_class") or "", zero="")
    start = iso_date(page.value("valid_from") or "")
    period = re.split(r"至|-{2,}|—|~", page.value("valid") or "")
    dates = [d for d in (iso_date(p) for p in period) if d]
    if start is None and len(dates) >= 2:
        start, dates = dates[0], dates[1:]
    answer["valid_from"] = start or ""
    answer["valid_to"] = dates[0] if dates else ""
    answer["official_seal"] = _ring(image, boxes, read) or _seal(page)
    return answer


def _ring(image: np.ndarray, boxes: Sequence[TextBox], read: Reader | None) -> str:
    """The authority named around the seal's ring, or "" (no round seal, nothing read)."""
    if read is None or not boxes:
        return ""
    (left, top), _, (right, bottom), _ = text_bounds(boxes, margin=0.1)
    strip = seal_strip(image, (left, top, right, bottom))
    if strip is None:
        return ""
    lines = sorted(simplified(read(strip)), key=lambda box: box.left)
    text = "".join(compact(box.text) for box in lines if _SEAL.search(box.text))
    return _authority(text) if text else ""


def _seal(page: Page) -> str:
    """The seal's lines: stacked free lines naming a traffic police authority."""
    lines = [t for t in page.free() if _SEAL.search(t.text)]
    if not lines:
        return ""
    first = lines[0]
    stack = [
        t
        for t in lines
        if abs(t.cx - first.cx) < 2 * first.height and abs(t.cy - first.cy) < 4 * first.height
    ]
    return page.take(sorted(stack, key=lambda t: t.top))
