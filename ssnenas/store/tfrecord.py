"""A TensorFlow-free TFRecord reader and writer (uncompressed files only).

Framing of every record (little-endian)::

    uint64 length | uint32 masked_crc32c(length bytes) | payload[length] | uint32 masked_crc32c(payload)

with ``masked(crc) = ((crc >> 15 | crc << 17) + 0xa282ead8) mod 2**32`` and CRC-32C (Castagnoli).
The reader streams the file in large blocks (memory stays bounded by the block size plus one
record), can feed every block to a hash object so a file's fingerprint costs no second pass, and
raises :class:`ssnenas.errors.DataFormatError` naming the file, the record number and the byte
offset for a truncated file or a failed CRC.
"""

from __future__ import annotations

import os
import struct
from pathlib import Path
from typing import Any, BinaryIO, Iterable, Iterator

import google_crc32c

from ssnenas.errors import DataFormatError

_MASK_DELTA = 0xA282EAD8
_HEADER = struct.Struct("<QI")
_FOOTER = struct.Struct("<I")
_BLOCK = 1 << 24  # 16 MiB read blocks


def masked_crc32c(data: bytes | memoryview) -> int:
    """The TFRecord checksum: CRC-32C rotated right by 15 bits plus a constant, mod 2**32."""
    crc = google_crc32c.value(bytes(data))
    return (((crc >> 15) | (crc << 17)) + _MASK_DELTA) & 0xFFFFFFFF


def write_tfrecord(path: str | os.PathLike, payloads: Iterable[bytes]) -> int:
    """Write ``payloads`` as TFRecord records to ``path``; returns the number written."""
    n = 0
    with open(path, "wb") as f:
        n = append_tfrecord(f, payloads)
    return n


def append_tfrecord(f: BinaryIO, payloads: Iterable[bytes]) -> int:
    """Append framed records to an open binary file; returns the number written."""
    n = 0
    value = google_crc32c.value
    for payload in payloads:
        length = _HEADER.pack(len(payload), 0)[:8]
        lcrc = value(length)
        pcrc = value(payload)
        f.write(length)
        f.write(_FOOTER.pack((((lcrc >> 15) | (lcrc << 17)) + _MASK_DELTA) & 0xFFFFFFFF))
        f.write(payload)
        f.write(_FOOTER.pack((((pcrc >> 15) | (pcrc << 17)) + _MASK_DELTA) & 0xFFFFFFFF))
        n += 1
    return n


def _truncated(path: Path, index: int, offset: int, what: str) -> DataFormatError:
    return DataFormatError(
        f"{path}: truncated TFRecord file: record {index} at byte {offset} is cut off ({what}); "
        "the file is incomplete, download it again")


def _corrupt(path: Path, index: int, offset: int, what: str) -> DataFormatError:
    return DataFormatError(
        f"{path}: corrupt TFRecord file: record {index} at byte {offset} fails its CRC32C check "
        f"({what}); the file is damaged, download it again")


def iter_tfrecord(path: str | os.PathLike, *, check_crc: bool = True, hasher: Any = None,
                  block_size: int = _BLOCK, max_record: int | None = None) -> Iterator[bytes]:
    """Yield the payload of every record of ``path`` in file order.

    ``check_crc`` verifies both checksums of every record (google-crc32c's C code: ~0.2 µs per
    record). ``hasher`` (e.g. ``hashlib.sha256()``) is updated with every byte read, in order.
    A record's announced length is checked before anything is read for it: it must fit in what is
    left of the file and, when given, in ``max_record`` bytes. Without the CRC check a file that is
    not a TFRecord one would otherwise announce up to 2**64 bytes and end in a MemoryError.
    """
    path = Path(path)
    value = google_crc32c.value
    unpack_header = _HEADER.unpack_from
    unpack_footer = _FOOTER.unpack_from
    try:
        f = open(path, "rb")
    except OSError as exc:
        raise DataFormatError(f"{path}: cannot open ({exc.strerror}); pass an existing "
                              "TFRecord file with --source") from exc
    with f:
        file_size = os.fstat(f.fileno()).st_size
        buf = b""
        pos = 0  # position of the next record inside buf
        base = 0  # file offset of buf[0]
        index = 0
        eof = False
        checked_header = -1  # buf position whose length header already passed its CRC

        def refill(need: int) -> None:
            """Drop the consumed prefix of buf and append at least ``need`` more bytes (fewer at EOF)."""
            nonlocal buf, pos, base, eof
            block = f.read(max(block_size, need))
            if not block:
                eof = True
            elif hasher is not None:
                hasher.update(block)
            base += pos
            buf = buf[pos:] + block
            pos = 0

        while True:
            avail = len(buf) - pos
            if avail < 12:
                if not eof:
                    refill(block_size)
                    continue
                if avail == 0:
                    return
                raise _truncated(path, index, base + pos, "incomplete length header")
            length, lcrc = unpack_header(buf, pos)
            if check_crc and checked_header != base + pos:
                crc = value(buf[pos:pos + 8])
                if (((crc >> 15) | (crc << 17)) + _MASK_DELTA) & 0xFFFFFFFF != lcrc:
                    raise _corrupt(path, index, base + pos, "length header")
                checked_header = base + pos
            if max_record is not None and length > max_record:
                raise DataFormatError(
                    f"{path}: record {index} at byte {base + pos} announces {length:,} payload bytes, more than "
                    f"the {max_record:,} a record of this file may hold: not an uncompressed TFRecord file of "
                    "the expected kind (or corrupt; keep the CRC check on to find out)")
            if base + pos + 16 + length > file_size:
                raise _truncated(path, index, base + pos, f"{length:,} payload bytes announced, "
                                                          f"{max(file_size - base - pos - 12, 0):,} present")
            end = pos + 12 + length + 4
            if end > len(buf):
                if not eof:
                    refill(end - len(buf))
                    continue
                raise _truncated(path, index, base + pos,
                                 f"{length} payload bytes announced, {max(avail - 12, 0)} present")
            payload = buf[pos + 12:end - 4]
            if check_crc:
                crc = value(payload)
                if (((crc >> 15) | (crc << 17)) + _MASK_DELTA) & 0xFFFFFFFF != unpack_footer(buf, end - 4)[0]:
                    raise _corrupt(path, index, base + pos, "payload")
            yield payload
            pos = end
            index += 1
