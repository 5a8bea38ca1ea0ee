"""The README's runnable examples are executed, so they cannot rot."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import ocr_frames as of
from tests.helpers import ImageFiles

README = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")


def _block_after(heading: str) -> str:
    section = README.split(heading, 1)[1]
    match = re.search(r"```python\n(.*?)```", section, re.S)
    assert match, f"no python example under {heading}"
    return match.group(1)


def test_emulator_example_runs(image_files: ImageFiles, capsys: pytest.CaptureFixture[str]) -> None:
    code = _block_after("## The emulator")
    exec(code, {"of": of, "paths": image_files(3)})  # our own README
    assert capsys.readouterr().out.strip() == "3"  # it prints emu.total_billed


def test_quickstart_commands_are_the_first_lines() -> None:
    first = README.split("```bash\n", 1)[1].split("```", 1)[0]
    assert first.splitlines()[0].startswith("make demo")
    assert first.splitlines()[1].startswith("make test")
