#!/usr/bin/env bash
# The real-world compatibility suite (COMPAT.md): strata against plain psql on public projects'
# migration folders, on fresh databases of one throwaway PostgreSQL cluster that this script
# starts and removes.
#
#   bash scripts/compat.sh MANIFEST DIR [--out OUT] [--only "name name ..."]
#
# MANIFEST: compat/manifest.tsv (name, repo, commit, path, layout, prereq SQL, strata flags).
# DIR: where scripts/compat-extract.sh put each project's folder (DIR/<name>/), outside the repo.
# OUT (default DIR.results/<UTC stamp>): results.tsv, results.json, and per-project logs.
#
# Per project, on a fresh database: strata `status`, `up` (default settings: lint gate on),
# `status`, `validate`, `down --all`, `lint`, `up` again; exit codes, counts and times. On
# another fresh database, the psql baseline (scripts/compat_baseline.py): every migration in
# the tool's order with `psql -X -v ON_ERROR_STOP=1` (`-1` unless it runs outside a
# transaction), stopping at the first error.
#
# Environment: STRATA_BIN (default $CARGO_TARGET_DIR/debug/strata, else target/debug/strata),
# PG_BIN (default the newest /usr/lib/postgresql/*/bin), COMPAT_TIMEOUT (seconds per command,
# default 600).
set -uo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/.." && pwd)"
say() { printf '[compat %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { printf '[compat] error: %s\n' "$*" >&2; exit 2; }

[ $# -ge 2 ] || { sed -n '2,22p' "$0"; exit 2; }
manifest="$(readlink -f "$1")" src="$(readlink -f "$2")"; shift 2
out="" only=""
while [ $# -gt 0 ]; do
  case "$1" in
    --out) out="$2"; shift ;;
    --only) only="$2"; shift ;;
    *) die "unknown argument $1" ;;
  esac
  shift
done
[ -f "$manifest" ] || die "no manifest $manifest"
[ -d "$src" ] || die "no directory $src (run scripts/compat-extract.sh first)"
out="${out:-$src.results/$(date -u +%Y%m%dT%H%M%SZ)}"
mkdir -p "$out/logs" || die "cannot create $out"
out="$(readlink -f "$out")"
tmo="${COMPAT_TIMEOUT:-600}"

strata="${STRATA_BIN:-}"
if [ -z "$strata" ]; then
  if [ -n "${CARGO_TARGET_DIR:-}" ]; then strata="$CARGO_TARGET_DIR/debug/strata"; else strata="$repo/target/debug/strata"; fi
fi
strata="$(readlink -f "$strata")"
[ -x "$strata" ] || die "no strata binary at $strata (cargo build --bin strata, or set STRATA_BIN)"

if [ -z "${PG_BIN:-}" ]; then PG_BIN="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)"; fi
[ -x "${PG_BIN:-}/initdb" ] || die "no PostgreSQL server binaries (set PG_BIN)"
PSQL="$PG_BIN/psql"
as_pg=(); [ "$(id -u)" -eq 0 ] && as_pg=(runuser -u postgres --)

# --- the throwaway cluster ------------------------------------------------------------------
tmp="$(mktemp -d /tmp/strata-compat.XXXXXX)"
cleanup() {
  if [ -f "$tmp/pg/data/postmaster.pid" ]; then
    "${as_pg[@]}" "$PG_BIN/pg_ctl" -D "$tmp/pg/data" -m immediate -w stop >/dev/null 2>&1 || true
  fi
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
mkdir -p "$tmp/pg/sock"
[ "$(id -u)" -eq 0 ] && { chown -R postgres: "$tmp/pg"; chmod 755 "$tmp"; }
port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
"${as_pg[@]}" "$PG_BIN/initdb" -A trust -U postgres -E UTF8 --locale=C.UTF-8 -D "$tmp/pg/data" >"$out/logs/initdb.log" 2>&1 \
  || die "initdb failed: $(tail -3 "$out/logs/initdb.log")"
"${as_pg[@]}" "$PG_BIN/pg_ctl" -D "$tmp/pg/data" -l "$tmp/pg/server.log" -w -t 60 \
  -o "-c listen_addresses=127.0.0.1 -p $port -k $tmp/pg/sock" start >/dev/null \
  || die "PostgreSQL did not start: $(tail -3 "$tmp/pg/server.log")"
export PGSSLMODE=disable PGCONNECT_TIMEOUT=10
unset PGHOST PGDATABASE PGUSER PGPORT DATABASE_URL STRATA_DATABASE_URL STRATA_DIR STRATA_CONFIG
url_of() { printf 'postgres://postgres@127.0.0.1:%s/%s?sslmode=disable' "$port" "$1"; }
admin_sql() { "$PSQL" -X -q -At -d "$(url_of postgres)" -c "$1"; }
server_version="$(admin_sql 'show server_version')"
say "PostgreSQL $server_version on 127.0.0.1:$port; strata $("$strata" --version 2>&1 | head -1); results in $out"

# --- helpers ----------------------------------------------------------------------------------
now() { date +%s.%N; }
elapsed() { python3 -c "print(f'{$2 - $1:.2f}')"; }
fresh_db() {  # fresh_db NAME PREREQ LOG
  admin_sql "DROP DATABASE IF EXISTS \"$1\" WITH (FORCE)" >/dev/null 2>&1
  admin_sql "CREATE DATABASE \"$1\"" >>"$3" 2>&1 || return 1
  if [ -n "$2" ] && [ "$2" != "-" ]; then
    "$PSQL" -X -q -v ON_ERROR_STOP=0 -d "$(url_of "$1")" -c "$2" >>"$3" 2>&1
  fi
  return 0
}
# count_state JSONFILE STATE: migrations of the first set in that state (status --json)
count_state() {
  python3 - "$1" "$2" <<'PY' 2>/dev/null || echo "?"
import json, sys
d = json.load(open(sys.argv[1]))
ms = d["sets"][0]["migrations"]
print(sum(1 for m in ms if m.get("state") == sys.argv[2]) if sys.argv[2] != "total" else len(ms))
PY
}
status_field() {  # status_field JSONFILE layout|findings
  python3 - "$1" "$2" <<'PY' 2>/dev/null || echo "?"
import json, sys
s = json.load(open(sys.argv[1]))["sets"][0]
v = s.get(sys.argv[2])
print(v if isinstance(v, str) else len(v or []))
PY
}
steps_of() {  # steps_of JSONFILE: steps done by up/down --json (all sets)
  python3 - "$1" <<'PY' 2>/dev/null || echo "?"
import json, sys
d = json.load(open(sys.argv[1]))
print(sum(len(s.get("steps", [])) for s in d.get("sets", [])))
PY
}
lint_counts() {  # lint_counts JSONFILE -> "errors warnings rules"
  python3 - "$1" <<'PY' 2>/dev/null || echo "? ? ?"
import json, sys, collections
d = json.load(open(sys.argv[1]))
fs = d if isinstance(d, list) else d.get("findings", d.get("diagnostics", []))
c = collections.Counter(f.get("rule", "?") for f in fs)
e = sum(1 for f in fs if f.get("level", f.get("severity")) == "error")
print(e, len(fs) - e, ",".join("%s:%d" % kv for kv in c.most_common()) or "-")
PY
}
first_error() {  # first_error FILE: the first line saying ERROR/error, shortened, one line
  grep -m1 -E 'ERROR|error' "$1" 2>/dev/null | tr '\t' ' ' | cut -c1-200
}

# --- one project ------------------------------------------------------------------------------
results="$out/results.tsv"
printf 'name\trepo\tlayout\tlayout_detected\tmigrations\tup_rc\tup_applied\tup_secs\tstatus_rc\tvalidate_rc\tdown_rc\tdown_reverted\tdown_secs\tlint_rc\tlint_errors\tlint_warnings\tlint_rules\tup2_rc\tup2_applied\tpsql_total\tpsql_applied\tpsql_secs\tpsql_error\tstrata_error\tparity\n' >"$results"

run_project() {
  local name="$1" repo_name="$2" path="$3" layout="$4" prereq="$5" flags="$6"
  local dir="$src/$name" log="$out/logs/$name" work="$tmp/work/$name"
  mkdir -p "$log" "$work"
  local f=(); [ -n "$flags" ] && [ "$flags" != "-" ] && read -r -a f <<<"$flags"
  local db_s="compat_${name//[^a-zA-Z0-9]/_}_s" db_p="compat_${name//[^a-zA-Z0-9]/_}_p"
  fresh_db "$db_s" "$prereq" "$log/prereq.log" || { say "$name: cannot create database"; return 1; }
  local S=(timeout "$tmo" "$strata" --database-url "$(url_of "$db_s")" --dir "$dir" "${f[@]}")
  local t0 t1 rc
  # status (before), up, status (after), validate
  (cd "$work" && "${S[@]}" status >"$log/status0.out" 2>&1); echo $? >"$log/status0.rc"
  t0=$(now); (cd "$work" && "${S[@]}" --json up >"$log/up.json" 2>"$log/up.err"); rc=$?; t1=$(now)
  local up_rc=$rc up_secs; up_secs=$(elapsed "$t0" "$t1")
  (cd "$work" && "${S[@]}" --json status >"$log/status1.json" 2>"$log/status1.err"); local status_rc=$?
  (cd "$work" && "${S[@]}" status >"$log/status1.out" 2>&1)
  local layout_detected total up_applied
  layout_detected=$(status_field "$log/status1.json" layout)
  total=$(count_state "$log/status1.json" total)
  up_applied=$(count_state "$log/status1.json" applied)
  (cd "$work" && "${S[@]}" validate >"$log/validate.out" 2>&1); local validate_rc=$?
  # down --all, then up again
  t0=$(now); (cd "$work" && "${S[@]}" --json down --all >"$log/down.json" 2>"$log/down.err"); local down_rc=$?; t1=$(now)
  local down_secs down_reverted; down_secs=$(elapsed "$t0" "$t1"); down_reverted=$(steps_of "$log/down.json")
  (cd "$work" && "${S[@]}" --json status >"$log/status2.json" 2>/dev/null)
  (cd "$work" && "${S[@]}" --json up >"$log/up2.json" 2>"$log/up2.err"); local up2_rc=$?
  (cd "$work" && "${S[@]}" --json status >"$log/status3.json" 2>/dev/null)
  local up2_applied; up2_applied=$(count_state "$log/status3.json" applied)
  # lint (no database)
  (cd "$work" && timeout "$tmo" "$strata" --dir "$dir" "${f[@]}" lint --format json >"$log/lint.json" 2>"$log/lint.err"); local lint_rc=$?
  (cd "$work" && timeout "$tmo" "$strata" --dir "$dir" "${f[@]}" lint >"$log/lint.txt" 2>&1)
  local lint_e lint_w lint_rules; read -r lint_e lint_w lint_rules <<<"$(lint_counts "$log/lint.json")"

  # psql baseline
  fresh_db "$db_p" "$prereq" "$log/prereq.log"
  local vars=() i=0
  while [ $i -lt ${#f[@]} ]; do
    if [ "${f[$i]}" = --var ]; then vars+=(--var "${f[$((i + 1))]}"); i=$((i + 2)); else i=$((i + 1)); fi
  done
  python3 "$here/compat_baseline.py" plan "$layout" "$dir" "$work/psql" "${vars[@]}" >"$log/psql.plan" 2>"$log/psql.plan.err"
  local psql_total psql_applied=0 psql_error="" psql_fail="" n mode label
  psql_total=$(wc -l <"$log/psql.plan")
  t0=$(now)
  while IFS=$'\t' read -r n mode label; do
    local one=(); [ "$mode" = tx ] && one=(-1)
    # From the set's directory, as sqitch runs psql (and as strata resolves `\copy` paths).
    if (cd "$dir" && timeout "$tmo" "$PSQL" -X -q -v ON_ERROR_STOP=1 "${one[@]}" -d "$(url_of "$db_p")" -f "$work/psql/$n.sql") \
        >"$log/psql.last.out" 2>&1; then
      psql_applied=$((psql_applied + 1))
    else
      psql_fail="$label"
      psql_error="$label: $(first_error "$log/psql.last.out")"
      cp "$log/psql.last.out" "$log/psql.error.out"
      break
    fi
  done <"$log/psql.plan"
  t1=$(now)
  local psql_secs; psql_secs=$(elapsed "$t0" "$t1")
  local strata_error="" strata_fail=""
  if [ "$up_rc" != 0 ]; then
    strata_error="$(python3 - "$log/up.json" <<'PY' 2>/dev/null
import json, os, sys
e = json.load(open(sys.argv[1])).get("error")
if isinstance(e, dict):
    f = e.get("failure") or {}
    if f:
        e = "%s: %s" % (os.path.basename(e.get("file") or "?"), f.get("message"))
    else:
        e = e.get("message") or json.dumps(e)
print(str(e)[:300].replace("\n", " ").replace("\t", " "))
PY
)"
    strata_fail="$(python3 -c 'import json,sys; e=json.load(open(sys.argv[1])).get("error"); print(e.get("file") or "" if isinstance(e,dict) else "")' "$log/up.json" 2>/dev/null)"
    [ -n "$strata_error" ] || strata_error="$(grep -m1 -v '^\s*$' "$log/up.err" | tr '\t' ' ' | cut -c1-300)"
    if [ "$up_applied" = "?" ]; then up_applied=0; strata_error="refused before applying anything: $strata_error"; fi
  fi
  # parity: as far as psql, and failing at the very migration where psql fails
  local parity=no
  if [ -z "$psql_error" ]; then
    [ "$up_rc" = 0 ] && [ "$up_applied" = "$psql_applied" ] && [ "$total" = "$psql_total" ] && parity=yes
  else
    [ "$up_rc" != 0 ] && [ "$up_applied" = "$psql_applied" ] && [ -n "$strata_fail" ] \
      && [ "${strata_fail%"/$psql_fail"}" != "$strata_fail" ] && parity=yes
  fi
  printf '%s\n' "$name" "$repo_name" "$layout" "$layout_detected" "$total" "$up_rc" "$up_applied" "$up_secs" \
    "$status_rc" "$validate_rc" "$down_rc" "$down_reverted" "$down_secs" "$lint_rc" "$lint_e" "$lint_w" "$lint_rules" \
    "$up2_rc" "$up2_applied" "$psql_total" "$psql_applied" "$psql_secs" "${psql_error:--}" "${strata_error:--}" "$parity" \
    | tr '\t\n' ' \t' | sed 's/\t$/\n/' >>"$results"
  say "$name ($layout_detected): strata up rc=$up_rc applied $up_applied/$total in ${up_secs}s; psql $psql_applied/$psql_total; down rc=$down_rc reverted $down_reverted; lint rc=$lint_rc ($lint_e errors, $lint_w warnings); parity=$parity"
  admin_sql "DROP DATABASE IF EXISTS \"$db_s\" WITH (FORCE)" >/dev/null 2>&1
  admin_sql "DROP DATABASE IF EXISTS \"$db_p\" WITH (FORCE)" >/dev/null 2>&1
  return 0
}

while IFS=$'\t' read -r name repo_name commit path layout prereq flags; do
  case "$name" in ''|'#'*) continue ;; esac
  if [ -n "$only" ] && ! grep -qw -- "$name" <<<"$only"; then continue; fi
  if [ ! -d "$src/$name" ]; then
    say "$name: $src/$name is missing (not extracted); skipped"
    printf '%s\t%s\t%s\tmissing\n' "$name" "$repo_name" "$layout" >>"$results"
    continue
  fi
  run_project "$name" "$repo_name" "$path" "$layout" "${prereq:--}" "${flags:--}" </dev/null \
    || say "$name: the run failed (see $out/logs/$name)"
done <"$manifest"

python3 - "$results" "$out/results.json" <<'PY'
import csv, json, sys
rows = list(csv.DictReader(open(sys.argv[1]), delimiter="\t"))
json.dump(rows, open(sys.argv[2], "w"), indent=1)
ok = sum(1 for r in rows if r.get("parity") == "yes")
print()
print("%-18s %-8s %5s %9s %9s %6s %5s %6s  %s" % ("project", "layout", "migr", "strata", "psql", "down", "lint", "parity", "where it stops"))
for r in rows:
    stop = r.get("psql_error") if r.get("psql_error", "-") != "-" else ""
    if r.get("parity") != "yes" and r.get("strata_error", "-") != "-":
        stop = "strata: " + r["strata_error"]
    print("%-18s %-8s %5s %4s/%-4s %4s/%-4s %6s %5s %6s  %s" % (
        r["name"], r.get("layout_detected", "?"), r.get("migrations", "?"),
        r.get("up_applied", "?"), r.get("migrations", "?"), r.get("psql_applied", "?"), r.get("psql_total", "?"),
        r.get("down_reverted", "?"), r.get("lint_errors", "?"), r.get("parity", "?"), (stop or "")[:90]))
print("\nparity: %d of %d projects" % (ok, len(rows)))
PY
say "results: $results, $out/results.json, logs in $out/logs"
