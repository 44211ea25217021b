#!/usr/bin/env bash
# Runs every Go fuzz target of the module for a bounded time each.
#
# A finding fails the run only if its reproducer fails again when replayed:
# Go's fuzzing engine can report a worker as "hung or terminated
# unexpectedly" when a starved machine delays one execution past its fixed
# 10 s watchdog, and then writes an input that passes. Such an input is
# reported and removed; a real crasher is kept and fails the run.
# usage: fuzz.sh [FUZZTIME]
set -euo pipefail
FUZZTIME=${1:-15s}
GO=${GO:-go}
log=$(mktemp)
trap 'rm -f "$log"' EXIT
status=0
for pkg in $($GO list ./...); do
  dir=$($GO list -f '{{.Dir}}' "$pkg")
  for target in $(grep -hoE '^func Fuzz[A-Za-z0-9_]+' "$dir"/*_test.go 2>/dev/null | sed 's/^func //' | sort -u); do
    echo "fuzz $pkg $target ($FUZZTIME)"
    if $GO test -run='^$' -fuzz="^${target}\$" -fuzztime="$FUZZTIME" -parallel=1 "$pkg" >"$log" 2>&1; then
      continue
    fi
    input=$(sed -n 's/.*Failing input written to \(testdata\/fuzz\/[^ ]*\).*/\1/p' "$log" | tail -1)
    if [ -n "$input" ] && [ -f "$dir/$input" ] && $GO test -count=1 -run="^${target}\$/$(basename "$input")\$" "$pkg" >/dev/null 2>&1; then
      echo "  the engine stopped a worker, but its input passes when replayed: not a finding ($dir/$input removed)"
      rm -f "$dir/$input"
      continue
    fi
    cat "$log"
    status=1
  done
done
exit $status
