"""What every benchmark shares: the machine, the emulator process, test images, clocks.

Nothing here talks to anything but 127.0.0.1: the emulator is started by us on a free
loopback port, and :func:`loopback_only` makes sure no proxy setting can reroute that
traffic.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import platform
import random
import resource
import subprocess
import sys
import time
import unicodedata
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
PLOTS = ROOT / "bench" / "plots"

#: Packages whose versions go into every report.
PACKAGES = (
    "ocr-frames",
    "httpx",
    "httpcore",
    "anyio",
    "h11",
    "pandas",
    "pyarrow",
    "numpy",
    "diskcache",
    "wechatpy",
    "requests",
    "matplotlib",
)

#: A JPEG as far as ``ocr_frames._sources.sniff`` and the emulator look (magic + EOI marker).
JPEG_HEAD = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"
JPEG_TAIL = b"\xff\xd9"


def loopback_only() -> None:
    """Drop proxy settings, so that traffic to the emulator stays on 127.0.0.1.

    (Removing them, not setting ``NO_PROXY``: any proxy variable, ``NO_PROXY`` included,
    makes ``WeChatEngine`` fall back from its lean transport to httpx's own.)
    """
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY"):
        os.environ.pop(name, None)
        os.environ.pop(name.lower(), None)


# --- the machine ---------------------------------------------------------------------


def _cpu_model() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def _cpu_flags() -> set[str]:
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("flags"):
                return set(line.split(":", 1)[1].split())
    return set()


def _ram_gib() -> float:
    with contextlib.suppress(OSError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) / 1024**2
    return float("nan")


def load_average() -> tuple[float, float, float]:
    try:
        return os.getloadavg()
    except OSError:
        return (float("nan"),) * 3


def machine() -> dict[str, Any]:
    """The machine and software the numbers were measured on."""
    versions = {}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return {
        "nproc": os.cpu_count(),
        "cpu": _cpu_model(),
        "sha_ni": "sha_ni" in _cpu_flags(),
        "ram_gib": round(_ram_gib(), 1),
        "os": f"{platform.system()} {platform.release()}",
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "packages": versions,
        "loadavg_start": [round(x, 2) for x in load_average()],
    }


# --- clocks ---------------------------------------------------------------------------


def cpu_seconds() -> float:
    """CPU time (user + system) of this process, all threads."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def process_cpu_seconds(pid: int) -> float:
    """CPU time (user + system) of another process, from /proc (Linux)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return float("nan")
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@dataclass
class Timed:
    wall: float = 0.0
    cpu: float = 0.0


@contextlib.contextmanager
def timed() -> Iterator[Timed]:
    """Wall and CPU seconds of the block (CPU: this process, every thread)."""
    out = Timed()
    wall, cpu = time.perf_counter(), cpu_seconds()
    try:
        yield out
    finally:
        out.wall = time.perf_counter() - wall
        out.cpu = cpu_seconds() - cpu


# --- the emulator, in a process of its own --------------------------------------------


@dataclass
class EmulatorProcess:
    base_url: str
    pid: int
    latency: float

    def cpu(self) -> float:
        return process_cpu_seconds(self.pid)


@contextlib.contextmanager
def emulator(latency: float) -> Iterator[EmulatorProcess]:
    """``python -m ocr_frames.testing serve`` on a free loopback port, stopped on exit.

    A separate process, so that client and server do not share a GIL.
    """
    command = [
        sys.executable,
        "-m",
        "ocr_frames.testing",
        "serve",
        "--port",
        "0",
        "--latency",
        repr(latency),
    ]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, text=True, cwd=ROOT)
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline().strip()
        if not first.startswith("base_url: http://127.0.0.1:"):
            raise RuntimeError(f"emulator did not start: {first!r}")
        yield EmulatorProcess(first.split(" ", 1)[1], proc.pid, latency)
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def credentials() -> tuple[str, str]:
    from ocr_frames.testing import DEFAULT_APPID, DEFAULT_SECRET

    return DEFAULT_APPID, DEFAULT_SECRET


def engine(base_url: str) -> Any:
    import ocr_frames as of

    appid, secret = credentials()
    return of.WeChatEngine(appid=appid, secret=secret, base_url=base_url)


# --- images --------------------------------------------------------------------------


def jpeg(payload: bytes) -> bytes:
    """Bytes that pass for a JPEG (magic, then ``payload``, then the EOI marker)."""
    return JPEG_HEAD + payload + JPEG_TAIL


def small_images(n: int, *, size: int = 2048, seed: int = 0) -> list[bytes]:
    """``n`` distinct small JPEG-like images of ``size`` bytes (random payload)."""
    rng = random.Random(seed)
    pool = rng.randbytes(size + 64 * 1024)
    body = size - len(JPEG_HEAD) - len(JPEG_TAIL) - 8
    out = []
    for i in range(n):
        start = rng.randrange(0, len(pool) - body)
        out.append(jpeg(i.to_bytes(8, "big") + pool[start : start + body]))
    return out


def write_images(
    folder: Path, n: int, *, min_size: int, max_size: int, seed: int = 0
) -> tuple[list[str], int]:
    """Write ``n`` distinct JPEG-like files of ``min_size``..``max_size`` bytes.

    Fast: every file is a random slice of one random pool behind a unique 8-byte id (so
    every sha256 differs).  Returns (paths, total bytes).
    """
    folder.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    pool = memoryview(rng.randbytes(max_size + 4 * 1024 * 1024))
    frame = len(JPEG_HEAD) + len(JPEG_TAIL) + 8
    paths, total = [], 0
    for i in range(n):
        size = rng.randint(min_size, max_size)
        start = rng.randrange(0, len(pool) - size)
        path = folder / f"img_{i:06d}.jpg"
        with open(path, "wb") as f:
            f.write(JPEG_HEAD)
            f.write(i.to_bytes(8, "big"))
            f.write(pool[start : start + size - frame])
            f.write(JPEG_TAIL)
        paths.append(os.fspath(path))
        total += size
    return paths, total


def sha256_all(images: Sequence[bytes]) -> float:
    """Seconds to sha256 every image once (what the pipeline pays for hashing)."""
    started = time.perf_counter()
    for image in images:
        hashlib.sha256(image).hexdigest()
    return time.perf_counter() - started


# --- results ---------------------------------------------------------------------------


def source_digest(folder: Path, pattern: str = "*.py") -> str:
    """Digest of the source files under ``folder`` matching ``pattern``: results made
    from code that has since changed are made again."""
    digest = hashlib.sha256()
    for path in sorted(folder.glob(pattern)):
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def save(name: str, result: dict[str, Any]) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n")
    return path


def load(name: str) -> dict[str, Any] | None:
    path = RESULTS / f"{name}.json"
    return json.loads(path.read_text()) if path.exists() else None


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# --- scoring answers against a truth --------------------------------------------------
def norm(value: Any) -> str:
    """A value as fields are compared: NFKC, all whitespace removed."""
    return "".join(unicodedata.normalize("NFKC", str(value)).split())


def price(value: Any) -> float | None:
    """A menu price as a number to two decimals (None: not a number)."""
    try:
        return round(float(value), 2)
    except (TypeError, ValueError):
        return None
