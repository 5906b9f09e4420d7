#!/usr/bin/env bash
# Serve a model folder with vLLM's OpenAI-compatible API, in the background, and return once
# /v1/models answers. The logic lives in src/supportbot/vllm_server.py (stdlib only).
#
#   scripts/serve_vllm.sh models/smollm2-135m-instruct base --port 8000
#   scripts/serve_vllm.sh outputs/<run>/merged tuned --port 8001          # a merged LoRA
#   scripts/serve_vllm.sh models/smollm2-135m-instruct base --lora tuned=outputs/<run>   # adapter instead of merging
#   scripts/serve_vllm.sh status
#   scripts/serve_vllm.sh stop [name]
#
# CUDA machine: runs `vllm serve <dir>` (requirements-vllm-gpu.txt). CPU default: runs
# `.venv-vllm/bin/python -m vllm.entrypoints.openai.api_server --model <dir>` with --dtype float32,
# VLLM_CPU_KVCACHE_SPACE=1 and --max-model-len 2048. `--help` lists every option.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
py="${SUPPORTBOT_PYTHON:-$root/.venv/bin/python}"
[ -x "$py" ] || py="$(command -v python3)"
export PYTHONPATH="$root/src${PYTHONPATH:+:$PYTHONPATH}"
exec "$py" -m supportbot.vllm_server "$@"
