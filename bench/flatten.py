"""3. Typed flattening: ``to_pandas(to_arrow(kind, answers))`` vs ``pandas.json_normalize``.

Answers, per kind: 25,000 distinct realistic answers (the emulator's answer generator,
exactly as the platform shapes them, through ``wechat.parse_response``; 2% are 101001
"no document" errors), each used 4 times with its own ``sha256`` → 100,000 answers.

* ours: ``to_pandas(to_arrow(kind, answers))``, the typed DataFrame ``recognize`` returns
  (``to_arrow`` alone is reported too);
* baseline: :func:`baseline` below, what a pandas user writes to get the same typed
  frame: ``pd.json_normalize(answers, sep="_")``, then per column ``astype`` to the same
  nullable dtypes, ``pd.to_datetime(format=...)`` for the dates, ``str.split`` for the ID
  card validity and, for list kinds, ``pd.json_normalize(answers, record_path=<list>)``
  for the items, regrouped into the same ``list<struct>`` column;
* ``json_normalize`` alone (no typing at all) is timed as well: the least any
  json_normalize-based code can cost.

Both frames are converted to Arrow with ``schema(kind)`` and compared with
``Table.equals``: the values must be identical.  Best of 3 (ours) / 2 (baseline) runs.
"""

from __future__ import annotations

import gc
import hashlib
import json
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from bench import common

ROWS = 100_000
DISTINCT = 25_000
ERROR_SHARE = 0.02
TARGET_SPEEDUP = 5.0
DATE_FORMATS = {
    "driving": "%Y-%m-%d",
    "drivinglicense": "%Y-%m-%d",
    "bizlicense": "%Y年%m月%d日",
}


def answers(kind: str, rows: int = ROWS, distinct: int = DISTINCT) -> list[dict[str, Any]]:
    """``rows`` realistic answers of ``kind`` (``distinct`` different ones, repeated)."""
    from ocr_frames._server.protocol import error_body
    from ocr_frames.testing._answers import fallback_answer
    from ocr_frames.wechat._parse import parse_response

    base = []
    every = round(1 / ERROR_SHARE)
    for i in range(min(rows, distinct)):
        sha = hashlib.sha256(f"{kind}:{i}".encode()).hexdigest()
        raw = error_body(101001) if i % every == every - 1 else fallback_answer(kind, sha)
        body = json.dumps(raw, ensure_ascii=False).encode()
        base.append(parse_response(kind, 200, body, "application/json"))
    out = []
    for j in range(rows):
        answer = dict(base[j % len(base)])
        answer["sha256"] = f"{j:064x}"
        answer["cached"] = j % 5 == 0
        out.append(answer)
    return out


# --- the baseline: json_normalize + manual dtype fixing ----------------------------------


def _dtype(arrow_type: pa.DataType) -> Any:
    from ocr_frames._tables.frames import pandas_dtype

    return pandas_dtype(arrow_type)


def _column(df: pd.DataFrame, name: str, dtype: Any) -> pd.Series:
    if name in df.columns:
        return df[name].astype(dtype)
    return pd.Series(pd.NA, index=df.index, dtype=dtype)


def _dates(text: pd.Series, fmt: str) -> tuple[pd.Series, pd.Series]:
    parsed = pd.to_datetime(text, format=fmt, errors="coerce")
    days = parsed.astype(pd.ArrowDtype(pa.date32()))
    failed = parsed.isna() & text.notna() & (text.astype("string").str.strip() != "")
    raw = text.where(failed).astype(pd.StringDtype("pyarrow"))
    return days, raw


def _validity(text: pd.Series) -> dict[str, pd.Series]:
    parts = text.astype("string").str.split("-", n=1, expand=True)
    if parts.shape[1] < 2:
        parts[1] = pd.NA
    start = pd.to_datetime(parts[0], format="%Y%m%d", errors="coerce")
    end = pd.to_datetime(parts[1], format="%Y%m%d", errors="coerce")
    long_term = (parts[1] == "长期").astype("boolean").where(text.notna())
    valid = start.notna() & (end.notna() | long_term.fillna(False))
    date32 = pd.ArrowDtype(pa.date32())
    return {
        "valid_date_start": start.where(valid).astype(date32),
        "valid_date_end": end.where(valid).astype(date32),
        "valid_date_long_term": long_term.where(valid).astype("boolean"),
    }


def _items(
    answers: list[dict[str, Any]], field: str, list_type: pa.ListType, index: pd.Index
) -> pd.Series:
    has_list = [isinstance(a.get(field), list) for a in answers]
    with_items = [a for a, ok in zip(answers, has_list, strict=True) if ok]
    flat = pd.json_normalize(with_items, record_path=field, sep="_")
    item_type = list_type.value_type
    columns = [pa.array(_column(flat, f.name, _dtype(f.type)), type=f.type) for f in item_type]
    struct = pa.StructArray.from_arrays(columns, fields=list(item_type))
    lengths = np.array(
        [len(a[field]) if ok else 0 for a, ok in zip(answers, has_list, strict=True)]
    )
    offsets = pa.array(np.concatenate([[0], np.cumsum(lengths)]), type=pa.int32())
    mask = pa.array(~np.array(has_list, dtype=bool))
    lists = pa.ListArray.from_arrays(offsets, struct, mask=mask)
    return pd.Series(pd.arrays.ArrowExtensionArray(lists), index=index)


def baseline(kind: str, answers: list[dict[str, Any]]) -> pd.DataFrame:
    """json_normalize + manual dtype fixing to the same typed frame as ``recognize``."""
    from ocr_frames.kinds import schema, spec

    kind_spec, target = spec(kind), schema(kind)
    df = pd.json_normalize(answers, sep="_")
    out: dict[str, pd.Series] = {}
    if kind_spec.validity_field:
        out.update(_validity(_column(df, kind_spec.validity_field, object)))
    for name in kind_spec.dates:
        out[name], out[f"{name}_raw"] = _dates(_column(df, name, object), DATE_FORMATS[kind])
    if kind_spec.list_field:
        list_type = target.field(kind_spec.list_field).type
        out[kind_spec.list_field] = _items(answers, kind_spec.list_field, list_type, df.index)
    for field in target:
        if field.name not in out:
            column = "cached" if field.name == "cached" else field.name
            series = _column(df, column, object)
            if pa.types.is_integer(field.type):
                series = series.astype("Float64")  # json_normalize: NaN for a missing key
            out[field.name] = series.astype(_dtype(field.type))
    return pd.DataFrame({name: out[name] for name in target.names})


# --- timing -------------------------------------------------------------------------------


def _best(fn: Callable[[], Any], repeat: int) -> tuple[float, Any]:
    best, result = float("inf"), None
    for _ in range(repeat):
        gc.collect()
        started = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - started)
    return best, result


def _identical(kind: str, ours: pd.DataFrame, theirs: pd.DataFrame) -> bool:
    from ocr_frames.kinds import schema

    target = schema(kind)
    a = pa.Table.from_pandas(ours, schema=target, preserve_index=False)
    b = pa.Table.from_pandas(theirs, schema=target, preserve_index=False)
    return bool(a.equals(b)) and list(ours.dtypes) == list(theirs.dtypes)


def run(quick: bool = False) -> dict[str, Any]:
    from ocr_frames._tables.flatten import to_arrow
    from ocr_frames._tables.frames import to_pandas
    from ocr_frames.kinds import KINDS

    rows = 10_000 if quick else ROWS
    distinct = 2_500 if quick else DISTINCT
    kinds = []
    for kind in KINDS:
        common.log(f"flatten: {kind}, {rows} answers")
        data = answers(kind, rows, distinct)
        arrow_s, _ = _best(lambda d=data, k=kind: to_arrow(k, d), 3)
        ours_s, ours = _best(lambda d=data, k=kind: to_pandas(to_arrow(k, d)), 3)
        base_s, theirs = _best(lambda d=data, k=kind: baseline(k, d), 1 if quick else 2)
        normalize_s, _ = _best(lambda d=data: pd.json_normalize(d, sep="_"), 1)
        identical = _identical(kind, ours, theirs)
        kinds.append(
            {
                "kind": kind,
                "rows": rows,
                "to_arrow_s": arrow_s,
                "ours_s": ours_s,
                "baseline_s": base_s,
                "json_normalize_only_s": normalize_s,
                "speedup": base_s / ours_s,
                "speedup_vs_json_normalize_only": normalize_s / ours_s,
                "ours_rows_per_s": rows / ours_s,
                "identical": identical,
            }
        )
        del data, ours, theirs
    return {
        "rows": rows,
        "distinct": distinct,
        "kinds": kinds,
        "targets": [
            {
                "what": f"{k['kind']}: ≥ {TARGET_SPEEDUP:.0f}× json_normalize + dtypes, identical",
                "value": k["speedup"],
                "met": k["speedup"] >= TARGET_SPEEDUP and k["identical"],
            }
            for k in kinds
        ],
    }


def plot(result: dict[str, Any], path: Any) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    kinds = result["kinds"]
    names = [k["kind"] for k in kinds]
    x = np.arange(len(names))
    fig, ax = plt.subplots(figsize=(10, 4.5))
    width = 0.27
    ax.bar(x - width, [k["ours_s"] for k in kinds], width, label="ocr_frames to_arrow+to_pandas")
    ax.bar(x, [k["json_normalize_only_s"] for k in kinds], width, label="json_normalize alone")
    ax.bar(x + width, [k["baseline_s"] for k in kinds], width, label="json_normalize + dtypes")
    for i, k in enumerate(kinds):
        ax.annotate(f"{k['speedup']:.1f}×", (i - width, k["ours_s"]), ha="center", va="bottom")
    ax.set_xticks(x, names)
    ax.set_yscale("log")
    ax.set_ylabel(f"seconds for {result['rows']:,} answers (log scale)")
    ax.set_title("Typed flattening (lower is better; label: speed-up over the baseline)")
    ax.legend()
    ax.grid(True, axis="y", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
