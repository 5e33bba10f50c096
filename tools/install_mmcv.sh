#!/usr/bin/env bash
# Build mmcv (with CPU ops) from its sdist once, cache the wheel outside the
# checkout keyed by the torch version, and install it into the given python.
#
#   tools/install_mmcv.sh PYTHON
#
# The cache lives in $MMSWTAT_WHEEL_CACHE (default ~/.cache/mmswtat/wheels).
# pip's own wheel cache is keyed by the sdist alone and would hand back a wheel
# compiled against another torch, hence this script.
set -euo pipefail
PY=$(command -v "${1:?usage: install_mmcv.sh PYTHON}")
PY=$(cd "$(dirname "$PY")" && pwd)/$(basename "$PY")
MMCV_VERSION=$(sed -n 's/^mmcv==\([0-9.]*\).*/\1/p' "$(dirname "$0")/../requirements/mminstall.txt")
TORCH_VERSION=$("$PY" -c 'import torch; print(torch.__version__.split("+")[0])')
CACHE=${MMSWTAT_WHEEL_CACHE:-$HOME/.cache/mmswtat/wheels}/torch-$TORCH_VERSION
mkdir -p "$CACHE"

if "$PY" -c "import mmcv, mmcv.ops, sys; sys.exit(mmcv.__version__ != '$MMCV_VERSION')" 2>/dev/null; then
  echo "[mmcv] $MMCV_VERSION with ops already installed"
  exit 0
fi

shopt -s nullglob
wheels=("$CACHE"/mmcv-"$MMCV_VERSION"-*.whl)
if [ ${#wheels[@]} -eq 0 ]; then
  echo "[mmcv] building mmcv $MMCV_VERSION for torch $TORCH_VERSION (about 17 min on 2 cores, once)"
  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
  "$PY" -m pip download --no-deps --no-binary :all: "mmcv==$MMCV_VERSION" -d "$work"
  tar -xzf "$work"/mmcv-"$MMCV_VERSION".tar.gz -C "$work"
  src="$work/mmcv-$MMCV_VERSION"
  # torch >= 2.10's ATen headers require C++20.
  sed -i 's/-std=c++17/-std=c++20/g' "$src/setup.py"
  (cd "$src" && MMCV_WITH_OPS=1 FORCE_CUDA=0 MAX_JOBS=${MAX_JOBS:-$(nproc)} \
      "$PY" -m pip wheel --no-build-isolation --no-deps -w "$work/dist" .)
  cp "$work"/dist/mmcv-*.whl "$CACHE"/
  wheels=("$CACHE"/mmcv-"$MMCV_VERSION"-*.whl)
fi
echo "[mmcv] installing ${wheels[0]}"
"$PY" -m pip install --no-deps "${wheels[0]}"
