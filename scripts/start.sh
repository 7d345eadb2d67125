#!/bin/bash
# README's start command: set-up (idempotent), then the server with its embedded defaults.
# Extra arguments go to `paddock serve` (e.g. --port 8080 --data-dir /srv/paddock).
set -euo pipefail
cd "$(dirname "$0")/.."
DATA_DIR=${PADDOCK_DATA_DIR:-/var/lib/paddock}
args=("$@")
for ((i = 0; i < ${#args[@]}; i++)); do
  case "${args[$i]}" in
    --data-dir|-d) DATA_DIR=${args[$((i + 1))]} ;;
    --data-dir=*) DATA_DIR=${args[$i]#--data-dir=} ;;
  esac
done
bash scripts/setup.sh "$DATA_DIR"
exec node packages/sdk/bin/paddock.js serve --data-dir "$DATA_DIR" "$@"
