"""What the user sees while recording: a live line per fixture on a terminal, plain
timestamped log lines otherwise (a CI log, a file, a pipe).

`FixtureStatus` is the live state of one fixture, updated by the session and its capture;
the reporters only read it. Every message shown here has passed through the session, which
scrubs the token out of anything a server said.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Final, Literal, Protocol, TextIO

import trio

from recorder.recording import Counters
from ttrec.logstyle import Level, LogStyle, json_line, text_line
from ttrec.match import FrameError, parse_frame
from ttrec.terminal import InPlace

State = Literal[
    "waiting",  # for a slot under the process-wide attempt limit
    "connecting",
    "recording",
    "backoff",  # waiting to reconnect
    "finished",
    "failed",
    "stopped",
]
REDRAW_INTERVAL_S: Final = 0.5  # often enough to look live, rare enough to cost nothing


class FixtureStatus:
    """What a display shows of one fixture: its state and the recording's counters."""

    def __init__(self, fixture_id: str, path: str = "", counters: Counters | None = None) -> None:
        self.fixture_id = fixture_id
        self.path = path
        self.state: State = "waiting"
        self.detail = ""
        # The recording's counters (recorder.recording.Counters), read here, never written.
        self.counters = Counters() if counters is None else counters
        self._score_of = ""
        self._score = ""

    @property
    def frames(self) -> int:
        return self.counters.frames

    @property
    def heartbeats(self) -> int:
        return self.counters.heartbeats

    @property
    def binaries(self) -> int:
        return self.counters.binaries

    @property
    def duplicates(self) -> int:
        return self.counters.duplicates

    @property
    def connections(self) -> int:
        return self.counters.connections

    @property
    def last_seq(self) -> int | None:
        return self.counters.last_seq

    @property
    def finished_seen(self) -> bool:
        return self.counters.finished_seen

    @property
    def last_frame(self) -> str:
        return self.counters.last_frame

    @property
    def score(self) -> str:
        """Sets won and the current set's points, e.g. "2-1 (7-5)"; "" when unknown."""
        if self.last_frame is not self._score_of:
            self._score_of = self.last_frame
            self._score = score_text(self.last_frame)
        return self._score


def score_text(frame_text: str) -> str:
    if not frame_text:
        return ""
    try:
        frame = parse_frame(frame_text)
    except FrameError:
        return ""
    sets = frame.sets
    if not sets:
        return ""
    home, away = frame.sets_won
    current = sets[-1]
    return f"{home}-{away} ({current[0]}-{current[1]})"


def status_line(status: FixtureStatus, width: int = 120) -> str:
    seq = "-" if status.last_seq is None else str(status.last_seq)
    parts = [
        f"{status.fixture_id[:8]}",
        f"{status.state:<10}",
        f"frames {status.frames:>5}",
        f"hb {status.heartbeats:>4}",
        f"seq {seq:>5}",
    ]
    if status.score:
        parts.append(f"score {status.score}")
    if status.connections > 1:
        parts.append(f"conn {status.connections}")
    if status.detail:
        parts.append(status.detail)
    line = "  ".join(parts)
    return line if len(line) <= width else line[: max(width - 1, 0)] + "…"


def log_line(status: FixtureStatus, message: str, now: datetime) -> str:
    return text_line(status.fixture_id, message, now)


class Reporter(Protocol):
    def event(self, status: FixtureStatus, message: str) -> None: ...


def level_of(status: FixtureStatus) -> Level:
    """An event's level, from the state it leaves its fixture in."""
    return {"failed": "error", "backoff": "warning"}.get(status.state, "info")  # type: ignore[return-value]


class PlainReporter:
    """One log line per event, for anything that is not a terminal."""

    def __init__(
        self, stream: TextIO, wall_clock: Callable[[], datetime] | None = None, style: LogStyle | None = None
    ) -> None:
        self._stream = stream
        self._now = wall_clock or (lambda: datetime.now(UTC))
        self.style = style or LogStyle()

    def event(self, status: FixtureStatus, message: str) -> None:
        self.say(status.fixture_id, message, level_of(status))

    def say(self, subject: str, message: str, level: Level = "info") -> None:
        """A line about anything: a fixture (its id) or the recorder itself ("api", ...)."""
        if not self.style.shows(level):
            return
        now = self._now()
        if self.style.format == "json":
            line = json_line(subject, message, now, level)
        else:
            line = text_line(subject, message, now)
        self._stream.write(line + "\n")
        self._stream.flush()


class LiveReporter:
    """A block of status lines at the bottom of a terminal, redrawn in place; events are
    printed above it so that they stay in the scroll-back."""

    def __init__(self, stream: TextIO, statuses: Sequence[FixtureStatus]) -> None:
        self._stream = stream
        self._statuses = statuses
        self._block = InPlace(stream)
        self._now: Callable[[], datetime] = lambda: datetime.now(UTC)

    def event(self, status: FixtureStatus, message: str) -> None:
        self._block.erase()
        self._stream.write(log_line(status, message, self._now()) + "\n")
        self.draw()

    def draw(self) -> None:
        size = shutil.get_terminal_size()
        self._block.draw(self.lines(size.columns, max(size.lines - 2, 1)))

    def lines(self, width: int, height: int) -> list[str]:
        """One line per fixture; when they do not fit, the busiest ones and a tally."""
        statuses = list(self._statuses)
        if len(statuses) <= height:
            return [status_line(s, width) for s in statuses]
        shown = statuses[: height - 1]
        tally: dict[str, int] = {}
        for s in statuses:
            tally[s.state] = tally.get(s.state, 0) + 1
        summary = ", ".join(f"{n} {state}" for state, n in sorted(tally.items()))
        rest = len(statuses) - len(shown)
        return [status_line(s, width) for s in shown] + [f"… {rest} more; all: {summary}"[:width]]

    async def run(self) -> None:
        """Redraw until cancelled, then leave the final state on screen."""
        try:
            while True:
                self.draw()
                await trio.sleep(REDRAW_INTERVAL_S)
        finally:
            self.draw()
