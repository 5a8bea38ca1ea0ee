"""ReviewServer in-process: listening from construction, the browser launch file."""

from __future__ import annotations

import socket
import webbrowser
from collections.abc import Callable
from pathlib import Path

import pytest

from ocr_frames.review import ReviewServer, ReviewSession
from tests.review.conftest import Workspace


@pytest.fixture
def session(workspace: Callable[[str], Workspace]) -> ReviewSession:
    ws = workspace("server")
    return ReviewSession(ws.output, base_dir=ws.root)


def test_the_url_answers_as_soon_as_it_is_printed(session: ReviewSession) -> None:
    server = ReviewServer(session)
    try:
        # the browser may connect before uvicorn runs: the connection waits, not refused
        with socket.create_connection(("127.0.0.1", server.port), timeout=2):
            pass
    finally:
        server.socket.close()


def test_the_browser_is_sent_the_token_through_a_private_file(
    session: ReviewSession, monkeypatch: pytest.MonkeyPatch
) -> None:
    opened: list[str] = []
    monkeypatch.setattr(webbrowser, "open", lambda uri: opened.append(uri) or True)
    server = ReviewServer(session)
    try:
        assert server.open_browser()
        (uri,) = opened
        assert server.token not in uri  # not on a command line that `ps` shows
        page = Path(uri.removeprefix("file://"))
        assert page.stat().st_mode & 0o777 == 0o600
        assert server.url in page.read_text(encoding="utf-8")
    finally:
        server.socket.close()
        assert server._launch_dir is not None
        server._launch_dir.cleanup()
