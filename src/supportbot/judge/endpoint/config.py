"""Judge configuration: one YAML per judge under ``judge/configs/`` (alpaca_eval-style)."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from supportbot.cli_errors import read_text
from supportbot.paths import JUDGE_CONFIGS_DIR, prompt_path

CONFIGS_DIR = JUDGE_CONFIGS_DIR


class ConfigError(ValueError):
    """A bad judge config; the message names the file and the field."""


class Decoding(BaseModel):
    """Decoding parameters sent with every judge request (part of the cache key)."""

    model_config = ConfigDict(extra="forbid")
    temperature: float = 0.0
    max_tokens: int = Field(200, ge=1)
    seed: int = 0
    top_logprobs: int = Field(5, ge=1, le=20)


class Prompts(BaseModel):
    """Prompt file names under ``prompts/`` (plain names, ``.txt`` optional: no folders, no ``..``)."""

    model_config = ConfigDict(extra="forbid")
    pairwise: str = "judge_pairwise"
    hallucination: str = "judge_hallucination"
    pairwise_logprobs: str = "judge_pairwise_logprobs"
    hallucination_logprobs: str = "judge_hallucination_logprobs"
    repair: str = "judge_repair"
    check: str = "judge_check"  # the checklist judge's yes/no check (src/supportbot/judge/graders/checks.py)

    @field_validator("*")
    @classmethod
    def _under_prompts(cls, v: str) -> str:
        prompt_path(v)  # a PromptFileError (a ValueError) becomes this field's validation error
        return v


class Budget(BaseModel):
    """How much of each answer / KB excerpt goes into a judge prompt (whitespace words)."""

    model_config = ConfigDict(extra="forbid")
    answer_words: int = Field(110, ge=10)  # ~150 tokens
    reference_words: int = Field(110, ge=10)
    kb_words: int = Field(120, ge=0)
    conversation_words: int = Field(120, ge=10)  # the last user turn first, then earlier turns
    facts_words: int = Field(80, ge=10)  # all key facts together
    forbidden_words: int = Field(60, ge=10)  # all forbidden claims together


class Launch(BaseModel):
    """Optional: a local server that ``run.py`` starts for the run when no --judge-base-url is given."""

    model_config = ConfigDict(extra="forbid")
    backend: Literal["supportbot", "vllm"] = "supportbot"
    model_dir: str
    timeout_s: float = 900.0
    enforce_eager: bool = False  # vllm: skip torch.compile (ready in ~45 s instead of ~170 s on CPU)
    max_model_len: int = 2048  # vllm
    # vllm: "auto" = bfloat16 where the CPU has native bf16 (avx512_bf16 / amx_bf16) or on CUDA, else float32
    # (bf16 is emulated and slow without those flags); or name one explicitly
    dtype: Literal["auto", "float32", "bfloat16"] = "float32"
    # vllm --block-size (CPU default 128): smaller KV blocks let the prefix cache reuse more of a shared prefix
    block_size: int | None = Field(None, ge=16)


# the key is sent as the Bearer token to base_url: only variables meant to hold an API key may be named, so a
# config cannot send another secret of the environment (a cloud token, a password) to an endpoint it chooses
API_KEY_ENV = re.compile(r"[A-Z][A-Z0-9_]*_API_KEY")


class JudgeConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str
    model: str
    base_url: str | None = None
    api_key_env: str = "SUPPORTBOT_API_KEY"
    prompts: Prompts = Prompts()
    decoding: Decoding = Decoding()
    verdict_mode: Literal["json", "logprobs"] = "json"
    # holistic: one pairwise / one hallucination prompt per judgment; checklist: every answer graded alone with
    # yes/no checks against its item's key facts and forbidden claims (src/supportbot/judge/graders/checks.py; logprob verdicts)
    judge_mode: Literal["holistic", "checklist"] = "holistic"
    price_per_1m_input: float = Field(0.0, ge=0)
    price_per_1m_output: float = Field(0.0, ge=0)
    concurrency: int = Field(1, ge=1)
    timeout_s: float = Field(120.0, gt=0)
    max_retries: int = Field(4, ge=0)
    budget: Budget = Budget()
    launch: Launch | None = None
    # defuse text addressed to the grader inside answers (fake verdict JSON, "ignore the rubric", "note to the
    # grader"): such text never belongs in a support answer; prompts without it are unchanged (same cache keys)
    sanitize_answers: bool = True
    notes: str = ""

    @field_validator("name")
    @classmethod
    def _safe_name(cls, v: str) -> str:
        if not v or any(c in v for c in "/\\ ") or v.startswith("."):
            raise ValueError("name must be a plain file-name-safe word (it names the cache file)")
        return v

    @field_validator("api_key_env")
    @classmethod
    def _api_key_name(cls, v: str) -> str:
        if not API_KEY_ENV.fullmatch(v):
            raise ValueError(f"{v!r} is not allowed: the variable's value is sent as the Bearer token to base_url, "
                             "so it must be named like an API key (upper case, ending in _API_KEY, e.g. OPENAI_API_KEY)")
        return v

    @property
    def uses_logprobs(self) -> bool:
        """Verdicts are read from the verdict token's logprobs (thresholds fitted by `calibrate`), not from JSON."""
        return self.verdict_mode == "logprobs"

    def api_key(self) -> str:
        """The key from ``$api_key_env`` ("EMPTY" for local servers); never stored or logged."""
        return os.environ.get(self.api_key_env) or "EMPTY"

    def with_launch(self, **changes: object) -> JudgeConfig:
        """A copy whose ``launch`` settings (e.g. dtype, block_size) are changed; unchanged without a launch."""
        return self.model_copy(update={"launch": self.launch.model_copy(update=changes)}) if self.launch else self

    def cost_usd(self, prompt_tokens: int, completion_tokens: int) -> float:
        return (prompt_tokens * self.price_per_1m_input + completion_tokens * self.price_per_1m_output) / 1e6


def resolve_config_path(name_or_path: str | Path) -> Path:
    """A path, or a bare name looked up as ``judge/configs/<name>.yaml``."""
    p = Path(name_or_path)
    if p.is_file():
        return p
    cand = CONFIGS_DIR / f"{name_or_path}.yaml"
    if cand.is_file():
        return cand
    known = ", ".join(sorted(x.stem for x in CONFIGS_DIR.glob("*.yaml")))
    raise ConfigError(f"judge config {name_or_path!r} not found (known: {known})")


def load_config(name_or_path: str | Path, **overrides: object) -> JudgeConfig:
    """Load and validate a judge YAML; non-None ``overrides`` (e.g. base_url, model) replace fields."""
    path = resolve_config_path(name_or_path)
    try:
        raw = yaml.safe_load(read_text(path, error=ConfigError)) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: invalid YAML: {exc}") from None
    except RecursionError:
        raise ConfigError(f"{path}: invalid YAML: nested too deeply") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: expected a mapping at the top level")
    raw.update({k: v for k, v in overrides.items() if v is not None})
    try:
        return JudgeConfig.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(str(x) for x in e['loc'])}: {e['msg']}" for e in exc.errors())
        raise ConfigError(f"{path}: {problems}") from None
