"""`ttrec cat`: print a capture's text, or its data frames' exact payloads.

Shared by the click command and by `main`, the console entry point, which runs a plain
`ttrec cat [--frames] FILE` without loading click and the other commands: on a large
capture start-up was a third of the command's time (benchmarks/capture_io.py compares it
with `zstd -dc`). Anything else, and any capture that does not open, goes to click, which
reports it the usual way.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import BinaryIO

from ttrec.capture import CaptureReader
from ttrec.errors import CaptureFormatError, TtrecError


def cat_to(reader: CaptureReader, out: BinaryIO, *, frames: bool, end: str = "\n") -> list[str]:
    """Write the capture to `out` (with `frames`, each payload followed by `end`); return
    the notes for stderr (a torn tail, payloads that span lines), or raise
    CaptureFormatError when damage stopped the copy (what came before it is written)."""
    spanning = 0
    if frames:
        spanning = _write_frames(reader, out, end)
    else:
        reader.copy_text(out.write)
    out.flush()
    if reader.damage:
        raise CaptureFormatError(reader.path, None, reader.damage)
    notes = []
    if spanning:
        notes.append(
            f"note: {reader.path}: {spanning} "
            + ("payload holds newlines and spans" if spanning == 1 else "payloads hold newlines and span")
            + " several lines"
            " (printed exactly as they came); --null ends each payload with a NUL byte instead"
        )
    if reader.torn_tail and frames:
        notes.append(f"note: {reader.path}: torn tail after line {reader.lines}")
    elif reader.torn_tail:
        why = "the recorder was stopped mid-write or is still writing"
        notes.append(f"note: {reader.path}: torn tail ({why}); every complete line was printed")
    return notes


def _write_frames(reader: CaptureReader, out: BinaryIO, end: str) -> int:
    """Each frame's text followed by `end`, one encode and one write a run of lines (~16
    frames, ~50 KB on a recorder's capture; per frame they cost as much as parsing). The
    frames before a bad line are written before its error propagates. Returns how many
    payloads held a newline: the provider documents its frames pretty-printed, and such a
    payload, written exactly, is not one line."""
    spanning = 0
    for batch in reader.frame_text_batches():
        if batch:
            batch.append("")  # the last text's end, without another copy of the batch
            if end == "\n":
                spanning += sum(map(_holds_newline, batch))
            out.write(end.join(batch).encode())
    return spanning


def _holds_newline(payload: str) -> bool:
    # A memchr: `cat --frames` took as long as without the check in 6 alternating runs,
    # where a str.count of each run's text added about a fifth.
    return "\n" in payload


def _plain_cat(args: list[str]) -> tuple[Path, bool] | None:
    """The capture and --frames of `cat [--frames] FILE` naming an existing file, else None."""
    if not args or args[0] != "cat":
        return None
    rest = args[1:]
    frames = "--frames" in rest
    names = [a for a in rest if a != "--frames"]
    if len(names) != 1 or len(rest) - len(names) > 1 or names[0].startswith("-"):
        return None
    path = Path(names[0])
    return (path, frames) if path.is_file() else None


def main() -> None:
    plain = _plain_cat(sys.argv[1:])
    if plain is not None:
        try:
            reader = CaptureReader(plain[0])
        except TtrecError:
            reader = None  # click says what is wrong with it, as for any command
        if reader is not None:
            sys.exit(_fast_cat(reader, frames=plain[1]))
    from ttrec.cli import main as cli_main

    cli_main()


def _fast_cat(reader: CaptureReader, *, frames: bool) -> int:
    with reader:
        try:
            notes = cat_to(reader, sys.stdout.buffer, frames=frames)
        except TtrecError as exc:
            print(f"Error: {exc}", file=sys.stderr)
            return 1
        except BrokenPipeError:
            # `ttrec cat x | head`: the reader left, as in the click command. Point stdout
            # at /dev/null so that flushing it at exit raises nothing either.
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            return 0
        except OSError as exc:
            print(f"Error: cannot write the output: {exc.strerror or exc}", file=sys.stderr)
            return 1
    for note in notes:
        print(note, file=sys.stderr)
    return 0
