// An example consumer written for Node with the `ws` package: it follows one fixture of the
// table-tennis statistics feed to its finished frame, reconnecting after a dropped or closed
// connection or a refused handshake, and prints the final scoreboard as one JSON line:
//   {"sets": [[home, away], ...], "lastSeq": N, "finished": true, "frames": N, "heartbeats": N,
//    "code": C, "connections": N}
// A reconnect resumes with startPosition = the number of distinct data frames received so far
// (what the provider counts; not the last seqNum, which need not be that number).
// Usage: node consumer.js FEED_URL TOKEN [CA_FILE]
// It does not use ttrec; run.sh tests it against `ttrec serve` with a fault.
"use strict";
const fs = require("fs");
const WebSocket = require("ws");

const ACCEPT = "application/vnd.imggaming.dde.api+json;version=1";
const POINT_SCORED = 1102;
const [url, token, caFile] = process.argv.slice(2);

const MAX_ATTEMPTS = 10;
const board = { sets: [], lastSeq: null, finished: false, frames: 0, heartbeats: 0, code: null, connections: 0 };
const seen = new Set(); // every seqNum received: how far to resume

function apply(text) {
  let frame;
  try {
    frame = JSON.parse(text);
  } catch (error) {
    frame = null;
  }
  if (!frame || typeof frame !== "object" || !("seqNum" in frame) || !("fixtureId" in frame)) {
    board.heartbeats += 1; // heartbeats and anything else that is not a data frame
    return;
  }
  seen.add(frame.seqNum);
  if (board.lastSeq !== null && frame.seqNum <= board.lastSeq) {
    return; // already seen (a duplicate, or a replay after a reconnect)
  }
  const points = new Map(); // period -> [home, away]; periods arrive in no particular order
  for (const team of frame.teamActionAggregates || []) {
    const side = team.team.homeTeam ? 0 : 1;
    for (const period of team.periodActionAggregates || []) {
      for (const aggregate of period.aggregates || []) {
        if (aggregate.actionId === POINT_SCORED) {
          if (!points.has(period.period)) points.set(period.period, [0, 0]);
          points.get(period.period)[side] = aggregate.actionAggregate;
        }
      }
    }
  }
  board.sets = [...points.keys()].sort((a, b) => a - b).map((p) => points.get(p));
  board.lastSeq = frame.seqNum;
  board.finished = frame.finished === true;
  board.frames += 1;
}

const options = { headers: { Accept: ACCEPT } };
if (caFile) options.ca = fs.readFileSync(caFile);

function finish(status) {
  // exit only once written: a pipe is written asynchronously
  process.stdout.write(JSON.stringify(board) + "\n", () => process.exit(status));
}

function connect() {
  board.connections += 1;
  const target = seen.size ? `${url}${url.includes("?") ? "&" : "?"}startPosition=${seen.size}` : url;
  const ws = new WebSocket(target, options);
  ws.on("open", () => ws.send(JSON.stringify({ authToken: token })));
  ws.on("message", (data, isBinary) => {
    if (isBinary) return;
    apply(data.toString("utf8"));
    if (board.finished) ws.close(1000, "match finished");
  });
  ws.on("close", (code) => {
    board.code = code;
    if (board.finished) return finish(0);
    if (code === 1008 || board.connections >= MAX_ATTEMPTS) return finish(1); // refused: give up
    setTimeout(connect, 50 * 2 ** (board.connections - 1)); // back off, then resume
  });
  ws.on("error", (error) => {
    process.stderr.write(`consumer: ${error.message}\n`); // a "close" follows
  });
}

connect();
