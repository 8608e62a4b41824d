#!/usr/bin/env bash
# Installs what is missing, builds strata, and runs the main job on the embedded default: a
# throwaway PostgreSQL cluster strata starts itself under examples/echo-backend/.strata/.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
cargo build --release --bin strata
strata="$PWD/target/release/strata"
cd examples/echo-backend
set -x
"$strata" status
"$strata" up --dry-run
"$strata" up
"$strata" status
"$strata" down --all
"$strata" up
"$strata" validate
"$strata" dev stop
