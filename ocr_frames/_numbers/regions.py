"""GB/T 2260 administrative division codes, as used by the first 6 digits of a resident ID.

Only the 34 province-level entries are kept here (the first two digits).  Whether a full
6-digit code is known comes from the table shipped with python-stdnum
(``stdnum/cn/loc.dat``, compiled from the published GB/T 2260 code lists, including codes
that have since been abolished), read through :mod:`stdnum.numdb`.

Deliberately, a code counts as *known* if it appears in that table for **any** period.
stdnum's own ``get_birth_place`` also rejects a county code that did not yet exist in the
birth year, but the address code of an ID number is where the holder was registered when
the number was *assigned* (numbers were first issued in 1984-85), not the birthplace: a
person born in 1980 in what became 广州市天河区 in 1985 rightly holds a 440106 number.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Final

from stdnum import numdb

#: GB/T 2260 province-level divisions (first two digits of the code).
PROVINCES: Final[dict[str, str]] = {
    "11": "北京市",
    "12": "天津市",
    "13": "河北省",
    "14": "山西省",
    "15": "内蒙古自治区",
    "21": "辽宁省",
    "22": "吉林省",
    "23": "黑龙江省",
    "31": "上海市",
    "32": "江苏省",
    "33": "浙江省",
    "34": "安徽省",
    "35": "福建省",
    "36": "江西省",
    "37": "山东省",
    "41": "河南省",
    "42": "湖北省",
    "43": "湖南省",
    "44": "广东省",
    "45": "广西壮族自治区",
    "46": "海南省",
    "50": "重庆市",
    "51": "四川省",
    "52": "贵州省",
    "53": "云南省",
    "54": "西藏自治区",
    "61": "陕西省",
    "62": "甘肃省",
    "63": "青海省",
    "64": "宁夏回族自治区",
    "65": "新疆维吾尔自治区",
    "71": "台湾省",
    "81": "香港特别行政区",
    "82": "澳门特别行政区",
}


def province(code: str) -> str | None:
    """The province of a division code (its first two digits), or None."""
    return PROVINCES.get(code[:2])


@lru_cache(maxsize=16384)
def region_known(code: str) -> bool:
    """Whether the 6-digit ``code`` is a GB/T 2260 county-level code in stdnum's table."""
    if len(code) != 6 or not code.isascii() or not code.isdigit():
        return False
    parts = numdb.get("cn/loc").info(code)
    # [("44", {"province": ...}), ("0106", {"county": ...})] for a known code
    return len(parts) == 2 and "province" in parts[0][1] and "county" in parts[1][1]
