"""Must hold 7: a malicious or broken server yields per-row errors within timeouts -
never a hang, never an unbounded allocation."""

from __future__ import annotations

import json
import time
import tracemalloc
from collections.abc import Iterator
from http.server import ThreadingHTTPServer

import pytest

import ocr_frames as of
from tests.helpers import QuietHandler, make_png, serving

MODES = ["huge", "invalid_json", "wrong_types", "deep", "slow_loris", "ok"]


class _Evil(QuietHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", 0))
        self.rfile.read(length)
        if self.path.startswith("/cgi-bin/stable_token"):
            return self._send(b'{"access_token": "evil-token-1234", "expires_in": 7200}')
        mode = self.server.modes.pop(0)  # type: ignore[attr-defined]
        if mode == "huge":  # 200 MB of JSON-looking bytes, no length
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Connection", "close")
            self.end_headers()
            try:
                self.wfile.write(b'{"errcode": 0, "number": "')
                for _ in range(3200):
                    self.wfile.write(b"9" * 65536)
            except OSError:
                pass
            return
        if mode == "invalid_json":
            return self._send(b'{"errcode": 0, "number": "62')
        if mode == "wrong_types":
            return self._send(json.dumps({"errcode": "zero", "number": ["6222"]}).encode())
        if mode == "deep":
            return self._send(b'{"errcode": 0, "x": ' + b"[" * 200_000 + b"]" * 200_000 + b"}")
        if mode == "slow_loris":  # a valid answer, one byte every 0.2 s
            body = b'{"errcode": 0, "errmsg": "ok", "number": "6222020200112233445"}'
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            try:
                for byte in body:
                    self.wfile.write(bytes([byte]))
                    self.wfile.flush()
                    time.sleep(0.2)
            except OSError:
                pass
            return
        return self._send(b'{"errcode": 0, "errmsg": "ok", "number": "6222020200112233445"}')

    def _send(self, body: bytes) -> None:
        self.send_body(body, content_type="text/plain")


@pytest.fixture
def evil() -> Iterator[ThreadingHTTPServer]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Evil)
    server.daemon_threads = True
    server.modes = list(MODES)  # type: ignore[attr-defined]
    with serving(server):
        yield server


def test_malicious_server_gives_per_row_errors_in_bounded_time_and_memory(
    evil: ThreadingHTTPServer,
) -> None:
    engine = of.WeChatEngine(
        appid="wx-evil",
        secret="evil-secret",
        base_url=f"http://127.0.0.1:{evil.server_address[1]}",
        timeout=5.0,
        client_options={"deadline": 3.0},
    )
    images = [make_png(i) for i in range(len(MODES))]
    tracemalloc.start()
    started = time.monotonic()
    try:
        df = of.recognize(
            images,
            "bankcard",
            engine=engine,
            cache_dir=False,
            progress=False,
            concurrency=1,
            retry=of.RetryPolicy(max_attempts=1),
        )
    finally:
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    elapsed = time.monotonic() - started
    codes = dict(zip(MODES, df["errcode"].tolist(), strict=True))
    assert codes == {
        "huge": 900010,  # body cap (4 MB) hit while streaming
        "invalid_json": 900010,
        "wrong_types": 900010,
        "deep": 900010,
        "slow_loris": 900009,  # whole-call deadline
        "ok": 0,
    }, df["errmsg"].tolist()
    assert df["number"].tolist()[-1] == "6222020200112233445"
    assert elapsed < 20
    assert peak < 64 * 1024 * 1024, f"peak traced allocation {peak / 1e6:.0f} MB"
    assert all("evil-token-1234" not in m and "evil-secret" not in m for m in df["errmsg"])
