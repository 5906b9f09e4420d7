"""Axolotl plugin that writes the run manifest of every training run.

Enable it in an Axolotl YAML with::

    plugins:
      - supportbot.training.axolotl_plugin.RunManifestPlugin

Why a plugin and not log parsing: it works with the plain documented command
(``accelerate launch -m axolotl.cli.train cfg.yml``), it reads exact values from the Trainer's
state (token counts, losses, runtime) instead of scraping text whose format changes between
versions, and it runs inside the training process, so peak RSS / GPU memory are that process's own.
"""

from __future__ import annotations

import json
import os
import resource
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from axolotl.integrations.base import BasePlugin
from transformers import TrainerCallback

from supportbot.training import manifest as mf

try:  # the process start time, so wall time includes imports, model load and data preparation
    import psutil

    _PROCESS_START = psutil.Process().create_time()
except Exception:  # pragma: no cover - psutil is in requirements.txt
    _PROCESS_START = time.time()


def _peak_rss_gb() -> float:
    """Peak resident set size of this process (Linux reports KiB)."""
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2, 3)


class ManifestCallback(TrainerCallback):
    """Collects losses and runtime from the Trainer and writes the manifest at train end."""

    def __init__(self, cfg: Any, trainer: Any) -> None:
        self.cfg = cfg
        self.trainer = trainer
        self.train_losses: list[tuple[int, float]] = []
        self.eval_losses: list[tuple[int, float]] = []
        self.train_metrics: dict[str, float] = {}
        self.steps: list[tuple[int, float, int]] = []  # (global step, perf_counter at its end, tokens seen)

    def on_step_end(self, args, state, control, **kwargs):  # noqa: D102 - Trainer hook
        self.steps.append((state.global_step, time.perf_counter(), int(state.num_input_tokens_seen or 0)))

    def on_log(self, args, state, control, logs=None, **kwargs):  # noqa: D102 - Trainer hook
        logs = logs or {}
        if "loss" in logs:
            self.train_losses.append((state.global_step, float(logs["loss"])))
        if "eval_loss" in logs:
            self.eval_losses.append((state.global_step, float(logs["eval_loss"])))
        if "train_runtime" in logs:
            self.train_metrics = {k: float(v) for k, v in logs.items() if isinstance(v, int | float)}

    def on_train_end(self, args, state, control, **kwargs):  # noqa: D102 - Trainer hook
        if not state.is_world_process_zero:
            return
        manifest = self.build(state)
        out = Path(args.output_dir) / "run_manifest.json"
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(manifest, indent=2) + "\n")
        if os.environ.get("SUPPORTBOT_NO_RESULTS_ROW") != "1":
            mf.append_training_row(manifest)
        print(f"[supportbot] run manifest written to {out}", flush=True)

    def build(self, state: Any) -> dict[str, Any]:
        """Assemble the manifest dictionary from the Trainer state and the environment."""
        cfg = self.cfg
        hw = mf.hardware()
        wall = time.time() - _PROCESS_START
        runtime = self.train_metrics.get("train_runtime")
        tokens = int(state.num_input_tokens_seen or 0)
        peak_gpu = None
        try:
            import torch

            if torch.cuda.is_available():
                peak_gpu = round(torch.cuda.max_memory_allocated() / 1024**3, 3)
        except ImportError:
            pass
        config_path = cfg.get("axolotl_config_path")
        return {
            "run_name": Path(cfg.output_dir).name,
            "finished_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "config": {
                "path": os.path.relpath(config_path) if config_path else None,
                "sha256": mf.sha256_text_file(config_path) if config_path and Path(config_path).exists() else "",
            },
            "base_model": str(cfg.base_model),
            "adapter": cfg.get("adapter"),
            "seed": cfg.get("seed"),
            "output_dir": str(cfg.output_dir),
            "git": mf.git_state(),
            "hardware": hw,
            "packages": mf.package_versions(),
            "precision": _precision(self.trainer.args),
            "threads": {"OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS"), "torch": _torch_threads()},
            "wall_time_s": round(wall, 1),
            "train_runtime_s": round(runtime, 1) if runtime is not None else None,
            "global_steps": state.global_step,
            "epochs": round(float(state.epoch or 0), 3),
            "tokens_trained": tokens,
            "tokens_counting": "non-padding input tokens (attention mask), Trainer.state.num_input_tokens_seen",
            "tokens_per_s": round(tokens / runtime, 1) if runtime else None,
            "steady_tokens_per_s": steady_tokens_per_s(self.steps),
            "peak_rss_gb": _peak_rss_gb(),
            "peak_gpu_mem_gb": peak_gpu,
            "final_train_loss": self.train_losses[-1][1] if self.train_losses else None,
            "mean_train_loss": self.train_metrics.get("train_loss"),
            "final_eval_loss": self.eval_losses[-1][1] if self.eval_losses else None,
            "train_loss_curve": self.train_losses,
            "eval_loss_curve": self.eval_losses,
            "cost": mf.estimate_cost(wall, hw, mf.load_prices()),
        }


def steady_tokens_per_s(steps: list[tuple[int, float, int]]) -> float | None:
    """Tokens/s from the end of the first optimizer step to the end of the last (warm-up excluded;
    evaluation passes in between are included)."""
    if len(steps) < 2:
        return None
    (_, t0, n0), (_, t1, n1) = steps[0], steps[-1]
    return round((n1 - n0) / (t1 - t0), 1) if t1 > t0 else None


def _precision(args: Any) -> str:
    """What the Trainer computed in: "bf16" or "fp16" (autocast mixed precision; the optimizer keeps fp32
    weights unless the model was loaded in half precision) or "fp32"."""
    if getattr(args, "bf16", False):
        return "bf16"
    if getattr(args, "fp16", False):
        return "fp16"
    return "fp32"


def _torch_threads() -> int | None:
    try:
        import torch

        return torch.get_num_threads()
    except ImportError:  # pragma: no cover
        return None


class RunManifestPlugin(BasePlugin):
    """Registers :class:`ManifestCallback` and turns on non-padding token counting."""

    def add_callbacks_post_trainer(self, cfg, trainer):  # noqa: D102 - Axolotl hook
        trainer.args.include_num_input_tokens_seen = "non_padding"
        return [ManifestCallback(cfg, trainer)]
