"""OCR responses → the answer dict (see ``docs/architecture.md``), in one function.

:func:`parse_response` is the only place that interprets what the platform (or a proxy,
or the emulator) sent back.  It raises :class:`~ocr_frames.TransportError` when there is
no answer to speak of (HTTP 5xx → ``900009``; not JSON, not an object, not UTF-8, too
deeply nested, a non-integer errcode, an undecodable menu → ``900010``) and otherwise
returns an answer for any errcode, normalised once:

* ``errcode`` an ``int`` (``"0"`` accepted, absent means 0), ``errmsg`` a ``str``, and the
  ``rid: ...`` suffix of ``errmsg`` split off into ``rid`` (``None`` when absent);
* ``driving``: ``vhicle_type`` → ``vehicle_type``; ``bankcard``: ``id`` → ``number``;
* ``menu``: the ``content`` JSON string decoded into ``menu_items``, a list of
  ``{"name": str, "price": float | None}`` (``content`` dropped);
* every other field exactly as sent (absent ``bizlicense`` fields stay absent).
"""

from __future__ import annotations

import json
import math
import re
from typing import Any, Final

from ocr_frames._errors import E_BAD_RESPONSE, E_TRANSPORT, PLATFORM_CODES, TransportError
from ocr_frames.kinds import check_kind
from ocr_frames.wechat._redact import redact

__all__ = ["INT_RE", "MAX_JSON_DEPTH", "parse_response", "split_rid"]

#: Deepest nesting accepted in a response (real answers are at most 5 levels deep).
MAX_JSON_DEPTH: Final = 32

INT_RE: Final = re.compile(r"\s*[-+]?[0-9]{1,18}\s*")


class _Invalid(Exception):
    """Internal: the body is not a usable answer (turned into a TransportError)."""


def parse_response(
    kind: str, status_code: int, body: bytes, content_type: str | None = None
) -> dict[str, Any]:
    """Turn one OCR HTTP response into the answer dict, whatever its errcode.

    The body is read as JSON whatever ``content_type`` says (the platform sometimes
    answers ``text/plain``); ``content_type`` only makes error messages more helpful.
    """
    check_kind(kind)
    if status_code >= 500:
        raise TransportError(f"{kind}: HTTP {status_code} from the server", errcode=E_TRANSPORT)
    try:
        data = _load_json(body)
        if not isinstance(data, dict):
            raise _Invalid(f"a JSON {type(data).__name__}, not an object")
        answer = _normalise(kind, data)
    except _Invalid as exc:
        where = f"HTTP {status_code}, {content_type or 'no content-type'}, {len(body)} bytes"
        message = f"{kind}: invalid response ({where}): {exc}"
        raise TransportError(message, errcode=E_BAD_RESPONSE) from None
    return answer


def split_rid(errmsg: str) -> tuple[str, str | None]:
    """``"invalid credential rid: 6x-y"`` → ``("invalid credential", "6x-y")``."""
    # string methods, not a regex: a long errmsg of separators must not backtrack for ages
    at = errmsg.rfind("rid:")
    rid = errmsg[at + 4 :].strip() if at >= 0 else ""
    preceded_by_word = at > 0 and (errmsg[at - 1].isalnum() or errmsg[at - 1] == "_")
    if not rid or preceded_by_word or any(c.isspace() for c in rid):
        return errmsg.strip(), None
    return errmsg[:at].rstrip().rstrip(",;").rstrip(), rid


def _reject_constant(name: str) -> Any:
    raise _Invalid(f"non-standard JSON constant {name}")


def _load_json(raw: bytes | str) -> Any:
    """Strict JSON: UTF-8 only, no NaN/Infinity, bounded nesting, encodable strings."""
    try:
        text = raw.decode("utf-8-sig") if isinstance(raw, bytes) else raw
    except UnicodeDecodeError:
        raise _Invalid("not UTF-8") from None
    try:
        data = json.loads(text, parse_constant=_reject_constant)
    except RecursionError:  # the C decoder recurses once per level
        raise _Invalid("nested too deeply") from None
    except ValueError as exc:
        raise _Invalid(f"not JSON ({exc.__class__.__name__} at char {_position(exc)})") from None
    _check_tree(data)
    return data


def _position(exc: ValueError) -> object:
    return getattr(exc, "pos", "?")


def _check_tree(data: Any) -> None:
    """Iteratively check depth, and that every string can be stored as UTF-8."""
    stack: list[tuple[Any, int]] = [(data, 1)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, str):
            _check_text(node)
        elif isinstance(node, (dict, list)):
            if depth > MAX_JSON_DEPTH:
                raise _Invalid(f"nested deeper than {MAX_JSON_DEPTH} levels")
            if isinstance(node, dict):
                for key in node:
                    _check_text(key)
                values = list(node.values())
            else:
                values = node
            stack.extend((value, depth + 1) for value in values)


def _check_text(text: str) -> None:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate sent as "\ud800"
        raise _Invalid("a string holds an unpaired surrogate") from None


def _errcode(value: object) -> int:
    if value is None:
        return 0
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and INT_RE.fullmatch(value):
        return int(value)
    raise _Invalid(f"errcode {str(value)[:40]!r} is not an integer")


def _normalise(kind: str, data: dict[str, Any]) -> dict[str, Any]:
    errcode = _errcode(data.get("errcode"))
    errmsg = data.get("errmsg")
    if errmsg is None:
        errmsg = "ok" if errcode == 0 else PLATFORM_CODES.get(errcode, "")
    message, rid = split_rid(redact(errmsg if isinstance(errmsg, str) else str(errmsg)))
    answer: dict[str, Any] = {"errcode": errcode, "errmsg": message, "rid": rid}
    answer.update((k, v) for k, v in data.items() if k not in answer)
    if kind == "driving":
        answer = _rename(answer, "vhicle_type", "vehicle_type")
    elif kind == "bankcard":
        answer = _rename(answer, "id", "number")
    elif kind == "menu" and "content" in answer:
        answer = _rename(answer, "content", "menu_items")
        answer["menu_items"] = _menu_items(answer["menu_items"])
    return answer


def _rename(answer: dict[str, Any], old: str, new: str) -> dict[str, Any]:
    """Rename a key in place of order; when both are present the new spelling wins."""
    if old not in answer:
        return answer
    if new in answer:
        return {k: v for k, v in answer.items() if k != old}
    return {(new if k == old else k): v for k, v in answer.items()}


def _menu_items(content: object) -> list[dict[str, Any]]:
    """menu ``content`` (a JSON string holding ``{"menu_items": [...]}``) → the items."""
    decoded = _load_json(content) if isinstance(content, str) else content
    items = decoded.get("menu_items") if isinstance(decoded, dict) else decoded
    if not isinstance(items, list):
        raise _Invalid("menu content holds no menu_items list")
    return [_menu_item(item) for item in items]


def _menu_item(item: object) -> dict[str, Any]:
    if not isinstance(item, dict) or not isinstance(item.get("name"), str):
        raise _Invalid("a menu item is not {name: str, price: number}")
    price = item.get("price")
    if price is None:  # a dish without a price is still a dish
        return {"name": item["name"], "price": None}
    if isinstance(price, str):
        try:
            price = float(price)
        except ValueError:
            raise _Invalid(f"menu price {price!r} is not a number") from None
    if not isinstance(price, (int, float)) or isinstance(price, bool) or not math.isfinite(price):
        raise _Invalid(f"menu price {price!r} is not a number")
    return {"name": item["name"], "price": float(price)}
