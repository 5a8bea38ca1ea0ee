"""The sharded connection pool, against the emulator over real HTTP."""

from __future__ import annotations

import asyncio

import httpx

from ocr_frames._http.sharded import ShardedTransport
from ocr_frames.testing import WeChatEmulator


def _token_url(emu: WeChatEmulator) -> str:
    return f"/cgi-bin/token?grant_type=client_credential&appid={emu.appid}&secret={emu.secret}"


def test_shards_follow_concurrency_and_release_connections() -> None:
    with WeChatEmulator(latency=0.05) as emu:
        transport = ShardedTransport(shard_size=4)

        async def main() -> list[int]:
            async with httpx.AsyncClient(transport=transport, base_url=emu.base_url) as client:
                url = _token_url(emu)
                responses = await asyncio.gather(*(client.get(url) for _ in range(18)))
                assert transport.shards == 5  # ceil(18 / 4): a new shard only when all are full
                assert transport._load == [0] * 5  # every response released its slot
                second = await asyncio.gather(*(client.get(url) for _ in range(6)))
                assert transport.shards == 5  # idle shards are reused, not multiplied
                return [r.status_code for r in [*responses, *second]]

        assert asyncio.run(main()) == [200] * 24


def test_max_shards_caps_growth() -> None:
    with WeChatEmulator(latency=0.02) as emu:
        transport = ShardedTransport(shard_size=2, max_shards=3)

        async def main() -> None:
            async with httpx.AsyncClient(transport=transport, base_url=emu.base_url) as client:
                url = _token_url(emu)
                done = await asyncio.gather(*(client.get(url) for _ in range(12)))
                assert all(r.status_code == 200 for r in done)
            assert transport.shards == 3

        asyncio.run(main())
