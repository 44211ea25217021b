#!/usr/bin/env bash
# soak.sh PLUGIN DURATION: runs TestSoak (test/e2e/soak_test.go) with real
# Fluent Bit ($FLUENT_BIT) and the plugin PLUGIN for DURATION (a Go duration
# of whole seconds, minutes or hours: 60s, 10m, 2h), with a go test timeout
# that leaves room for the drain, the count and the shutdown.
set -euo pipefail
plugin=${1:?usage: soak.sh PLUGIN DURATION}
duration=${2:-60s}
: "${FLUENT_BIT:?FLUENT_BIT must name the fluent-bit binary}"
GO=${GO:-go}

if [[ ! $duration =~ ^([0-9]+)(s|m|h)$ ]]; then
	echo "soak: SOAK_DURATION=$duration: want a whole number of s, m or h (60s, 10m, 2h)" >&2
	exit 2
fi
seconds=${BASH_REMATCH[1]}
case ${BASH_REMATCH[2]} in
m) seconds=$((seconds * 60)) ;;
h) seconds=$((seconds * 3600)) ;;
esac
if ((seconds < 10)); then
	echo "soak: SOAK_DURATION=$duration: the soak needs 10s or more" >&2
	exit 2
fi
# Start-up, draining the backlog of the last outage, the count, shutdown.
timeout=$((seconds + 300))s

cd "$(dirname "$0")/../.."
FLUENT_BIT=$FLUENT_BIT KPL_PLUGIN=$plugin KPL_E2E=1 KPL_SOAK=${seconds}s \
	"$GO" test -count=1 -timeout "$timeout" -run '^TestSoak$' -v ./test/e2e/ 2>&1 |
	grep -vE '^=== (RUN|PAUSE|CONT)'
exit "${PIPESTATUS[0]}"
