"""A deliberately naive consumer of the statistics feed, written against the clean stream of
ttrec before issue 14: it believes seqNums run 1, 2, 3..., that counts never go down and that
every match ends with a winner. tests/test_simulated_feeds.py shows the new samples break it
(and that a careful consumer, reading the same frames, does not break)."""

from __future__ import annotations

from collections.abc import Iterable

from ttrec.match import StatsFrame, parse_frame


class NaiveConsumerError(AssertionError):
    """One of the naive consumer's beliefs was wrong."""


def consume(frame_texts: Iterable[str]) -> str:
    """The winner, as the naive consumer works it out; raises on the first surprise."""
    expected_seq = 1
    previous: StatsFrame | None = None
    for text in frame_texts:
        frame = parse_frame(text)
        if frame.seq_num != expected_seq:
            raise NaiveConsumerError(f"missed frames: expected seqNum {expected_seq}, got {frame.seq_num}")
        expected_seq += 1
        if previous is not None:
            for old, new in ((previous.home, frame.home), (previous.away, frame.away)):
                assert old is not None and new is not None
                for action, count in old.totals.items():
                    if new.count(action) < count:
                        raise NaiveConsumerError(f"count of {action} went down at seqNum {frame.seq_num}")
        previous = frame
        if frame.finished:
            if frame.winner is None:
                raise NaiveConsumerError("the match finished without a winner")
            return frame.winner
    raise NaiveConsumerError("the stream ended before the match finished")
