"""`ttrec watch`: a consumer of the feed that keeps a scoreboard instead of a file.

It connects like the recorder (Accept header, auth message first), folds every data frame
into a `ttrec.scoreboard.Scoreboard` and hands the board to `show` as it changes, and every
`refresh_s` so that "last frame 3.0s ago" keeps counting on a terminal.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

import trio
from trio_websocket import ConnectionClosed, ConnectionRejected, HandshakeError

from recorder.connection import Connect, Socket, websocket_connect
from recorder.secret import Token
from ttrec.actions import PacketError, parse_packet
from ttrec.errors import TtrecError, UpstreamRejected
from ttrec.feed import Feed, auth_message, classify, feed_of_url, inspect_text
from ttrec.match import FrameError, parse_frame
from ttrec.scoreboard import Scoreboard
from ttrec.wire import ABNORMAL_CLOSURE

REFRESH_S: Final = 0.5  # how often a terminal board is redrawn between frames


class WatchError(TtrecError):
    """The connection could not be made or was lost before the match finished."""


@dataclass(frozen=True, slots=True)
class WatchResult:
    board: Scoreboard
    ended: str  # "finished", "closed by the server (1000 ...)", "connection lost (no close frame)"


Show = Callable[[Scoreboard, bool], None]  # (board, a new frame arrived?)


async def watch(
    url: str,
    token: Token,
    show: Show,
    *,
    connect: Connect = websocket_connect,
    refresh_s: float | None = REFRESH_S,
    stop_at_finished: bool = True,
) -> WatchResult:
    """Watch until the match finishes (or the server closes); `refresh_s=None` redraws
    only when something arrives (plain output)."""
    board = Scoreboard()
    try:
        async with connect(url) as ws:
            await ws.send_message(auth_message(token.reveal()))
            async with trio.open_nursery() as nursery:
                if refresh_s is not None:
                    nursery.start_soon(_refresh, board, show, refresh_s)
                ended = await _receive(ws, board, show, token, stop_at_finished, feed_of_url(url))
                nursery.cancel_scope.cancel()  # stops the redraws, nothing else
            with trio.move_on_after(1):
                await ws.aclose()
        if isinstance(ended, UpstreamRejected):
            raise ended  # raised out here so that no nursery wraps it in a group
        return WatchResult(board, ended)
    except ConnectionRejected as exc:
        body = token.scrub((exc.body or b"").decode("utf-8", "replace"))
        raise UpstreamRejected(exc.status_code, body) from None
    except (HandshakeError, OSError, trio.BrokenResourceError) as exc:
        cause = exc.__cause__ or exc.__context__ or exc
        raise WatchError(
            f"cannot connect to {url}: {token.scrub(str(cause) or type(cause).__name__)}"
        ) from None


async def _receive(
    ws: Socket, board: Scoreboard, show: Show, token: Token, stop_at_finished: bool, feed: Feed
) -> str | UpstreamRejected:
    while True:
        try:
            message = await ws.get_message()
        except ConnectionClosed as exc:
            reason = exc.reason
            code = reason.code if reason is not None else None
            if board.frame is not None and board.frame.finished:
                return "finished"
            if code in (None, ABNORMAL_CLOSURE):
                return "connection lost (no close frame)"  # 1006 is what trio-websocket fills in
            text = token.scrub((reason.reason if reason is not None else None) or "")
            return f"closed by the server ({code}{' ' + text if text else ''})"
        now = trio.current_time()
        if isinstance(message, bytes):
            continue
        if classify(message, feed) == "heartbeat":
            refused = _refusal(message, token)
            if refused is not None:
                return refused
            board.add_heartbeat(now)
            show(board, False)
            continue
        try:
            if feed == "actions":
                board.add_packet(parse_packet(message), now)
            else:
                board.add_frame(parse_frame(message), now)
        except (FrameError, PacketError):
            continue  # a data frame this board cannot read: nothing to score
        show(board, True)
        if stop_at_finished and board.frame is not None and board.frame.finished:
            return "finished"


def _refusal(message: str, token: Token) -> UpstreamRejected | None:
    """The server's 401 error frame comes as text after the handshake; what an error
    frame is, ttrec.feed.inspect_text says (as for the recorder)."""
    status = inspect_text(message).error_status
    if status is None or status < 400:
        return None
    error = json.loads(message)["error"]  # an object with "error": inspect_text parsed it
    return UpstreamRejected(status, token.scrub(str(error)), in_frame=True)


async def _refresh(board: Scoreboard, show: Show, every_s: float) -> None:
    while True:
        await trio.sleep(every_s)
        show(board, False)
