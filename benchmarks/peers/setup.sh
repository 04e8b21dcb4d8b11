#!/usr/bin/env bash
# Creates the optional peer environments of benchmarks/throughput.py, one virtual environment
# per sentence-transformers backend, at the repository's root (git-ignored):
#   .venv-peer-onnx      sentence-transformers[onnx]      (optimum-onnx, onnxruntime)
#   .venv-peer-openvino  sentence-transformers[openvino]  (optimum-intel, openvino)
# Their extras may pin other transformers/optimum releases than bertviz_kit needs, so each
# lives apart; the benchmark runs each peer in its own process with its own interpreter.
# torch 2.13.0 goes in first: an unpinned torch would pull a multi-GB CUDA build.
# benchmarks/throughput.py exports the bundled model offline (HF_HUB_OFFLINE=1) to ONNX and
# OpenVINO IR under .peer-models/ (git-ignored) the first time it runs a peer.
# Usage:  bash benchmarks/peers/setup.sh [onnx] [openvino]    (a few GB of disk)
set -euo pipefail -o noglob  # noglob: the pins below hold '*'
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
PYTHON="${PYTHON:-python3}"
# sentence-transformers release per backend: optimum-onnx 0.1 needs transformers < 4.58, which
# sentence-transformers 6 (transformers >= 5) does not accept; optimum-intel 2.2 takes transformers 5.
# torch==2.13.0 is pinned again with the extra: optimum-intel needs torchvision, whose newest
# release would otherwise upgrade torch to a CUDA build. The pins spare pip a long backtracking
# search (tens of minutes on a busy 2-core machine).
declare -A PINS=(
  [onnx]="torch==2.13.0 sentence-transformers[onnx]==5.7.0 optimum-onnx[onnxruntime]==0.1.0 optimum==2.1.* transformers==4.57.* huggingface-hub<1.0"
  [openvino]="torch==2.13.0 sentence-transformers[openvino]==6.3.0 optimum-intel[openvino]==2.2.0 transformers>=5.0,<5.6"
)
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 TOKENIZERS_PARALLELISM=false
backends=("$@")
[ ${#backends[@]} -eq 0 ] && backends=(onnx openvino)
for b in "${backends[@]}"; do
  venv="$ROOT/.venv-peer-$b"
  echo "== $venv"
  [ -x "$venv/bin/python" ] || "$PYTHON" -m venv "$venv"
  rm -f "$venv/.installed"
  "$venv/bin/python" -m pip install -q torch==2.13.0
  # shellcheck disable=SC2086  # the pins are words
  "$venv/bin/python" -m pip install -q ${PINS[$b]}
  # optimum-intel pulls torchvision, whose PyPI wheel may not load with the CPU build of torch
  # ("operator torchvision::nms does not exist"); transformers imports it whenever it is installed,
  # and text models never use it: remove it when it does not load.
  if ! "$venv/bin/python" -c "import torchvision" 2>/dev/null && "$venv/bin/python" -m pip show -q torchvision 2>/dev/null; then
    "$venv/bin/python" -m pip uninstall -y -q torchvision
  fi
  "$venv/bin/python" -c "import sentence_transformers, transformers, torch; print('sentence-transformers', sentence_transformers.__version__, 'transformers', transformers.__version__, 'torch', torch.__version__)"
  touch "$venv/.installed"  # benchmarks/throughput.py uses an environment only once this is there
done
