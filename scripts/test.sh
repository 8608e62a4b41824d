#!/usr/bin/env bash
# The whole test suite: formatting, lints, and every test (unit, fixtures, and end-to-end tests
# of the real binary against throwaway PostgreSQL clusters the tests start themselves).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
cargo fmt --all --check
cargo clippy --workspace --all-targets -- -D warnings
# The benchmark harness in smoke mode (N=20, strata and psql only), so it cannot rot.
bash bench/run.sh --smoke
cargo test --workspace
