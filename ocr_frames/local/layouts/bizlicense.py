"""The 营业执照 (business licence): labelled fields in two columns, credit code, serial."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any, Final

import numpy as np

from ocr_frames.local._geometry import quad_dict
from ocr_frames.local._ocr import TextBox
from ocr_frames.local._quad import find_documents, text_bounds
from ocr_frames.local.layouts._base import Page
from ocr_frames.local.layouts._fix import alnum, ascii_punct, simplified

__all__ = ["parse_bizlicense"]

BIZ_LABELS: Final = {
    "统一社会信用代码": "reg_num",
    "注册号": "reg_num",
    "证照编号": "serial",
    "编号": "serial",
    "企业名称": "enterprise_name",
    "名称": "enterprise_name",
    "类型": "type_of_enterprise",
    "法定代表人": "legal_representative",
    "经营者": "legal_representative",
    "负责人": "legal_representative",
    "投资人": "legal_representative",
    "执行事务合伙人": "legal_representative",
    "组成形式": "type_of_organization",
    "经营范围": "business_scope",
    "注册资本": "registered_capital",
    "注册资金": "registered_capital",
    "出资额": "registered_capital",
    "出资数额": "registered_capital",
    "实收资本": "paid_in_capital",
    "成立日期": "registered_date",
    "注册日期": "registered_date",
    "营业期限": "valid_period",
    "合伙期限": "valid_period",
    "住所": "address",
    "经营场所": "address",
    "营业场所": "address",
    "主要经营场所": "address",
    "登记机关": "authority",
}
#: Answer fields in the platform's order, and whether their value may wrap onto more lines.
FIELDS: Final = {
    "reg_num": False,
    "serial": False,
    "legal_representative": True,
    "enterprise_name": True,
    "type_of_organization": True,
    "address": True,
    "type_of_enterprise": True,
    "business_scope": True,
    "registered_capital": True,
    "paid_in_capital": True,
    "valid_period": True,
    "registered_date": True,
}


#: A copy's number after the serial (``S1234…(2-1)``: the second copy of one).
_COPY: Final = re.compile(r"[(（]\s*(\d{1,2})\s*[-—－一]\s*(\d{1,2})\s*[)）]$")


def _clean(key: str, value: str) -> str:
    if key == "reg_num":
        return alnum(value, zero="O")
    if key == "serial":
        copy = _COPY.search(value)
        head = alnum(value[: copy.start()] if copy else value, zero="O")
        return f"{head}({copy.group(1)}-{copy.group(2)})" if copy else head
    return ascii_punct(value)


def parse_bizlicense(boxes: Sequence[TextBox], image: np.ndarray) -> dict[str, Any] | None:
    """Fields present on the licence (absent ones omitted, as the platform does), the
    licence's quadrilateral and the image size.  None: no business licence."""
    boxes = simplified(boxes)
    page = Page(boxes, BIZ_LABELS)
    keys = {t.label for t in page.tokens if t.label is not None}
    titled = any("营业执照" in t.text for t in page.tokens)
    if len(keys) < (2 if titled else 4):
        return None
    answer: dict[str, Any] = {}
    # top to bottom, so a multi-line value never runs into the label below it
    for label in sorted((t for t in page.tokens if t.label in FIELDS), key=lambda t: t.top):
        key = str(label.label)
        value = page.value_of(label, multiline=FIELDS[key], below=key == "reg_num")
        if value and key not in answer:
            answer[key] = _clean(key, value)
    answer = {key: answer[key] for key in FIELDS if key in answer}
    quads = find_documents(image, boxes, limit=1)
    quad = quads[0] if quads else text_bounds(boxes, margin=0.05)
    answer["cert_position"] = quad_dict(quad)
    answer["img_size"] = {"w": int(image.shape[1]), "h": int(image.shape[0])}
    return answer
