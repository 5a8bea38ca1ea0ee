"""The package's shape, read from its source: no import cycle, no import inside a function
(optional extras aside), no module over 500 lines, a top level that holds only the facade and
the concern folders, the layer order (:data:`LAYERS`), the ``_``-modules of a public package
kept to that package (:data:`SEAMS` aside), and a facade whose names import and are
documented.

Each rule is a plain function over module sources, so each is also shown failing on a
small made-up package below the real check.
"""

from __future__ import annotations

import ast
import importlib
import importlib.metadata
import re
import sys
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest

import ocr_frames
from tests.helpers import REPO

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

PACKAGE = "ocr_frames"
MAX_LINES = 500
TOP_LEVEL_FILES = frozenset({"__init__.py", "_version.py", "_errors.py", "kinds.py", "py.typed"})
LAYERS: tuple[frozenset[str], ...] = tuple(
    frozenset(names.split())
    for names in (
        "_errors _version kinds",
        "_base _numbers",
        "_http",
        "_cache",
        "_sources _quality",
        "_engine",
        "wechat _server",
        "local testing",
        "_tables",
        "checks mask review",
        "_run",
        "dask cli cascade",
    )
)
"""Lowest first: a module may import its own layer's and lower layers' modules only (the
facade ``ocr_frames/__init__.py`` stands above them all)."""
PUBLIC_MODULES = (
    "wechat",
    "checks",
    "mask",
    "review",
    "cascade",
    "local",
    "testing",
    "dask",
    "kinds",
)
PUBLIC_PACKAGES = (*PUBLIC_MODULES, "cli")
"""Their ``_``-modules are their own: no other concern imports one (see :data:`SEAMS`)."""
SEAMS = frozenset({("_run", f"{PACKAGE}.checks._stream")})
"""(importing folder, private module of a public package) pairs allowed all the same: the
run drives ``checks._stream``, the streaming form of ``add_checks``."""
EXTRAS_LEFT_OUT = frozenset({"dev", "samples"})
"""Optional-dependency groups that are not extras of the package: test tools, and fonts
used only to regenerate ``sample_data/``."""


@dataclass(frozen=True)
class Module:
    name: str
    source: str
    is_package: bool = False


def read_package(root: Path = REPO / PACKAGE) -> dict[str, Module]:
    modules = {}
    for path in sorted(root.rglob("*.py")):
        parts = path.relative_to(root.parent).with_suffix("").parts
        is_package = parts[-1] == "__init__"
        name = ".".join(parts[:-1] if is_package else parts)
        modules[name] = Module(name, path.read_text(encoding="utf-8"), is_package)
    return modules


def package_of(modules: Mapping[str, Module], name: str) -> str:
    """The package a relative import in ``name`` starts from."""
    return name if modules[name].is_package else name.rpartition(".")[0]


# --- walking one module's imports --------------------------------------------------------


@dataclass(frozen=True)
class Import:
    targets: tuple[str, ...]  # `import a, b.c`: a, b.c; `from a import b, c`: a, a.b, a.c
    is_from: bool
    text: str
    line: int
    in_function: bool


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _targets(node: ast.Import | ast.ImportFrom, package: str) -> tuple[str, ...]:
    if isinstance(node, ast.Import):
        return tuple(alias.name for alias in node.names)
    if node.level:  # relative
        base = package.split(".")
        base = base[: len(base) - node.level + 1]
        module = ".".join([*base, node.module] if node.module else base)
    else:
        module = node.module or ""
    # `from a import b` loads a.b when b is a module: offer both, the graph keeps what exists
    return (module, *(f"{module}.{alias.name}" for alias in node.names if alias.name != "*"))


def imports(module: Module, package: str) -> Iterator[Import]:
    """Every import statement of ``module`` outside ``if TYPE_CHECKING:`` blocks."""

    def walk(nodes: Iterable[ast.AST], in_function: bool) -> Iterator[Import]:
        for node in nodes:
            if isinstance(node, ast.If) and _is_type_checking(node):
                yield from walk(node.orelse, in_function)
                continue
            if isinstance(node, ast.Import | ast.ImportFrom):
                is_from = isinstance(node, ast.ImportFrom)
                targets = _targets(node, package)
                yield Import(targets, is_from, ast.unparse(node), node.lineno, in_function)
            nested = isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda)
            yield from walk(ast.iter_child_nodes(node), in_function or nested)

    yield from walk(ast.parse(module.source).body, False)


# --- the rules ---------------------------------------------------------------------------


def import_graph(modules: Mapping[str, Module]) -> dict[str, set[str]]:
    """Module -> the package's modules it imports.  Imports inside functions count too: a
    cycle hidden in a function body is still a cycle (and is forbidden there anyway)."""
    graph: dict[str, set[str]] = {name: set() for name in modules}
    for name, module in modules.items():
        for statement in imports(module, package_of(modules, name)):
            if statement.is_from:  # from a import b, c: the submodules b and c, or else a
                first, *names = statement.targets
                found = [target for target in names if target in modules]
                found = found or ([first] if first in modules else [])
            else:
                found = [target for target in statement.targets if target in modules]
            graph[name].update(target for target in found if target != name)
    return graph


def cycles(graph: Mapping[str, Iterable[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in graph.get(node, ()):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return sorted(found)


def function_imports(modules: Mapping[str, Module], allowed: frozenset[str]) -> list[str]:
    """``module:line target`` for each import inside a function of a module not in
    ``allowed`` (top-level names of optional extras)."""
    bad = []
    for name, module in sorted(modules.items()):
        for statement in imports(module, package_of(modules, name)):
            loaded = statement.targets[:1] if statement.is_from else statement.targets
            roots = {target.partition(".")[0] for target in loaded}
            if statement.in_function and not roots <= allowed:
                bad.append(f"{name}:{statement.line}: {statement.text}")
    return bad


def long_modules(modules: Mapping[str, Module], limit: int = MAX_LINES) -> list[str]:
    counts = {name: len(module.source.splitlines()) for name, module in modules.items()}
    return [f"{name}: {n} lines" for name, n in sorted(counts.items()) if n > limit]


def top_level_strays(entries: Iterable[tuple[str, bool]]) -> list[str]:
    """Entries ``(name, is_package_folder)`` of the package folder that are neither an
    allowed file nor a package folder."""
    return sorted(
        name
        for name, is_package in entries
        if name != "__pycache__" and name not in TOP_LEVEL_FILES and not is_package
    )


def layer(name: str) -> int:
    parts = name.split(".")
    if len(parts) == 1:
        return len(LAYERS)  # the facade
    for rank, names in enumerate(LAYERS):
        if parts[1] in names:
            return rank
    raise LookupError(f"{name} is in no layer: add its folder to LAYERS in {__name__}")


def layer_violations(graph: Mapping[str, Iterable[str]]) -> list[str]:
    bad = []
    for name, targets in sorted(graph.items()):
        if name == PACKAGE:
            continue
        for target in sorted(targets):
            if layer(target) > layer(name):
                bad.append(f"{name} (layer {layer(name)}) imports {target} ({layer(target)})")
    return bad


def _private_in_public(name: str) -> str | None:
    """The public package whose ``_``-module ``name`` is (None for any other module)."""
    parts = name.split(".")
    private = any(p.startswith("_") and not p.startswith("__") for p in parts[2:])
    return parts[1] if len(parts) > 2 and parts[1] in PUBLIC_PACKAGES and private else None


def private_reaches(graph: Mapping[str, Iterable[str]]) -> list[str]:
    """``a imports b`` for each module ``a`` outside the public package of the ``_``-module
    ``b`` (the facade and :data:`SEAMS` aside)."""
    bad = []
    for name, targets in sorted(graph.items()):
        if name == PACKAGE:
            continue
        folder = name.split(".")[1]
        for target in sorted(targets):
            owner = _private_in_public(target)
            if owner is not None and owner != folder and (folder, target) not in SEAMS:
                bad.append(f"{name} imports {target}")
    return bad


def undocumented(public: Mapping[str, Iterable[str]], docs: str) -> list[str]:
    """``module.name`` for each exported name no document mentions as a word."""
    words = set(re.findall(r"[A-Za-z_][A-Za-z0-9_]*", docs))
    return [
        f"{module}.{name}"
        for module, names in public.items()
        for name in names
        if name not in words
    ]


def isort_key(name: str) -> tuple[int, str]:
    """The order ruff's RUF022 keeps ``__all__`` in: CONSTANTS, Classes, then the rest."""
    if len(name) > 1 and name.isupper():
        return 0, name
    return (1 if name[:1].isupper() else 2), name


def optional_extras(pyproject: Path = REPO / "pyproject.toml") -> frozenset[str]:
    """Top-level import names of the packages only the optional extras install."""
    project = tomllib.loads(pyproject.read_text(encoding="utf-8"))["project"]

    def dist(requirement: str) -> str:
        name = re.match(r"[A-Za-z0-9._-]+", requirement)
        assert name, requirement
        return re.sub(r"[-_.]+", "-", name.group()).lower()

    required = {dist(r) for r in project["dependencies"]}
    optional = {
        dist(r)
        for group, requirements in project["optional-dependencies"].items()
        if group not in EXTRAS_LEFT_OUT
        for r in requirements
    } - required
    provided: dict[str, set[str]] = {}
    for top, dists in importlib.metadata.packages_distributions().items():
        for name in dists:
            provided.setdefault(dist(name), set()).add(top)
    return frozenset(
        top for name in optional for top in provided.get(name, {name.replace("-", "_")})
    )


# --- the package -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def modules() -> dict[str, Module]:
    return read_package()


def test_no_import_cycle(modules: dict[str, Module]) -> None:
    found = cycles(import_graph(modules))
    assert not found, "import cycles:\n" + "\n".join(" <-> ".join(c) for c in found)


def test_no_import_inside_a_function_but_optional_extras(modules: dict[str, Module]) -> None:
    bad = function_imports(modules, optional_extras())
    assert not bad, "imports inside functions:\n" + "\n".join(bad)


def test_no_module_over_500_lines(modules: dict[str, Module]) -> None:
    bad = long_modules(modules)
    assert not bad, "modules over 500 lines:\n" + "\n".join(bad)


def test_top_level_holds_the_facade_and_concern_folders() -> None:
    root = REPO / PACKAGE
    entries = [(p.name, p.is_dir() and (p / "__init__.py").is_file()) for p in root.iterdir()]
    assert not top_level_strays(entries)


def test_lower_layers_never_import_higher_ones(modules: dict[str, Module]) -> None:
    bad = layer_violations(import_graph(modules))
    assert not bad, "layer order broken:\n" + "\n".join(bad)


def test_no_concern_imports_a_public_packages_private_modules(modules: dict[str, Module]) -> None:
    bad = private_reaches(import_graph(modules))
    assert not bad, "private modules of a public package imported from outside it:\n" + (
        "\n".join(bad)
    )


def test_facade_all_is_sorted_and_every_name_imports() -> None:
    names = ocr_frames.__all__
    assert names == sorted(names, key=isort_key)
    assert len(set(names)) == len(names)
    missing = [name for name in names if not hasattr(ocr_frames, name)]
    assert not missing


def test_every_public_name_is_documented() -> None:
    public = {
        f"{PACKAGE}.{name}": importlib.import_module(f"{PACKAGE}.{name}").__all__
        for name in PUBLIC_MODULES
    }
    docs = "\n".join(
        p.read_text(encoding="utf-8") for p in [REPO / "README.md", *(REPO / "docs").glob("*.md")]
    )
    bad = undocumented(public, docs)
    assert not bad, "exported but mentioned in no README.md or docs/*.md:\n" + "\n".join(bad)


# --- each rule fails on a made-up package ------------------------------------------------


def fake(**sources: str) -> dict[str, Module]:
    """``pkg__a="..."`` is module ``ocr_frames.a``; a name ending ``__init`` a package."""
    modules = {}
    for key, source in sources.items():
        parts = [PACKAGE, *key.split("__")[1:]]
        is_package = parts[-1] == "init"
        name = ".".join(parts[:-1] if is_package else parts)
        modules[name] = Module(name, source, is_package)
    return modules


def test_a_cycle_through_a_submodule_import_is_found() -> None:
    modules = fake(
        pkg___base__init="",
        pkg___base__a="from ocr_frames._base import b\n",
        pkg___base__b="def f():\n    from ocr_frames._base.a import x\n",
        pkg___base__c="from ocr_frames._base.a import y\n",
    )
    graph = import_graph(modules)
    assert graph["ocr_frames._base.a"] == {"ocr_frames._base.b"}
    assert cycles(graph) == [["ocr_frames._base.a", "ocr_frames._base.b"]]


def test_a_relative_cycle_is_found_and_type_checking_imports_are_not_edges() -> None:
    modules = fake(
        pkg___cache__init="from .store import S\n",
        pkg___cache__store="from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n    from ocr_frames._cache import tools\n",
        pkg___cache__tools="from . import store\n",
    )
    assert cycles(import_graph(modules)) == []
    modules["ocr_frames._cache.store"] = Module(
        "ocr_frames._cache.store", "from ocr_frames._cache import tools\n"
    )
    assert cycles(import_graph(modules)) == [["ocr_frames._cache.store", "ocr_frames._cache.tools"]]


def test_imports_inside_functions_are_found_unless_extras() -> None:
    modules = fake(
        pkg__a="import json\n"
        "def f():\n    import fsspec\n    import json\n"
        "class C:\n    async def g(self):\n        from ocr_frames import kinds\n"
        "h = lambda: __import__('x')\n"
        "from typing import TYPE_CHECKING\n"
        "def t():\n    if TYPE_CHECKING:\n        from os import path\n"
        "    else:\n        import os, fsspec.core\n",
    )
    assert function_imports(modules, frozenset({"fsspec"})) == [
        "ocr_frames.a:4: import json",
        "ocr_frames.a:7: from ocr_frames import kinds",
        "ocr_frames.a:14: import os, fsspec.core",
    ]


def test_optional_extras_are_read_from_pyproject(tmp_path: Path) -> None:
    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_text(
        '[project]\ndependencies = ["Pillow>=10", "httpx"]\n'
        '[project.optional-dependencies]\ndev = ["pytest"]\n'
        'local = ["opencv-python-headless>=4", "Pillow", "Not_Installed.Pkg>=1"]\n'
    )
    assert optional_extras(pyproject) == {"cv2", "not_installed_pkg"}
    real = optional_extras()
    assert {"fsspec", "pypdfium2", "pillow_heif", "rapidocr", "onnxruntime", "opencc"} <= real
    assert {"distributed", "dask", "polars", "cv2"} <= real
    assert not {"PIL", "httpx", "pandas", "pytest", "ocr_frames"} & real


def test_long_modules_are_found() -> None:
    modules = fake(pkg__short="x = 1\n" * MAX_LINES, pkg__long="x = 1\n" * (MAX_LINES + 1))
    assert long_modules(modules) == [f"ocr_frames.long: {MAX_LINES + 1} lines"]


def test_top_level_strays_are_found() -> None:
    entries = [("__init__.py", False), ("kinds.py", False), ("_cache", True), ("__pycache__", True)]
    assert top_level_strays(entries) == []
    assert top_level_strays([*entries, ("cache.py", False), ("notes", False)]) == [
        "cache.py",
        "notes",
    ]


def test_layer_violations_are_found() -> None:
    modules = fake(
        pkg__init="from ocr_frames.cli import main\n",
        pkg___cache__store="from ocr_frames._base.files import f\nfrom ocr_frames import kinds\n",
        pkg___base__files="from ocr_frames._cache.store import S\n",
        pkg__local__x="from ocr_frames.testing import t\n",
        pkg__testing__init="import ocr_frames\n",
        pkg__kinds="",
        pkg__cli__init="",
    )
    assert layer_violations(import_graph(modules)) == [
        "ocr_frames._base.files (layer 1) imports ocr_frames._cache.store (3)",
        f"ocr_frames.testing (layer 7) imports ocr_frames ({len(LAYERS)})",
    ]
    with pytest.raises(LookupError, match="_newfolder"):
        layer("ocr_frames._newfolder.m")


def test_private_modules_reached_from_another_concern_are_found() -> None:
    sources = {
        "pkg__init": "from ocr_frames.wechat._engine import E\n",  # the facade may
        "pkg__wechat__init": "from ocr_frames.wechat._engine import E\n",  # its own package
        "pkg__wechat___engine": "from ocr_frames.wechat import _parse\n",
        "pkg__checks___stream": "from ocr_frames.checks._apply import V\n",
        "pkg___run__audit": "from ocr_frames.checks._stream import S\n"  # the seam
        "from ocr_frames.checks._apply import V\n",
        "pkg__cli___main": "from ocr_frames.wechat import _engine, WeChatEngine\n",
        "pkg__dask__init": "from ocr_frames.checks._stream import S\n",  # the seam is _run's
        "pkg__local__layouts__cards": "from ocr_frames.local.layouts._base import B\n",
        "pkg__local___serve": "from ocr_frames.local.layouts import _base\n",
    }
    empty = "wechat___parse checks__init checks___apply local__init local__layouts__init"
    empty += " local__layouts___base"
    modules = fake(**sources, **dict.fromkeys([f"pkg__{m}" for m in empty.split()], ""))
    assert private_reaches(import_graph(modules)) == [
        "ocr_frames._run.audit imports ocr_frames.checks._apply",
        "ocr_frames.cli._main imports ocr_frames.wechat._engine",
        "ocr_frames.dask imports ocr_frames.checks._stream",
    ]


def test_unsorted_all_and_undocumented_names_are_found() -> None:
    assert sorted(["f", "Cls", "CONST", "__version__"], key=isort_key) == [
        "CONST",
        "Cls",
        "__version__",
        "f",
    ]
    docs = "Call `recognize(...)`; see WeChatClient.\n"
    public = {"m": ["recognize", "WeChatClient", "secret_helper", "recog"]}
    assert undocumented(public, docs) == ["m.secret_helper", "m.recog"]
