#!/usr/bin/env bash
# Structure checks the compiler does not make (part of scripts/test.sh): no import loop between
# the files of any crate, and no hand-written source file over 800 lines (generated code lives in
# target/, and the one pure table, etcd's flag list, fits).
set -uo pipefail
cd "$(dirname "$0")/.."

status=0
crates=(crates/* tests)
python3 scripts/module-cycles.py "${crates[@]}" || status=1

limit=800
while read -r lines file; do
  if [ "$file" != total ] && [ "$lines" -gt "$limit" ]; then
    echo "$file: $lines lines (more than $limit: split it by concern)"
    status=1
  fi
done < <(git ls-files '*.rs' | xargs wc -l)
exit $status
