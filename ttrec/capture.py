"""Writing and reading capture files (`*.jsonl.zst`, SPEC §2).

The writer flushes a zstd block after every record, so whatever it wrote survives the
process being killed at any instant; the reader streams in constant memory, reads across
zstd frames, and stops cleanly at a torn tail, saying so.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from pathlib import Path
from types import TracebackType
from typing import IO, TYPE_CHECKING, Final, Self

import zstandard

from ttrec.errors import CaptureFormatError, CaptureWriteError
from ttrec.header import Header, RecordError, decode_header, encode_header

# ttrec.records (the record classes, orjson) is imported where records are written or
# read, not here: `ttrec cat` copies text without them, and on a large capture start-up
# was a third of its time (benchmarks/capture_io.py); `cat --frames` needs orjson only
# (ttrec.text_lines).
if TYPE_CHECKING:
    from ttrec.records import Record

CAPTURE_SUFFIX: Final = ".jsonl.zst"  # every capture file's name ends so
ZSTD_MAGIC: Final = b"\x28\xb5\x2f\xfd"
COMPRESSION_LEVEL: Final = 9  # ~2x the ratio of zstd's default level on match JSON, ~10 us a record
# A 128 KiB window spans dozens of frames, all the context the next frame needs, and keeps
# a writer at ~1.2 MiB instead of ~15 MiB: a recorder holds one writer per fixture.
WINDOW_LOG: Final = 17
TABLE_LOG: Final = 16
# A zstd frame is ended once it spans this much capture time, so a live file is a sequence
# of complete, checksummed frames but for its last minute. Every record is durable at its
# block flush anyway; a frame end resets the compression context, and ending one every
# 5 s of a live match cut the ratio from ~32x to ~8x (benchmarks/capture_io.py).
FRAME_SPAN_NS: Final = 60_000_000_000
# Compressed bytes read at a time: a few of the writer's frames. Where a frame ends,
# python-zstandard copies the rest of the chunk (`unused_data`) to go on with, so the
# copying grows with the frames a chunk spans: at 64 KiB, two thirds as much as the text.
READ_CHUNK: Final = 1 << 14
# `cat --frames` writes at most this many lines' frames at once (~200 KB of match frames):
# temporaries of megabytes are mapped fresh from the kernel, and their page faults cost
# more than the copying (benchmarks/capture_io.py).
FRAME_BATCH_LINES: Final = 64
# Iterating a reader builds at most this many records ahead of the one handed out: a
# zstd frame's lines may be many, and the records of a batch are held at once.
RECORD_BATCH_LINES: Final = 64


class _Closing(ABC):
    """`with X(...) as x:` closes x at the end of the block."""

    @abstractmethod
    def close(self) -> None: ...

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


def create_exclusive(path: Path) -> IO[bytes]:
    """Open a new file for writing; FileExistsError when `path` exists. "x": a recording
    session always writes a new file; appending to a torn one would corrupt everything
    after the tear.

    Where the system allows it the file is made without a name (Linux's O_TMPFILE) and
    appears as `path` only once its first bytes are in it (`CaptureWriter` calls its
    `publish` after the header): a recorder killed at any instant leaves no empty capture,
    which no reader could tell from a damaged one. Elsewhere the file is made by its name
    at once."""
    if hasattr(os, "O_TMPFILE") and _PROC_FDS.is_dir():
        try:
            fd = os.open(path.parent, os.O_TMPFILE | os.O_WRONLY | os.O_CLOEXEC, 0o666)
        except OSError:  # a file system without unnamed files, or a refusal open() will name
            pass
        else:
            return _UnnamedFile(fd, path)
    return open(path, "xb")


_PROC_FDS: Final = Path("/proc/self/fd")  # an unnamed file is linked in through its entry here


class _UnnamedFile(io.BufferedWriter):
    """A new file outside any directory until `publish` links it in as `target`."""

    def __init__(self, fd: int, target: Path) -> None:
        super().__init__(io.FileIO(fd, "wb"))
        self.target = target

    def publish(self) -> None:
        """Give the file its name; FileExistsError if another took it meanwhile."""
        # linkat with AT_SYMLINK_FOLLOW, which os.link asks for only with a directory fd
        # (plain link() would link the /proc entry itself, across devices).
        fds = os.open(_PROC_FDS, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        try:
            os.link(str(self.fileno()), self.target, src_dir_fd=fds, follow_symlinks=True)
        finally:
            os.close(fds)


def open_new(path: Path, create: Callable[[Path], IO[bytes]] = create_exclusive) -> IO[bytes]:
    """`create(path)`, its failure as one CaptureWriteError line."""
    try:
        return create(path)
    except OSError as exc:
        raise _creation_error(path, exc) from None


def _creation_error(path: Path, exc: OSError) -> CaptureWriteError:
    if isinstance(exc, FileExistsError):
        return CaptureWriteError(path, "already exists; ttrec never overwrites a capture")
    return CaptureWriteError(path, exc.strerror or str(exc))


class CaptureWriter(_Closing):
    """Appends records to a new capture file; never opens an existing one.

    `target` is the path of the file to create, or a binary file already open for writing
    (then `path` names it in error messages, and the writer closes it when done)."""

    def __init__(
        self,
        target: Path | str | IO[bytes],
        header: Header,
        *,
        frame_span_ns: int = FRAME_SPAN_NS,
        path: Path | str | None = None,
    ) -> None:
        self._frame_span_ns = frame_span_ns
        self._last_t = 0
        self._frame_start_t: int | None = None
        if isinstance(target, (str, Path)):
            self.path = Path(target)
            self._file = open_new(self.path)
        else:
            self.path = Path(path if path is not None else getattr(target, "name", "<file>"))
            self._file = target
        self._closed = False
        params = zstandard.ZstdCompressionParameters.from_level(
            COMPRESSION_LEVEL,
            window_log=WINDOW_LOG,
            hash_log=TABLE_LOG,
            chain_log=TABLE_LOG,
            write_checksum=1,
        )
        compressor = zstandard.ZstdCompressor(compression_params=params)
        from ttrec.records import encode_record  # see the note at the imports

        self._encode = encode_record
        self._zstd = compressor.stream_writer(self._file, closefd=False)
        self._append(encode_header(header), end_frame=False)
        self._publish()

    def _publish(self) -> None:
        """Name a file made unnamed (see create_exclusive), now that it holds the header."""
        publish = getattr(self._file, "publish", None)
        if publish is None:
            return
        try:
            publish()
        except OSError as exc:
            self._abandon()
            raise _creation_error(self.path, exc) from None

    def write(self, record: Record) -> None:
        if record.t < self._last_t:
            raise ValueError(f"record time went backwards: {record.t} < {self._last_t}")
        self._last_t = record.t
        if self._frame_start_t is None:
            self._frame_start_t = record.t
        end_frame = record.t - self._frame_start_t >= self._frame_span_ns
        self._append(self._encode(record), end_frame=end_frame)
        if end_frame:
            self._frame_start_t = None

    def _append(self, line: bytes, *, end_frame: bool) -> None:
        if self._closed:
            raise CaptureWriteError(self.path, "the capture is already closed")
        try:
            self._zstd.write(line)
            self._zstd.flush(zstandard.FLUSH_FRAME if end_frame else zstandard.FLUSH_BLOCK)
            self._file.flush()  # into the kernel: survives the process being killed
        except OSError as exc:
            self._abandon()
            raise CaptureWriteError(self.path, exc.strerror or str(exc)) from None

    def close(self) -> None:
        if self._closed:
            return
        try:
            self._zstd.flush(zstandard.FLUSH_FRAME)
            self._file.flush()
            os.fsync(self._file.fileno())
        except OSError as exc:
            self._abandon()
            raise CaptureWriteError(self.path, exc.strerror or str(exc)) from None
        self._closed = True
        self._file.close()

    def _abandon(self) -> None:
        """After a failed write the stream is unusable; what was flushed stays readable."""
        self._closed = True
        with contextlib.suppress(OSError):
            self._file.close()


class CaptureReader(_Closing):
    """Streams a capture: `header` is read on open, iterating yields the records.

    After iteration `torn_tail` tells whether the file ended mid-frame or mid-line (a
    recorder that was killed, or one still writing), and `damage` describes corruption
    that stopped the read early (a salvaged prefix was returned).
    """

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self.torn_tail = False
        self.damage: str | None = None
        self.lines = 0  # complete lines handed out so far, the header included
        self._complete_lines = 0  # complete lines decompressed so far
        self._run: list[memoryview] = []  # the lines of the run being handed out
        self._run_start = 0  # complete lines decompressed before that run
        self._magic = b""  # read to recognise the file, then fed to the decompressor first
        self._rest = b""  # decompressed text after the last newline so far
        self._counting = True  # False once copy_text() streams without splitting lines
        try:
            self._file: IO[bytes] = open(self.path, "rb")  # noqa: SIM115 (closed in close())
        except OSError as exc:
            raise CaptureFormatError(self.path, None, exc.strerror or str(exc)) from None
        try:
            self._chunks = self._iter_chunks()
            self._runs = self._iter_runs()
            self.header = self._read_header()
        except BaseException:
            self.close()
            raise

    def _read_header(self) -> Header:
        # No seek back: a capture may come through a pipe (`ttrec info /dev/stdin`).
        magic = self._magic = self._file.read(4)
        if magic != ZSTD_MAGIC:
            raise CaptureFormatError(self.path, None, "not a zstd file (is it a ttrec capture?)")
        line = next(self._lines(), None)
        if line is None:
            problem = self.damage or "the capture is empty (not even a header survived)"
            raise CaptureFormatError(self.path, 1, problem)
        self.header_line = bytes(line)
        try:
            return decode_header(json.loads(self.header_line.decode()))
        except (ValueError, RecordError, RecursionError) as exc:
            raise CaptureFormatError(self.path, 1, _describe(exc)) from None

    def _iter_chunks(self) -> Iterator[bytes]:
        """Decompressed bytes, frame after frame; sets `torn_tail` / `damage` at the end.

        One decompressor per zstd frame, since only its `eof` tells that a frame ended (a
        decompressor reading across frames, or zstd's stream reader, says nothing of a
        torn last frame). The writer ends a frame after a record, so a frame's text is
        whole lines: it comes out as one piece, in one copy."""
        dctx = zstandard.ZstdDecompressor()
        dobj = dctx.decompressobj()
        pending = False  # input fed to the current frame that has not ended it yet
        first, self._magic = self._magic, b""
        while chunk := first + self._file.read(READ_CHUNK):
            first = b""
            while chunk:
                try:
                    out = dobj.decompress(chunk)
                except zstandard.ZstdError as exc:
                    where = (
                        f"after line {self._complete_lines}" if self._counting else "after the text copied"
                    )
                    self.damage = f"corrupt zstd data {where} ({exc})"
                    return
                pending = not dobj.eof
                if out:
                    yield out
                chunk = dobj.unused_data if dobj.eof else b""
                if dobj.eof:
                    dobj = dctx.decompressobj()
        if pending:
            self.torn_tail = True

    def _iter_blocks(self) -> Iterator[bytes]:
        """Runs of complete lines, each ending with a newline."""
        for chunk in self._chunks:
            cut = chunk.rfind(b"\n") + 1
            if not cut:
                self._rest += chunk
                continue
            block = self._rest + chunk[:cut] if self._rest else chunk[:cut]
            self._rest = chunk[cut:]
            yield block
        self._end_of_text()

    def _end_of_text(self) -> None:
        if self._rest:
            self.torn_tail = True  # a last line without its newline was cut mid-write
            self._rest = b""

    def _iter_runs(self) -> Iterator[list[memoryview]]:
        """The complete lines of each block, without their newlines, as views of it: a
        line's bytes are not copied (`orjson` reads a view)."""
        for block in self._iter_blocks():
            view, find = memoryview(block), block.find
            run = []
            start = 0
            while (end := find(b"\n", start)) >= 0:
                run.append(view[start:end])
                start = end + 1
            self._run_start = self._complete_lines
            self._complete_lines += len(run)
            self._run = run
            yield run

    def _pending_runs(self) -> Iterator[tuple[list[memoryview], int]]:
        """The runs of lines not handed out yet, each with the number of lines before it.
        Every way of reading sets `lines` to the line it is handing out, so that errors
        name it and a read stopped early resumes after it."""
        handed_out = self.lines - self._run_start
        if handed_out < len(self._run):
            yield self._run[handed_out:], self.lines
        for run in self._runs:
            yield run, self._run_start

    def _lines(self) -> Iterator[memoryview]:
        for run, before in self._pending_runs():
            for self.lines, line in enumerate(run, before + 1):
                yield line

    def raw_lines(self) -> Iterator[bytes]:
        """The remaining complete lines (without newline), not decoded."""
        return map(bytes, self._lines())

    def copy_text(self, write: Callable[[bytes | memoryview], object]) -> None:
        """Hand `write` the capture's text from the header on, in large pieces, up to the
        last complete line: the fast way to copy a capture (`ttrec cat`). Call it right
        after opening. Lines are not counted (`lines` stays at 1): on a large capture
        counting newlines costs more than decompressing."""
        if self.lines != 1:
            raise RuntimeError("copy_text() copies a whole capture: call it right after opening")
        self._counting = False
        write(self.header_line + b"\n")
        pending = self._run[self.lines - self._run_start :]
        if pending:
            write(b"\n".join(pending) + b"\n")
        self._run = []
        for chunk in self._chunks:
            cut = chunk.rfind(b"\n") + 1
            if not cut:
                self._rest += chunk
                continue
            if self._rest:
                write(self._rest)
            write(memoryview(chunk)[:cut])  # no copy of the (megabytes of) text
            self._rest = chunk[cut:]
        self._end_of_text()

    def frame_texts(self) -> Iterator[str]:
        """The exact text of each remaining data frame, one at a time (`frame_text_batches`
        flattened: `lines` moves a batch at a time)."""
        for batch in self.frame_text_batches():
            yield from batch

    def frame_text_batches(self) -> Iterator[list[str]]:
        """The exact texts of the remaining data frames, up to FRAME_BATCH_LINES lines'
        worth at a time (`ttrec cat --frames`: one write a batch). A frame's line is parsed
        and nothing else checked (building a Frame and checking every field costs half
        again as much); any other line is decoded as a record, so what is not JSON or not
        a record is still refused with its line number.
        The texts before a line that is refused are handed out before its error is raised;
        `lines` is the last line read of the batch handed out."""
        for run, before in self._pending_runs():
            for start in range(0, len(run), FRAME_BATCH_LINES):
                stop = min(start + FRAME_BATCH_LINES, len(run))
                yield from self._frame_batch(run, before, start, stop)

    def _frame_batch(self, run: list[memoryview], before: int, start: int, stop: int) -> Iterator[list[str]]:
        from ttrec.text_lines import frame_text, quick_text_lines  # see the note at the imports

        texts: list[str] = []
        while (start := quick_text_lines(run, start, stop, texts, None)) < stop:
            self.lines = before + start + 1  # the line the quick way passed on, named in errors
            try:
                text = frame_text(run[start])
            except (ValueError, RecordError, RecursionError) as exc:
                if texts:
                    self.lines -= 1
                    yield texts
                    self.lines += 1
                raise self._error(exc) from None
            if text is not None:
                texts.append(text)
            start += 1
        self.lines = before + stop
        yield texts

    def __iter__(self) -> Iterator[Record]:
        from ttrec.records import decode_line, quick_records  # see the note at the imports

        records: list[Record] = []
        for run, before in self._pending_runs():
            start, stop = 0, len(run)
            while start < stop:
                # Records are built a batch of lines at a time (per line, a call costs as
                # much as the checks) and handed out one at a time.
                limit = min(stop, start + RECORD_BATCH_LINES)
                end = quick_records(run, start, limit, records)
                for self.lines, record in enumerate(records, before + start + 1):
                    yield record
                records.clear()
                start = end
                if end < limit:  # a line the quick way passed on
                    self.lines = before + end + 1
                    try:
                        decoded = decode_line(run[end])  # the careful way
                    except (ValueError, RecordError, RecursionError) as exc:
                        raise self._error(exc) from None
                    if decoded is not None:  # None: a record type this version does not know
                        yield decoded
                    start += 1

    def records_and_errors(self) -> Iterator[Record | CaptureFormatError]:
        """Every record, and in place of each line that is not one its error: reads on
        past bad lines, for a validator that wants every problem (`ttrec check`)."""
        from ttrec.records import decode_line  # see the note at the imports

        for line in self._lines():
            try:
                record = decode_line(line)
            except (ValueError, RecordError, RecursionError) as exc:
                yield self._error(exc)
                continue
            if record is not None:
                yield record

    def _error(self, exc: Exception) -> CaptureFormatError:
        """The error of the line being handed out."""
        return CaptureFormatError(self.path, self.lines, _describe(exc))

    def close(self) -> None:
        self._file.close()


def _describe(exc: Exception) -> str:
    if isinstance(exc, RecursionError):  # e.g. 100,000 "[": deeper than the JSON parser goes
        return "line is not JSON (nested too deeply)"
    if isinstance(exc, UnicodeDecodeError):
        return "line is not UTF-8"
    if isinstance(exc, json.JSONDecodeError):
        return f"line is not JSON ({exc.msg})"
    return str(exc)


def read_capture(path: Path | str) -> tuple[Header, list[Record]]:
    """Everything in a (small) capture at once; prefer iterating a CaptureReader."""
    with CaptureReader(path) as reader:
        return reader.header, list(reader)
