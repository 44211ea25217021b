#!/usr/bin/env bash
# Runs every Go fuzz target of the module for a bounded time each.
#
# A finding fails the run only if it fails again when replayed. Go's fuzzing
# engine stops a worker as "hung or terminated unexpectedly" when one
# execution goes past its fixed 10 s watchdog, which a starved machine can
# cause with any input, even while it replays the seed corpus. And when
# -fuzztime ends while a worker is busy, the engine's coordinator can race its
# own deadline and fail the target with a bare "context deadline exceeded",
# having found nothing. Then:
#   - an input the engine wrote that passes when replayed is reported and
#     removed, and the target runs once more;
#   - a stopped worker or a bare deadline, with no input written, gets the
#     target run once more if its corpus passes when replayed;
#   - a second failure of the same target fails the run, as does any real
#     crasher (its input is kept in testdata/fuzz for the test to replay).
#
# Each input that widens coverage is minimized inside the worker before it is
# counted, for up to a minute by default; with FUZZTIME in seconds, that left
# some targets a few hundred executions. Minimizing is held to 1,000
# executions per input, a crasher's included.
# usage: fuzz.sh [FUZZTIME]
set -euo pipefail
FUZZTIME=${1:-15s}
GO=${GO:-go}
log=$(mktemp)
trap 'rm -f "$log"' EXIT
status=0

# stopped_not_found PKG DIR TARGET: true when the last run's failure was the
# engine stopping a worker, or its deadline race, and nothing in it fails
# when replayed.
stopped_not_found() {
  local pkg=$1 dir=$2 target=$3 input
  input=$(sed -n 's/.*Failing input written to \(testdata\/fuzz\/[^ ]*\).*/\1/p' "$log" | tail -1)
  if [ -z "$input" ] && grep -qx '    context deadline exceeded' "$log" && ! grep -q -- '--- FAIL: .*/' "$log"; then
    $GO test -count=1 -run="^${target}\$" "$pkg" >/dev/null 2>&1 || return 1
    echo "  the engine failed on its own deadline with nothing found; the corpus passes when replayed"
    return
  fi
  grep -q 'fuzzing process hung or terminated unexpectedly' "$log" || return 1
  if [ -z "$input" ]; then
    $GO test -count=1 -run="^${target}\$" "$pkg" >/dev/null 2>&1 || return 1
    echo "  the engine stopped a worker on the seed corpus; the corpus passes when replayed"
    return
  fi
  [ -f "$dir/$input" ] || return 1
  $GO test -count=1 -run="^${target}\$/$(basename "$input")\$" "$pkg" >/dev/null 2>&1 || return 1
  echo "  the engine stopped a worker, but its input passes when replayed: not a finding ($dir/$input removed)"
  rm -f "$dir/$input"
}

for pkg in $($GO list ./...); do
  dir=$($GO list -f '{{.Dir}}' "$pkg")
  for target in $(grep -hoE '^func Fuzz[A-Za-z0-9_]+' "$dir"/*_test.go 2>/dev/null | sed 's/^func //' | sort -u); do
    for attempt in 1 2; do
      echo "fuzz $pkg $target ($FUZZTIME)"
      if $GO test -run='^$' -fuzz="^${target}\$" -fuzztime="$FUZZTIME" -fuzzminimizetime=1000x -parallel=1 "$pkg" >"$log" 2>&1; then
        break
      fi
      if [ "$attempt" = 1 ] && stopped_not_found "$pkg" "$dir" "$target"; then
        continue
      fi
      cat "$log"
      status=1
      break
    done
  done
done
exit $status
