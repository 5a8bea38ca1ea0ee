"""The bundled samples: the checks flag exactly the numbers ``truth.json`` marks invalid.

``sample_data/truth.json`` gives each entry an ``invalid`` list: the fields printed
deliberately invalid (an ID number with a wrong check character, a card number failing
Luhn...).  Every other number of the samples must pass its standard.
"""

from __future__ import annotations

import json
from datetime import date
from typing import Any

import pandas as pd
import pytest

from ocr_frames._tables.flatten import to_arrow
from ocr_frames._tables.frames import to_pandas
from ocr_frames.checks import add_checks
from tests.helpers import REPO

TRUTH = REPO / "sample_data" / "truth.json"
AS_OF = date(2026, 11, 25)

#: (kind, field) → the check column that says whether the field's number is valid
FIELD_CHECKS = {
    ("idcard", "id"): "check_id_valid",
    ("drivinglicense", "id_num"): "check_id_valid",
    ("bankcard", "number"): "check_card_valid",
    ("bizlicense", "reg_num"): "check_uscc_valid",
    ("driving", "vin"): "check_vin_valid",
    ("driving", "plate_num"): "check_plate_valid",
    ("platenum", "number"): "check_plate_valid",
}
#: checks of agreement within one card: the samples are consistent unless marked invalid
CONSISTENCY = ("check_id_sex_match", "check_id_birth_date_match")
KINDS = sorted({kind for kind, _ in FIELD_CHECKS})


def _truth() -> dict[str, dict[str, Any]]:
    data: dict[str, dict[str, Any]] = json.loads(TRUTH.read_text(encoding="utf-8"))
    return data


@pytest.mark.parametrize("kind", KINDS)
def test_checks_flag_exactly_the_deliberately_invalid_numbers(kind: str) -> None:
    entries = [(name, e) for name, e in _truth().items() if e["kind"] == kind]
    assert entries, f"no {kind} samples in {TRUTH}"
    answers = [{**e["answer"], "sha256": e["sha256"]} for _, e in entries]
    checked = add_checks(to_pandas(to_arrow(kind, answers)), kind, as_of=AS_OF)
    fields = [field for k, field in FIELD_CHECKS if k == kind]
    flagged, expected = {}, {}
    for position, (name, entry) in enumerate(entries):
        if entry["answer"].get("errcode", 0) != 0:
            continue
        row = checked.iloc[position]
        flagged[name] = sorted(
            field
            for field in fields
            if entry["answer"].get(field) is not None
            and row[FIELD_CHECKS[kind, field]] is not pd.NA
            and not row[FIELD_CHECKS[kind, field]]
        )
        expected[name] = sorted(set(entry["invalid"]) & set(fields))
        for column in CONSISTENCY:
            if column in checked.columns and not set(entry["invalid"]):
                assert row[column] is pd.NA or row[column], (name, column)
    assert flagged == expected


def test_samples_include_deliberately_invalid_numbers() -> None:
    marked = [name for name, e in _truth().items() if e.get("invalid")]
    assert marked, "truth.json marks no deliberately invalid number"
