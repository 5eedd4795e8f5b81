"""What the user sees while recording: a live line per fixture on a terminal, plain
timestamped log lines otherwise (a CI log, a file, a pipe).

`FixtureStatus` is the live state of one fixture, updated by the session and its capture;
the reporters only read it. Every message shown here has passed through the session, which
scrubs the token out of anything a server said.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Final, Literal, Protocol, TextIO

import trio

from recorder.recording import Counters
from ttrec.logstyle import Level, LogStyle, json_line, text_line
from ttrec.match import FrameError, parse_frame

if TYPE_CHECKING:
    from rich.console import RenderableType

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
        """Connections opened."""
        return self.counters.connections

    @property
    def attempts(self) -> int:
        """Connection attempts, those that failed too."""
        return self.counters.attempts

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


# The live table's columns; a fixture is shown by the first 8 characters of its id.
STATUS_COLUMNS: Final = ("fixture", "state", "frames", "hb", "seq", "score", "conn", "detail")
NUMERIC_COLUMNS: Final = frozenset({"frames", "hb", "seq", "conn"})


def status_cells(status: FixtureStatus) -> tuple[str, ...]:
    """One fixture's row of the live table, in STATUS_COLUMNS order ("" where nothing to say)."""
    return (
        status.fixture_id[:8],
        status.state,
        str(status.frames),
        str(status.heartbeats),
        "-" if status.last_seq is None else str(status.last_seq),
        status.score,
        str(status.connections) if status.connections > 1 else "",
        status.detail,
    )


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
    """A table of fixtures at the bottom of a terminal, redrawn in place (ttrec.terminal);
    events are printed above it so that they stay in the scroll-back."""

    def __init__(self, stream: TextIO, statuses: Sequence[FixtureStatus]) -> None:
        from ttrec.terminal import LiveBlock  # rich: only for a terminal

        self._statuses = statuses
        self._block = LiveBlock(stream)
        self._now: Callable[[], datetime] = lambda: datetime.now(UTC)

    def event(self, status: FixtureStatus, message: str) -> None:
        self._block.print_above(log_line(status, message, self._now()))
        self.draw()

    def draw(self) -> None:
        console = self._block.console
        self._block.draw(self.view(console.width, max(console.height - 2, 2)))

    def fit(self, rows: int) -> tuple[list[FixtureStatus], str | None]:
        """The fixtures shown in `rows` rows; when they do not all fit, the first ones and a
        last row that tallies every fixture by state."""
        statuses = list(self._statuses)
        if len(statuses) <= rows:
            return statuses, None
        shown = statuses[: rows - 1]
        tally = Counter(s.state for s in statuses)
        summary = ", ".join(f"{n} {state}" for state, n in sorted(tally.items()))
        return shown, f"… {len(statuses) - len(shown)} more; all: {summary}"

    def view(self, width: int, height: int) -> RenderableType:
        """The table in `width` columns and `height` lines (its header is one of them)."""
        from ttrec.terminal import table_view

        shown, tally = self.fit(height - 1)
        rows = [status_cells(s) for s in shown]
        return table_view(STATUS_COLUMNS, rows, NUMERIC_COLUMNS, tally, width=width)

    async def run(self) -> None:
        """Redraw until cancelled, then leave the final state on screen."""
        try:
            while True:
                self.draw()
                await trio.sleep(REDRAW_INTERVAL_S)
        finally:
            self.draw()
            self._block.close()
