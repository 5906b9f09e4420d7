"""Start the judge's local server for a run (config ``launch:``) when it is first needed, or use a given URL."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

from supportbot.judge.endpoint.config import JudgeConfig
from supportbot.paths import ROOT
from supportbot.runtime_env import has_cuda
from supportbot.serving import serve_model
from supportbot.training.manifest import cpu_bf16_flags


class LazyServer:
    """Call it to get the base URL; the first call starts the server. ``close()`` stops it if started."""

    def __init__(self, cfg: JudgeConfig) -> None:
        self.cfg = cfg
        self._stack = contextlib.ExitStack()
        self._url: str | None = None

    def __call__(self) -> str:
        if self._url is None:
            self._url = self._stack.enter_context(_serve(self.cfg))
        return self._url

    def close(self) -> None:
        self._stack.close()


@contextlib.contextmanager
def judge_endpoint(cfg: JudgeConfig) -> Iterator[LazyServer | None]:
    """Yield a :class:`LazyServer` when the config launches its own server (and no base URL is set), else None."""
    if cfg.base_url or cfg.launch is None:
        yield None
        return
    lazy = LazyServer(cfg)
    try:
        yield lazy
    finally:
        lazy.close()


def launch_dtype(setting: str, *, cuda: bool | None = None, flags: list[str] | None = None) -> str | None:
    """The vLLM ``--dtype`` for a launch setting: "auto" is bfloat16 with CUDA or native CPU bf16, else float32.

    None on CUDA lets the server pick (its own "auto")."""
    if setting != "auto":
        return setting
    if has_cuda() if cuda is None else cuda:
        return None
    return "bfloat16" if (cpu_bf16_flags() if flags is None else flags) else "float32"


@contextlib.contextmanager
def _serve(cfg: JudgeConfig) -> Iterator[str]:
    model_dir = Path(cfg.launch.model_dir)
    model_dir = model_dir if model_dir.is_absolute() else ROOT / model_dir
    if not (model_dir / "config.json").is_file():
        raise FileNotFoundError(f"judge model folder {model_dir} is missing (for the Qwen judge: "
                                "`python scripts/bootstrap_judge.py`)")
    if cfg.launch.backend == "supportbot":
        def announce(base_url: str, log: Path) -> None:
            print(f"judge server: {base_url} ({cfg.model} from {model_dir}), log {log}", flush=True)

        with serve_model("app", cfg.model, model_dir, timeout=cfg.launch.timeout_s, label=f"judge-{cfg.name}",
                         on_ready=announce) as base_url:
            yield base_url
        return
    extra_args = ["--block-size", str(cfg.launch.block_size)] if cfg.launch.block_size else []
    with serve_model("vllm", cfg.model, model_dir, enforce_eager=cfg.launch.enforce_eager,
                     timeout=cfg.launch.timeout_s, max_model_len=cfg.launch.max_model_len,
                     dtype=launch_dtype(cfg.launch.dtype), extra_args=extra_args) as base_url:
        yield base_url
