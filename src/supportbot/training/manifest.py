"""Run manifests: hardware, versions, git state, config hash, throughput and estimated cost.

Every training run writes ``<output_dir>/run_manifest.json`` and appends a row to
``results/training_runs.csv`` (see :mod:`supportbot.training.axolotl_plugin`).
"""

from __future__ import annotations

import csv
import os
from pathlib import Path
from typing import Any

import yaml

from supportbot.paths import RESULTS_DIR
from supportbot.provenance import (  # noqa: F401  (re-exported: the provenance helpers live there)
    BF16_FLAGS,
    PACKAGES,
    cpu_bf16_flags,
    cpu_model,
    git_state,
    hardware,
    package_versions,
    sha256_file,
)

PRICES_DEFAULT = Path(__file__).resolve().parents[1] / "configs" / "prices.yaml"

CSV_FIELDS = [
    "run_name", "finished_at", "git_commit", "config", "config_sha256", "base_model",
    "hardware", "device", "cores", "wall_time_s", "train_runtime_s", "global_steps", "epochs",
    "tokens_trained", "tokens_per_s", "peak_rss_gb", "peak_gpu_mem_gb",
    "final_train_loss", "final_eval_loss", "est_cost_usd",
]


sha256_text_file = sha256_file  # old name: sha256 of a (config) file's bytes


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
