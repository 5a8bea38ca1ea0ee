"""Access tokens as the platform hands them out, retires them and lets them expire.

Two channels, as on the platform: ``/cgi-bin/token`` ("token") and ``/cgi-bin/stable_token``
("stable_token").  A new token retires the older tokens *of its own channel* after the
grace period; the stable channel is isolated from the other one, which is exactly why
the platform recommends it for servers and batch jobs.
"""

from __future__ import annotations

import math
import secrets
import time
from dataclasses import dataclass

__all__ = ["TokenBook"]


@dataclass
class _Token:
    channel: str
    expires_at: float
    invalid_from: float = math.inf
    expired: bool = False

    def error(self, now: float) -> int:
        if now >= self.invalid_from:
            return 40001
        return 42001 if self.expired or now >= self.expires_at else 0


class TokenBook:
    """Every live token; not thread-safe: the emulator calls it with its lock held."""

    def __init__(self) -> None:
        self._tokens: dict[str, _Token] = {}
        self._current: dict[str, str] = {}

    def grant(self, channel: str, *, ttl: float, grace: float, force: bool) -> tuple[str, int]:
        """The channel's token and its ``expires_in``: a new one if forced or no longer valid."""
        now = time.monotonic()
        current = self._current.get(channel, "")
        token = self._tokens.get(current)
        if not force and token is not None and token.error(now) == 0:
            return current, math.ceil(token.expires_at - now)
        retire_at = now + grace
        for old in self._tokens.values():
            if old.channel == channel:
                old.invalid_from = min(old.invalid_from, retire_at)
        # a retired token answers 40001 just like one never issued: forget it
        self._tokens = {k: t for k, t in self._tokens.items() if t.invalid_from > now}
        new = secrets.token_urlsafe(96)
        self._tokens[new] = _Token(channel, now + ttl)
        self._current[channel] = new
        return new, max(1, math.ceil(ttl))

    def check(self, access_token: str) -> int:
        """0 for a valid token, else 41001 (missing), 40001 (invalid) or 42001 (expired)."""
        if not access_token:
            return 41001
        token = self._tokens.get(access_token)
        return 40001 if token is None else token.error(time.monotonic())

    def expire_all(self) -> None:
        """Every token issued so far answers 42001 from now on."""
        for token in self._tokens.values():
            token.expired = True
        self._current.clear()

    def invalidate_all(self) -> None:
        """Every token issued so far answers 40001 from now on."""
        self._tokens.clear()
        self._current.clear()
