"""Header guards for untrusted data files: what a file promises, checked before it is read.

A small file can promise a huge array (a zip member that unpacks to gigabytes, an IDX
header whose dims multiply past 2**64, a gzip bomb). Everything here reads only headers
or a capped stream, and budgets the size the data will have in memory as float32, which
is what training holds (a uint8 image set grows four times when converted).
"""

from __future__ import annotations

import gzip
import math
import zipfile
from pathlib import Path
from typing import BinaryIO

import numpy as np

from builder.errors import BuilderError

IDX_DTYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
# IDX files hold labels (1-D), images (3-D) or image stacks with channels (4-D).
IDX_MAX_NDIM = 4
FLOAT32 = 4
ZIP_MAGIC = b"PK\x03\x04"
EMPTY_ZIP_MAGIC = b"PK\x05\x06"
NPY_MAGIC = b"\x93NUMPY"
PICKLE_PROTOCOL_MARK = 0x80


def _error(name: str, message: str, hint: str | None = None) -> BuilderError:
    return BuilderError(message, file=name, hint=hint)


def too_large(name: str, what: str, size: int, limit: int) -> BuilderError:
    """The error for data that would need more memory than the budget allows."""
    return _error(
        name,
        f"{what} would take {size / 2**20:,.0f} MB in memory; the limit is {limit / 2**20:,.0f} MB",
        "Use a subset of the data.",
    )


# ---- IDX -----------------------------------------------------------------------------------


def read_idx(path: Path, max_bytes: int, name: str | None = None) -> np.ndarray:
    """An IDX array (raw or gzip), its header checked before the body is read."""
    name = name or path.name
    opener = gzip.open if is_gzip(path) else open
    try:
        with opener(path, "rb") as stream:
            dims, dtype, header = read_idx_header(stream, name)
            count = math.prod(dims)
            if count * max(FLOAT32, dtype.itemsize) > max_bytes:
                raise too_large(name, f"an array of shape {dims}", count * FLOAT32, max_bytes)
            expected = count * dtype.itemsize
            # One byte more than promised tells a file with trailing data from a complete one.
            body = stream.read(expected + 1)
    except (OSError, EOFError, gzip.BadGzipFile) as err:
        raise _error(
            name, f"cannot read ({err})", "Check that the file is a complete download."
        ) from err
    if len(body) != expected:
        raise _error(
            name,
            f"holds {header + len(body):,}{'+' if len(body) > expected else ''} bytes but its "
            f"header promises {header + expected:,} for shape {dims}",
            "The file is truncated or corrupt; download it again.",
        )
    return np.frombuffer(body, dtype=dtype).reshape(dims)


def read_idx_header(stream: BinaryIO, name: str) -> tuple[tuple[int, ...], np.dtype, int]:
    """(dims, dtype, header length) from the start of an IDX stream; BuilderError if odd."""
    magic = stream.read(4)
    if len(magic) < 4 or magic[0] != 0 or magic[1] != 0 or magic[2] not in IDX_DTYPES:
        raise _error(name, "is not an IDX file (bad magic number)", "Use the MNIST -ubyte files.")
    ndim = magic[3]
    if not 1 <= ndim <= IDX_MAX_NDIM:
        raise _error(
            name,
            f"its IDX header declares {ndim} dimensions; at most {IDX_MAX_NDIM} are supported",
            "Use the MNIST -ubyte files (labels have 1 dimension, images 3).",
        )
    raw = stream.read(4 * ndim)
    if len(raw) < 4 * ndim:
        raise _error(name, "has a truncated IDX header", "Download the file again.")
    dims = tuple(int.from_bytes(raw[4 * i : 4 * i + 4], "big") for i in range(ndim))
    if 0 in dims:
        raise _error(name, f"its IDX header declares an empty shape {dims}", "Download it again.")
    return dims, np.dtype(IDX_DTYPES[magic[2]]), 4 + 4 * ndim


def is_gzip(path: Path) -> bool:
    """Whether the file starts with the gzip magic bytes."""
    with open(path, "rb") as stream:
        return stream.read(2) == b"\x1f\x8b"


def is_idx(path: Path) -> bool:
    """Whether the file starts like an IDX file (raw or gzip), by content, not by name."""
    try:
        opener = gzip.open if is_gzip(path) else open
        with opener(path, "rb") as stream:
            magic = stream.read(4)
    except (OSError, EOFError, gzip.BadGzipFile):
        return False
    return (
        len(magic) == 4
        and magic[:2] == b"\0\0"
        and magic[2] in IDX_DTYPES
        and 1 <= magic[3] <= IDX_MAX_NDIM
    )


# ---- NPZ -----------------------------------------------------------------------------------


def sniff_not_npz(path: Path, name: str) -> None:
    """Raise a BuilderError saying what the file is when it is not a zip archive of arrays."""
    with open(path, "rb") as stream:
        start = stream.read(8)
    if start.startswith((ZIP_MAGIC, EMPTY_ZIP_MAGIC)):
        return
    if start.startswith(NPY_MAGIC):
        raise _error(
            name,
            "is a single .npy array, not an NPZ archive of x and y",
            "Save with np.savez(path, x=features, y=labels).",
        )
    if start[:1] and start[0] == PICKLE_PROTOCOL_MARK:
        raise _error(
            name,
            "is a pickle file, which is not loaded for safety",
            "Save plain numeric arrays with np.savez(path, x=..., y=...).",
        )
    raise _error(
        name,
        "is not an NPZ file (it is not a zip archive)",
        "Save with np.savez(path, x=features, y=labels).",
    )


def check_npz_members(path: Path, max_bytes: int, name: str) -> dict[str, tuple]:
    """Each member's (shape, dtype) from its .npy header; refuses object arrays and arrays
    whose float32 size, together, exceeds max_bytes. Reads headers only."""
    found: dict[str, tuple] = {}
    total = 0
    try:
        with zipfile.ZipFile(path) as archive:
            members = [i for i in archive.infolist() if not i.is_dir()]
            if len(members) > 64:
                raise _error(name, f"holds {len(members)} files", "Save only x and y.")
            for info in members:
                shape, dtype = _npy_header(archive, info, name)
                key = info.filename.removesuffix(".npy")
                found[key] = (shape, dtype)
                total += math.prod(shape) * max(FLOAT32, dtype.itemsize)
    except zipfile.BadZipFile as err:
        raise _error(
            name, f"is a damaged zip archive ({err})", "Save it again with np.savez."
        ) from None
    if total > max_bytes:
        shapes = ", ".join(f"{k} {s}" for k, (s, _) in found.items())
        raise too_large(name, f"its arrays ({shapes})", total, max_bytes)
    return found


def _npy_header(archive: zipfile.ZipFile, info: zipfile.ZipInfo, name: str):
    try:
        with archive.open(info) as member:
            version = np.lib.format.read_magic(member)
            if version == (1, 0):
                shape, _, dtype = np.lib.format.read_array_header_1_0(member)
            elif version == (2, 0):
                shape, _, dtype = np.lib.format.read_array_header_2_0(member)
            else:
                raise ValueError(f"unsupported .npy version {version}")
    except (ValueError, OSError, EOFError, zipfile.BadZipFile) as err:
        raise _error(
            name,
            f"member {info.filename[:60]!r} is not a numpy array ({err})",
            "Save with np.savez(path, x=features, y=labels).",
        ) from None
    if dtype.hasobject:
        raise _error(
            name,
            f"array {info.filename.removesuffix('.npy')[:60]!r} holds pickled Python objects, "
            "which are not loaded for safety",
            "Save plain numeric arrays (no object dtype) with np.savez.",
        )
    return tuple(int(d) for d in shape), dtype


# ---- CSV -----------------------------------------------------------------------------------

CSV_MAX_HEADER_BYTES = 1 << 20
CSV_MAX_COLUMNS = 100_000
FLOAT64 = 8  # pandas parses numbers as float64 before training's float32 copy


def check_csv_shape(path: Path, max_bytes: int, name: str | None = None) -> tuple[int, int]:
    """(rows, columns) of a CSV from its header line and a streamed line count; refuses
    tables whose float64 parse would exceed max_bytes before pandas reads a value."""
    name = name or path.name
    with open(path, "rb") as stream:
        header = stream.readline(CSV_MAX_HEADER_BYTES + 1)
        if len(header) > CSV_MAX_HEADER_BYTES:
            raise _error(
                name,
                f"its first line is longer than {CSV_MAX_HEADER_BYTES // 2**20} MB",
                "Save it as comma-separated text with one header line.",
            )
        columns = header.count(b",") + 1
        rows = 0
        while chunk := stream.read(1 << 20):
            rows += chunk.count(b"\n")
    if columns > CSV_MAX_COLUMNS:
        raise _error(name, f"has {columns:,} columns", f"Use at most {CSV_MAX_COLUMNS:,}.")
    needed = (rows + 1) * columns * FLOAT64
    if needed > max_bytes:
        raise too_large(name, f"a table of {rows:,} rows × {columns:,} columns", needed, max_bytes)
    return rows, columns
