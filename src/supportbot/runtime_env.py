"""Environment defaults: telemetry off, offline hub when no network, CPU when no GPU."""

from __future__ import annotations

import os

SAFE_DEFAULTS = {
    "AXOLOTL_DO_NOT_TRACK": "1",  # an offline PostHog flush hung axolotl at exit for 10 minutes
    "WANDB_MODE": "disabled",
    "HF_HUB_DISABLE_TELEMETRY": "1",
    "DO_NOT_TRACK": "1",
    "VLLM_NO_USAGE_STATS": "1",
    "TOKENIZERS_PARALLELISM": "false",
}


def has_cuda() -> bool:
    """True when an NVIDIA GPU is visible (checked without importing torch)."""
    if os.environ.get("CUDA_VISIBLE_DEVICES", None) == "":
        return False
    return os.path.exists("/dev/nvidia0") or os.path.exists("/dev/nvidiactl")


def apply_safe_env(env: dict[str, str] | None = None, *, offline: bool | None = None) -> dict[str, str]:
    """Fill telemetry-off defaults (never overriding the user's values) into ``env``.

    ``offline`` sets ``HF_HUB_OFFLINE=1``; by default it is set when no GPU is present (the CPU
    default loads everything from local folders). On CPU-only machines ``CUDA_VISIBLE_DEVICES``
    is set to empty so no library probes for CUDA.
    """
    target = os.environ if env is None else env
    for key, value in SAFE_DEFAULTS.items():
        target.setdefault(key, value)
    cuda = has_cuda()
    if offline if offline is not None else not cuda:
        target.setdefault("HF_HUB_OFFLINE", "1")
    if not cuda:
        target.setdefault("CUDA_VISIBLE_DEVICES", "")
    return target
