#!/bin/sh
# Developer check, not a test: do docs/ and tests/fixtures/arm-examples/ still match the team's shared folder?
# Usage: docs/check-copies.sh SHARED_DIR   (the team's folder the copies came from). Exit 1 on any drift.
set -u
repo=$(cd "$(dirname "$0")/.." && pwd)
[ $# -eq 1 ] || { echo "usage: docs/check-copies.sh SHARED_DIR" >&2; exit 2; }
shared=$1
[ -d "$shared/reference" ] || { echo "no $shared/reference: nothing to compare" >&2; exit 2; }
status=0
check() {
    cmp -s "$1" "$2" || { echo "differs: $1 (from $2)"; status=1; }
}
for f in ade-linux-rules ade-migration arm-reference operator-pains perf-baseline temporal-notes; do
    check "$repo/docs/$f.md" "$shared/reference/$f.md"
done
check "$repo/docs/original-design.md" "$shared/DESIGN.md"
for f in "$repo"/tests/fixtures/arm-examples/*.json; do
    check "$f" "$shared/reference/arm-examples/$(basename "$f")"
done
[ "$status" -eq 0 ] && echo "docs and fixtures match $shared"
exit "$status"
