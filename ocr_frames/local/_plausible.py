"""What a field's value can look like, from the documents' standards, for the confidence.

A value read letter-perfect from the wrong line (a label taken for a value, a neighbour's
text run into it: ``王辉晨许可、监管信息``) gets a high score from the recogniser.  Some
fields only ever hold a few shapes: a name is a few CJK characters; 使用性质 is one of
the uses GA 802 lists; 准驾车型 is a run of licence class codes.  A value outside its
field's shapes keeps its text (the engine reads what it reads) but its raw confidence is
multiplied by :data:`IMPLAUSIBLE`, so the row is looked at.
"""

from __future__ import annotations

import re
from typing import Final

__all__ = ["IMPLAUSIBLE", "plausible"]

#: Factor applied to the raw score of a value outside its field's shapes.
IMPLAUSIBLE: Final = 0.05

_CJK: Final = "\u3400-\u9fff\uf900-\ufaff\U00020000-\U0003134f"
_DOTS: Final = "·•・‧.．"
#: a person's name: CJK characters, a middle dot between the parts of a transcribed name
_PERSON: Final = re.compile(f"[{_CJK}]{{2,6}}|[{_CJK}{_DOTS}]{{3,24}}")
#: a person or an organisation (法定代表人 / 执行事务合伙人 / 所有人): no list punctuation
_PARTY: Final = re.compile(f"[{_CJK}A-Za-z0-9{_DOTS}()（） &'-]{{2,60}}")
#: the 56 ethnic groups as printed on ID cards (民族)
_ETHNIC: Final = frozenset(
    (
        "汉",
        "蒙古",
        "回",
        "藏",
        "维吾尔",
        "苗",
        "彝",
        "壮",
        "布依",
        "朝鲜",
        "满",
        "侗",
        "瑶",
        "白",
        "土家",
        "哈尼",
        "哈萨克",
        "傣",
        "黎",
        "傈僳",
        "佤",
        "畲",
        "高山",
        "拉祜",
        "水",
        "东乡",
        "纳西",
        "景颇",
        "柯尔克孜",
        "土",
        "达斡尔",
        "仫佬",
        "羌",
        "布朗",
        "撒拉",
        "毛南",
        "仡佬",
        "锡伯",
        "阿昌",
        "普米",
        "塔吉克",
        "怒",
        "乌孜别克",
        "俄罗斯",
        "鄂温克",
        "德昂",
        "保安",
        "裕固",
        "京",
        "塔塔尔",
        "独龙",
        "鄂伦春",
        "赫哲",
        "门巴",
        "珞巴",
        "基诺",
    )
)
#: 使用性质 of a 行驶证 (GA 802 and the forms seen on certificates)
_USES: Final = frozenset(
    (
        "非营运",
        "营运",
        "公路客运",
        "公交客运",
        "出租客运",
        "旅游客运",
        "货运",
        "租赁",
        "警用",
        "消防",
        "救护",
        "工程救险",
        "营转非",
        "出租转非",
        "教练",
        "幼儿校车",
        "小学生校车",
        "初中生校车",
        "中小学生校车",
        "其他校车",
        "危化品运输",
        "预约出租客运",
        "预约出租转非",
        "营转警",
        "非营转营",
        "专用校车",
        "旅游客运转非",
    )
)
_CLASS: Final = r"(?:A[123]|B[12]|C[1-6]|[DEFMNP])"
_CLASSES: Final = re.compile(rf"{_CLASS}(?:[\s,，、/]*{_CLASS})*")

_SHAPES: Final[dict[tuple[str, str], re.Pattern[str] | frozenset[str]]] = {
    ("idcard", "name"): _PERSON,
    ("idcard", "gender"): frozenset({"男", "女"}),
    ("idcard", "nationality"): _ETHNIC,
    ("drivinglicense", "name"): _PERSON,
    ("drivinglicense", "sex"): frozenset({"男", "女"}),
    ("drivinglicense", "car_class"): _CLASSES,
    ("driving", "use_character"): _USES,
    ("driving", "owner"): _PARTY,
    ("driving", "vehicle_type"): re.compile(f"[{_CJK}]{{1,16}}车"),
    ("bizlicense", "legal_representative"): _PARTY,
}


def plausible(kind: str, field: str, value: str) -> bool:
    """Whether ``value`` has a shape ``field`` of ``kind`` can hold (True when the field
    has no known shapes)."""
    shape = _SHAPES.get((kind, field))
    if shape is None:
        return True
    text = value.strip()
    if isinstance(shape, frozenset):
        return text in shape
    return shape.fullmatch(text) is not None
