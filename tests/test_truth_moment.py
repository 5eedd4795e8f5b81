"""`moment` / `moment_side` of the truth: from the Game Point / Match Point until the next
point is scored, whatever frames (Swap Serve, Point Started) come in between; corrections
as docs/verdict.md says.

Expectations come from elsewhere than the truth: the simulator's points and its own record of
which action each frame carries, the counts of a capture's frames added up here from the raw
JSON, and matches built action by action (tests/action_factory.py) whose moments are written
out by hand, step by step.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any, Final

import pytest
from action_factory import ActionMatch
from click.testing import CliRunner
from fuzz_support import CONSUMER

from ttrec.bundled import sample_path
from ttrec.capture import read_capture
from ttrec.cli import cli
from ttrec.match import GAME_POINT, MATCH_POINT, POINT_SCORED, POINT_STARTED, SWAP_SERVE
from ttrec.records import Frame
from ttrec.simulated_incidents import Incidents
from ttrec.simulator import SimulatedMatch, simulate_match
from ttrec.testing import check_consumer
from ttrec.truth import Truth, truths

Moment = tuple[str, str | None] | None
ANNOUNCED = {GAME_POINT: "game-point", MATCH_POINT: "match-point"}


def _held_after(match: SimulatedMatch, point_index: int) -> Moment:
    """Who is one point from the game after the simulator's point `point_index`, from its
    score alone, and whether that game would win the match."""
    point = match.points[point_index]
    home, away = point.score
    decided = max(home, away) >= 11 and abs(home - away) >= 2
    if decided or max(home, away) < 10 or home == away:
        return None
    side = "home" if home > away else "away"
    done = match.sets[: point.period - 1]
    won = sum((h > a) == (side == "home") for h, a in done)
    return ("match-point" if won == match.best_of // 2 else "game-point", side)


def _expected_from_points(match: SimulatedMatch) -> list[Moment]:
    """The moment after each frame: the state after the last point, from the frame of its
    announcement up to the frame that scores the next point."""
    expected: list[Moment] = []
    scored = -1  # index of the last point scored
    held: Moment = None
    for action in match.actions:
        if action.action_id == POINT_SCORED:
            scored += 1
            held = None
        elif action.action_id in ANNOUNCED:
            held = _held_after(match, scored)
            # the simulator announced what its score says
            assert held == (ANNOUNCED[action.action_id], action.side)
        expected.append(None if action is match.actions[-1] else held)  # the final frame: null
    assert scored == len(match.points) - 1
    return expected


def _moments(states: Iterable[Truth]) -> list[Moment]:
    return [None if s.moment is None else (s.moment, s.moment_side) for s in states]


def _by_seq(states: Iterable[Truth]) -> dict[int, Moment]:
    return {s.seq: None if s.moment is None else (s.moment, s.moment_side) for s in states}


@pytest.mark.parametrize("seed", [11, 3, 7])
def test_a_moment_stands_until_the_next_point_is_scored(seed: int) -> None:
    match = simulate_match(seed=seed, best_of=5, incidents=Incidents(correction_ppm=0))
    expected = _expected_from_points(match)
    assert _moments(truths(match.frames)) == expected
    # The frames between the announcement and the next point: the serve changes hands and
    # the next point starts, and the moment stands through them.
    kinds_held = {match.actions[i].action_id for i, m in enumerate(expected) if m is not None}
    assert {SWAP_SERVE, POINT_STARTED} <= kinds_held


def test_the_same_moments_on_the_actions_feed_at_every_seq() -> None:
    """Corrections included (one point in ten corrected): both feeds' truths agree at each
    statistics seqNum."""
    match = simulate_match(seed=5, best_of=5, incidents=Incidents(correction_ppm=200_000))
    assert any(a.send_type != "Confirmed" for a in match.actions)
    packets = [r.data for r in match.actions_records if isinstance(r, Frame)]
    on_actions = {t.seq: (t.moment, t.moment_side) for t in truths(packets, "actions")}
    on_statistics = [(t.seq, (t.moment, t.moment_side)) for t in truths(match.frames)]
    assert [(seq, on_actions[seq]) for seq, _ in on_statistics] == on_statistics
    assert sum(m != (None, None) for _, m in on_statistics) > 10


# --- the bundled sample: the counts added up here, from the raw JSON -------------------------


def _totals(text: str) -> dict[tuple[bool, int], int]:
    """(homeTeam, actionId) -> the match total of a raw statistics frame."""
    frame = json.loads(text)
    return {
        (team["team"]["homeTeam"], aggregate["actionId"]): aggregate["actionAggregate"]
        for team in frame["teamActionAggregates"]
        for aggregate in team["gameActionAggregates"]
    }


def test_the_sample_holds_match_point_through_swap_serve_and_point_started() -> None:
    _, records = read_capture(sample_path("sample-singles-bo5"))
    texts = [r.data for r in records if isinstance(r, Frame)]
    expected: list[tuple[int, Moment]] = []
    held: Moment = None
    before: dict[tuple[bool, int], int] = {}
    for text in texts:
        now = _totals(text)
        rose = {key for key, count in now.items() if count > before.get(key, 0)}
        if any(action == POINT_SCORED for _, action in rose):
            held = None
        announced = [(ANNOUNCED[a], "home" if home else "away") for home, a in rose if a in ANNOUNCED]
        assert len(announced) <= 1  # one action per frame: no frame missed
        held = announced[0] if announced else held
        frame = json.loads(text)
        expected.append((frame["seqNum"], None if frame["finished"] else held))
        before = now
    states = list(truths(texts))
    assert list(zip([t.seq for t in states], _moments(states), strict=True)) == expected
    # The cold trial's report: match point home at 10-6 in set 4 (home 2 sets up) from seq
    # 211, through a Swap Serve (212) and a Point Started (213), gone when 10-7 is scored (214).
    by_seq = dict(expected)
    assert [by_seq[s] for s in (211, 212, 213, 214)] == [("match-point", "home")] * 3 + [None]


def test_verdict_accepts_the_documented_moment() -> None:
    capture = str(sample_path("sample-singles-bo5"))
    runner = CliRunner()
    belief = '{"seq":213,"moment":"match-point","moment_side":"home"}\n'
    assert runner.invoke(cli, ["verdict", capture, "-"], input=belief).exit_code == 0
    gone = '{"seq":214,"moment":"match-point","moment_side":"home"}\n'
    judged = runner.invoke(cli, ["verdict", capture, "-"], input=gone)
    assert judged.exit_code == 1 and 'moment believed "match-point", true null' in judged.output


# --- corrections, on both feeds of one hand-built match --------------------------------------


def _last_action_id(match: ActionMatch) -> str:
    return str(json.loads(match.packets[-1])["fixtureAction"]["actionId"])


def test_corrections_bring_a_moment_back_or_end_it_alike_on_both_feeds() -> None:
    match = ActionMatch()
    checks: list[tuple[str, int, Moment]] = []

    def check(what: str, moment: Moment) -> None:
        """`moment` after the last counted action (its statistics frame's seqNum)."""
        checks.append((what, json.loads(match.frames[-1][1])["seqNum"], moment))

    for _ in range(9):
        match.point("away")
        match.point("home")
    match.point("home")  # 10-9: the factory announces game point home after it
    check("announced at 10-9", ("game-point", "home"))
    announcement = _last_action_id(match)
    match.action(SWAP_SERVE, "away")
    check("a swap serve does not end it", ("game-point", "home"))
    match.action(POINT_STARTED, "away")
    check("nor does the point starting", ("game-point", "home"))
    levelled = match.point("away")  # 10-10: no announcement
    check("the point scored ends it", None)
    match.cancel(levelled)  # back to 10-9: the rally is played again
    check("the point taken back brings it back", ("game-point", "home"))
    match.action(GAME_POINT, "home", send_type="Cancelled", related=[announcement], action_id=announcement)
    check("the announcement taken back ends it", None)
    match.point("home")  # 11-9: set 1 to home, no announcement
    check("a new set, no moment", None)
    for _ in range(10):
        match.point("home")  # 10-0 in set 2: match point home after it
    check("match point", ("match-point", "home"))
    wrong = match.point("away")  # 10-1, and match point home announced again
    check("announced again after the point", ("match-point", "home"))
    match.cancel(wrong)  # 10-0: what was announced at 10-1 goes, the 10-0 one stands again
    check("the point taken back: the moment before it", ("match-point", "home"))
    match.point("home")  # 11-0: the match
    check("finished", None)

    stats = _by_seq(truths([text for _, text in match.frames]))
    actions = _by_seq(truths(match.packets, "actions"))
    assert [(what, stats[seq]) for what, seq, _ in checks] == [(what, m) for what, _, m in checks]
    assert [(what, actions[seq]) for what, seq, _ in checks] == [(what, m) for what, _, m in checks]
    assert stats == {seq: actions[seq] for seq in stats}  # and at every other statistics frame


# --- a consumer that follows docs/verdict.md, judged under faults -----------------------------

UNKNOWN: Final = "unknown"  # joined mid-match: no point or announcement seen yet


class MomentConsumer(CONSUMER.Consumer):  # type: ignore[misc,name-defined]
    """The example consumer (examples/fuzz_consumers/consumer.py), reporting the moment too,
    as docs/verdict.md defines it, from the match totals' changes between the frames it
    applies; it leaves `moment` out of a belief while it cannot know it (joined mid-match)."""

    def __init__(self) -> None:
        super().__init__(None)
        self.counts: dict[tuple[str, int], int] | None = None  # of the last frame applied
        self.held: Moment | str = UNKNOWN
        self.before_point: Moment | str = UNKNOWN

    def _apply(self, frame: dict[str, Any]) -> None:
        super()._apply(frame)
        now = {
            (_side(team), aggregate["actionId"]): aggregate["actionAggregate"]
            for team in frame.get("teamActionAggregates") or []
            for aggregate in team.get("gameActionAggregates") or []
        }
        if self.counts is not None:
            self._follow(self.counts, now)
        self.counts = now

    def _follow(self, old: dict[tuple[str, int], int], now: dict[tuple[str, int], int]) -> None:
        def moved(action: int) -> tuple[list[str], list[str]]:
            sides = ("home", "away")
            change = {side: now.get((side, action), 0) - old.get((side, action), 0) for side in sides}
            return [s for s in sides if change[s] > 0], [s for s in sides if change[s] < 0]

        rose, fell = moved(POINT_SCORED)
        if rose and not fell:
            self.before_point, self.held = self.held, None
        elif rose:
            self.held = None
        elif fell:
            self.held, self.before_point = self.before_point, None
        for action, kind in ANNOUNCED.items():
            announced, withdrawn = moved(action)
            for side in withdrawn:
                self.held = None if self.held == (kind, side) else self.held
                self.before_point = None if self.before_point == (kind, side) else self.before_point
            for side in announced:
                self.held = (kind, side)

    def belief(self, seq: int) -> dict[str, Any]:
        belief: dict[str, Any] = super().belief(seq)
        if self.held != UNKNOWN or self.finished:
            held = None if self.finished or self.held == UNKNOWN else self.held
            belief["moment"], belief["moment_side"] = held if isinstance(held, tuple) else (None, None)
        return belief


def _side(team: dict[str, Any]) -> str:
    return "home" if team["team"]["homeTeam"] else "away"


async def _moment_beliefs(url: str, token: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    await CONSUMER.follow(url, token, MomentConsumer(), found.append)
    return found


def test_a_consumer_following_the_doc_passes_under_faults_and_corrections() -> None:
    reported: list[int] = []

    async def counting(url: str, token: str) -> list[dict[str, Any]]:
        beliefs = await _moment_beliefs(url, token)
        reported.append(sum(1 for b in beliefs if b.get("moment") is not None))
        return beliefs

    result = check_consumer(counting, loop="trio", examples=60, seed=3, max_faults=1)
    assert result.examples >= 60 and sum(reported) > 100  # the moment was judged, and often held
