"""The one policy for every file a ttrec command writes (docs/outputs.md).

- A path that exists is replaced only when it is a regular file that ttrec itself wrote
  for the same purpose, recognised by the marker ttrec puts at its start (a ready file, a
  report, a throwaway CA). Anything else that exists — a capture, a file of the user's, a
  device, a FIFO, a directory, a symlink — is refused (`OutputRefused`) and left untouched.
- A capture that `simulate`, `slice`, `splice` or `warp` makes is written under a hidden
  temporary name in the same directory and linked to its name only once complete (never
  replacing anything), so a failure leaves nothing behind that would block a retry.
- `-` as a capture output means stdout: the capture is built in a temporary file and
  copied out once complete; never a file named `-`, never binary on a terminal.
- Every replacing write goes through a temporary file and `os.replace`, so a reader sees
  the old content or the new, never half of it.

- A folder of files (`ttrec fuzz --out`) is written into a new or empty directory, or into
  one ttrec wrote before, recognised by its manifest (a marked JSON file listing each file
  with the digest of what ttrec wrote); a file of the folder is replaced only while it is
  exactly what ttrec wrote, and anything else in the folder refuses it (`check_own_folder`).

The pytest plugin's `--ttrec-record-mode=rewrite` replaces a capture, as asked, and only a
capture: a regular file that reads as one (`check_recordable_again`).

Recording (`ttrec record`) is the exception by design: a capture there is written in place
as it grows, so a killed recorder still leaves every frame it flushed (SPEC §2).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import secrets
import shutil
import stat
import tempfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Final

from ttrec.capture import CAPTURE_SUFFIX, CaptureReader
from ttrec.errors import CaptureFormatError, CaptureWriteError, OutputRefused, OutputWriteError
from ttrec.feed import Feed

STDOUT: Final = "-"
MARKER_KEY: Final = "written_by"  # the first key of every JSON file ttrec may replace later
_PROBE_BYTES: Final = 4096  # a marker is at the very start; never read a big file to find it


@dataclass(frozen=True, slots=True)
class Purpose:
    """What a file is for. `marker` is how ttrec recognises a file it wrote for this purpose
    (a regex matched at the start of the file); None: such a file is never replaced."""

    what: str
    marker: re.Pattern[str] | None = None

    def recognises(self, head: str) -> bool:
        return self.marker is not None and self.marker.match(head) is not None


def _json_marker(written_by: str) -> re.Pattern[str]:
    return re.compile(r'\{\s*"' + MARKER_KEY + r'"\s*:\s*"' + re.escape(written_by) + '"')


# The values of MARKER_KEY: the first key ttrec writes in each of its JSON files.
READY_WRITTEN_BY: Final = "ttrec serve --ready-file"
REPORT_WRITTEN_BY: Final = "ttrec serve --report"
REPRO_WRITTEN_BY: Final = "ttrec fuzz --out"
# PEM readers (OpenSSL, so Python's ssl, Node, curl; Go's pem) skip text outside the
# BEGIN/END lines, as certifi's bundle relies on: a comment line after the certificate marks
# the CA as ttrec's, and the file still starts with "-----BEGIN CERTIFICATE-----".
CA_TRAILER: Final = "# ttrec: a throwaway CA for `ttrec serve --tls`; a later run may replace this file\n"
_ONE_PEM_CERTIFICATE: Final = (
    r"-----BEGIN CERTIFICATE-----\r?\n[A-Za-z0-9+/=\r\n]+-----END CERTIFICATE-----\r?\n"
)

READY_FILE: Final = Purpose("the ready file", _json_marker(READY_WRITTEN_BY))
REPORT: Final = Purpose("the report", _json_marker(REPORT_WRITTEN_BY))
CA_FILE: Final = Purpose("the CA certificate", re.compile(_ONE_PEM_CERTIFICATE + re.escape(CA_TRAILER)))
CAPTURE: Final = Purpose("a capture")
# The manifest of a folder ttrec writes: {"written_by": ..., "files": {name: [sha256, ...]}}.
REPRO_MANIFEST: Final = "ttrec-repro.json"
REPRO_FOLDER: Final = Purpose("a repro folder", _json_marker(REPRO_WRITTEN_BY))
_MAX_MANIFEST_BYTES: Final = 64 * 1024  # a handful of names and digests; never read a big file


def check_replaceable(path: Path, purpose: Purpose) -> None:
    """Raise OutputRefused unless `path` is free, or a regular file ttrec wrote for `purpose`."""
    mode = _mode_there(path, purpose)
    if mode is None or (stat.S_ISREG(mode) and purpose.recognises(_head(path))):
        return
    raise OutputRefused(path, _refusal(mode, purpose))


def check_new(path: Path, purpose: Purpose = CAPTURE) -> None:
    """Raise OutputRefused if `path` exists in any form (a new capture never replaces one)."""
    mode = _mode_there(path, purpose)
    if mode is not None:
        raise OutputRefused(path, _refusal(mode, purpose))


def check_recordable_again(path: Path) -> None:
    """`path` for a capture the pytest plugin records (`--ttrec-record-mode` once or
    rewrite): nothing there, or a capture, which `rewrite` is asked to record again (a
    regular file whose header reads as one). Anything else — a file of the user's, a
    symbolic link (even to nothing), a directory, a device — is OutputRefused."""
    mode = _mode_there(path, CAPTURE)
    if mode is None:
        return
    if not stat.S_ISREG(mode):
        raise OutputRefused(path, _refusal(mode, CAPTURE))
    try:
        with CaptureReader(path):
            pass
    except CaptureFormatError:
        raise OutputRefused(
            path, "already exists and is not a ttrec capture; refusing to replace it"
        ) from None


def _mode_there(path: Path, purpose: Purpose) -> int | None:
    """The mode of what is at `path` itself (a link is not followed), None when nothing is;
    OutputRefused when it cannot be looked at."""
    try:
        return path.lstat().st_mode
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise OutputRefused(path, f"cannot write {purpose.what} here: {exc.strerror}") from None


def check_capture_destination(out: Path, file_suffix: str) -> None:
    """`out` for a recording: a new capture file (its name ends in `file_suffix`), or a
    directory — an existing one, or a new one whose name has no suffix, so that a mistyped
    file name (`match.zst`) is refused instead of silently becoming a directory."""
    if out.name.endswith(file_suffix):
        check_new(out)
    elif out.is_symlink() or out.exists():
        if not out.is_dir():
            raise OutputRefused(out, f"exists and is not a directory (capture names end in {file_suffix})")
    elif out.suffix:
        raise OutputRefused(
            out,
            f"not a capture file name (those end in {file_suffix}) nor a new directory's (no suffix); "
            "create the directory first to use this name",
        )


def _refusal(mode: int, purpose: Purpose) -> str:
    if stat.S_ISDIR(mode):
        return f"is a directory; give a file name for {purpose.what}"
    if stat.S_ISLNK(mode):
        return f"is a symbolic link; ttrec writes {purpose.what} to a new file or one it wrote itself"
    if not stat.S_ISREG(mode):
        return f"exists and is not a regular file; ttrec writes {purpose.what} to a new file or one it wrote"
    if purpose.marker is None:
        return "already exists; ttrec never overwrites a capture (or any file it did not write)"
    return f"already exists and is not {purpose.what} ttrec wrote; refusing to replace it"


def _head(path: Path) -> str:
    try:
        with path.open("rb") as file:
            return file.read(_PROBE_BYTES).decode("utf-8", errors="replace")
    except OSError:
        return ""


def write_replacing(path: Path, data: bytes, purpose: Purpose) -> None:
    """Write `data` to `path` atomically, replacing only a file ttrec wrote for `purpose`."""
    check_replaceable(path, purpose)
    _replace_file(path, data, purpose)


def remove_own(path: Path, purpose: Purpose) -> None:
    """Remove `path` if it is a file ttrec wrote for `purpose`; leave anything else alone."""
    with contextlib.suppress(OSError):
        if _is_own(path, purpose):
            path.unlink()


def is_stdout(out: Path | str) -> bool:
    return str(out) == STDOUT


def out_label(out: Path | str) -> str:
    """How a message names the output."""
    return "stdout" if is_stdout(out) else str(out)


def check_capture_output(out: Path | str, stdout: IO[bytes]) -> None:
    """Refuse, before any work, an output `new_capture` would refuse."""
    if is_stdout(out):
        if stdout.isatty():
            raise OutputRefused(Path(STDOUT), "will not write a binary capture to a terminal; redirect it")
    else:
        check_new(Path(out))


def feed_file(out: Path, feed: Feed) -> Path:
    """Where the capture of `feed` goes when `out` names a match's statistics capture: the
    same name with `.actions` before `.jsonl.zst` (as the recorder names its shards)."""
    if feed == "statistics":
        return out
    name = out.name
    stem = name[: -len(CAPTURE_SUFFIX)] if name.endswith(CAPTURE_SUFFIX) else name
    return out.with_name(f"{stem}.{feed}{CAPTURE_SUFFIX}")


@contextlib.contextmanager
def new_capture(out: Path | str, stdout: IO[bytes]) -> Iterator[Path]:
    """A path to write a new capture to (it does not exist yet). When the block ends
    normally the capture appears at `out` (or is copied to `stdout` for `-`); when it
    raises, nothing is left anywhere."""
    check_capture_output(out, stdout)
    if is_stdout(out):
        with tempfile.TemporaryDirectory(prefix="ttrec-out-") as scratch:
            tmp = Path(scratch) / f"capture{CAPTURE_SUFFIX}"
            with _named_as(out):
                yield tmp
            with tmp.open("rb") as built:
                shutil.copyfileobj(built, stdout)
            stdout.flush()
        return
    path = Path(out)
    tmp = _temp_name(path)
    try:
        with _named_as(out):
            yield tmp
        _publish(tmp, path)
    finally:
        _discard(tmp)


@contextlib.contextmanager
def _named_as(out: Path | str) -> Iterator[None]:
    """The temporary name means nothing to the user: errors name the output they asked for."""
    try:
        yield
    except CaptureWriteError as exc:
        raise CaptureWriteError(out_label(out), exc.problem) from None


def _publish(tmp: Path, path: Path) -> None:
    """Give the complete file `tmp` its name `path`, unless something took the name meanwhile."""
    try:
        os.link(tmp, path)  # fails if `path` exists: never replaces, unlike rename
    except FileExistsError:
        raise OutputRefused(path, _refusal(path.lstat().st_mode, CAPTURE)) from None
    except OSError:
        # A filesystem without hard links: rename, after checking the name is still free.
        check_new(path)
        os.rename(tmp, path)
    _sync_directory(path.parent)


def _sync_directory(directory: Path) -> None:
    """Make the new name durable (a rename lives in the directory)."""
    with contextlib.suppress(OSError):
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _temp_name(path: Path) -> Path:
    # Hidden, in the same directory (so the final link/rename is atomic), and unique.
    return path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")


@contextlib.contextmanager
def _temporary(path: Path) -> Iterator[tuple[Path, IO[bytes]]]:
    tmp = _temp_name(path)
    try:
        file = tmp.open("xb")
    except OSError as exc:
        raise OutputWriteError(path, f"cannot write here: {exc.strerror or exc}") from None
    try:
        yield tmp, file
    finally:
        file.close()
        _discard(tmp)


def _discard(tmp: Path) -> None:
    """Remove a temporary file, if there is one. A failure to is not reported: it would take
    the place of the error that brought us here (on a read-only filesystem even unlinking a
    name that does not exist fails, with EROFS, where a read-only directory says ENOENT)."""
    with contextlib.suppress(OSError):
        tmp.unlink(missing_ok=True)


def check_own_folder(out: Path, purpose: Purpose = REPRO_FOLDER, manifest: str = REPRO_MANIFEST) -> None:
    """Raise OutputRefused unless `out` is free, an empty directory, or a folder ttrec wrote
    for `purpose` whose every file is still exactly what ttrec wrote (by its manifest)."""
    try:
        if not out.exists():
            if out.is_symlink():
                raise OutputRefused(out, "is a symbolic link to nothing; give a new or empty directory")
            return
        if not out.is_dir():
            raise OutputRefused(
                out, f"exists and is not a directory; give a new or empty directory for {purpose.what}"
            )
        entries = sorted(out.iterdir())
    except OSError as exc:
        raise OutputRefused(out, f"cannot write {purpose.what} here: {exc.strerror}") from None
    if not entries:
        return
    listed = _listed(out / manifest, purpose)
    if listed is None:
        raise OutputRefused(
            out,
            f"holds {entries[0].name!r} and is not {purpose.what} ttrec wrote (it has no {manifest}); "
            "give a new or empty directory",
        )
    for entry in entries:
        if entry.name == manifest:
            continue
        if entry.name not in listed:
            raise OutputRefused(
                out, f"holds {entry.name!r}, which ttrec did not write; give a new or empty directory"
            )
        if not (_is_regular(entry) and _digest_of(entry) in listed[entry.name]):
            raise OutputRefused(
                out,
                f"{entry.name!r} is not what ttrec wrote there (changed since?); "
                "move it away or give another directory",
            )


def write_own_folder(
    out: Path, files: Mapping[str, bytes], purpose: Purpose = REPRO_FOLDER, manifest: str = REPRO_MANIFEST
) -> list[Path]:
    """Write `files` (name -> content) into the folder `out`, as `check_own_folder` allows;
    files of an earlier folder that `files` does not name are removed. At every instant each
    file is one that the manifest lists (old or new content), so a run killed half-way
    leaves a folder the next run still recognises."""
    check_own_folder(out, purpose, manifest)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputWriteError(out, f"cannot make {purpose.what}: {exc.strerror or exc}") from None
    before = _listed(out / manifest, purpose) or {}
    digests = {name: [_digest(data)] for name, data in files.items()}
    # Until the end, the manifest lists the old files too: a run killed half-way leaves a folder
    # whose every file (old, new or not yet removed) the next run recognises.
    during = {name: sorted({*before.get(name, []), *digests.get(name, [])}) for name in [*files, *before]}
    write_replacing(out / manifest, _manifest_text(during), purpose)
    for name, data in files.items():
        _replace_file(out / name, data, purpose)
    for name in before.keys() - files.keys():
        with contextlib.suppress(FileNotFoundError):
            (out / name).unlink()
    write_replacing(out / manifest, _manifest_text(digests), purpose)
    _sync_directory(out)
    return [out / name for name in files]


def _manifest_text(files: Mapping[str, list[str]]) -> bytes:
    # MARKER_KEY first: what makes the manifest recognisable as ttrec's (`_json_marker`).
    document = {MARKER_KEY: REPRO_WRITTEN_BY, "files": dict(files)}
    return (json.dumps(document, indent=2) + "\n").encode("utf-8")


def _listed(path: Path, purpose: Purpose) -> dict[str, list[str]] | None:
    """The files a manifest ttrec wrote lists, with their accepted digests; None when
    `path` is not such a manifest."""
    if not _is_own(path, purpose):
        return None
    try:
        with path.open("rb") as file:
            document = json.loads(file.read(_MAX_MANIFEST_BYTES + 1))
    except (OSError, ValueError, RecursionError):
        return None
    files = document.get("files") if isinstance(document, dict) else None
    if not isinstance(files, dict):
        return None
    return {
        str(name): [d for d in digests if isinstance(d, str)]
        for name, digests in files.items()
        if isinstance(digests, list)
    }


def _is_regular(path: Path) -> bool:
    try:
        return stat.S_ISREG(path.lstat().st_mode)
    except OSError:
        return False


def _is_own(path: Path, purpose: Purpose) -> bool:
    """`path` is a regular file (not followed through a link) that ttrec wrote for `purpose`."""
    try:
        return _is_regular(path) and purpose.recognises(_head(path))
    except OSError:
        return False


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _digest_of(path: Path) -> str | None:
    try:
        with path.open("rb") as file:
            return hashlib.file_digest(file, "sha256").hexdigest()
    except OSError:
        return None


def _replace_file(path: Path, data: bytes, purpose: Purpose) -> None:
    """`data` at `path` atomically (the caller checked that what is there is ttrec's)."""
    with _temporary(path) as (tmp, file):
        try:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
            file.close()
            os.replace(tmp, path)
        except OSError as exc:
            raise OutputWriteError(path, f"cannot write {purpose.what}: {exc.strerror or exc}") from None
