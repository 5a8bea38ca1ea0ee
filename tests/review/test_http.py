"""The review app's security and API contract over real HTTP, against a real subprocess.

The module's server runs with ``--images moved``: every image was moved to ``moved/``
except row 4's (deleted), and row 0's name there is a symlink to a copy of its image
*outside* the folder, which must never be served.  Paths with ``..`` and encoded
variants are sent verbatim (``http.client``; httpx would normalise them).
"""

from __future__ import annotations

import http.client
import json
import shutil
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from ocr_frames import review
from ocr_frames.review import read_reviews
from tests.review.conftest import FLAGGED, IMAGES, ReviewProcess, StartReview, Workspace

ROUTES = [
    ("GET", "/"),
    ("GET", "/rows/0"),
    ("GET", "/api/rows"),
    ("GET", "/api/rows/0"),
    ("GET", "/api/rows/1/image"),
    ("GET", "/static/review.js"),
    ("POST", "/api/rows/1/review"),
]
APPROVE = b'{"decision": "approve"}'
SYMLINKED_ROW, MISSING_ROW = 0, 4


@pytest.fixture(scope="module")
def ws(workspace: Callable[[str], Workspace]) -> Workspace:
    folder = workspace("http")
    moved, outside = folder.root / "moved", folder.root / "outside"
    shutil.copytree(folder.images, moved)
    shutil.copytree(folder.images, outside)
    shutil.rmtree(folder.images)
    (moved / IMAGES[MISSING_ROW]).unlink()
    (moved / IMAGES[SYMLINKED_ROW]).unlink()
    (moved / IMAGES[SYMLINKED_ROW]).symlink_to(outside / IMAGES[SYMLINKED_ROW])
    return folder


@pytest.fixture(scope="module")
def server(ws: Workspace, start_review: StartReview) -> Iterator[ReviewProcess]:
    with start_review(ws, "--images", "moved") as running:
        yield running


@pytest.fixture
def client(server: ReviewProcess) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.base, timeout=10) as http_client:
        yield http_client


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _raw(
    server: ReviewProcess, path: str, headers: dict[str, str] | None = None
) -> tuple[int, bytes]:
    """GET ``path`` exactly as written (no normalisation of ``..`` or ``%2f``)."""
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    try:
        conn.request("GET", path, headers=headers or {})
        answer = conn.getresponse()
        return answer.status, answer.read()
    finally:
        conn.close()


def _secure(answer: httpx.Response) -> None:
    csp = answer.headers.get("content-security-policy", "")
    assert "default-src 'none'" in csp and "frame-ancestors 'none'" in csp, answer.url
    assert answer.headers.get("x-content-type-options") == "nosniff", answer.url


def _record_count(ws: Workspace) -> int:
    return len(read_reviews(ws.reviews))


@pytest.mark.parametrize(("method", "path"), ROUTES)
def test_every_route_needs_the_token(
    client: httpx.Client, server: ReviewProcess, method: str, path: str
) -> None:
    body = APPROVE if method == "POST" else None
    for params, headers in (
        ({}, {}),
        ({"token": "x" + server.token[1:]}, {}),
        ({}, _bearer(server.token[:-1])),
        ({}, {"Authorization": f"Basic {server.token}"}),
        ({"token": ""}, {}),
    ):
        refused = client.request(method, path, params=params, headers=headers, content=body)
        assert refused.status_code == 401, (params, headers)
        assert refused.json() == {"error": "a valid token is required"}
        _secure(refused)
    allowed = client.request(method, path, headers=_bearer(server.token), content=body)
    assert allowed.status_code == 200
    _secure(allowed)
    if method == "GET":
        by_query = client.get(path, params={"token": server.token})
        assert by_query.status_code == 200
        assert by_query.content == allowed.content


def test_post_takes_the_token_from_the_header_only(
    client: httpx.Client, server: ReviewProcess, ws: Workspace
) -> None:
    before = _record_count(ws)
    refused = client.post("/api/rows/1/review", params={"token": server.token}, content=APPROVE)
    assert refused.status_code == 401
    assert _record_count(ws) == before
    done = client.post("/api/rows/1/review", headers=_bearer(server.token), content=APPROVE)
    assert done.status_code == 200
    assert done.json()["status"] == "approved"
    assert _record_count(ws) == before + 1


@pytest.mark.parametrize(
    "host", ["evil.example", "evil.example:{port}", "127.0.0.1:1", "127.0.0.2:{port}", ""]
)
def test_a_foreign_host_header_is_refused(server: ReviewProcess, host: str) -> None:
    """DNS rebinding: a page of another name pointed at 127.0.0.1 gets nothing."""
    headers = {"Host": host.format(port=server.port), **_bearer(server.token)}
    status, body = _raw(server, "/api/rows", headers)
    assert status == 403
    assert json.loads(body) == {"error": "wrong host"}
    for name in ("127.0.0.1", "localhost"):  # the names the server is reached by
        status, _ = _raw(server, "/api/rows", {**headers, "Host": f"{name}:{server.port}"})
        assert status == 200


def test_the_list_api(client: httpx.Client, server: ReviewProcess, ws: Workspace) -> None:
    answer = client.get("/api/rows", headers=_bearer(server.token))
    data = answer.json()
    assert data["filter"] == "needs_review"
    assert [r["row"] for r in data["rows"]] == list(FLAGGED)
    assert data["counts"]["all"] == len(ws.frame())
    vins = set(ws.frame()["vin"])
    assert not vins & {r["fields"].get("vin") for r in data["rows"]}, "VINs not masked"
    bad = client.get("/api/rows", params={"filter": "bogus"}, headers=_bearer(server.token))
    assert bad.status_code == 400
    assert "filter must be one of" in bad.json()["error"]


def test_an_image_is_served_from_the_images_folder(
    client: httpx.Client, server: ReviewProcess, ws: Workspace
) -> None:
    answer = client.get("/api/rows/1/image", headers=_bearer(server.token))
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "image/jpeg"
    assert answer.content == (ws.root / "moved" / IMAGES[1]).read_bytes()
    _secure(answer)


def _never_contents(status: int, body: bytes, *secrets: bytes) -> None:
    assert status in (400, 404), (status, body[:200])
    for secret in secrets:
        assert secret not in body


@pytest.mark.parametrize(
    "path",
    [
        "/static/..%2f_web.py",
        "/static/..%2F_session.py",
        "/static/%2e%2e%2f_web.py",
        "/static/%2e%2e/_web.py",
        "/static/../_web.py",
        "/static/..%5c_web.py",
        "/static/%2fetc%2fpasswd",
        "/static//etc/passwd",
        "/static/review.js%00.py",
        "/static/review.js/..%2f..%2f_web.py",
        "/static/__init__.py",
        "/api/rows/0/image/..%2f..%2f..%2fetc%2fpasswd",
        "/%2e%2e/%2e%2e/etc/passwd",
        "/rows/0/../../../etc/passwd",
    ],
)
def test_static_and_paths_reach_no_file(server: ReviewProcess, path: str) -> None:
    status, body = _raw(server, f"{path}?token={server.token}")
    _never_contents(status, body, b"def build_app", b"import ", b"root:x:0:0")


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/api/rows/0/image?page=../../etc/passwd", 400),
        ("/api/rows/0/image?page=%2Fetc%2Fpasswd", 400),
        ("/api/rows/1/image?page=-1", 400),
        ("/api/rows/1/image?page=2", 404),
        ("/api/rows/-1", 404),
        ("/api/rows/99999", 404),
        ("/api/rows/99999/image", 404),
        ("/rows/99999", 404),
        (f"/api/rows/{SYMLINKED_ROW}/image", 404),  # a symlink out of --images
        (f"/api/rows/{MISSING_ROW}/image", 404),
    ],
)
def test_rows_and_images_out_of_reach(
    server: ReviewProcess, ws: Workspace, path: str, status: int
) -> None:
    outside = (ws.root / "outside" / IMAGES[SYMLINKED_ROW]).read_bytes()
    sep = "&" if "?" in path else "?"
    got, body = _raw(server, f"{path}{sep}token={server.token}")
    assert got == status, body[:200]
    _never_contents(got, body, outside[:4096], b"root:x:0:0", str(ws.root).encode())
    assert "error" in json.loads(body)


def test_the_row_page_says_why_a_symlinked_image_is_not_shown(
    client: httpx.Client, server: ReviewProcess
) -> None:
    page = client.get(f"/rows/{SYMLINKED_ROW}", headers=_bearer(server.token))
    assert page.status_code == 200
    assert "Image not available: outside the images folder" in page.text
    assert "<img" not in page.text


def test_concurrent_reviews_lose_nothing(server: ReviewProcess, ws: Workspace) -> None:
    before = _record_count(ws)
    start = threading.Barrier(2)
    failures: list[str] = []

    def post(worker: int) -> None:
        with httpx.Client(base_url=server.base, headers=_bearer(server.token), timeout=30) as c:
            start.wait()
            for n in range(20):
                row = FLAGGED[n % len(FLAGGED)]
                note = {"decision": "reject", "note": f"worker {worker} #{n}"}
                answer = c.post(f"/api/rows/{row}/review", json=note)
                if answer.status_code != 200:
                    failures.append(f"{worker}/{n}: {answer.status_code} {answer.text}")

    threads = [threading.Thread(target=post, args=(w,)) for w in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert failures == []
    reviews = read_reviews(ws.reviews)
    assert len(reviews) == before + 40
    notes = set(reviews["note"].dropna())
    assert {f"worker {w} #{n}" for w in range(2) for n in range(20)} <= notes


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"not json", "body is not JSON"),
        (b"\xff\xfe", "body is not JSON"),
        (b"[]", "body must be a JSON object"),
        (b'{"decision": "maybe"}', "decision must be one of"),
        (b'{"decision": "correct"}', "needs at least one field"),
        (b'{"decision": "approve", "fields": {"vin": "X"}}', "only given with decision"),
        (b'{"decision": "correct", "fields": {"nope": "X"}}', "'nope' is not a field"),
        (b'{"decision": "correct", "fields": {"../../etc": "X"}}', "is not a field"),
        (b'{"decision": "correct", "fields": {"check_passed": "true"}}', "is not a field"),
        (b'{"decision": "correct", "fields": {"vin": 17}}', "value must be text"),
        (b'{"decision": "correct", "fields": ["vin"]}', "fields must be an object"),
        (b'{"decision": "approve", "note": 5}', "note must be text"),
        (b'{"decision": "correct", "fields": {"register_date": "24/11/2018"}}', "YYYY-MM-DD"),
        (b'{"decision": "correct", "fields": {"issue_date": "2018-13-45"}}', "YYYY-MM-DD"),
    ],
)
def test_bad_reviews_are_refused_with_a_message(
    client: httpx.Client, server: ReviewProcess, ws: Workspace, body: bytes, message: str
) -> None:
    before = _record_count(ws)
    answer = client.post("/api/rows/1/review", headers=_bearer(server.token), content=body)
    assert answer.status_code == 400
    assert message in answer.json()["error"]
    _secure(answer)
    assert _record_count(ws) == before


def test_a_date_correction_in_iso_form_is_recorded(
    client: httpx.Client, server: ReviewProcess, ws: Workspace
) -> None:
    body = {"decision": "correct", "fields": {"register_date": "2013-10-19"}}
    answer = client.post("/api/rows/4/review", headers=_bearer(server.token), json=body)
    assert answer.status_code == 200
    field = {f["name"]: f for f in answer.json()["fields"]}["register_date"]
    assert field["corrected"] == "2013-10-19"
    last = read_reviews(ws.reviews).iloc[-1]
    assert (last["row"], last["field"], last["new"]) == (4, "register_date", "2013-10-19")


def test_an_oversized_body_is_refused(client: httpx.Client, server: ReviewProcess) -> None:
    note = {"decision": "approve", "note": "x" * 70_000}
    answer = client.post("/api/rows/1/review", headers=_bearer(server.token), json=note)
    assert answer.status_code == 413


@pytest.mark.parametrize("method", ["PUT", "DELETE", "PATCH", "TRACE"])
def test_other_methods_are_refused_with_the_headers(
    client: httpx.Client, server: ReviewProcess, method: str
) -> None:
    for path in ("/", "/api/rows/1/review"):
        answer = client.request(method, path, headers=_bearer(server.token))
        assert answer.status_code == 405
        _secure(answer)


def test_static_files_are_the_packaged_ones(client: httpx.Client, server: ReviewProcess) -> None:
    folder = Path(review.__file__).parent / "static"
    for name, mime in (("review.js", "text/javascript"), ("review.css", "text/css")):
        answer = client.get(f"/static/{name}", headers=_bearer(server.token))
        assert answer.status_code == 200
        assert answer.headers["content-type"].startswith(mime)
        assert answer.content == (folder / name).read_bytes()


def test_head_and_a_lone_surrogate_are_answered_with_the_headers(
    client: httpx.Client, server: ReviewProcess
) -> None:
    answer = client.head(f"/?token={server.token}")
    assert answer.status_code == 200
    _secure(answer)
    body = b'{"decision": "approve", "note": "\\ud800"}'  # JSON for a lone surrogate
    answer = client.post(
        "/api/rows/1/review",
        content=body,
        headers={**_bearer(server.token), "content-type": "application/json"},
    )
    assert answer.status_code == 400
    _secure(answer)
