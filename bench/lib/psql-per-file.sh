#!/usr/bin/env bash
# psql-per-file.sh URL DIR: the "one psql per file" baseline -- one psql process, connection and
# transaction (-1) per migration file, in file-name order, stopping at the first error.
set -euo pipefail
url="$1" dir="$2"
for f in "$dir"/*.sql; do
  "${PSQL:-psql}" -X -q -1 -v ON_ERROR_STOP=1 -d "$url" -f "$f"
done
