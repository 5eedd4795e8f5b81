// A statistics-feed consumer for Node (the `ws` package) that reports what it believes, for
// `ttrec fuzz` (docs/fuzz.md); the same logic and the same plantable bugs as consumer.py.
// Correct by default: it applies each frame's running totals once (skipping duplicates and
// replays), resumes after any loss with startPosition = the data frames received so far, and
// prints after every frame it applies:
//   {"seq": N, "sets": [[home, away], ...], "finished": bool, "winner": "home"|"away"|null}
// --bug NAME: forgets-position | period-order | no-corrections | gap-is-loss | winner-on-drop
// Usage: node consumer.js URL TOKEN [--bug NAME]   (NODE_PATH must reach a node_modules with ws)
"use strict";
const WebSocket = require("ws");

const ACCEPT = "application/vnd.imggaming.dde.api+json;version=1";
const POINT_SCORED = 1102;
const RETRY_MS = 50; // ttrec fuzz plays at full speed; a live consumer would back off longer
const MAX_FAILURES = 50;
const BUGS = ["forgets-position", "period-order", "no-corrections", "gap-is-loss", "winner-on-drop"];

const [url, token, flag, bugName] = process.argv.slice(2);
const bug = flag === "--bug" ? bugName : null;
if (bug !== null && !BUGS.includes(bug)) {
  process.stderr.write(`consumer: unknown bug ${bug}\n`);
  process.exit(2);
}
const firstPosition = Number(new URL(url).searchParams.get("startPosition") || 0);

const state = {
  tally: new Map(), // "side:period" -> points believed
  baseline: new Map(), // the counts of the last frame applied
  order: [], // periods in the order they first arrived
  lastSeq: null,
  seen: new Set(), // every seqNum received: the resume position
  finished: false,
};

function newConnection() {
  if (bug === "forgets-position") {
    state.baseline = new Map(); // the tally stays
    state.lastSeq = null;
    state.seen = new Set();
  }
}

function receive(text) {
  let frame;
  try {
    frame = JSON.parse(text);
  } catch (error) {
    return; // a corrupt frame: nothing to apply
  }
  if (!frame || typeof frame !== "object" || !Number.isInteger(frame.seqNum) || !("fixtureId" in frame)) {
    return; // a heartbeat or another control message
  }
  const seq = frame.seqNum;
  state.seen.add(seq);
  if (bug === "gap-is-loss" && state.lastSeq !== null && seq !== state.lastSeq + 1) {
    process.stderr.write(`consumer: data lost: expected seqNum ${state.lastSeq + 1}, got ${seq}\n`);
    process.exit(3);
  }
  if (state.lastSeq !== null && seq <= state.lastSeq) return; // already applied
  apply(frame);
  state.lastSeq = seq;
  process.stdout.write(JSON.stringify(belief(seq)) + "\n");
}

function apply(frame) {
  for (const team of frame.teamActionAggregates || []) {
    const side = team.team.homeTeam ? "home" : "away";
    for (const period of team.periodActionAggregates || []) {
      const key = `${side}:${period.period}`;
      if (!state.order.includes(period.period)) state.order.push(period.period);
      let now = 0;
      for (const aggregate of period.aggregates || []) {
        if (aggregate.actionId === POINT_SCORED) now += aggregate.actionAggregate;
      }
      let change = now - (state.baseline.get(key) || 0);
      if (bug === "no-corrections") change = Math.max(change, 0);
      state.tally.set(key, (state.tally.get(key) || 0) + change);
      state.baseline.set(key, now);
    }
  }
  state.finished = frame.finished === true;
}

function belief(seq) {
  const periods = bug === "period-order" ? state.order : [...state.order].sort((a, b) => a - b);
  const sets = periods.map((p) => [state.tally.get(`home:${p}`) || 0, state.tally.get(`away:${p}`) || 0]);
  const won = { home: 0, away: 0 };
  for (const [home, away] of sets) {
    if (decided(home, away)) won[home > away ? "home" : "away"] += 1;
  }
  // A finished feed whose last set is undecided was dropped: there is no result.
  const result = sets.length > 0 && (decided(...sets[sets.length - 1]) || bug === "winner-on-drop");
  let winner = null;
  if (state.finished && result && won.home !== won.away) winner = won.home > won.away ? "home" : "away";
  return { seq, sets, finished: state.finished, winner };
}

function decided(home, away) {
  return Math.max(home, away) >= 11 && Math.abs(home - away) >= 2;
}

let failures = 0;

function connect() {
  newConnection();
  const position = bug === "forgets-position" ? firstPosition : firstPosition + state.seen.size;
  const resume = new URL(url);
  resume.searchParams.set("startPosition", String(position));
  const ws = new WebSocket(resume.toString(), { headers: { Accept: ACCEPT } });
  ws.on("open", () => {
    failures = 0;
    ws.send(JSON.stringify({ authToken: token }));
  });
  ws.on("message", (data, isBinary) => {
    if (!isBinary) receive(data.toString("utf8"));
    if (state.finished) ws.close(1000, "match finished");
  });
  ws.on("error", () => {}); // "close" follows and decides
  ws.on("close", () => {
    if (state.finished) {
      process.exit(0);
    }
    failures += 1;
    if (failures > MAX_FAILURES) {
      process.stderr.write("consumer: giving up\n");
      process.exit(1);
    }
    setTimeout(connect, RETRY_MS);
  });
}

connect();
