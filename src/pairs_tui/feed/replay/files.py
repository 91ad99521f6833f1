"""Opening a replay file: decompression, and recognising its format from the content.

Nothing here trusts a file name's extension: gzip, zip and Parquet are told apart by their
magic bytes, and the text formats by their first meaningful line.
"""

from __future__ import annotations

import enum
import io
import itertools
import os
import re
import stat
import zipfile
import zlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import msgspec

EXPECTED = (
    'expected Binance combined-stream NDJSON ({"stream":…,"data":{"e":"aggTrade",…}}), '
    'tick NDJSON ({"symbol":…,"ts":…,"price":…,"size":…}), an archive trades or aggTrades '
    "CSV, a bar CSV (ts,open,high,low,close,volume) or Parquet written by --record"
)
"""What a replay file may be, for error messages."""

_GZIP = b"\x1f\x8b"
_ZIP = b"PK\x03\x04"
_PARQUET = b"PAR1"
_OTHER_COMPRESSION = {
    b"\x28\xb5\x2f\xfd": "zstd",
    b"BZh": "bzip2",
    b"\xfd7zXZ\x00": "xz",
}
_PREFIXED = re.compile(rb"^\d+(?:\.\d+)?:\s*\{")
_SNIFF_LINES = 50
"""How many leading lines may be unreadable before a file counts as not NDJSON at all."""
SNIFF_BYTES = 64 * 1024
"""The start of a file that decides its format before the rest is read."""
MAX_LINE_BYTES = 2**20
"""The longest line a text replay file may have (a trade is a hundred bytes or so)."""
_CHUNK_BYTES = 2**20


class ReplayError(Exception):
    """A replay input that cannot be used. The message is one line naming the file.

    Args:
        message: The whole line, starting with the file's name (and line number).
        path: The file as the user gave it.
        line: The 1-based line the problem is on, when it is on one.
    """

    def __init__(self, message: str, *, path: str | None = None, line: int | None = None) -> None:
        super().__init__(message)
        self.path = path
        self.line = line


class Format(enum.Enum):
    """The kinds of replay file, as recognised from their content."""

    ENVELOPES = "Binance combined-stream NDJSON"
    PAYLOADS = "Binance raw-stream NDJSON"
    PREFIXED = "cryptofeed capture (<receive time>: <frame> a line)"
    TICKS = "tick NDJSON"
    CSV = "CSV"
    PARQUET = "Parquet"


@dataclass(frozen=True)
class ReplayInput:
    """One opened replay file: its decompressed content and its format."""

    name: str
    """The path as the user gave it; every message names the file this way."""
    path: Path
    """Where it is."""
    format: Format
    """What the content is."""
    data: bytes = b""
    """The decompressed content; empty for Parquet, which is read from ``path``. With
    :attr:`rest`, only its beginning."""
    inner_name: str = ""
    """The member's name when the file was a zip archive (it may carry the symbol)."""
    rest: Iterator[bytes] | None = None
    """The content after :attr:`data`, decompressed a piece at a time as it is read (a gzipped
    recording of stream frames, or a plain file of them read a piece at a time): the whole file
    is never in memory at once. Read it once."""

    def pieces(self) -> Iterator[bytes]:
        """The whole decompressed content, a piece at a time."""
        yield self.data
        if self.rest is not None:
            yield from self.rest

    def error(self, problem: str, line: int | None = None) -> ReplayError:
        """A :class:`ReplayError` about this file (and line)."""
        where = self.name if line is None else f"{self.name} line {line}"
        return ReplayError(f"{where}: {problem}", path=self.name, line=line)


def open_input(path: Path | str) -> ReplayInput:
    """Read one replay file (or a Parquet directory) and recognise its format.

    Args:
        path: A file, optionally gzip- or zip-compressed, or a directory of Parquet files.

    Returns:
        The file's decompressed content and format.

    Raises:
        ReplayError: The file is missing, unreadable, empty, truncated or of no known format.
    """
    name = str(path)
    path = Path(path)
    if path.is_dir():
        if not any(path.rglob("*.parquet")):
            raise ReplayError(
                f"{name}: a directory without .parquet files; name the files to replay instead",
                path=name,
            )
        return ReplayInput(name, path, Format.PARQUET)
    try:
        raw, rest = _read_bounded(path, name)
    except FileNotFoundError:
        raise ReplayError(f"{name}: no such file", path=name) from None
    except OSError as exc:
        raise ReplayError(f"{name}: cannot read it ({exc.strerror or exc})", path=name) from None
    if not raw:
        raise ReplayError(f"{name}: the file is empty", path=name)
    if raw.startswith(_PARQUET):
        return ReplayInput(name, path, Format.PARQUET)
    inner = ""
    if raw.startswith(_GZIP):
        return _open_gzip(name, path, raw, rest)
    elif raw.startswith(_ZIP):
        inner, data, rest = _unzip(name, path if rest is not None else raw)
        how = f" ({inner} in the zip archive)"
    else:
        for magic, codec in _OTHER_COMPRESSION.items():
            if raw.startswith(magic):
                raise ReplayError(
                    f"{name}: compressed with {codec}, which replay does not read; "
                    "decompress it, or recompress it with gzip",
                    path=name,
                )
        data, how = raw, ""
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    if not data or data.isspace():
        raise ReplayError(f"{name}: the file is empty{how}", path=name)
    fmt = sniff(data, name)
    if rest is not None and fmt not in _STREAMED:
        data, rest = data + b"".join(rest), None
    return ReplayInput(name, path, fmt, data, inner, rest)


_STREAMED = (Format.ENVELOPES, Format.PAYLOADS, Format.PREFIXED, Format.CSV)
"""The formats read a block of lines at a time, which need not be in memory whole."""


def _read_bounded(path: Path, name: str) -> tuple[bytes, Iterator[bytes] | None]:
    """The file's bytes, read so that an endless input cannot fill memory.

    The first :data:`SNIFF_BYTES` decide: Parquet, gzip and zip by their magic bytes (read
    whole; they are files of a known size), anything else must look like a text format there
    already (:func:`sniff`), so ``/dev/zero`` or a binary file stops at once. A regular file of
    stream frames is not read whole: its first :data:`HEAD_BYTES` come back with the rest to
    read a piece at a time as the replay reads it (:func:`_file_pieces`), as a gzipped one is
    decompressed. Other text is read in chunks, and a line longer than :data:`MAX_LINE_BYTES`
    stops it: an endless, line-less input (a pipe of zeros, a stuck generator) is refused after
    a megabyte, not gigabytes.

    Returns:
        The bytes read, and the rest of the file when it is to be read later.

    Raises:
        ReplayError: the start is no known format, or a line is too long.
        OSError: the file cannot be read.
    """
    with open(path, "rb") as stream:
        head = stream.read(SNIFF_BYTES)
        if not head:
            return b"", None
        regular = stat.S_ISREG(os.fstat(stream.fileno()).st_mode)
        if head.startswith(_GZIP) and regular:
            return head, _raw_pieces(path, len(head))  # decompressed as it is read
        if head.startswith(_ZIP) and regular:
            return head, iter(())  # its member is read from the file as it is wanted
        if head.startswith((_PARQUET, _GZIP, _ZIP, *_OTHER_COMPRESSION)):
            return head + stream.read(), None
        text = head[3:] if head.startswith(b"\xef\xbb\xbf") else head
        fmt = sniff(text, name) if text.strip() else None
        if regular:
            if fmt in _STREAMED:
                head += stream.read(HEAD_BYTES - len(head))
                return head, _file_pieces(path, name, head)
            # A file of known size is read at once (one copy, not a chunk list and its join)
            # and only its line lengths are checked.
            stream.seek(0)
            whole = stream.read()
            if _lines_fit(whole):
                return whole, None
            stream.seek(len(head))  # some line may be too long: the chunks say which
        chunks: list[bytes] = []
        guard = _LineGuard(name, lambda: sum(c.count(b"\n") for c in chunks))
        chunk = head
        while chunk:
            guard.take(chunk)
            chunks.append(chunk)
            chunk = stream.read(_CHUNK_BYTES)
    return b"".join(chunks), None


def _file_pieces(path: Path, name: str, head: bytes) -> Iterator[bytes]:
    """A regular file after its first bytes ``head``, :data:`PIECE_BYTES` at a time, refusing
    a line longer than :data:`MAX_LINE_BYTES` when the reader reaches it. The file is opened
    again here, so that nothing stays open unless the pieces are read."""
    offset = 0
    guard = _LineGuard(name, lambda: _lines_before(path, offset))
    guard.take(head)
    offset = len(head)
    with open(path, "rb") as stream:
        stream.seek(offset)
        while piece := stream.read(PIECE_BYTES):
            guard.take(piece)
            offset += len(piece)
            yield piece


def _lines_before(path: Path, offset: int) -> int:
    """Line ends in the first ``offset`` bytes of a file (only to name a line in an error)."""
    lines = 0
    with open(path, "rb") as stream:
        while offset > 0 and (chunk := stream.read(min(offset, _CHUNK_BYTES))):
            lines += chunk.count(b"\n")
            offset -= len(chunk)
    return lines


def _lines_fit(data: bytes, start: int = 0) -> bool:
    """No line of ``data[start:]`` is longer than :data:`MAX_LINE_BYTES`, or maybe one is
    (False).

    Every aligned window of half that length holding a line end bounds every line below the
    limit, and each window's search stops at its first line end: a few hundred short searches
    for a file of hundreds of megabytes.
    """
    half = MAX_LINE_BYTES // 2
    windows = range(start, len(data) - half + 1, half)
    return all(data.find(b"\n", k, k + half) >= 0 for k in windows)


class _LineGuard:
    """Watches text go by a chunk at a time and stops a line longer than
    :data:`MAX_LINE_BYTES`: what makes reading an endless, line-less input bounded (a pipe of
    zeros, a stuck generator, a gzip file that inflates to gigabytes of one line).

    Args:
        name: The file, for the message.
        lines_before: How many line ends came before the current chunk; called only to name
            the line that is too long.
    """

    def __init__(self, name: str, lines_before: Callable[[], int]) -> None:
        self.name = name
        self.lines_before = lines_before
        self.tail = 0
        """Bytes since the last line end."""

    def take(self, chunk: bytes) -> None:
        """Account for the next chunk: the line it continues, the lines in it (a few short
        searches, :func:`_lines_fit`) and the line it leaves open.

        Raises:
            ReplayError: a line is longer than the limit.
        """
        first = chunk.find(b"\n")
        if first < 0:
            self.tail += len(chunk)
            if self.tail > MAX_LINE_BYTES:
                self._refuse(0)
            return
        if self.tail + first > MAX_LINE_BYTES:
            self._refuse(0)
        if not _lines_fit(chunk, first + 1):  # maybe a long line inside: find it, if any
            start = first + 1
            while (end := chunk.find(b"\n", start)) >= 0:
                if end - start > MAX_LINE_BYTES:
                    self._refuse(chunk.count(b"\n", 0, start))
                start = end + 1
        self.tail = len(chunk) - 1 - chunk.rfind(b"\n")
        if self.tail > MAX_LINE_BYTES:
            self._refuse(chunk.count(b"\n"))

    def _refuse(self, ends_before: int) -> None:
        """Stop at the line after ``ends_before`` line ends of the current chunk."""
        line = self.lines_before() + ends_before + 1
        raise ReplayError(
            f"{self.name} line {line}: longer than {MAX_LINE_BYTES // 2**20} MiB without a "
            f"line end; not a trade file; {EXPECTED}",
            path=self.name,
            line=line,
        )


HEAD_BYTES = 1 << 20
"""Decompressed bytes of a gzip file read before its format is known."""
PIECE_BYTES = 4 << 20
"""Decompressed bytes a streamed gzip file yields at a time."""


def _open_gzip(name: str, path: Path, raw: bytes, rest: Iterator[bytes] | None) -> ReplayInput:
    """A gzip file: stream frames are decompressed as they are read, other formats at once.

    Args:
        raw: The file's first bytes (or all of it when ``rest`` is None).
        rest: The compressed bytes after ``raw``, read as they are wanted.
    """
    how = " after gzip decompression"
    compressed = _slices(raw) if rest is None else itertools.chain([raw], rest)
    stream = gunzip_pieces(compressed, name)
    parts: list[bytes] = []
    size = 0
    for piece in stream:
        parts.append(piece)
        size += len(piece)
        if size >= HEAD_BYTES:
            break
    else:
        data = b"".join(parts)
        return _recognised(name, path, data.removeprefix(b"\xef\xbb\xbf"), how)
    head = b"".join(parts).removeprefix(b"\xef\xbb\xbf")
    if head.isspace():
        return _recognised(name, path, head + b"".join(stream), how)
    fmt = sniff(head, name)
    if fmt in _STREAMED:
        return ReplayInput(name, path, fmt, head, rest=stream)
    return ReplayInput(name, path, fmt, head + b"".join(stream))


def _recognised(name: str, path: Path, data: bytes, how: str) -> ReplayInput:
    if not data or data.isspace():
        raise ReplayError(f"{name}: the file is empty{how}", path=name)
    return ReplayInput(name, path, sniff(data, name), data)


def gunzip_pieces(compressed: Iterator[bytes], name: str) -> Iterator[bytes]:
    """Decompress a (possibly multi-member) gzip file a piece at a time as its compressed
    bytes come, refusing a truncated or corrupt one, or one followed by something that is not
    gzip: the error comes when the reader reaches it.

    Args:
        compressed: The file's bytes, in pieces of any size (a regular file is read from disk
            as the pieces are wanted, so neither it nor its content is ever held whole).
        name: The file, for messages.
    """
    got = 0
    lines = 0
    guard = _LineGuard(name, lambda: lines)
    data = next(compressed, b"")
    while True:
        inflater = zlib.decompressobj(wbits=31)
        while not inflater.eof:
            data = data or next(compressed, b"")
            ended = not data  # no compressed byte left: only what the inflater holds
            try:
                out = inflater.decompress(data, PIECE_BYTES)
            except zlib.error as exc:
                raise ReplayError(
                    f"{name}: corrupt gzip data after {got:,} decompressed bytes ({exc})",
                    path=name,
                ) from None
            data = inflater.unconsumed_tail
            if out:
                guard.take(out)
                got += len(out)
                lines += out.count(b"\n")
                yield out
            elif ended and not inflater.eof:
                raise ReplayError(
                    f"{name}: truncated gzip: the data stop after {got:,} bytes "
                    f"({lines:,} complete lines) without the end-of-stream marker; "
                    "the file was cut short",
                    path=name,
                )
        # What follows a member: nothing, another member, or zeros a tape writer padded with.
        data = inflater.unused_data
        while len(data) < len(_GZIP) and (more := next(compressed, b"")):
            data += more
        if data.startswith(_GZIP):
            continue
        rest = data + b"".join(compressed)
        if not rest.strip(b"\x00"):
            return
        raise ReplayError(
            f"{name}: {len(rest):,} bytes that are not gzip follow the compressed data",
            path=name,
        )


def line_blocks(pieces: Iterable[bytes], size: int) -> Iterator[memoryview]:
    """The content a block of whole lines at a time (about ``size`` bytes), without copying it
    where it can.

    Splitting the whole file at once would hold a bytes object per line (more than the file
    itself); a block keeps that small and in cache. The content may come in pieces (a gzip
    file decompressed as it is read); the lines are those of the whole, split on ``\\n``. A
    block holds no newline at its end; the last is what follows the last newline (empty when
    the file ends with one).
    """
    buffer = b""
    for piece in pieces:
        data = buffer + piece if buffer else piece
        view = memoryview(data)
        pos = 0
        while len(data) - pos >= size:
            end = data.find(b"\n", pos + size)
            if end < 0:
                break
            yield view[pos:end]
            pos = end + 1
        buffer = data[pos:]
    yield memoryview(buffer)


def _raw_pieces(path: Path, offset: int) -> Iterator[bytes]:
    """A regular file's bytes from ``offset``, :data:`_CHUNK_BYTES` at a time, read as they
    are wanted (the file is opened again here, so nothing stays open unless they are)."""
    with open(path, "rb") as stream:
        stream.seek(offset)
        while piece := stream.read(_CHUNK_BYTES):
            yield piece


def _slices(data: bytes) -> Iterator[bytes]:
    """``data`` in pieces of :data:`_CHUNK_BYTES`."""
    for start in range(0, len(data), _CHUNK_BYTES):
        yield data[start : start + _CHUNK_BYTES]


def _unzip(name: str, archive: Path | bytes) -> tuple[str, bytes, Iterator[bytes] | None]:
    """A zip archive's one member: its name, its first :data:`HEAD_BYTES` decompressed, and
    the rest (None when there is none) decompressed a piece at a time as it is read.

    Args:
        name: The file, for messages.
        archive: The archive's path (read from disk as the member is wanted) or its bytes.
    """
    try:
        opened = zipfile.ZipFile(archive if isinstance(archive, Path) else io.BytesIO(archive))
        members = [m for m in opened.infolist() if not m.is_dir()]
        if len(members) != 1:
            listed = ", ".join(m.filename for m in members[:5]) or "nothing"
            opened.close()
            raise ReplayError(
                f"{name}: the zip archive holds {len(members)} files "
                f"({listed}); expected exactly one CSV",
                path=name,
            )
        member = opened.open(members[0])
        head = member.read(HEAD_BYTES)
    except (zipfile.BadZipFile, zlib.error, EOFError) as exc:
        raise ReplayError(f"{name}: corrupt or truncated zip archive ({exc})", path=name) from None
    if len(head) < HEAD_BYTES:
        member.close()
        opened.close()
        return members[0].filename, head, None
    return members[0].filename, head, _member_pieces(name, opened, member, head)


def _member_pieces(
    name: str, opened: zipfile.ZipFile, member: IO[bytes], head: bytes
) -> Iterator[bytes]:
    """A zip member after its first bytes ``head``, :data:`PIECE_BYTES` at a time, refusing a
    line longer than :data:`MAX_LINE_BYTES` or a corrupt archive when the reader reaches it."""
    lines = head.count(b"\n")
    guard = _LineGuard(name, lambda: lines)
    guard.take(head)
    with opened, member:
        while True:
            try:
                piece = member.read(PIECE_BYTES)
            except (zipfile.BadZipFile, zlib.error, EOFError) as exc:
                raise ReplayError(
                    f"{name}: corrupt or truncated zip archive ({exc})", path=name
                ) from None
            if not piece:
                return
            guard.take(piece)
            lines += piece.count(b"\n")
            yield piece


def sniff(data: bytes, name: str) -> Format:
    """Recognise a text replay file from its first meaningful lines.

    Args:
        data: The decompressed content, not blank.
        name: The file's name, for messages.

    Raises:
        ReplayError: The content is binary, or no leading line looks like a known format.
    """
    if b"\x00" in data[:4096]:
        raise ReplayError(
            f"{name} line 1: binary data, not a trade file; {EXPECTED}", path=name, line=1
        )
    first: tuple[int, bytes] | None = None
    pos = 0
    lineno = 0
    while pos < len(data) and lineno < _SNIFF_LINES:
        end = data.find(b"\n", pos)
        end = len(data) if end < 0 else end
        line = data[pos:end].strip()
        pos = end + 1
        lineno += 1
        if not line:
            continue
        if first is None:
            first = (lineno, line)
        if _PREFIXED.match(line):
            return Format.PREFIXED
        if not line.startswith((b"{", b"[")):
            # Not JSON: a CSV decides on its first line (header or not) alone.
            return Format.CSV if lineno == first[0] and b"," in line else _unknown(name, *first)
        fmt = _json_format(line)
        if fmt is not None:
            return fmt
    assert first is not None  # the caller checked the content is not blank
    return _unknown(name, *first)


def _json_format(line: bytes) -> Format | None:
    """The NDJSON format a line shows, or None for a control message or an unreadable line."""
    try:
        obj = msgspec.json.decode(line)
    except msgspec.DecodeError:
        return None
    if not isinstance(obj, dict):
        return None
    if isinstance(obj.get("data"), dict):
        return Format.ENVELOPES
    if "e" in obj and "s" in obj:
        return Format.PAYLOADS
    if "price" in obj and "symbol" in obj:
        return Format.TICKS
    return None


def _unknown(name: str, lineno: int, line: bytes) -> Format:
    shown = line[:40].decode("utf-8", "replace")
    more = "…" if len(line) > 40 else ""
    raise ReplayError(
        f"{name} line {lineno}: not a known trade file ({shown!r}{more}); {EXPECTED}",
        path=name,
        line=lineno,
    )
