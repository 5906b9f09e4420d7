"""Start the judge's local server for the duration of a run (config ``launch:``), or use a given URL."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

from judge.config import JudgeConfig
from supportbot.paths import ROOT


@contextlib.contextmanager
def judge_endpoint(cfg: JudgeConfig) -> Iterator[JudgeConfig]:
    """Yield ``cfg`` with a usable ``base_url``: as configured, or from a server started here and stopped after."""
    if cfg.base_url or cfg.launch is None:
        yield cfg
        return
    model_dir = Path(cfg.launch.model_dir)
    model_dir = model_dir if model_dir.is_absolute() else ROOT / model_dir
    if not (model_dir / "config.json").is_file():
        raise FileNotFoundError(f"judge model folder {model_dir} is missing (for the Qwen judge: "
                                "`python scripts/bootstrap_judge.py`)")
    if cfg.launch.backend == "supportbot":
        from supportbot.serve.process import ServerProcess

        with ServerProcess.supportbot(models={cfg.model: str(model_dir)}, name=f"judge-{cfg.name}",
                                      timeout=cfg.launch.timeout_s) as srv:
            print(f"judge server: {srv.base_url} ({cfg.model} from {model_dir}), log {srv.log_path}", flush=True)
            yield cfg.model_copy(update={"base_url": srv.base_url})
        return
    from supportbot import vllm_server

    vcfg = vllm_server.VllmConfig(model_dir=model_dir, name=cfg.model, port=0)
    vllm_server.start(vcfg, timeout=cfg.launch.timeout_s)
    try:
        yield cfg.model_copy(update={"base_url": vcfg.url})
    finally:
        vllm_server.stop(cfg.model, quiet=True)
