"""Project paths and prompt loading. Every module finds files through here."""

from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(os.environ.get("SUPPORTBOT_ROOT", Path(__file__).resolve().parents[2]))
DATA_DIR = ROOT / "data"
PROMPTS_DIR = ROOT / "prompts"
MODELS_DIR = ROOT / "models"
OUTPUTS_DIR = ROOT / "outputs"
RESULTS_DIR = ROOT / "results"
CONFIGS_DIR = ROOT / "axolotl_configs"
LABELS_DIR = DATA_DIR / "labels"  # label sets of the judge (judge/RUBRIC.md) with their annotator records
JUDGE_CONFIGS_DIR = ROOT / "judge" / "configs"  # one YAML per judge (judge/README.md)
KB_DIR = DATA_DIR / "kb"  # the product knowledge base (*.md): retrieval, the judge's KB excerpts, kb_refs

DEFAULT_BASE_MODEL_DIR = MODELS_DIR / "smollm2-135m-instruct"
# the CPU default training recipe: axolotl_configs/<name>.yml, trained into outputs/<name>/ (its output_dir)
DEFAULT_RECIPE = "smollm2-135m-lora-cpu"
DEFAULT_TRAIN_CONFIG = CONFIGS_DIR / f"{DEFAULT_RECIPE}.yml"
DEFAULT_RUN_DIR = OUTPUTS_DIR / DEFAULT_RECIPE
DEFAULT_TUNED_DIR = DEFAULT_RUN_DIR / "merged"  # the merged LoRA the pipeline serves as "tuned"


def repo_relative(path: str | Path) -> str:
    """``path`` relative to the repository when it is inside it (no machine paths in committed results)."""
    try:
        return str(Path(path).resolve().relative_to(ROOT.resolve()))
    except ValueError:
        return str(path)

# the CPU default judge (judge/configs/<name>.yaml), chosen by src/supportbot/judge/compare.py (results/judge_comparison.json)
DEFAULT_JUDGE = "local-qwen1.5b-checklist"
SMALL_CHECKLIST_JUDGE = "local-qwen0.5b-checklist"  # the smoke run's judge (same code, about 3x faster)
SMALL_HOLISTIC_JUDGE = "local-qwen0.5b"  # the holistic scripts' default (one prompt per verdict)


class PromptFileError(ValueError):
    """A prompt name that is not a file under ``prompts/``."""


def prompt_path(name: str) -> Path:
    """``prompts/<name>`` (``.txt`` is added when missing). Only plain file names: a folder, ``..`` or an
    absolute path (a file outside prompts/) or a missing file raises :class:`PromptFileError`."""
    if not name or "/" in name or "\\" in name or name.startswith(".") or "\x00" in name:
        raise PromptFileError(f"{name!r} must be a file name in {PROMPTS_DIR} (no folders, no '..'), e.g. support_system")
    path = PROMPTS_DIR / (name if "." in name else f"{name}.txt")
    if not path.is_file():
        raise PromptFileError(f"{name!r}: no such prompt file {path}")
    return path


def load_prompt(name: str) -> str:
    """Return the text of ``prompts/<name>`` (see :func:`prompt_path`)."""
    return prompt_path(name).read_text(encoding="utf-8").strip()
