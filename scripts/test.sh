#!/bin/bash
# README's test command: set-up (idempotent), lint, then the whole suite against real
# crun/runsc sandboxes, then a global leak check that fails the run if anything remains.
set -euo pipefail
cd "$(dirname "$0")/.."
export PADDOCK_TEST_ROOT=${PADDOCK_TEST_ROOT:-/var/tmp/paddock-test}
bash scripts/setup.sh "$PADDOCK_TEST_ROOT/data"

echo "test: lint and format check (biome), type check of tests and benchmarks"
npx biome check .
npx tsc -p tsconfig.tests.json

echo "test: the sync Python SDK matches its generation from sandbox_async/ (python/tools/gen_sync.py)"
/usr/bin/python3 python/tools/gen_sync.py --check
echo "test: the Python models match their generation from the protocol (scripts/gen-python-models.ts)"
node --import tsx scripts/gen-python-models.ts --check
echo "test: Python lint (ruff, settings in python/pyproject.toml)"
node --import tsx scripts/ruff.ts
echo "test: Python type check (pyright, standard mode)"
npx pyright -p python

echo "test: TypeScript suites"
node --import tsx --test --test-concurrency=1 --test-reporter=spec \
  test/unit/*.test.ts \
  test/agent/*.test.ts \
  test/templates/*.test.ts \
  test/api/*.test.ts \
  test/runtime/*.test.ts \
  test/e2e/*.test.ts \
  test/e2b/*.test.ts \
  test/security/*.test.ts

echo "test: Python SDK (pytest on Debian's python3, against a real server)"
# This checkout's SDK first: the machine-wide .pth points at whichever checkout ran set-up last.
PYTHONPATH="$PWD/python/src${PYTHONPATH:+:$PYTHONPATH}" /usr/bin/python3 -m pytest -q -p no:cacheprovider python/tests

echo "test: leak check"
node --import tsx test/leak-check.ts
