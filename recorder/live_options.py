"""What `ttrec record --live` is asked to do (recorder.live does it). Apart from
recorder.live so that the CLI can parse its options without importing the HTTP client,
an optional dependency (`pip install 'ttrec[live]'`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final

from recorder.policy import DEFAULT_BACKOFF, Backoff
from ttrec.feed import Feed
from ttrec.shards import ALL, Shard

DEFAULT_POLL_S: Final = 30.0  # the provider's FAQ polls a live fixture every 30 s
REQUEST_TIMEOUT_S: Final = 10.0  # an API answer slower than this counts as a failed poll


@dataclass(frozen=True, slots=True)
class LiveOptions:
    api_url: str
    feeds: tuple[Feed, ...] = ("statistics",)
    poll_s: float = DEFAULT_POLL_S
    type: str | None = None  # lowerCamel, as the API's query takes it
    coverage: str | None = None
    until_idle: bool = False
    shard: Shard = ALL  # --shard I/N --replicas R: only the fixtures this recorder's shard owns
    request_timeout_s: float = REQUEST_TIMEOUT_S
    backoff: Backoff = field(default=DEFAULT_BACKOFF)
