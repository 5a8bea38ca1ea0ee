"""Execute every notebook in notebooks/ so they never rot.

Each runs in a fresh kernel of *this* interpreter (a throw-away kernelspec, so a
``python3`` kernel installed elsewhere on the machine is never picked up), with the
notebook's folder as working directory.  Notebooks are committed without outputs.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")

NOTEBOOK_DIR = Path(__file__).resolve().parents[1] / "notebooks"
NOTEBOOKS = sorted(NOTEBOOK_DIR.glob("*.ipynb"))
KERNEL = "ocr-frames-test"
CELL_TIMEOUT = 120  # seconds; each notebook is meant to run in well under 30


@pytest.fixture
def kernel_of_this_python(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    spec_dir = tmp_path / "jupyter" / "kernels" / KERNEL
    spec_dir.mkdir(parents=True)
    spec = {
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "ocr-frames tests",
        "language": "python",
    }
    (spec_dir / "kernel.json").write_text(json.dumps(spec), encoding="utf-8")
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "jupyter"))  # searched first
    monkeypatch.setenv("JUPYTER_PLATFORM_DIRS", "1")  # no jupyter_core migration warning
    monkeypatch.setenv("MPLBACKEND", "agg")  # plt.show() draws nothing, needs no display
    return KERNEL


def test_there_are_notebooks() -> None:
    assert [p.name for p in NOTEBOOKS][:1] == ["01_quickstart.ipynb"]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_is_committed_without_outputs(path: Path) -> None:
    notebook = nbformat.read(path, as_version=4)
    for cell in notebook.cells:
        if cell.cell_type == "code":
            assert not cell.outputs and cell.execution_count is None, f"{path.name}: clear outputs"


@pytest.mark.slow
@pytest.mark.timeout(180)
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_runs(path: Path, kernel_of_this_python: str, tmp_path: Path) -> None:
    from traitlets.config import Config

    config = Config()
    config.KernelManager.transport = "ipc"  # Unix sockets to the kernel, not TCP
    config.KernelManager.ip = str(tmp_path / "kernel")  # the sockets' path prefix
    notebook = nbformat.read(path, as_version=4)
    client = nbclient.NotebookClient(
        notebook,
        kernel_name=kernel_of_this_python,
        timeout=CELL_TIMEOUT,
        resources={"metadata": {"path": str(path.parent)}},
        config=config,
    )
    client.execute()  # raises CellExecutionError with the failing cell and its traceback
