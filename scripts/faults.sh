#!/usr/bin/env bash
# The full fault suite (RELIABILITY.md): the same tests CI runs, with the full trial counts.
# Prints one `fault-summary:` line per test. Usage: bash scripts/faults.sh [concurrency trials] [crash trials]
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
export STRATA_FAULT_CONCURRENCY_TRIALS="${1:-100}"
export STRATA_FAULT_CRASH_TRIALS="${2:-200}"
cargo build --tests -p strata_cli
start=$(date +%s)
log="$(mktemp)"
cargo test -p strata_cli --test faults --test resilience --test tls -- --nocapture --test-threads 1 > "$log" 2>&1 || { cat "$log"; exit 1; }
grep -aE '(fault-summary|test result)' "$log" | sed 's/^.*fault-summary/fault-summary/'
rm -f "$log"
echo "fault-suite wall time: $(( $(date +%s) - start ))s"
