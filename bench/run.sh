#!/usr/bin/env bash
# The strata benchmark (issue 7): strata against `psql -1`, one psql per file, and the peer tools,
# on fresh databases of a throwaway PostgreSQL cluster that this script starts and removes.
#
#   bash bench/run.sh                 N = 100 1000, every installed peer; then bench/report.py
#   bash bench/run.sh --full          N = 100 1000 10000 (yoyo, sqitch: only N <= BENCH_SLOW_MAX_N)
#   bash bench/run.sh --smoke         CI: N = 20, strata and psql only, no peers; hyperfine optional;
#                                     exits non-zero when strata fails; well under a minute
#
# Options: --n "100 1000"   set sizes          --tools "strata psql1 ..."   tools to measure
#          --rounds R       fresh-database runs per tool (default 3; alternating tools each round)
#          --out DIR        raw results (default bench/results/<UTC stamp>; smoke: a temp dir)
#          --no-report      do not write BENCHMARKS.md / the SVG
#          --rev REV        measure commit REV: build it from `git archive REV` in bench/.work/src
#                           (so edits in the work tree do not leak into the measurement)
# Environment: STRATA_BIN (skip the build and measure this binary), STRATA_PROFILE (cargo
#   profile: release, or dev for --smoke), PG_BIN (server binaries; default the newest
#   /usr/lib/postgresql/*/bin), BENCH_SLOW_MAX_N (default 1000): above it only BENCH_BIG_TOOLS
#   run (default "strata psql1 dbmate sqlx", the fastest) with BENCH_BIG_ROUNDS rounds (default
#   1: one apply of 10,000 takes minutes), so that --full stays near 25 minutes; BENCH_TIMEOUT
#   (seconds per hyperfine call, 1800); BENCH_NICE (e.g. -10, as root: run the whole benchmark,
#   PostgreSQL included, at that CPU priority, when other jobs share the machine).
#
# Tools: strata, psql1 (psql -X -1 -f all.sql), psqlfile (one psql per file, N <= 1000), dbmate,
# node-pg-migrate, yoyo, sqitch, sqlx (install them with bench/install-peers.sh; a missing one
# is reported as missing). Scenarios: apply1 (1 migration, empty database), apply (N on an empty
# database), noop (`up` with all N applied), status (all N applied), pending (1 pending on top of
# N applied), revert (revert all N), start (process start: --version), rss (strata's peak RSS at
# the largest N). Every fresh-database run gets a new database from hyperfine's --prepare.
set -uo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/.." && pwd)"
lib="$here/lib"
started_at=$(date +%s)

smoke=0 full=0 report=1 ns="" tools_req="" rounds="" out="" rev=""
argv_all="$*"
while [ $# -gt 0 ]; do
  case "$1" in
    --smoke) smoke=1 ;;
    --full) full=1 ;;
    --n) ns="$2"; shift ;;
    --tools) tools_req="$2"; shift ;;
    --rounds) rounds="$2"; shift ;;
    --out) out="$2"; shift ;;
    --rev) rev="$2"; shift ;;
    --no-report) report=0 ;;
    -h|--help) sed -n '2,29p' "$0"; exit 0 ;;
    *) echo "run.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done

if [ "$smoke" = 1 ]; then
  ns="${ns:-20}"; tools_req="${tools_req:-strata psql1}"; rounds="${rounds:-2}"
else
  if [ -z "$ns" ]; then if [ "$full" = 1 ]; then ns="100 1000 10000"; else ns="100 1000"; fi; fi
  tools_req="${tools_req:-strata psql1 psqlfile dbmate node-pg-migrate yoyo sqitch sqlx}"
  rounds="${rounds:-3}"
fi
slow_max_n="${BENCH_SLOW_MAX_N:-1000}"
big_tools="${BENCH_BIG_TOOLS:-strata psql1 dbmate sqlx}"
big_rounds="${BENCH_BIG_ROUNDS:-1}"
hf_timeout="${BENCH_TIMEOUT:-1800}"
if [ -n "${BENCH_NICE:-}" ]; then
  renice -n "$BENCH_NICE" -p $$ >/dev/null || { echo "run.sh: cannot renice to $BENCH_NICE" >&2; exit 2; }
fi
build_nice=$(( -${BENCH_NICE:-0} ))  # builds run back at the ordinary priority

say() { printf '[bench %s] %s\n' "$(date +%H:%M:%S)" "$*"; }
die() { printf '[bench] error: %s\n' "$*" >&2; exit 2; }

# --- where results go ---------------------------------------------------------------------------
tmp="$(mktemp -d /tmp/strata-bench.XXXXXX)"
if [ -z "$out" ]; then
  if [ "$smoke" = 1 ]; then out="$tmp/results"; else out="$here/results/$(date -u +%Y%m%dT%H%M%SZ)"; fi
fi
mkdir -p "$out/raw" "$out/logs" "$out/meta"
: >"$out/meta/failures.tsv"; : >"$out/meta/validation.tsv"; : >"$out/meta/commands.tsv"
: >"$out/meta/rss.tsv"; : >"$out/meta/missing.tsv"
if [ "$smoke" = 1 ]; then sets="$tmp/sets"; else sets="$here/.work/sets"; fi
mkdir -p "$sets"

# --- hyperfine or the fallback loop -------------------------------------------------------------
hyperfine_bin="$(command -v hyperfine || true)"
if [ "$smoke" = 1 ] && [ -n "${BENCH_NO_HYPERFINE:-}" ]; then hyperfine_bin=""; fi  # test the fallback
if [ -z "$hyperfine_bin" ] && [ "$smoke" = 0 ]; then
  die "hyperfine is missing: run bash bench/install-peers.sh (only --smoke runs without it)"
fi
if [ ! -x /usr/bin/time ] && [ "$smoke" = 0 ]; then die "GNU time (/usr/bin/time) is missing: run bash bench/install-peers.sh"; fi

# --- PostgreSQL binaries and the throwaway cluster ----------------------------------------------
if [ -z "${PG_BIN:-}" ]; then
  PG_BIN="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)"
  [ -n "$PG_BIN" ] || PG_BIN="$(dirname "$(command -v initdb 2>/dev/null || echo /nonexistent/x)")"
fi
[ -x "$PG_BIN/initdb" ] || die "no PostgreSQL server binaries (initdb) found; set PG_BIN"
# The baselines use the server's own psql binary: Debian's /usr/bin/psql is a Perl wrapper
# (pg_wrapper) that adds ~20 ms to every start, which is not part of any physical limit.
PSQL="$PG_BIN/psql"; [ -x "$PSQL" ] || PSQL="$(command -v psql || true)"
[ -x "$PSQL" ] || die "psql is missing"
export PSQL
as_pg=()
if [ "$(id -u)" -eq 0 ]; then as_pg=(runuser -u postgres --); fi

cleanup() {
  if [ -n "${pgdata:-}" ] && [ -f "$pgdata/postmaster.pid" ]; then
    "${as_pg[@]}" "$PG_BIN/pg_ctl" -D "$pgdata" -m immediate -w stop >/dev/null 2>&1 || true
  fi
  if [ -n "${BENCH_KEEP:-}" ]; then rm -rf "$tmp/pg"; echo "kept $tmp"; else rm -rf "$tmp"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

mkdir -p "$tmp/pg"
pgdata="$tmp/pg/data"; sockdir="$tmp/pg/sock"
mkdir -p "$sockdir"
if [ "$(id -u)" -eq 0 ]; then chown -R postgres: "$tmp/pg"; chmod 755 "$tmp"; fi
port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
say "initdb + start PostgreSQL ($PG_BIN) on 127.0.0.1:$port in $tmp/pg"
"${as_pg[@]}" "$PG_BIN/initdb" -A trust -U postgres -E UTF8 --locale=C.UTF-8 -D "$pgdata" >"$out/logs/initdb.log" 2>&1 \
  || die "initdb failed: $(tail -5 "$out/logs/initdb.log")"
# Default durability (fsync, synchronous_commit, full_page_writes on). max_locks_per_transaction is
# raised so that `psql -1` can create 10,000 tables in one transaction (it holds a lock on each new
# relation); it changes nothing for one-migration-per-transaction tools.
pg_opts="-c listen_addresses=127.0.0.1 -p $port -k $sockdir -c fsync=on -c max_locks_per_transaction=1024"
"${as_pg[@]}" "$PG_BIN/pg_ctl" -D "$pgdata" -l "$tmp/pg/server.log" -w -t 60 -o "$pg_opts" start >/dev/null \
  || die "PostgreSQL did not start: $(tail -5 "$tmp/pg/server.log")"
export PGSSLMODE=disable PGCONNECT_TIMEOUT=10
admin="postgres://postgres@127.0.0.1:$port/postgres?sslmode=disable"
url_of() { printf 'postgres://postgres@127.0.0.1:%s/%s?sslmode=disable' "$port" "$1"; }
sql() { PGOPTIONS='-c client_min_messages=warning' "$PSQL" -X -q -At -v ON_ERROR_STOP=1 -d "$admin" -c "$1"; }
sql_db() { "$PSQL" -X -q -At -v ON_ERROR_STOP=1 -d "$(url_of "$1")" -c "$2"; }

# --- strata -------------------------------------------------------------------------------------
commit="$(git -C "$repo" rev-parse --short HEAD 2>/dev/null || echo unknown)"
dirty="$(git -C "$repo" status --porcelain -- crates Cargo.toml Cargo.lock 2>/dev/null | wc -l)"
profile="${STRATA_PROFILE:-}"; [ -n "$profile" ] || { if [ "$smoke" = 1 ]; then profile=dev; else profile=release; fi; }
pdir="$profile"; [ "$profile" = dev ] && pdir=debug
if [ -n "${STRATA_BIN:-}" ]; then
  strata="$(readlink -f "$STRATA_BIN")"
  [ -x "$strata" ] || die "STRATA_BIN=$STRATA_BIN is not executable"
  strata_build="given as STRATA_BIN${STRATA_COMMIT:+, built from commit $STRATA_COMMIT}"
  if [ -n "${STRATA_COMMIT:-}" ]; then commit="$STRATA_COMMIT"; dirty=0; else dirty="?"; fi
elif [ -n "$rev" ]; then
  commit="$(git -C "$repo" rev-parse --short "$rev^{commit}")" || die "no such revision: $rev"
  dirty=0
  src="$here/.work/src"
  rm -rf "$src" && mkdir -p "$src" && git -C "$repo" archive "$commit" | tar -x -C "$src" || die "git archive $commit failed"
  say "cargo build --profile $profile --bin strata (commit $commit, from git archive)"
  (cd "$src" && CARGO_TARGET_DIR="$here/.work/target" nice -n "$build_nice" cargo build --profile "$profile" --bin strata) >"$out/logs/build.log" 2>&1 \
    || { tail -20 "$out/logs/build.log" >&2; die "strata does not build"; }
  strata="$here/.work/target/$pdir/strata"
  strata_build="git archive $commit, cargo build --profile $profile --bin strata"
else
  say "cargo build --profile $profile --bin strata"
  (cd "$repo" && nice -n "$build_nice" cargo build --profile "$profile" --bin strata) >"$out/logs/build.log" 2>&1 \
    || { tail -20 "$out/logs/build.log" >&2; die "strata does not build"; }
  strata="${CARGO_TARGET_DIR:-$repo/target}/$pdir/strata"
  strata_build="cargo build --profile $profile --bin strata (work tree)"
fi
"$strata" --version >/dev/null 2>&1 || die "$strata --version fails"

# --- which tools are there ----------------------------------------------------------------------
tools_dir="$here/.tools"
dbmate_bin="$(ls "$tools_dir"/node/node_modules/@dbmate/*/bin/dbmate 2>/dev/null | head -1)"
npm_bin="$tools_dir/node/node_modules/.bin/node-pg-migrate"
yoyo_bin="$tools_dir/venv/bin/yoyo"
sqlx_bin="$tools_dir/cargo/bin/sqlx"; [ -x "$sqlx_bin" ] || sqlx_bin="$(command -v sqlx || true)"
tools=()
missing() { printf '%s\t%s\n' "$1" "$2" >>"$out/meta/missing.tsv"; say "missing: $1 ($2)"; }
for t in $tools_req; do
  case "$t" in
    strata|psql1|psqlfile) tools+=("$t") ;;
    dbmate) if [ -x "$dbmate_bin" ]; then tools+=(dbmate); else missing dbmate "not installed (bench/install-peers.sh)"; fi ;;
    node-pg-migrate) if [ -x "$npm_bin" ] && [ -d "$tools_dir/node/node_modules/pg" ]; then tools+=(node-pg-migrate); else missing node-pg-migrate "not installed (bench/install-peers.sh)"; fi ;;
    yoyo) if [ -x "$yoyo_bin" ]; then tools+=(yoyo); else missing yoyo "not installed (bench/install-peers.sh)"; fi ;;
    sqitch) if command -v sqitch >/dev/null && perl -MDBD::Pg -e1 2>/dev/null; then tools+=(sqitch); else missing sqitch "not installed (bench/install-peers.sh)"; fi ;;
    sqlx) if [ -n "$sqlx_bin" ] && [ -x "$sqlx_bin" ]; then tools+=(sqlx); else missing sqlx-cli "not installed (bench/install-peers.sh --with-sqlx; skipped by default: slow to compile)"; fi ;;
    *) die "unknown tool $t" ;;
  esac
done
export SQITCH_FULLNAME="Strata Bench" SQITCH_EMAIL="bench@example.invalid"

# --- the command of each tool for each scenario -------------------------------------------------
# Commands are strings in shell-word syntax: hyperfine -N splits them without a shell, and the
# fallback loop and /usr/bin/time use `eval` into an array, so no shell runs inside a measurement.
q() { printf "'%s'" "$1"; }
db_of() { local t="${1//-/_}"; printf 'b_%s' "$t"; }
# cmd TOOL SCENARIO SETDIR DB -> the command, or nothing when the tool has no such operation
cmd() {
  local tool="$1" scen="$2" set="$3" db="$4" u; u="$(url_of "$db")"
  case "$tool:$scen" in
    strata:start) echo "$(q "$strata") --version" ;;
    strata:apply|strata:apply1|strata:noop|strata:pending|strata:pending0) echo "$(q "$strata") --database-url $(q "$u") --dir $(q "$set/updown") --set bench up" ;;
    strata:status) echo "$(q "$strata") --database-url $(q "$u") --dir $(q "$set/updown") --set bench status" ;;
    strata:revert) echo "$(q "$strata") --database-url $(q "$u") --dir $(q "$set/updown") --set bench down --all" ;;
    psql1:start) echo "$(q "$PSQL") --version" ;;
    psql1:apply|psql1:apply1|psql1:pending0) echo "$(q "$PSQL") -X -q -1 -v ON_ERROR_STOP=1 -d $(q "$u") -f $(q "$set/all.sql")" ;;
    psql1:pending) echo "$(q "$PSQL") -X -q -1 -v ON_ERROR_STOP=1 -d $(q "$u") -f $(q "$(ls "$set"/plus1/psql/*.sql 2>/dev/null)")" ;;
    psql1:revert) echo "$(q "$PSQL") -X -q -1 -v ON_ERROR_STOP=1 -d $(q "$u") -f $(q "$set/all.down.sql")" ;;
    psql1:noop|psql1:status) echo "$(q "$PSQL") -X -q -At -d $(q "$u") -c 'SELECT 1'" ;;
    psqlfile:apply|psqlfile:apply1) echo "bash $(q "$lib/psql-per-file.sh") $(q "$u") $(q "$set/psql")" ;;
    dbmate:start) echo "$(q "$dbmate_bin") --version" ;;
    dbmate:apply|dbmate:apply1|dbmate:noop|dbmate:pending|dbmate:pending0) echo "$(q "$dbmate_bin") --url $(q "$u") --migrations-dir $(q "$set/dbmate") --no-dump-schema migrate" ;;
    dbmate:rollback1) echo "$(q "$dbmate_bin") --url $(q "$u") --migrations-dir $(q "$set/dbmate") --no-dump-schema rollback" ;;
    dbmate:status) echo "$(q "$dbmate_bin") --url $(q "$u") --migrations-dir $(q "$set/dbmate") status" ;;
    node-pg-migrate:start) echo "$(q "$npm_bin") --version" ;;
    node-pg-migrate:apply|node-pg-migrate:apply1|node-pg-migrate:noop|node-pg-migrate:pending|node-pg-migrate:pending0) echo "env DATABASE_URL=$(q "$u") $(q "$npm_bin") up -m $(q "$set/node-pg-migrate")" ;;
    node-pg-migrate:revert) echo "env DATABASE_URL=$(q "$u") $(q "$npm_bin") down 1000000000 -m $(q "$set/node-pg-migrate")" ;;
    yoyo:apply|yoyo:apply1|yoyo:noop|yoyo:pending|yoyo:pending0) echo "$(q "$yoyo_bin") apply --batch --no-config-file --database $(q "$u") $(q "$set/yoyo")" ;;
    yoyo:status) echo "$(q "$yoyo_bin") list --batch --no-config-file --database $(q "$u") $(q "$set/yoyo")" ;;
    yoyo:revert) echo "$(q "$yoyo_bin") rollback --batch --all --no-config-file --database $(q "$u") $(q "$set/yoyo")" ;;
    sqitch:start) echo "sqitch --version" ;;
    sqitch:apply|sqitch:apply1|sqitch:noop|sqitch:pending|sqitch:pending0) echo "sqitch --chdir $(q "$set/sqitch") deploy --db-client $(q "$PSQL") $(q "db:pg://postgres@127.0.0.1:$port/$db")" ;;
    sqitch:status) echo "sqitch --chdir $(q "$set/sqitch") status --db-client $(q "$PSQL") $(q "db:pg://postgres@127.0.0.1:$port/$db")" ;;
    sqitch:revert) echo "sqitch --chdir $(q "$set/sqitch") revert -y --db-client $(q "$PSQL") $(q "db:pg://postgres@127.0.0.1:$port/$db")" ;;
    sqlx:start) echo "$(q "$sqlx_bin") --version" ;;
    sqlx:apply|sqlx:apply1|sqlx:noop|sqlx:pending|sqlx:pending0) echo "$(q "$sqlx_bin") migrate run --source $(q "$set/updown") --database-url $(q "$u")" ;;
    sqlx:status) echo "$(q "$sqlx_bin") migrate info --source $(q "$set/updown") --database-url $(q "$u")" ;;
    sqlx:revert) echo "$(q "$sqlx_bin") migrate revert --target-version 0 --source $(q "$set/updown") --database-url $(q "$u")" ;;
    *) ;;  # not supported: psqlfile beyond apply, dbmate revert-all (rollback reverts one), ...
  esac
}
unsupported_reason() {  # tool scen n
  if [ "$3" -gt "$slow_max_n" ] && [[ " $big_tools " != *" $1 "* ]]; then
    echo "not run above N=$slow_max_n (time budget)"; return
  fi
  case "$1:$2" in
    psqlfile:apply) echo "not run above N=1000 (one process per file)" ;;
    dbmate:revert) echo "dbmate has no revert-all: \`dbmate rollback\` reverts one migration per call" ;;
    node-pg-migrate:status) echo "node-pg-migrate has no status command" ;;
    yoyo:start) echo "yoyo has no --version" ;;
    psqlfile:*) echo "baseline for apply only" ;;
    *) echo "not supported" ;;
  esac
}

# --- measuring ----------------------------------------------------------------------------------
failed_strata=0
declare -A broken=()   # tool -> 1 when its apply failed at the current N (later scenarios skipped)
record_failure() {  # scen n tool rc log
  printf '%s\t%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" "$5" >>"$out/meta/failures.tsv"
  say "FAILED: $3 $1 n=$2 (exit $4), see ${5#"$out"/}"
  [ "$3" = strata ] && failed_strata=1
}
# run_words STRING [redirections...]: runs a shell-word command string without a shell
run_words() { local -a w; eval "w=($1)"; "${w[@]}"; }

# measure SCEN N TOOL RUNS WARMUP PREPARE(or "") COMMAND -> raw/<scen>__n<N>__<tool>__<tag>.json
measure() {
  local scen="$1" n="$2" tool="$3" runs="$4" warm="$5" prep="$6" command="$7" tag="${8:-all}"
  local json="$out/raw/${scen}__n${n}__${tool}__${tag}.json" log="$out/logs/${scen}__n${n}__${tool}.log" rc=0
  printf '%s\t%s\t%s\t%s\n' "$scen" "$n" "$tool" "$command" >>"$out/meta/commands.tsv"
  if [ -n "$hyperfine_bin" ]; then
    local -a prepa=(); [ -n "$prep" ] && prepa=(--prepare "$prep")
    timeout "$hf_timeout" "$hyperfine_bin" -N --style basic --runs "$runs" --warmup "$warm" "${prepa[@]}" \
      --export-json "$json" "$command" >>"$log" 2>&1 || rc=$?
  else
    # Fallback timing loop (date +%s%N around a fork/exec from bash), hyperfine's JSON format.
    local i t0 t1 times="" codes=""
    for ((i = 0; i < warm + runs; i++)); do
      [ -n "$prep" ] && { run_words "$prep" >>"$log" 2>&1 || { rc=$?; break; }; }
      t0=$(date +%s%N)
      run_words "$command" >>"$log" 2>&1 || { rc=$?; break; }
      t1=$(date +%s%N)
      if [ "$i" -ge "$warm" ]; then
        times+="${times:+,}$(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.9f", (b-a)/1e9}')"; codes+="${codes:+,}0"
      fi
    done
    if [ "$rc" = 0 ]; then
      python3 - "$json" "$command" "$times" <<'PY'
import json, statistics, sys
path, command, times = sys.argv[1], sys.argv[2], [float(x) for x in sys.argv[3].split(",")]
json.dump({"results": [{"command": command, "times": times, "exit_codes": [0] * len(times),
    "mean": statistics.mean(times), "median": statistics.median(times), "min": min(times), "max": max(times),
    "stddev": statistics.stdev(times) if len(times) > 1 else None, "user": None, "system": None,
    "timer": "bash date +%s%N loop (hyperfine not installed)"}]}, open(path, "w"), indent=1)
PY
    fi
  fi
  if [ "$rc" != 0 ]; then
    rm -f "$json"
    # Show what the tool said: run the failing case once more with its output kept.
    { echo "--- rerun with output: $command"; [ -n "$prep" ] && run_words "$prep"; run_words "$command"; echo "--- exit $?"; } >>"$log" 2>&1
    record_failure "$scen" "$n" "$tool" "$rc" "$log"
    return 1
  fi
  local med; med="$(python3 -c 'import json,sys,statistics; t=json.load(open(sys.argv[1]))["results"][0]["times"]; m=statistics.median(t); print(("%.1f ms" % (m*1e3)) if m < 1 else ("%.2f s" % m))' "$json")"
  say "  $scen n=$n $tool${tag:+ [$tag]}: median $med (${runs} run(s))"
  return 0
}

freshdb() { printf 'bash %s %s %s %s' "$(q "$lib/freshdb.sh")" "$(q "$admin")" "$1" "${2:-template1}"; }
ntables() { sql_db "$1" "SELECT count(*) FROM pg_tables WHERE schemaname = 'public' AND tablename LIKE 't\\_%'"; }
validate() {  # scen n tool db expected
  local got; got="$(ntables "$4" 2>/dev/null || echo '?')"
  printf '%s\t%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$5" "$got" >>"$out/meta/validation.tsv"
  if [ "$got" != "$5" ]; then
    record_failure "$1" "$2" "$3" "tables=$got,expected=$5" "$out/meta/validation.tsv"; return 1
  fi
}

supports() {  # tool scen n
  local t="$1" s="$2" n="$3"
  [ -n "${broken[$t]:-}" ] && return 1
  case "$t" in
    psqlfile) [ "$s" = apply ] || [ "$s" = apply1 ] || return 1; [ "$n" -le 1000 ] || return 1 ;;
  esac
  if [ "$n" -gt "$slow_max_n" ] && [[ " $big_tools " != *" $t "* ]]; then return 1; fi
  [ -n "$(cmd "$t" "$s" /x x)" ]
}

# Fresh-database scenario in rounds: each round runs every tool once, in an order rotated per
# round, each run on a database made by --prepare (empty, or a copy of the tool's template).
fresh_rounds() {  # scen n set template_prefix(or "") tools...
  local scen="$1" n="$2" set="$3" tplp="$4"; shift 4
  local -a ts=("$@"); local k r i t db R="$rounds"
  [ "$n" -gt "$slow_max_n" ] && R="$big_rounds"
  for ((r = 1; r <= R; r++)); do
    for ((k = 0; k < ${#ts[@]}; k++)); do
      i=$(( (k + r - 1) % ${#ts[@]} )); t="${ts[$i]}"
      [ -n "${broken[$t]:-}" ] && continue
      db="$(db_of "$t")"
      local tpl=""; [ -n "$tplp" ] && tpl="${tplp}_${t//-/_}"
      if ! measure "$scen" "$n" "$t" 1 0 "$(freshdb "$db" "$tpl")" "$(cmd "$t" "$scen" "$set" "$db")" "r$r"; then
        [ "$scen" = apply ] && broken[$t]=1
      fi
    done
  done
}

add_pending() {  # set: copy migration N+1 into every layout (and the N+1 sqitch plan)
  local set="$1" d
  for d in updown dbmate node-pg-migrate yoyo psql; do cp "$set/plus1/$d/"* "$set/$d/"; done
  for d in deploy revert verify; do cp "$set/plus1/sqitch/$d/"* "$set/sqitch/$d/"; done
  cp "$set/sqitch/sqitch.plan" "$set/sqitch/sqitch.plan.n"; cp "$set/plus1/sqitch/sqitch.plan" "$set/sqitch/sqitch.plan"
}
remove_pending() {
  local set="$1" d f
  for d in updown dbmate node-pg-migrate yoyo psql; do for f in "$set/plus1/$d/"*; do rm -f "$set/$d/$(basename "$f")"; done; done
  for d in deploy revert verify; do for f in "$set/plus1/sqitch/$d/"*; do rm -f "$set/sqitch/$d/$(basename "$f")"; done; done
  [ -f "$set/sqitch/sqitch.plan.n" ] && mv "$set/sqitch/sqitch.plan.n" "$set/sqitch/sqitch.plan"
}

rss() {  # label n db command
  local f="$out/logs/rss__$1__n$2.txt"
  local -a w; eval "w=($4)"
  if /usr/bin/time -v "${w[@]}" >/dev/null 2>"$f"; then
    local kb; kb="$(awk -F': ' '/Maximum resident set size/{print $2}' "$f")"
    printf '%s\t%s\t%s\n' "$1" "$2" "$kb" >>"$out/meta/rss.tsv"
    say "  rss $1 n=$2: $((kb / 1024)) MiB peak"
  else
    record_failure "rss-$1" "$2" strata "$?" "$f"
  fi
}

# --- metadata -----------------------------------------------------------------------------------
m="$out/meta"
{
  echo "date_utc=$(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "commit=$commit"
  echo "dirty=$dirty"
  echo "command=bash bench/run.sh $argv_all"
  echo "mode=$([ "$smoke" = 1 ] && echo smoke || echo full)"
  echo "ns=$ns"
  echo "rounds=$rounds"
  echo "slow_max_n=$slow_max_n"
  echo "big_tools=$big_tools"
  echo "big_rounds=$big_rounds"
  echo "tools=${tools[*]}"
  echo "strata_bin=$strata"
  echo "strata_build=$strata_build"
  echo "timer=$([ -n "$hyperfine_bin" ] && echo "hyperfine -N" || echo "bash date +%s%N loop")"
  echo "nproc=$(nproc)"
  echo "mem_kb=$(awk '/MemTotal/{print $2}' /proc/meminfo)"
  echo "cpu=$(awk -F': ' '/model name/{print $2; exit}' /proc/cpuinfo)"
  echo "kernel=$(uname -r)"
  echo "loadavg_start=$(cut -d' ' -f1-3 /proc/loadavg)"
  echo "nice=$(ps -o ni= -p $$ | tr -d ' ')"
  echo "os=$(. /etc/os-release 2>/dev/null && echo "$PRETTY_NAME")"
  echo "pg_opts=$pg_opts"
  for s in server_version fsync synchronous_commit full_page_writes wal_sync_method shared_buffers max_wal_size max_locks_per_transaction; do
    echo "pg_$s=$(sql "SHOW $s")"
  done
} >"$m/meta.txt"
{
  printf 'strata\t%s\n' "$("$strata" --version 2>&1 | head -1)"
  printf 'psql\t%s\n' "$(psql --version)"
  [ -n "$hyperfine_bin" ] && printf 'hyperfine\t%s\n' "$(hyperfine --version)"
  for t in "${tools[@]}"; do
    case "$t" in
      dbmate) printf 'dbmate\t%s\n' "$("$dbmate_bin" --version 2>&1 | head -1)" ;;
      node-pg-migrate) printf 'node-pg-migrate\t%s (node %s, pg %s)\n' "$(node -p "require('$tools_dir/node/node_modules/node-pg-migrate/package.json').version")" "$(node --version)" "$(node -p "require('$tools_dir/node/node_modules/pg/package.json').version")" ;;
      yoyo) printf 'yoyo-migrations\t%s (%s, psycopg2 %s)\n' "$("$tools_dir/venv/bin/python" -c 'import importlib.metadata as m; print(m.version("yoyo-migrations"))')" "$("$tools_dir/venv/bin/python" --version)" "$("$tools_dir/venv/bin/python" -c 'import importlib.metadata as m; print(m.version("psycopg2-binary"))')" ;;
      sqitch) printf 'sqitch\t%s (DBD::Pg %s)\n' "$(sqitch --version 2>&1 | head -1)" "$(perl -MDBD::Pg -e 'print $DBD::Pg::VERSION')" ;;
      sqlx) printf 'sqlx-cli\t%s\n' "$("$sqlx_bin" --version 2>&1 | head -1)" ;;
    esac
  done
} >"$m/versions.tsv"
say "strata: $(head -1 "$m/versions.tsv" | cut -f2) ($strata); tools: ${tools[*]}; N: $ns; rounds: $rounds"

# --- the run ------------------------------------------------------------------------------------
ns_sorted="$(tr ' ' '\n' <<<"$ns" | grep . | sort -n | tr '\n' ' ')"
max_n="$(tr ' ' '\n' <<<"$ns_sorted" | grep . | tail -1)"
python3 "$here/generate.py" --n 1 $(for n in $ns_sorted; do printf -- '--n %s ' "$n"; done) --out "$sets" >"$out/logs/generate.log" \
  || die "generate.py failed: $(cat "$out/logs/generate.log")"

say "process start (--version)"
for t in "${tools[@]}"; do
  c="$(cmd "$t" start /x x)"
  if [ -n "$c" ]; then measure start 0 "$t" "$([ "$smoke" = 1 ] && echo 10 || echo 50)" 3 "" "$c"; fi
done

say "1 migration on an empty database (N=1)"
s1="$sets/n1"; t1=()
for t in "${tools[@]}"; do supports "$t" apply1 1 && t1+=("$t"); done
fresh_rounds apply1 1 "$s1" "" "${t1[@]}"

say "1 migration on an empty history (registry already created by an apply + revert of it)"
p0=()
for t in "${t1[@]}"; do
  [ "$t" = psqlfile ] && continue
  db="$(db_of "$t")"; run_words "$(freshdb "$db")"
  if [ "$t" != psql1 ]; then
    rb="$(cmd "$t" revert "$s1" "$db")"; [ "$t" = dbmate ] && rb="$(cmd dbmate rollback1 "$s1" "$db")"
    if ! { run_words "$(cmd "$t" apply "$s1" "$db")" && run_words "$rb"; } >"$out/logs/pending0-setup__$t.log" 2>&1; then
      record_failure pending0-setup 1 "$t" "?" "$out/logs/pending0-setup__$t.log"; continue
    fi
    validate pending0-setup 1 "$t" "$db" 0 || continue
  fi
  sql "DROP DATABASE IF EXISTS tpl0_${t//-/_} WITH (FORCE)" && sql "ALTER DATABASE $db RENAME TO tpl0_${t//-/_}" && p0+=("$t")
done
fresh_rounds pending0 1 "$s1" tpl0 "${p0[@]}"
for t in "${p0[@]}"; do sql "DROP DATABASE IF EXISTS tpl0_${t//-/_} WITH (FORCE)"; done

for n in $ns_sorted; do
  set="$sets/n$n"; broken=()
  printf 'n=%s start=%s loadavg=%s cpu-pressure=%s\n' "$n" "$(date -u +%H:%M:%S)" "$(cut -d' ' -f1-3 /proc/loadavg)" "$(head -1 /proc/pressure/cpu 2>/dev/null)" >>"$m/load.txt"
  at=(); for t in "${tools[@]}"; do supports "$t" apply "$n" && at+=("$t"); done
  say "N=$n: apply all on an empty database (${at[*]})"
  fresh_rounds apply "$n" "$set" "" "${at[@]}"
  # Each tool's end state after its last apply becomes its template for the later scenarios.
  for t in "${at[@]}"; do
    [ -n "${broken[$t]:-}" ] && continue
    db="$(db_of "$t")"; tpl="tpl_${t//-/_}"
    if [ "$t" = psqlfile ]; then sql "DROP DATABASE IF EXISTS $db WITH (FORCE)"; continue; fi
    validate apply "$n" "$t" "$db" "$n" || { broken[$t]=1; continue; }
    sql "DROP DATABASE IF EXISTS $tpl WITH (FORCE)" && sql "ALTER DATABASE $db RENAME TO $tpl"
  done

  if [ "$n" = "$max_n" ] && [ -x /usr/bin/time ]; then
    say "N=$n: strata peak RSS"
    run_words "$(freshdb rss_strata)"
    rss up-all "$n" rss_strata "$(cmd strata apply "$set" rss_strata)"
    rss noop "$n" rss_strata "$(cmd strata noop "$set" rss_strata)"
    rss status "$n" rss_strata "$(cmd strata status "$set" rss_strata)"
    sql "DROP DATABASE IF EXISTS rss_strata WITH (FORCE)"
  fi

  say "N=$n: no-op up and status with all $n applied"
  for scen in noop status; do
    for t in "${tools[@]}"; do
      supports "$t" "$scen" "$n" || continue
      db="$(db_of "$t")"; run_words "$(freshdb "$db" "tpl_${t//-/_}")"
      runs=10; warm=2
      case "$t" in yoyo|sqitch|node-pg-migrate) runs=5; warm=1 ;; esac
      [ "$smoke" = 1 ] && { runs=5; warm=1; }
      measure "$scen" "$n" "$t" "$runs" "$warm" "" "$(cmd "$t" "$scen" "$set" "$db")"
    done
  done

  pt=(); for t in "${tools[@]}"; do supports "$t" pending "$n" && pt+=("$t"); done
  say "N=$n: 1 pending on top of $n applied (${pt[*]})"
  add_pending "$set"
  fresh_rounds pending "$n" "$set" tpl "${pt[@]}"
  for t in "${pt[@]}"; do validate pending "$n" "$t" "$(db_of "$t")" "$((n + 1))"; done
  remove_pending "$set"

  rt=(); for t in "${tools[@]}"; do supports "$t" revert "$n" && rt+=("$t"); done
  say "N=$n: revert all $n (${rt[*]})"
  fresh_rounds revert "$n" "$set" tpl "${rt[@]}"
  for t in "${rt[@]}"; do validate revert "$n" "$t" "$(db_of "$t")" 0; done

  for t in "${tools[@]}"; do
    sql "DROP DATABASE IF EXISTS $(db_of "$t") WITH (FORCE)"; sql "DROP DATABASE IF EXISTS tpl_${t//-/_} WITH (FORCE)"
  done
  for t in "${tools[@]}"; do
    for scen in apply noop status pending revert; do
      supports "$t" "$scen" "$n" || [ -n "${broken[$t]:-}" ] || { r="$(unsupported_reason "$t" "$scen" "$n")"; printf '%s\t%s\t%s\t%s\n' "$scen" "$n" "$t" "$r" >>"$m/unsupported.tsv"; }
    done
  done
done

{ echo "loadavg_end=$(cut -d' ' -f1-3 /proc/loadavg)"; echo "elapsed_s=$(( $(date +%s) - started_at ))"; } >>"$m/meta.txt"
say "raw results in $out"
if [ "$report" = 1 ]; then
  if [ "$smoke" = 1 ]; then
    python3 "$here/report.py" "$out" --markdown "$tmp/BENCHMARKS.md" --svg "$tmp/apply-vs-n.svg" >/dev/null \
      || { echo "report.py failed on the smoke results" >&2; exit 2; }
    say "report.py ran on the smoke results (not written to the repository)"
  else
    python3 "$here/report.py" "$out" || { echo "report.py failed" >&2; exit 2; }
  fi
fi
if [ -s "$m/failures.tsv" ]; then
  say "failures:"; sed 's/^/  /' "$m/failures.tsv"
fi
if [ "$failed_strata" = 1 ]; then say "strata FAILED"; exit 1; fi
say "done in $(( $(date +%s) - started_at ))s"
exit 0
