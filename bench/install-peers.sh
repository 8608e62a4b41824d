#!/usr/bin/env bash
# Installs the peer migration tools and the measuring tools the benchmark compares strata with,
# each only when missing (idempotent), and records every version in bench/.tools/versions.txt.
#
#   hyperfine, GNU time      Debian packages
#   sqitch + DBD::Pg         Debian packages `sqitch` and `libdbd-pg-perl`
#   dbmate, node-pg-migrate  npm, into bench/.tools/node (with the `pg` driver)
#   yoyo-migrations          PyPI, into the venv bench/.tools/venv (with psycopg2-binary)
#   sqlx-cli                 `cargo install` into bench/.tools/cargo -- slow (a few minutes of
#                            compiling on 2 cores), so only with --with-sqlx or BENCH_WITH_SQLX=1
#
# A peer that fails to install is reported and left out; run.sh then lists it as missing.
# Usage: bash bench/install-peers.sh [--with-sqlx] [--only tool,tool]
set -uo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
tools="$here/.tools"
mkdir -p "$tools"
with_sqlx="${BENCH_WITH_SQLX:-0}"
only=""
while [ $# -gt 0 ]; do
  case "$1" in
    --with-sqlx) with_sqlx=1 ;;
    --only) only="$2"; shift ;;
    -h|--help) sed -n '2,14p' "$0"; exit 0 ;;
    *) echo "unknown argument: $1" >&2; exit 2 ;;
  esac
  shift
done
wanted() { [ -z "$only" ] || [[ ",$only," == *",$1,"* ]]; }

sudo=""
if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
apt_updated=0
apt_install() {
  if [ "$apt_updated" = 0 ]; then
    $sudo apt-get update -qq || true
    apt_updated=1
  fi
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

failed=()
note() { printf '[install-peers] %s\n' "$*"; }

# --- Debian: hyperfine, GNU time -------------------------------------------------------------
if wanted hyperfine; then
  if command -v hyperfine >/dev/null 2>&1; then note "hyperfine present"
  else note "installing hyperfine (Debian)"; apt_install hyperfine || failed+=(hyperfine); fi
fi
if wanted time; then
  if [ -x /usr/bin/time ]; then note "GNU time present"
  else note "installing time (Debian)"; apt_install time || failed+=(time); fi
fi

# --- Debian: sqitch with its PostgreSQL driver ---------------------------------------------------
if wanted sqitch; then
  if command -v sqitch >/dev/null 2>&1 && perl -MDBD::Pg -e1 2>/dev/null; then note "sqitch + DBD::Pg present"
  else note "installing sqitch + libdbd-pg-perl (Debian)"; apt_install sqitch libdbd-pg-perl || failed+=(sqitch); fi
fi

# --- npm: dbmate and node-pg-migrate (+ pg) ------------------------------------------------------
if wanted dbmate || wanted node-pg-migrate; then
  nd="$tools/node"
  if [ -x "$nd/node_modules/.bin/dbmate" ] && [ -x "$nd/node_modules/.bin/node-pg-migrate" ] \
     && [ -d "$nd/node_modules/pg" ]; then
    note "dbmate + node-pg-migrate + pg present"
  elif ! command -v npm >/dev/null 2>&1; then
    note "npm missing: cannot install dbmate / node-pg-migrate"; failed+=(dbmate node-pg-migrate)
  else
    note "installing dbmate, node-pg-migrate, pg (npm, into bench/.tools/node)"
    mkdir -p "$nd"
    [ -f "$nd/package.json" ] || printf '{ "name": "strata-bench-peers", "private": true }\n' >"$nd/package.json"
    if ! (cd "$nd" && npm install --no-audit --no-fund --loglevel=error dbmate node-pg-migrate pg >/dev/null); then
      failed+=(dbmate node-pg-migrate)
    fi
  fi
fi

# --- PyPI: yoyo-migrations + psycopg2-binary in a venv -------------------------------------------
if wanted yoyo; then
  venv="$tools/venv"
  if [ -x "$venv/bin/yoyo" ] && "$venv/bin/python" -c 'import psycopg2' 2>/dev/null; then note "yoyo present"
  else
    note "installing yoyo-migrations + psycopg2-binary (PyPI, venv bench/.tools/venv)"
    if ! { python3 -m venv "$venv" && "$venv/bin/pip" install -q yoyo-migrations psycopg2-binary; }; then
      failed+=(yoyo)
    fi
  fi
fi

# --- cargo install: sqlx-cli (opt-in) -------------------------------------------------------------
if wanted sqlx; then
  if [ -x "$tools/cargo/bin/sqlx" ]; then note "sqlx-cli present"
  elif [ "$with_sqlx" = 1 ]; then
    note "installing sqlx-cli (cargo install, postgres + rustls only; takes minutes)"
    if ! cargo install --locked --root "$tools/cargo" sqlx-cli --no-default-features \
        --features postgres,rustls >/dev/null 2>"$tools/sqlx-install.log"; then
      note "sqlx-cli install failed, see bench/.tools/sqlx-install.log"; failed+=(sqlx)
    fi
  else
    note "sqlx-cli skipped (slow to compile): pass --with-sqlx or BENCH_WITH_SQLX=1 to install it"
  fi
fi

# --- versions -----------------------------------------------------------------------------------
{
  v() { printf '%s\t%s\n' "$1" "$2"; }
  command -v hyperfine >/dev/null && v hyperfine "$(hyperfine --version | awk '{print $2}')"
  [ -x "$tools/node/node_modules/.bin/dbmate" ] && v dbmate "$("$tools/node/node_modules/.bin/dbmate" --version 2>/dev/null | awk '{print $NF}')"
  [ -f "$tools/node/node_modules/node-pg-migrate/package.json" ] && v node-pg-migrate "$(node -p "require('$tools/node/node_modules/node-pg-migrate/package.json').version")"
  [ -f "$tools/node/node_modules/pg/package.json" ] && v node-pg "$(node -p "require('$tools/node/node_modules/pg/package.json').version")"
  command -v node >/dev/null && v node "$(node --version)"
  [ -x "$tools/venv/bin/python" ] && v yoyo-migrations "$("$tools/venv/bin/python" -c 'import importlib.metadata as m; print(m.version("yoyo-migrations"))' 2>/dev/null)"
  [ -x "$tools/venv/bin/python" ] && v psycopg2-binary "$("$tools/venv/bin/python" -c 'import importlib.metadata as m; print(m.version("psycopg2-binary"))' 2>/dev/null)"
  command -v sqitch >/dev/null && v sqitch "$(sqitch --version 2>/dev/null | awk '{print $NF}')"
  perl -MDBD::Pg -e 'print "DBD::Pg\t$DBD::Pg::VERSION\n"' 2>/dev/null
  [ -x "$tools/cargo/bin/sqlx" ] && v sqlx-cli "$("$tools/cargo/bin/sqlx" --version | awk '{print $NF}')"
} >"$tools/versions.txt" 2>/dev/null
note "versions (bench/.tools/versions.txt):"
sed 's/^/  /' "$tools/versions.txt"
if [ ${#failed[@]} -gt 0 ]; then
  note "FAILED to install: ${failed[*]} (run.sh reports them as missing)"
  exit 1
fi
exit 0
