"""Generate the bundled sample images and their expected answers (``truth.json``).

Run ``python sample_data/make_samples.py`` (``make samples``).  Everything is synthetic and
deterministic: no real person, card or vehicle.  The images are small patterned PNGs (no
imaging library needed); ``truth.json`` maps each file to its kind and the platform answer
the emulator returns for it, so ``make demo`` runs the whole pipeline with no account.
Deliberately bad files (empty, not an image, a renamed duplicate) show per-row errors and
de-duplication.
"""

from __future__ import annotations

import hashlib
import json
import random
import struct
import zlib
from pathlib import Path

HERE = Path(__file__).resolve().parent
RNG = random.Random(20261125)

SURNAMES = "王李张刘陈杨赵黄周吴"
GIVEN = ["伟", "芳", "娜", "敏", "静", "磊", "洋", "艳", "勇", "军", "杰", "娟"]
REGIONS = {"440106": "广东省广州市天河区", "110105": "北京市朝阳区", "310115": "上海市浦东新区"}


def png(width: int, height: int, seed: int) -> bytes:
    """A small RGB PNG with a seeded pattern (distinct bytes per seed)."""
    rnd = random.Random(seed)
    base = [rnd.randrange(256) for _ in range(3)]
    rows = bytearray()
    for y in range(height):
        rows.append(0)
        for x in range(width):
            band = (x // 8 + y // 8) % 2
            rows += bytes((base[i] + band * 60 + rnd.randrange(16)) % 256 for i in range(3))

    def chunk(tag: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(bytes(rows), 9))
        + chunk(b"IEND", b"")
    )


def id_number(region: str, birth: str, seq: int, *, valid: bool = True) -> str:
    """An 18-character resident ID with a GB 11643-1999 check character."""
    body = f"{region}{birth}{seq:03d}"
    weights = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
    check = "10X98765432"[sum(int(d) * w for d, w in zip(body, weights, strict=True)) % 11]
    if not valid:
        check = "10X98765432"[("10X98765432".index(check) + 1) % 11]
    return body + check


def luhn(prefix: str, length: int) -> str:
    digits = prefix + "".join(str(RNG.randrange(10)) for _ in range(length - len(prefix) - 1))
    total = 0
    for i, d in enumerate(reversed(digits)):
        n = int(d) * (2 if i % 2 == 0 else 1)
        total += n - 9 if n > 9 else n
    return digits + str((10 - total % 10) % 10)


def quad(x: int, y: int, w: int, h: int) -> dict[str, object]:
    return {
        "pos": {
            "left_top": {"x": x, "y": y},
            "right_top": {"x": x + w, "y": y},
            "right_bottom": {"x": x + w, "y": y + h},
            "left_bottom": {"x": x, "y": y + h},
        }
    }


def person(i: int) -> tuple[str, str, str, str]:
    region = list(REGIONS)[i % len(REGIONS)]
    birth = f"19{80 + i:02d}0{1 + i % 9}1{i % 10}"
    name = SURNAMES[i % len(SURNAMES)] + GIVEN[i % len(GIVEN)]
    return region, birth, name, "男" if i % 2 else "女"


def answers() -> dict[str, list[dict[str, object]]]:
    out: dict[str, list[dict[str, object]]] = {}
    ids = []
    for i in range(3):
        region, birth, name, gender = person(i)
        seq = 100 + i * 2 + (1 if gender == "男" else 0)
        ids.append(
            {
                "type": "Front",
                "name": name,
                "id": id_number(region, birth, seq, valid=i != 2),
                "addr": REGIONS[region] + f"{i + 1}号",
                "gender": gender,
                "nationality": "汉",
            }
        )
    ids.append({"type": "Back", "valid_date": "20171025-20271025"})
    ids.append({"type": "Back", "valid_date": "20150301-长期"})
    out["idcard"] = ids
    out["bankcard"] = [{"number": luhn("622202", 19)}, {"number": luhn("621700", 19)}]
    out["driving"] = [
        {
            "plate_num": "粤A12345",
            "vehicle_type": "小型普通客车",
            "owner": "陈伟",
            "addr": "广东省广州市天河区1号",
            "use_character": "非营运",
            "model": "江淮牌HFC7150",
            "vin": "LJ166A2E5J1234567",
            "engine_num": "J3123453",
            "register_date": "2018-07-06",
            "issue_date": "2018-07-01",
            "plate_num_b": "粤A12345",
            "record": "4401061233",
            "passengers_num": "5人",
            "total_quality": "1700kg",
            "prepare_quality": "1295kg",
            "overall_size": "4582x1795x1458mm",
            "card_position_front": quad(12, 10, 170, 110),
            "img_size": {"w": 200, "h": 130},
        }
    ]
    region, birth, name, sex = person(1)
    out["drivinglicense"] = [
        {
            "id_num": id_number(region, birth, 103),
            "name": name,
            "sex": sex,
            "nationality": "中国",
            "address": REGIONS[region] + "2号",
            "birth_date": f"{birth[:4]}-{birth[4:6]}-{birth[6:]}",
            "issue_date": "2012-12-21",
            "car_class": "C1",
            "valid_from": "2018-07-06",
            "valid_to": "2024-07-06",
            "official_seal": "广州市公安局交通警察支队",
        }
    ]
    out["bizlicense"] = [
        {
            "reg_num": "91440101MA5CXXXX0X",
            "serial": "S2612018000123",
            "legal_representative": "黄敏",
            "enterprise_name": "广州市示例饮食店",
            "type_of_organization": "个人经营",
            "address": "广州市天河区示例路1号",
            "business_scope": "中型餐馆(不含凉菜)。",
            "registered_capital": "200万",
            "valid_period": "长期",
            "registered_date": "2018年1月1日",
            "cert_position": quad(15, 12, 170, 106),
            "img_size": {"w": 200, "h": 130},
        }
    ]
    out["comm"] = [
        {
            "items": [
                {"text": "腾讯", **quad(20, 20, 60, 14)},
                {"text": "微信团队", **quad(90, 20, 80, 14)},
            ],
            "img_size": {"w": 200, "h": 130},
        }
    ]
    out["platenum"] = [{"number": "粤B12345"}, {"number": "京AD12345"}]
    out["menu"] = [
        {
            "content": json.dumps(
                {"menu_items": [{"name": "酱鸭", "price": 48.0}, {"name": "龙虾", "price": 80.0}]},
                ensure_ascii=False,
            )
        }
    ]
    return out


def main() -> None:
    truth: dict[str, dict[str, object]] = {}
    seed = 0
    for kind, items in answers().items():
        folder = HERE / kind
        folder.mkdir(exist_ok=True)
        for old in folder.iterdir():
            old.unlink()
        for n, answer in enumerate(items, 1):
            seed += 1
            data = png(200, 130, seed)
            name = f"{kind}/{kind}_{n:02d}.png"
            (HERE / name).write_bytes(data)
            truth[name] = {
                "kind": kind,
                "sha256": hashlib.sha256(data).hexdigest(),
                "answer": {"errcode": 0, "errmsg": "ok", **answer},
            }
    # deliberately bad rows: a renamed duplicate, an empty file, a text file named .jpg
    dup = HERE / "idcard" / "idcard_01_copy.png"
    dup.write_bytes((HERE / "idcard/idcard_01.png").read_bytes())
    truth["idcard/idcard_01_copy.png"] = dict(truth["idcard/idcard_01.png"])
    (HERE / "idcard" / "empty.png").write_bytes(b"")
    (HERE / "idcard" / "notes.jpg").write_text("not an image\n")
    (HERE / "truth.json").write_text(json.dumps(truth, ensure_ascii=False, indent=1) + "\n")
    total = sum(p.stat().st_size for p in HERE.rglob("*") if p.is_file())
    print(f"wrote {len(truth)} sample images + truth.json ({total / 1024:.0f} KiB)")


if __name__ == "__main__":
    main()
