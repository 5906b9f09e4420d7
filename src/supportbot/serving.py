"""Serve one model folder over an OpenAI-compatible API for the duration of a ``with`` block.

    from supportbot.serving import serve_model

    with serve_model("vllm", "tuned", Path("outputs/run1/merged"), enforce_eager=True) as base_url:
        ...  # base_url is "http://127.0.0.1:<port>/v1"; leaving the block stops the server

Engines: ``"vllm"`` starts ``supportbot.vllm_server`` on a free port (``vllm_server.start`` / ``stop``);
``"app"`` starts the project's FastAPI service with its in-process transformers backend
(``ServerProcess.supportbot``).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from supportbot import vllm_server
from supportbot.serve.process import ServerProcess

__all__ = ["ENGINES", "serve_model"]

ENGINES = ("vllm", "app")


@contextlib.contextmanager
def serve_model(
    engine: str,
    name: str,
    model_dir: Path,
    *,
    enforce_eager: bool = False,
    timeout: float | None = None,
    label: str | None = None,
    quiet: bool = False,
    on_ready: Callable[[str, Path], None] | None = None,
    on_start: Callable[[dict[str, Any]], None] | None = None,
    **opts: Any,
) -> Iterator[str]:
    """Serve ``model_dir`` as model ``name`` until the block ends; yields the /v1 base URL.

    Args:
        engine: ``"vllm"`` or ``"app"``.
        enforce_eager: vLLM's ``--enforce-eager`` (skip torch.compile); the app ignores it.
        timeout: seconds to wait for readiness (default: ``vllm_server.start``'s 900, ``ServerProcess``'s 180).
        label: the app's pid/log file label (``outputs/servers/<label>-<port>.*``, default ``supportbot``);
            vLLM's files are always ``outputs/servers/vllm-<name>.*``.
        quiet: vLLM only: no "starting ..." / "ready after ..." lines (``vllm_server.start(quiet=True)``).
        on_ready: called with (base URL, log file) once the server is ready, before the block runs.
        on_start: vLLM only: called with ``vllm_server.start``'s record (url, pid, argv, ready_s, OMP binding,
            KV cache size) once the server is ready, for benches that report how it was started.
        **opts: more ``VllmConfig`` fields for vLLM (``max_model_len``, ``dtype``, ``extra_args`` ...), more
            ``ServerProcess.supportbot`` keywords for the app (``extra_args``, ``extra_env`` ...).

    Raises ``vllm_server.VllmServerError`` or ``serve.process.ServerStartError`` when the server does not start.
    """
    if engine not in ENGINES:
        raise ValueError(f"engine must be one of {', '.join(ENGINES)}; got {engine!r}")
    if engine == "app":
        if timeout is not None:
            opts["timeout"] = timeout
        if label is not None:
            opts["name"] = label
        with ServerProcess.supportbot(models={name: str(model_dir)}, **opts) as srv:
            if on_ready:
                on_ready(srv.base_url, srv.log_path)
            yield srv.base_url
        return
    cfg = vllm_server.VllmConfig(model_dir=model_dir, name=name, port=0, enforce_eager=enforce_eager, **opts)
    start_kw: dict[str, Any] = {"timeout": timeout} if timeout is not None else {}
    if quiet:
        start_kw["quiet"] = True
    record = vllm_server.start(cfg, **start_kw)
    try:
        if on_start:
            on_start(record)
        if on_ready:
            on_ready(cfg.url, vllm_server.log_path(name))
        yield cfg.url
    finally:
        vllm_server.stop(name, quiet=True)
