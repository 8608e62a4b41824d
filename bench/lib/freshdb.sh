#!/usr/bin/env bash
# freshdb.sh ADMIN_URL DB [TEMPLATE]: (re)creates database DB, empty or as a copy of TEMPLATE (an
# earlier run's end state), then CHECKPOINTs so that every timed run starts with no dirty buffers
# from the copy. Used as hyperfine's --prepare: none of this is timed.
set -euo pipefail
admin="$1" db="$2" tpl="${3:-template1}"
PGOPTIONS="-c client_min_messages=warning" "${PSQL:-psql}" -X -q -v ON_ERROR_STOP=1 -d "$admin" \
  -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" \
  -c "CREATE DATABASE $db TEMPLATE $tpl" \
  -c "CHECKPOINT" >/dev/null
