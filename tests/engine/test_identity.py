"""The WeChat engine's identity (part of every cache key) tells backends apart."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

import ocr_frames as of
from ocr_frames.testing import WeChatEmulator
from tests.helpers import make_png
from tests.netservers import PathGateway


@pytest.mark.parametrize(
    "base_url",
    [
        None,
        "https://api.weixin.qq.com",
        "https://api.weixin.qq.com/",
        "HTTPS://API.Weixin.QQ.com:443/",
    ],
)
def test_the_default_platform_keeps_its_identity(base_url: str | None) -> None:
    # users' existing caches are keyed by this exact string: it must never change
    assert of.WeChatEngine(appid="a", secret="b", base_url=base_url).identity == "wechat"


def _digest(path: str) -> str:
    return "/~" + hashlib.sha256(path.encode()).hexdigest()[:12]


@pytest.mark.parametrize(
    ("base_url", "identity"),
    [
        ("http://127.0.0.1:9/", "wechat@http://127.0.0.1:9"),
        ("HTTPS://GW.example/prod-wechat/", "wechat@https://gw.example" + _digest("/prod-wechat")),
        (
            "https://gw.example:443/staging-mock",
            "wechat@https://gw.example" + _digest("/staging-mock"),
        ),
        ("http://gw.example:80/a/b/", "wechat@http://gw.example" + _digest("/a/b")),
        ("http://gw.example:8080/a", "wechat@http://gw.example:8080" + _digest("/a")),
        ("https://user:pa55@gw.example/x", "wechat@https://gw.example" + _digest("/x")),
        ("http://[::1]:8080/a", "wechat@http://[::1]:8080" + _digest("/a")),
        ("https://api.weixin.qq.com/v2", "wechat@https://api.weixin.qq.com" + _digest("/v2")),
        # pinned: changing the digest would orphan gateway users' caches
        ("https://gw.example/k-9f8e7d6c5b4a", "wechat@https://gw.example/~937ea9c0ca65"),
    ],
)
def test_identity_names_scheme_host_port_and_a_digest_of_the_path(
    base_url: str, identity: str
) -> None:
    assert of.WeChatEngine(access_token="t", base_url=base_url).identity == identity
    assert "k-9f8e" not in identity  # a key in the path never reaches files


def test_backends_that_differ_in_one_part_differ_in_identity() -> None:
    urls = [
        "https://gw.example/prod-wechat",
        "https://gw.example/staging-mock",
        "http://gw.example/prod-wechat",
        "https://gw.example:8443/prod-wechat",
        "https://other.example/prod-wechat",
    ]
    identities = {of.WeChatEngine(access_token="t", base_url=u).identity for u in urls}
    assert len(identities) == len(urls)


def _run(engine: of.WeChatEngine, image: Path, cache: Path) -> bool:
    df = of.recognize([str(image)], "idcard", engine=engine, cache_dir=cache, progress=False)
    assert df["errcode"].tolist() == [0]
    return bool(df["cached"][0])


def test_two_paths_on_one_gateway_never_share_answers(tmp_path: Path) -> None:
    image = tmp_path / "a.png"
    image.write_bytes(make_png(11))
    cache = tmp_path / "cache"
    with WeChatEmulator() as prod, WeChatEmulator() as staging:
        upstreams = {"prod-wechat": prod.base_url, "staging-mock": staging.base_url}
        with PathGateway(upstreams) as gateway:
            first = of.WeChatEngine(
                appid=prod.appid, secret=prod.secret, base_url=f"{gateway.url}/prod-wechat"
            )
            second = of.WeChatEngine(
                appid=staging.appid, secret=staging.secret, base_url=f"{gateway.url}/staging-mock"
            )
            assert _run(first, image, cache) is False
            assert _run(second, image, cache) is False  # asked, not answered from prod's cache
            assert _run(first, image, cache) is True
            assert _run(second, image, cache) is True
        assert prod.total_billed == 1 and staging.total_billed == 1
    assert first.identity != second.identity


def test_two_credentials_on_one_backend_share_answers(tmp_path: Path) -> None:
    image = tmp_path / "a.png"
    image.write_bytes(make_png(12))
    cache = tmp_path / "cache"
    with WeChatEmulator() as emu:
        by_secret = of.WeChatEngine(appid=emu.appid, secret=emu.secret, base_url=emu.base_url)
        by_token = of.WeChatEngine(access_token=emu.issue_token(), base_url=emu.base_url + "/")
        assert by_secret.identity == by_token.identity
        assert _run(by_secret, image, cache) is False
        assert _run(by_token, image, cache) is True
        assert emu.total_billed == 1


def test_repr_shows_no_credentials_of_the_base_url() -> None:
    engine = of.WeChatEngine(access_token="t", base_url="https://u:pa55@gw.example/x?sig=abc#f")
    assert repr(engine) == "WeChatEngine(appid=None, base_url='https://gw.example/x')"
