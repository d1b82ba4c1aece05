#!/usr/bin/env bash
# The project's test command (what README.md and .ci/run call): installs missing test
# dependencies, builds the whole workspace, checks formatting and clippy, and runs every test
# (cargo nextest if installed, else cargo test). Runs every check even after a failure, then
# prints one summary line and exits non-zero if anything failed.
set -uo pipefail
cd "$(dirname "$0")/.."

started=$(date +%s)
results=()
failed=0

# step NAME COMMAND...: runs COMMAND, records NAME as ok or FAILED.
step() {
  local name=$1
  shift
  echo "==> $name: $*"
  if "$@"; then
    results+=("$name ok")
  else
    results+=("$name FAILED")
    failed=1
  fi
}

summary() {
  local elapsed=$(($(date +%s) - started))
  local verdict=PASS
  [ "$failed" -eq 0 ] || verdict=FAIL
  local joined
  joined=$(IFS=,; echo "${results[*]}")
  printf 'test.sh: %s (%s) in %dm%02ds\n' "$verdict" "${joined//,/, }" $((elapsed / 60)) $((elapsed % 60))
  exit "$failed"
}

step deps scripts/install-test-deps.sh
[ "$failed" -eq 0 ] || summary
step build cargo build --workspace --all-targets
[ "$failed" -eq 0 ] || summary
step fmt cargo fmt --all --check
step clippy cargo clippy --workspace --all-targets -- -D warnings
step structure scripts/check-structure.sh
if cargo nextest --version >/dev/null 2>&1; then
  step tests cargo nextest run --workspace --config-file tests/nextest.toml
else
  # Without nextest, one test binary runs at a time and its tests two at a time.
  step tests cargo test --workspace -- --test-threads=2
fi
summary
