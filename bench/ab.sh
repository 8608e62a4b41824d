#!/usr/bin/env bash
# A/B of two strata binaries on the benchmark's N-migration set, for the hand-written sections of
# BENCHMARKS.md (a change too small for the noise between two full runs of bench/run.sh):
#
#   bash bench/ab.sh [--n 10000] [--runs 20] [--fresh-runs 5] [--only "noop status pending added"]
#                    OLD_BINARY NEW_BINARY
#
# On a throwaway cluster (started here, removed on exit): the set is applied once with OLD into a
# template database, then hyperfine times, for each scenario, OLD and NEW one after the other:
#   noop      `up` with all N applied          status   `status` with all N applied
#   pending   `up` of migration N+1 on a fresh copy of the template (made by --prepare, with a
#             CHECKPOINT, not timed), the directory settled (older than strata's 3 s margin)
#   added     the same, with N+1's files added by --prepare right before each run, as bench/run.sh
#             times it (the directory newer than the margin: the set snapshot's delta path)
# Each binary gets its own copy of the set and its own cache directory, so neither sees the
# other's file cache or set snapshot. Prints hyperfine's markdown tables; raw JSON in --out.
set -uo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
n=10000 runs=20 fresh_runs=5 out="" only="noop status pending added"
while [ $# -gt 2 ]; do
  case "$1" in
    --n) n="$2"; shift ;;
    --runs) runs="$2"; shift ;;
    --fresh-runs) fresh_runs="$2"; shift ;;  # pending, added: each run copies the template
    --out) out="$2"; shift ;;
    --only) only="$2"; shift ;;
    *) echo "ab.sh: unknown argument $1 (see the header of $0)" >&2; exit 2 ;;
  esac
  shift
done
[ $# -eq 2 ] || { sed -n '2,16p' "$0"; exit 2; }
old="$(realpath "$1")" new="$(realpath "$2")"
for b in "$old" "$new"; do [ -x "$b" ] || { echo "ab.sh: $b is not an executable" >&2; exit 2; }; done
command -v hyperfine >/dev/null || { echo "ab.sh: hyperfine is missing: run bash bench/install-peers.sh" >&2; exit 2; }

PG_BIN="${PG_BIN:-$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)}"
[ -x "$PG_BIN/initdb" ] || { echo "ab.sh: no PostgreSQL server binaries (initdb) found; set PG_BIN" >&2; exit 2; }
export PSQL="$PG_BIN/psql"
as_pg=(); [ "$(id -u)" -eq 0 ] && as_pg=(runuser -u postgres --)

tmp="$(mktemp -d /tmp/strata-ab.XXXXXX)"
out="${out:-$tmp/results}"; mkdir -p "$out"
pgdata="$tmp/pg/data"
cleanup() {
  [ -f "$pgdata/postmaster.pid" ] && "${as_pg[@]}" "$PG_BIN/pg_ctl" -D "$pgdata" -m immediate -w stop >/dev/null 2>&1
  rm -rf "$tmp/pg" "$tmp/a" "$tmp/b" "$tmp/sets" "$tmp"/readd_*.sh
}
trap cleanup EXIT
trap 'exit 130' INT TERM
mkdir -p "$tmp/pg/sock"
[ "$(id -u)" -eq 0 ] && { chown -R postgres: "$tmp/pg"; chmod 755 "$tmp"; }
port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
"${as_pg[@]}" "$PG_BIN/initdb" -A trust -U postgres -E UTF8 --locale=C.UTF-8 -D "$pgdata" >"$tmp/initdb.log" 2>&1 \
  || { echo "ab.sh: initdb failed: $(tail -5 "$tmp/initdb.log")" >&2; exit 2; }
"${as_pg[@]}" "$PG_BIN/pg_ctl" -D "$pgdata" -l "$tmp/pg/server.log" -w -t 60 \
  -o "-c listen_addresses=127.0.0.1 -p $port -k $tmp/pg/sock -c max_locks_per_transaction=1024" start >/dev/null \
  || { echo "ab.sh: PostgreSQL did not start: $(tail -5 "$tmp/pg/server.log")" >&2; exit 2; }
admin="postgres://postgres@127.0.0.1:$port/postgres?sslmode=disable"
url_of() { printf 'postgres://postgres@127.0.0.1:%s/%s?sslmode=disable' "$port" "$1"; }
sql() { PGOPTIONS='-c client_min_messages=warning' "$PSQL" -X -q -At -v ON_ERROR_STOP=1 -d "$admin" -c "$1"; }

python3 "$here/generate.py" --n "$n" --out "$tmp/sets" >/dev/null || { echo "ab.sh: generate.py failed" >&2; exit 2; }
set="$tmp/sets/n$n"
for side in a b; do mkdir -p "$tmp/$side"; cp -r "$set/updown" "$tmp/$side/set"; done
echo "applying $n migrations with $old (the template for every scenario)" >&2
sql "CREATE DATABASE tpl"
(cd "$tmp/a" && "$old" --database-url "$(url_of tpl)" --dir set --set bench up -q) || { echo "ab.sh: the apply failed" >&2; exit 2; }
for side in a b; do sql "CREATE DATABASE db_$side TEMPLATE tpl"; done
sql "CHECKPOINT"
# Each side in its own directory: its own .strata/cache (file cache and set snapshot).
cmd() { printf "sh -c \"cd '%s' && exec '%s' --database-url '%s' --dir set --set bench %s\"" "$tmp/$1" "$2" "$(url_of "db_$1")" "$3"; }
wanted() { [[ " $only " == *" $1 "* ]]; }
for scen in noop status; do
  wanted "$scen" || continue
  verb=up; [ "$scen" = status ] && verb=status
  hyperfine -N -w 3 -r "$runs" --export-json "$out/$scen.json" --export-markdown "$out/$scen.md" \
    -n "old $scen" "$(cmd a "$old" "$verb -q")" -n "new $scen" "$(cmd b "$new" "$verb -q")" >/dev/null
  echo "### $scen, N=$n"; cat "$out/$scen.md"; echo
done
for side in a b; do cp "$set/plus1/updown/"* "$tmp/$side/set/"; done
sleep 4  # the directory settles: the pending runs take the settled path, as a later `up` would
wanted pending && hyperfine -N -r "$fresh_runs" --export-json "$out/pending.json" --export-markdown "$out/pending.md" \
  --prepare "bash $here/lib/freshdb.sh '$admin' db_a tpl" -n "old pending" "$(cmd a "$old" "up -q")" \
  --prepare "bash $here/lib/freshdb.sh '$admin' db_b tpl" -n "new pending" "$(cmd b "$new" "up -q")" >/dev/null
wanted pending && { echo "### 1 pending on $n applied (fresh copy per run, directory settled)"; cat "$out/pending.md"; echo; }
# Before each run: N+1 removed, the directory left to settle and loaded once (so the set
# snapshot is of the N migrations again), then N+1 copied in: the run sees a file added since the
# snapshot, not one replaced (a replaced file is an edit, which the snapshot rightly declines).
for side in a b; do
  bin="$old"; [ "$side" = b ] && bin="$new"
  cat >"$tmp/readd_$side.sh" <<EOF
set -e
bash '$here/lib/freshdb.sh' '$admin' db_$side tpl
cd '$tmp/$side'
rm -f set/$(printf %06d $((n + 1)))_*
sleep 3.5
'$bin' --database-url '$(url_of "db_$side")' --dir set --set bench status -q >/dev/null
cp '$set/plus1/updown/'* set/
EOF
done
wanted added && hyperfine -N -r "$fresh_runs" --export-json "$out/added.json" --export-markdown "$out/added.md" \
  --prepare "bash $tmp/readd_a.sh" -n "old added" "$(cmd a "$old" "up -q")" \
  --prepare "bash $tmp/readd_b.sh" -n "new added" "$(cmd b "$new" "up -q")" >/dev/null
wanted added && { echo "### 1 pending on $n applied, its files added right before the run"; cat "$out/added.md"; }
echo "raw results in $out" >&2
