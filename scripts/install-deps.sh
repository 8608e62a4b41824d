#!/usr/bin/env bash
# Installs what strata needs to build and test on Debian/Ubuntu, and only what is missing:
# PostgreSQL server binaries (initdb, pg_ctl, postgres) and libclang-dev (bindgen, for pg_query).
set -euo pipefail

need=()
if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 && ! command -v initdb >/dev/null 2>&1; then
  need+=(postgresql)
fi
# bindgen loads libclang.so; libclang-cpp (often preinstalled) is a different library.
if ! ls /usr/lib/llvm-*/lib/libclang.so >/dev/null 2>&1 && ! ls /usr/lib/*/libclang.so >/dev/null 2>&1; then
  need+=(libclang-dev)
fi
if ! command -v openssl >/dev/null 2>&1; then
  need+=(openssl)  # the TLS tests make their certificates with it
fi
if ! command -v cc >/dev/null 2>&1; then
  need+=(build-essential)
fi
if [ ${#need[@]} -gt 0 ]; then
  sudo=""
  if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
  echo "installing: ${need[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
if ! command -v cargo >/dev/null 2>&1; then
  echo "cargo not found: install the Rust toolchain (https://rustup.rs) and run this again" >&2
  exit 2
fi
if command -v protoc >/dev/null 2>&1; then
  echo "warning: protoc is on PATH; pg_query would regenerate its protobuf bindings with it. Remove it from PATH if the build fails." >&2
fi
