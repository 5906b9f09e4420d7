"""Service settings (pydantic) and the command line of ``python -m supportbot.serve``."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from pydantic import BaseModel, Field, SecretStr, model_validator

from supportbot.paths import KB_DIR

API_KEY_ENV = "SUPPORTBOT_API_KEY"
DEFAULT_MAX_BODY_BYTES = 1 << 20  # 1 MiB: ~30x the JSON of a prompt at the default input cap, even all \uXXXX


def port_number(value: str) -> int:
    """A TCP port, 1..65535 (argparse type)."""
    try:
        port = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a port number: {value!r}") from None
    if not 1 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"port {port} is out of range: use 1..65535")
    return port


class Settings(BaseModel):
    models: dict[str, Path] = Field(default_factory=dict, description="name -> local model folder")
    upstream: str | None = None
    host: str = "127.0.0.1"
    port: int = Field(8080, ge=1, le=65535)
    max_tokens_cap: int = Field(1024, ge=1)
    default_max_tokens: int = Field(256, ge=1)
    max_input_tokens: int = Field(2048, ge=1)
    queue_size: int = Field(64, ge=1)
    max_batch_size: int = Field(16, ge=1)
    batch_wait_ms: float = Field(5.0, ge=0)
    max_body_bytes: int = Field(DEFAULT_MAX_BODY_BYTES, ge=1)
    system_prompt: str = "support_system"
    kb_dir: Path | None = None  # retrieval for /ask over this KB folder (--kb); None: off
    api_key: SecretStr | None = None  # from $SUPPORTBOT_API_KEY only; SecretStr keeps it out of reprs and logs

    @model_validator(mode="after")
    def _one_backend(self) -> Settings:
        if bool(self.models) == bool(self.upstream):
            raise ValueError("give either --model name=dir (one or more) or --upstream URL, not both")
        self.default_max_tokens = min(self.default_max_tokens, self.max_tokens_cap)
        return self


def _model_arg(value: str) -> tuple[str, Path]:
    if "=" not in value:
        raise argparse.ArgumentTypeError(f"expected name=dir, got {value!r}")
    name, d = value.split("=", 1)
    if not name or not d:
        raise argparse.ArgumentTypeError(f"expected name=dir, got {value!r}")
    return name, Path(d)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m supportbot.serve",
        description="The supportbot service: OpenAI-compatible /v1/chat/completions, /v1/models, /ask, "
                    "/healthz, a web chat page at / and API docs at /docs. Serves local model folders in "
                    f"process (--model) or forwards to an OpenAI-compatible endpoint (--upstream). If ${API_KEY_ENV} "
                    "is set, every API route needs 'Authorization: Bearer <key>'.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--model", action="append", type=_model_arg, default=[], metavar="NAME=DIR",
                   help="serve a local safetensors model folder under NAME (repeatable; the first is the default)")
    p.add_argument("--upstream", metavar="URL", help="OpenAI-compatible base URL to forward to, e.g. http://127.0.0.1:8000/v1 "
                   "(its key, if any, from $SUPPORTBOT_UPSTREAM_API_KEY)")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=port_number, default=8080)
    p.add_argument("--max-tokens-cap", type=int, default=1024, help="requests asking for more get 422")
    p.add_argument("--default-max-tokens", type=int, default=256, help="max_tokens when a request gives none")
    p.add_argument("--max-input-tokens", type=int, default=2048, help="longer prompts (chat template included) get 422")
    p.add_argument("--queue-size", type=int, default=64,
                   help="requests waiting or running per model (in flight, for --upstream); more get 503")
    p.add_argument("--max-batch-size", type=int, default=16, help="in-process backend: rows decoded together")
    p.add_argument("--batch-wait-ms", type=float, default=5.0,
                   help="in-process backend: how long the worker collects requests into one batch")
    p.add_argument("--max-body-bytes", type=int, default=DEFAULT_MAX_BODY_BYTES,
                   help="request bodies above this many bytes get 413 before they are parsed")
    p.add_argument("--kb", action="store_true", help="answer /ask with the KB passages retrieved for the question "
                   "in the prompt (prompts/support_kb.txt), returned with the answer")
    p.add_argument("--kb-dir", type=Path, default=None, help="knowledge base folder for --kb (default: data/kb)")
    p.add_argument("--log-level", default="info", choices=["critical", "error", "warning", "info", "debug"])
    return p


def settings_from_args(argv: list[str] | None = None) -> tuple[Settings, argparse.Namespace]:
    p = build_parser()
    a = p.parse_args(argv)
    names = [n for n, _ in a.model]
    if len(set(names)) != len(names):
        p.error(f"--model names must be unique, got {names}")
    key = os.environ.get(API_KEY_ENV) or None
    try:
        s = Settings(models=dict(a.model), upstream=a.upstream, host=a.host, port=a.port,
                     max_tokens_cap=a.max_tokens_cap, default_max_tokens=a.default_max_tokens,
                     max_input_tokens=a.max_input_tokens, queue_size=a.queue_size, max_batch_size=a.max_batch_size,
                     batch_wait_ms=a.batch_wait_ms, max_body_bytes=a.max_body_bytes,
                     kb_dir=(a.kb_dir or KB_DIR) if a.kb else None, api_key=SecretStr(key) if key else None)
    except ValueError as exc:
        p.error(str(exc))
    return s, a
