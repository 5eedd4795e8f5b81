// Connects to a ttrec serve URL the way a Node consumer of the feed would, using the ws
// package: Accept header, auth message first, then collect messages.
// Usage: node client.js URL TOKEN COUNT [CA_FILE]
// Prints one JSON line: {"messages": [...], "code": N} or {"status": N, "body": "..."}.
"use strict";
const fs = require("fs");
const WebSocket = require("ws");

const [url, token, countText, caFile] = process.argv.slice(2);
const count = Number(countText);
const messages = [];
const options = {
  headers: { Accept: "application/vnd.imggaming.dde.api+json;version=1" },
};
if (caFile) {
  options.ca = fs.readFileSync(caFile);
}

function done(result) {
  // exit only once written: a pipe is written asynchronously, exit() would cut it short
  process.stdout.write(JSON.stringify(result) + "\n", () => process.exit(0));
}

const ws = new WebSocket(url, options);
ws.on("open", () => ws.send(JSON.stringify({ authToken: token })));
ws.on("message", (data, isBinary) => {
  messages.push(isBinary ? { binary: data.toString("base64") } : data.toString("utf8"));
  if (messages.length === count) {
    ws.close(1000, "enough");
  }
});
ws.on("close", (code) => done({ messages, code }));
ws.on("unexpected-response", (request, response) => {
  let body = "";
  response.on("data", (chunk) => (body += chunk));
  response.on("end", () => done({ status: response.statusCode, body }));
});
ws.on("error", (error) => {
  process.stderr.write(`ws client error: ${error.message}\n`);
  process.exit(1);
});
