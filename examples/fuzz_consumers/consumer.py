"""A statistics-feed consumer that reports what it believes, for `ttrec fuzz` (docs/fuzz.md).

Correct by default: it keeps the score as the counts it has applied, skips frames it has
already seen (duplicates, replays), resumes after any loss with startPosition = the data
frames it has received so far, and prints one belief after every frame it applies:

    {"seq": N, "sets": [[home, away], ...], "finished": bool, "winner": "home"|"away"|null}

`--bug NAME` plants one mistake that real consumers make, for ttrec to find:

    forgets-position  resumes from the start and counts every frame's increments again
    period-order      takes periods in the order they arrive as set 1, 2, 3, ...
    no-corrections    never lets a count go down (a point taken back stays scored)
    gap-is-loss       expects every seqNum to be the last one + 1; anything else is lost data
    winner-on-drop    declares the side ahead on sets the winner when the collection is
                      dropped (a finished frame whose last set is undecided: no result)

Usage: python consumer.py URL TOKEN [--bug NAME]. Needs only trio and trio-websocket.
In a Python test, `beliefs(url, token, bug)` is the same consumer for
ttrec.testing.check_consumer (tests/test_check_consumer.py).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit, urlunsplit

import trio
from trio_websocket import ConnectionClosed, HandshakeError, open_websocket_url

ACCEPT = "application/vnd.imggaming.dde.api+json;version=1"
POINT_SCORED = 1102
RETRY_S = 0.05  # ttrec fuzz plays at full speed; a live consumer would back off for longer
MAX_FAILURES = 50  # consecutive failed connections before giving up
BUGS = ("forgets-position", "period-order", "no-corrections", "gap-is-loss", "winner-on-drop")


class LostData(Exception):
    pass


class Consumer:
    def __init__(self, bug: str | None) -> None:
        self.bug = bug
        self.tally: dict[tuple[str, int], int] = {}  # (side, period) -> points it believes
        self.baseline: dict[tuple[str, int], int] = {}  # the counts of the last frame applied
        self.order: list[int] = []  # periods in the order they first arrived
        self.last_seq: int | None = None
        self.seen: set[int] = set()  # every seqNum received: the resume position
        self.finished = False

    def new_connection(self) -> None:
        if self.bug == "forgets-position":
            self.baseline, self.last_seq, self.seen = {}, None, set()  # the tally stays

    def receive(self, text: str) -> dict[str, Any] | None:
        """Take one message; the belief after it when it was a new data frame."""
        try:
            frame = json.loads(text)
        except ValueError:
            return None  # a corrupt frame: nothing to apply
        is_data = isinstance(frame, dict) and isinstance(frame.get("seqNum"), int) and "fixtureId" in frame
        if not is_data:
            return None  # a heartbeat or another control message
        seq = frame["seqNum"]
        self.seen.add(seq)
        if self.bug == "gap-is-loss" and self.last_seq is not None and seq != self.last_seq + 1:
            raise LostData(f"expected seqNum {self.last_seq + 1}, got {seq}")
        if self.last_seq is not None and seq <= self.last_seq:
            return None  # already applied: a duplicate, or older than what it knows
        self._apply(frame)
        self.last_seq = seq
        return self.belief(seq)

    def _apply(self, frame: dict[str, Any]) -> None:
        """Add what changed since the last frame applied (frames carry running totals)."""
        for team in frame.get("teamActionAggregates") or []:
            side = "home" if team["team"]["homeTeam"] else "away"
            for period in team.get("periodActionAggregates") or []:
                key = (side, period["period"])
                if period["period"] not in self.order:
                    self.order.append(period["period"])
                now = sum(a["actionAggregate"] for a in period["aggregates"] if a["actionId"] == POINT_SCORED)
                change = now - self.baseline.get(key, 0)
                if self.bug == "no-corrections":
                    change = max(change, 0)
                self.tally[key] = self.tally.get(key, 0) + change
                self.baseline[key] = now
        self.finished = bool(frame.get("finished"))

    def belief(self, seq: int) -> dict[str, Any]:
        periods = self.order if self.bug == "period-order" else sorted(self.order)
        sets = [[self.tally.get(("home", p), 0), self.tally.get(("away", p), 0)] for p in periods]
        won = {"home": 0, "away": 0}
        for home, away in sets:
            if _decided(home, away):
                won["home" if home > away else "away"] += 1
        # A finished feed whose last set is undecided was dropped: there is no result.
        result = bool(sets) and (_decided(*sets[-1]) or self.bug == "winner-on-drop")
        winner = None
        if self.finished and result and won["home"] != won["away"]:
            winner = "home" if won["home"] > won["away"] else "away"
        return {"seq": seq, "sets": sets, "finished": self.finished, "winner": winner}


def _decided(home: int, away: int) -> bool:
    return max(home, away) >= 11 and abs(home - away) >= 2


def _with_start(url: str, position: int) -> str:
    parts = urlsplit(url)
    query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
    query["startPosition"] = str(position)
    return urlunsplit(parts._replace(query=urlencode(query)))


async def follow(url: str, token: str, consumer: Consumer, emit: Callable[[dict[str, Any]], None]) -> None:
    first = int(parse_qs(urlsplit(url).query).get("startPosition", ["0"])[-1])
    failures = 0
    while not consumer.finished:
        consumer.new_connection()
        position = first if consumer.bug == "forgets-position" else first + len(consumer.seen)
        try:
            resume = _with_start(url, position)
            async with open_websocket_url(resume, extra_headers=[("Accept", ACCEPT)]) as ws:
                await ws.send_message(json.dumps({"authToken": token}))
                failures = 0
                while not consumer.finished:
                    message = await ws.get_message()
                    belief = consumer.receive(message) if isinstance(message, str) else None
                    if belief is not None:
                        emit(belief)
        except (ConnectionClosed, HandshakeError, OSError, trio.BrokenResourceError):
            failures += 1
            if failures > MAX_FAILURES:
                raise
            await trio.sleep(RETRY_S)


async def beliefs(url: str, token: str, bug: str | None = None) -> list[dict[str, Any]]:
    """Follow the match to its end; every belief, in order."""
    found: list[dict[str, Any]] = []
    await follow(url, token, Consumer(bug), found.append)
    return found


def _print(belief: dict[str, Any]) -> None:
    print(json.dumps(belief), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("url")
    parser.add_argument("token")
    parser.add_argument("--bug", choices=BUGS)
    args = parser.parse_args()
    try:
        trio.run(follow, args.url, args.token, Consumer(args.bug), _print)
    except LostData as exc:
        print(f"consumer: data lost: {exc}", file=sys.stderr)
        sys.exit(3)


if __name__ == "__main__":
    main()
