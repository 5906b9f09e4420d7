"""Axolotl plugin: bf16 mixed precision on CPUs with native bf16, fp32 elsewhere, chosen automatically.

Enable it in an Axolotl YAML (keep Axolotl's own ``bf16: false``: on CPU, Axolotl 0.19's
``bf16: true`` stops in transformers' TrainingArguments with "Your setup doesn't support bf16/gpu"
and would also load the weights in bf16)::

    plugins:
      - supportbot.training.cpu_precision.CpuPrecisionPlugin
    cpu_bf16: auto        # auto (default) | true | false

On a machine without CUDA, ``auto`` turns bf16 autocast on when ``/proc/cpuinfo`` lists
``avx512_bf16`` or ``amx_bf16`` (weights, LoRA parameters and optimizer state stay fp32; matmuls
run in bf16), and leaves fp32 otherwise: without native bf16 the CPU emulates it, which is slower
than fp32. It does so through the plugin hook whose dict Axolotl merges into the
TrainingArguments: ``{"use_cpu": True, "bf16": True}``. On a GPU the plugin does nothing (the
GPU configs set Axolotl's own ``bf16``). The choice is written to the run manifest.
"""

from __future__ import annotations

from typing import Any, Literal

from axolotl.integrations.base import BasePlugin
from pydantic import BaseModel

from supportbot.training.manifest import cpu_bf16_flags


class CpuPrecisionArgs(BaseModel):
    """The plugin's config key (validated with the rest of the Axolotl YAML)."""

    cpu_bf16: bool | Literal["auto"] = "auto"


def choose_precision(setting: bool | str, *, cuda: bool, flags: list[str]) -> str:
    """``"bf16"`` or ``"fp32"`` for a CPU run (``"gpu-config"`` when CUDA decides)."""
    if cuda:
        return "gpu-config"
    if setting == "auto":
        return "bf16" if flags else "fp32"
    if setting is True:
        return "bf16"
    if setting is False:
        return "fp32"
    raise ValueError(f"cpu_bf16 must be auto, true or false, got {setting!r}")


def _cuda() -> bool:
    import torch

    return torch.cuda.is_available()


class CpuPrecisionPlugin(BasePlugin):
    """Sets ``use_cpu`` and ``bf16`` in the TrainingArguments on CPUs with native bf16."""

    def get_input_args(self) -> str:  # noqa: D102 - Axolotl hook
        return "supportbot.training.cpu_precision.CpuPrecisionArgs"

    def get_training_args(self, cfg: Any) -> dict[str, Any] | None:  # noqa: D102 - Axolotl hook
        flags = cpu_bf16_flags()
        precision = choose_precision(cfg.get("cpu_bf16", "auto"), cuda=_cuda(), flags=flags)
        print(f"[supportbot] CPU precision: {precision} (cpu_bf16={cfg.get('cpu_bf16', 'auto')}, "
              f"native bf16 flags: {', '.join(flags) or 'none'})", flush=True)
        if precision == "bf16":
            return {"use_cpu": True, "bf16": True, "fp16": False}
        return None
