#!/usr/bin/env bash
# The demo: kinesalite on a free loopback port, a 4-shard stream, Fluent Bit
# with the plugin tailing realistic container logs, then a summary of what
# arrived, read back with kplcat as a KCL consumer would read it.
# usage: FLUENT_BIT=/path/to/fluent-bit KPLCAT=build/kplcat demo.sh build/out_kinesis_kpl.so [RECORDS]
set -euo pipefail
SO=$(realpath "${1:?usage: demo.sh PLUGIN_SO [RECORDS]}")
RECORDS=${2:-5000}
FLUENT_BIT=${FLUENT_BIT:?FLUENT_BIT must name the fluent-bit binary}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
KPLCAT=$(realpath "${KPLCAT:-$ROOT/build/kplcat}")
TOOL=(node --no-warnings "$ROOT/test/node/kinesis-tool.js")
WORK=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  rm -rf "$WORK"
}
trap cleanup EXIT

"${TOOL[@]}" serve "$WORK/port" >"$WORK/kinesalite.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do [ -s "$WORK/port" ] && break; sleep 0.1; done
[ -s "$WORK/port" ] || { echo "demo: kinesalite did not start" >&2; cat "$WORK/kinesalite.log" >&2; exit 1; }
ENDPOINT="http://127.0.0.1:$(cat "$WORK/port")"
"${TOOL[@]}" create "$ENDPOINT" demo 4
echo "demo: kinesalite at $ENDPOINT, stream 'demo' with 4 shards"

# Container logs as the kubernetes filter leaves them: 20 pods in 4 namespaces.
node -e '
const n = Number(process.argv[1]);
const apps = ["checkout", "payments", "search", "frontend", "inventory"];
const nss = ["shop", "billing", "platform", "web"];
const lines = [];
for (let i = 0; i < n; i++) {
  const p = i % 20, app = apps[p % 5];
  const ts = new Date(Date.UTC(2026, 10, 25, 12, 0, 0) + i * 7).toISOString();
  const level = ["INFO", "INFO", "INFO", "WARN", "ERROR", "DEBUG"][i % 6];
  lines.push(JSON.stringify({
    time: ts,
    stream: i % 9 === 0 ? "stderr" : "stdout",
    log: `${ts} ${level} ${app} request_id=${(1e9 + i * 7919).toString(16)} path=/api/v1/${app}/${i % 37} status=${level === "ERROR" ? 500 : 200} duration_ms=${(i * 13) % 900} msg="handled request ${i}"`,
    kubernetes: {
      pod_name: `${app}-7d9c${p}f8b6-x${p}k2q`,
      namespace_name: nss[p % 4],
      container_name: app,
      host: `ip-10-0-${p % 3}-${10 + (p % 7)}.ec2.internal`,
      labels: { app, "pod-template-hash": `7d9c${p}f8b6`, tier: p % 2 ? "backend" : "frontend" },
      container_image: `registry.example.com/${app}:1.${p % 4}.${i % 3}`,
    },
  }));
}
require("fs").writeFileSync(process.argv[2], lines.join("\n") + "\n");
' "$RECORDS" "$WORK/containers.log"
echo "demo: wrote $RECORDS container log lines"

cp "$ROOT/conf/examples/demo.conf" "$ROOT/conf/examples/parsers.conf" "$WORK/"
(
  cd "$WORK"
  export DEMO_LOG="$WORK/containers.log" KINESIS_ENDPOINT="$ENDPOINT"
  export AWS_ACCESS_KEY_ID=demo AWS_SECRET_ACCESS_KEY=demo
  exec "$FLUENT_BIT" -e "$SO" -c "$WORK/demo.conf"
) >"$WORK/fluent-bit.log" 2>&1 &
fb=$!
pids+=($fb)
echo "demo: Fluent Bit running (pid $fb), waiting for the records to arrive"

# kplcat reads every shard to its tip; its last stderr line counts what it
# read and what a KCL consumer would have discarded.
kplcat() {
  AWS_ACCESS_KEY_ID=demo AWS_SECRET_ACCESS_KEY=demo \
    "$KPLCAT" --endpoint "$ENDPOINT" --region us-east-1 demo >"$WORK/records.jsonl" 2>"$WORK/kplcat.err"
}
count() { sed -n "s/.* $1=\([0-9]*\).*/\1/p" "$WORK/kplcat.err" | tail -1; }

got=0
for _ in $(seq 120); do
  kplcat || { echo "demo: kplcat failed" >&2; cat "$WORK/kplcat.err" >&2; exit 1; }
  got=$(count user_records)
  [ "$got" -ge "$RECORDS" ] && break
  kill -0 "$fb" 2>/dev/null || break
  sleep 0.5
done
kill -TERM "$fb" 2>/dev/null || true
wait "$fb" || true
echo "demo: Fluent Bit stopped. Its plugin lines:"
grep -E 'kinesis_kpl' "$WORK/fluent-bit.log" | sed 's/^/    /' || true
echo
kplcat || { echo "demo: kplcat failed" >&2; cat "$WORK/kplcat.err" >&2; exit 1; }

# The summary, from kplcat's output: one JSON line per user record, and its
# counts on stderr.
node -e '
const fs = require("fs");
const [file, stream, sent, discarded, malformed] = process.argv.slice(1);
const perShard = new Map(), keys = new Set(), outer = new Set();
let total = 0, notJSON = 0;
for (const text of fs.readFileSync(file, "utf8").split("\n")) {
  if (!text) continue;
  const r = JSON.parse(text);
  total++;
  outer.add(r.shard + "/" + r.sequence_number);
  keys.add(r.partition_key);
  perShard.set(r.shard, (perShard.get(r.shard) || 0) + 1);
  if (!("data" in r)) notJSON++;
}
const out = [
  `stream ${stream}`,
  `  records sent by Fluent Bit:   ${sent}`,
  `  user records received:        ${total}`,
  `  Kinesis records (aggregates): ${outer.size}`,
  `  distinct partition keys:      ${keys.size}`,
  `  per shard:`,
  ...[...perShard.entries()].sort().map(([s, n]) => `    ${s}  ${n}`),
  `  records outside their shard'"'"'s hash range (discarded as the KCL does): ${discarded}`,
  `  aggregates that could not be decoded:     ${malformed}`,
  `  records that are not valid JSON:          ${notJSON}`,
];
console.log(out.join("\n"));
const ok = total > 0 && total === Number(sent) && discarded === "0" && malformed === "0" && notJSON === 0;
if (!ok) { console.error("summary: FAILED (see counts above)"); process.exit(1); }
' "$WORK/records.jsonl" demo "$RECORDS" "$(count kcl_discarded_records)" "$(count malformed_aggregates)"
echo "  kplcat: $(tail -1 "$WORK/kplcat.err" | sed 's/^kplcat: //')"
echo "  three of kplcat's lines (\`$(basename "$KPLCAT") --endpoint $ENDPOINT demo\`):"
awk 'NR % 1667 == 1' "$WORK/records.jsonl" | head -3 | cut -c1-400 | sed 's/^/    /'
