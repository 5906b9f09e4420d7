"""Cost estimate, price table override and the training_runs.csv writer."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from supportbot.training import manifest as mf


def test_cpu_cost_uses_core_hours():
    prices = {"cpu_per_core_hour": 0.05, "gpu_per_hour": {"default": 2.0}, "source": "x"}
    cost = mf.estimate_cost(3600, {"cpu_cores": 2, "gpu_count": 0, "gpu_name": None}, prices)
    assert cost["usd"] == pytest.approx(0.10)


def test_gpu_cost_matches_gpu_name():
    prices = {"cpu_per_core_hour": 0.05, "gpu_per_hour": {"H100": 3.0, "default": 2.0}, "source": "x"}
    hw = {"cpu_cores": 16, "gpu_count": 2, "gpu_name": "NVIDIA H100 80GB HBM3"}
    assert mf.estimate_cost(1800, hw, prices)["usd"] == pytest.approx(3.0)
    hw["gpu_name"] = "Some Future GPU"
    assert mf.estimate_cost(1800, hw, prices)["usd"] == pytest.approx(2.0)


def test_price_table_override_and_error(tmp_path: Path, monkeypatch):
    good = tmp_path / "p.yaml"
    good.write_text("cpu_per_core_hour: 1.5\ngpu_per_hour: {default: 9}\n")
    monkeypatch.setenv("SUPPORTBOT_PRICES", str(good))
    assert mf.load_prices()["cpu_per_core_hour"] == 1.5
    bad = tmp_path / "bad.yaml"
    bad.write_text("cpu: 1\n")
    with pytest.raises(ValueError, match="bad.yaml.*cpu_per_core_hour"):
        mf.load_prices(bad)


def test_bundled_price_table_loads():
    prices = mf.load_prices(mf.PRICES_DEFAULT)
    assert prices["cpu_per_core_hour"] > 0 and prices["gpu_per_hour"]["default"] > 0


def test_training_row_appends_with_one_header(tmp_path: Path):
    manifest = {
        "run_name": "r", "finished_at": "t", "git": {"commit": "a" * 40}, "config": {"path": "c.yml", "sha256": "b" * 64},
        "base_model": "m", "hardware": {"gpu_name": None, "cpu_model": "cpu", "gpu_count": 0, "cpu_cores": 2},
        "wall_time_s": 10, "train_runtime_s": 8, "global_steps": 3, "epochs": 1, "tokens_trained": 100,
        "tokens_per_s": 12.5, "peak_rss_gb": 1, "peak_gpu_mem_gb": None, "final_train_loss": 1.0,
        "final_eval_loss": 1.1, "cost": {"usd": 0.001},
    }
    path = tmp_path / "runs.csv"
    mf.append_training_row(manifest, path)
    mf.append_training_row(manifest, path)
    rows = list(csv.DictReader(path.open()))
    assert len(rows) == 2 and rows[0]["tokens_per_s"] == "12.5" and rows[0]["git_commit"] == "a" * 12


def test_hardware_and_versions_are_real():
    hw = mf.hardware()
    assert hw["cpu_cores"] >= 1 and hw["cpu_model"]
    versions = mf.package_versions()
    assert versions["torch"].startswith("2.") and "axolotl" in versions
