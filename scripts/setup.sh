#!/bin/bash
# Everything Paddock needs on this machine, idempotent and quick when already done:
# host packages and cgroup prep, npm packages, the build, and the base template.
# Usage: scripts/setup.sh DATA_DIR
set -euo pipefail
cd "$(dirname "$0")/.."
DATA_DIR=${1:?usage: scripts/setup.sh DATA_DIR}

say() { echo "setup: $*"; }

bash scripts/host-prep.sh

# npm packages: reinstall only when package-lock.json changed since the last install.
lock_hash=$(sha256sum package-lock.json | cut -c1-16)
if [ ! -f node_modules/.paddock-lock-hash ] || [ "$(cat node_modules/.paddock-lock-hash)" != "$lock_hash" ]; then
  say "installing npm packages (npm ci)"
  npm ci --no-audit --no-fund --loglevel=error
  echo "$lock_hash" > node_modules/.paddock-lock-hash
fi

# Build: tsc -b is incremental, esbuild takes ~50 ms; both are quiet when nothing changed.
if [ ! -f packages/agent/dist/agent.js ] || [ ! -f packages/server/dist/main.js ]; then say "building (TypeScript + agent bundle)"; fi
npm run --silent build

# The base template (Debian bookworm + python3, built with mmdebstrap; ~20 s the first time).
node --import tsx scripts/build-template.ts templates/base.yaml --data-dir "$DATA_DIR" --quiet-if-cached

# The code-interpreter template (Python with numpy, pandas, matplotlib, ipykernel; Node.js):
# ~1.4 GB, a few minutes the first time (progress below), cached by hash afterwards.
node --import tsx scripts/build-template.ts templates/code-interpreter.yaml --data-dir "$DATA_DIR" --quiet --quiet-if-cached

# --- Python SDK (python/): its runtime and test packages from Debian, and a development-mode
# install into Debian's python3 (a .pth file pointing at python/src), so `import paddock` works
# in /usr/bin/python3. PyPI is not reachable here, hence Debian's packages. Idempotent.
py_missing=$(for p in python3-httpx python3-pytest; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q '^install ok installed$' || echo "$p"
done)
if [ -n "$py_missing" ]; then
  say "installing Python SDK packages: $py_missing"
  apt-get update -qq
  # shellcheck disable=SC2086
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $py_missing >/dev/null
fi
py_site=$(/usr/bin/python3 -c 'import sys; print(f"/usr/local/lib/python3.{sys.version_info.minor}/dist-packages")')
mkdir -p "$py_site"
echo "$PWD/python/src" > "$py_site/paddock-dev.pth"

# --- Test prerequisite: tmux, the real terminal in which test/e2e/cli-shell.test.ts runs
# `paddock shell` (send-keys to type, capture-pane to read the screen). Idempotent.
if ! dpkg-query -W -f='${Status}' tmux 2>/dev/null | grep -q '^install ok installed$'; then
  say "installing tmux (terminal tests)"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends tmux >/dev/null
fi

# --- Images: skopeo moves images into the shared OCI layout; docker-registry is the tests'
# registry; zstd makes zstd layers for test images; umoci is the unpack benchmark's baseline.
# One apt-get for whatever is missing. Idempotent.
img_missing=""
for pkg in skopeo docker-registry zstd umoci; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q '^install ok installed$' || img_missing="$img_missing $pkg"
done
if [ -n "$img_missing" ]; then
  say "installing image tools:$img_missing"
  apt-get update -qq
  # shellcheck disable=SC2086
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $img_missing >/dev/null
fi
