#!/usr/bin/env bash
# The CI pattern for a consumer in any language, here Node, with the main use case: the
# connection drops at match point and the consumer must reconnect and finish the match.
#   1. start `ttrec serve` in the background with a ready file, a report, a fault and
#      --exit-when played;
#   2. wait for the ready file (checking the server is still alive), point the consumer at it;
#   3. the server exits by itself once the match was played to its end and that connection ended;
#   4. assert on what the consumer printed and on the server's report.
# Needs node with the `ws` package (npm install here, or NODE_PATH pointing at a node_modules),
# and ttrec (TTREC overrides the command, e.g. TTREC=".venv/bin/ttrec").
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
ttrec=${TTREC:-ttrec}
# In this repository the ws package is installed once for the interop tests.
export NODE_PATH="${NODE_PATH:-$here/node_modules:$repo/tests/interop/node/node_modules}"

work="$(mktemp -d)"
server=""
cleanup() {
    if [ -n "$server" ]; then kill "$server" 2>/dev/null || true; fi
    rm -rf "$work"
}
trap cleanup EXIT

# The match: CAPTURE, else a simulated one (the bundled sample-singles-bo5, made afresh), so
# the example needs an installed ttrec and nothing from a checkout.
capture=${CAPTURE:-}
if [ -z "$capture" ]; then
    capture="$work/match.jsonl.zst"
    $ttrec simulate --seed 6 --best-of 5 --singles -o "$capture" >/dev/null
fi

$ttrec serve "$capture" --speed max --token ci-token --fault drop:at=match-point \
    --ready-file "$work/ready.json" --report "$work/report.json" --exit-when played \
    2>"$work/serve.log" &
server=$!

for _ in $(seq 200); do
    [ -f "$work/ready.json" ] && break
    kill -0 "$server" 2>/dev/null || { cat "$work/serve.log" >&2; exit 1; }
    sleep 0.05
done
[ -f "$work/ready.json" ] || { echo "run.sh: ttrec serve did not get ready" >&2; exit 1; }

feed_url="$(node -p 'const r = require(process.argv[1]); `${r.url}/v2/tabletennis/fixtures/${r.fixtures[0]}/statistics`' "$work/ready.json")"
node "$here/consumer.js" "$feed_url" ci-token >"$work/board.json"

wait "$server"  # --exit-when played: it stops once the match was played to its end
server=""

# What the consumer should have shown: the capture's own summary.
$ttrec info --json "$capture" >"$work/info.json"

node - "$work/board.json" "$work/report.json" "$work/info.json" <<'JS'
const assert = require("assert");
const fs = require("fs");
const [board, report, info] = process.argv.slice(2).map((p) => JSON.parse(fs.readFileSync(p, "utf8")));
assert.deepStrictEqual(board.sets, info.sets, "the consumer's set scores");
assert.strictEqual(board.finished, true);
assert.strictEqual(board.lastSeq, info.last_seq);
assert.strictEqual(board.code, 1000);
assert.strictEqual(board.frames, info.frames, "every frame applied once");
assert.strictEqual(board.connections, 2, "one reconnect after the drop");
assert.strictEqual(report.running, false);
const [dropped, resumed] = report.connections;
assert.strictEqual(report.connections.length, 2);
assert.strictEqual(dropped.ended, "fault");
assert.deepStrictEqual(dropped.faults, ["drop:at=match-point"]);
assert.strictEqual(resumed.start_position, dropped.frames_sent, "resumed by frames received");
assert.strictEqual(dropped.frames_sent + resumed.frames_sent, info.frames, "nothing sent twice");
assert.strictEqual(resumed.last_seq, info.last_seq);
assert.strictEqual(resumed.played_to_end, true);
assert.strictEqual(resumed.ended, "client-closed");
console.log(`node consumer ok: ${board.frames} frames over ${board.connections} connections, sets ${JSON.stringify(board.sets)}, server report agrees`);
JS
