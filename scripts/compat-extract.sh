#!/usr/bin/env bash
# Extract the migration folder of every project of a compat manifest at its pinned commit.
#
#   bash scripts/compat-extract.sh compat/manifest.tsv /work/compat-src [MIRRORS]
#
# MIRRORS (default /work/.mirror) holds one bare git mirror per project, as
# MIRRORS/<owner>+<name>/repo (what the search tool's `fetch github:<owner>/<name>` leaves).
# DIR/<name>/ receives the folder's contents (for a sqitch project only sqitch.plan and its
# deploy/, revert/, verify/ and data/ directories). DIR must be outside this repository: other
# projects' files are never committed here.
set -uo pipefail
[ $# -ge 2 ] || { echo "usage: $0 MANIFEST DIR [MIRRORS]" >&2; exit 2; }
manifest="$1" dir="$2" mirrors="${3:-/work/.mirror}"
mkdir -p "$dir"
rc=0
while IFS=$'\t' read -r name repo commit path layout _rest; do
  case "$name" in ''|'#'*) continue ;; esac
  git_dir="$mirrors/${repo/\//+}/repo"
  out="$dir/$name"
  if [ ! -d "$git_dir" ]; then echo "$name: no mirror at $git_dir" >&2; rc=1; continue; fi
  if ! git --git-dir="$git_dir" cat-file -e "$commit^{commit}" 2>/dev/null; then
    echo "$name: commit $commit not in $git_dir" >&2; rc=1; continue
  fi
  rm -rf "$out" && mkdir -p "$out"
  prefix="$path/"; [ "$path" = "." ] && prefix=""
  if [ "$layout" = sqitch ]; then
    # data/: the files scripts load with psql's \copy (cas-cif), relative to the project.
    paths=("${prefix}sqitch.plan" "${prefix}deploy" "${prefix}revert" "${prefix}verify" "${prefix}data")
  else
    paths=("${prefix:-.}")
  fi
  existing=()
  for p in "${paths[@]}"; do
    git --git-dir="$git_dir" cat-file -e "$commit:${p%/}" 2>/dev/null && existing+=("$p")
  done
  strip=0; [ -n "$prefix" ] && strip=$(awk -F/ '{print NF-1}' <<<"$prefix")
  if ! git --git-dir="$git_dir" archive "$commit" -- "${existing[@]}" | tar -x -C "$out" --strip-components="$strip"; then
    echo "$name: git archive failed" >&2; rc=1; continue
  fi
  echo "$name: $(find "$out" -type f | wc -l) files from $repo@${commit:0:12}:$path"
done <"$manifest"
exit $rc
