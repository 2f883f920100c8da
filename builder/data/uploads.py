"""Several uploaded files as one Dataset: a single CSV / NPZ / IDX file, MNIST IDX images
and labels uploaded together (told apart by their headers, extensionless names too), or a
zip of the four standard MNIST files. UI-free; components/uploads.py draws the widget.
"""

from __future__ import annotations

import gzip
import hashlib
import re
import zipfile
from pathlib import Path

from builder.errors import BuilderError

from .files import MAX_FILE_BYTES, load_file
from .headers import is_gzip, is_idx, read_idx_header

SAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")
MAX_ZIP_MEMBERS = 16


def content_hash(files: list[tuple[str, bytes]]) -> str:
    """One hash over every file's name and bytes: same name and size, other data, new key."""
    digest = hashlib.sha256()
    for name, data in sorted(files):
        digest.update(name.encode("utf-8", "replace") + b"\0")
        digest.update(len(data).to_bytes(8, "big"))
        digest.update(data)
    return digest.hexdigest()


def load_uploads(files: list[tuple[str, bytes]], folder: Path, *, task=None, label=None):
    """The uploaded files (written under `folder`) as one Dataset; BuilderError otherwise."""
    paths = [_write(folder, name, data) for name, data in files]
    if len(paths) == 1 and _is_idx_zip(paths[0]):
        paths = _unpack_idx_zip(paths[0], folder / "unpacked")
    idx = [p for p in paths if is_idx(p)]
    if len(paths) == 1 and not idx:
        return load_file(paths[0], task=task, label_column=label, ask_task=True, name=files[0][0])
    if len(idx) != len(paths):
        other = next(p for p in paths if p not in idx)
        raise BuilderError(
            "only MNIST IDX files may be uploaded together",
            file=other.name,
            hint="Upload one CSV or NPZ file, or the IDX images and labels files.",
        )
    images, labels = pair_idx(idx)
    return load_file(images, labels_path=labels)


def _write(folder: Path, name: str, data: bytes) -> Path:
    # Only the base name, with odd characters replaced: an upload's name is untrusted.
    safe = SAFE_NAME.sub("_", Path(name).name).lstrip(".") or "upload"
    path = folder / safe
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def _is_idx_zip(path: Path) -> bool:
    if path.suffix.lower() == ".npz" or not zipfile.is_zipfile(path):
        return False
    with zipfile.ZipFile(path) as archive:
        return any(
            "ubyte" in Path(i.filename).name or "idx" in i.filename for i in archive.infolist()
        )


def _unpack_idx_zip(path: Path, folder: Path) -> list[Path]:
    """The IDX members of a zip, by base name, each within the size budget."""
    with zipfile.ZipFile(path) as archive:
        members = [i for i in archive.infolist() if not i.is_dir()]
        if len(members) > MAX_ZIP_MEMBERS:
            raise BuilderError(
                f"holds {len(members)} files", file=path.name, hint="Zip only the four MNIST files."
            )
        out = []
        for info in members:
            if info.file_size > MAX_FILE_BYTES:
                raise BuilderError(
                    f"{Path(info.filename).name} is {info.file_size / 2**20:,.0f} MB unpacked",
                    file=path.name,
                    hint="Use a subset of the data.",
                )
            with archive.open(info) as member:
                # read() stops at the declared size, so a lying header cannot grow this.
                out.append(_write(folder, Path(info.filename).name, member.read(MAX_FILE_BYTES)))
    return out


def pair_idx(paths: list[Path]) -> tuple[Path, Path]:
    """(images, labels) among IDX files, by their headers: prefer the training pair."""
    images, labels = [], []
    for path in paths:
        (labels if _idx_ndim(path) == 1 else images).append(path)
    if not images or not labels:
        missing = "labels" if images else "images"
        raise BuilderError(
            f"the {missing} file is missing",
            file=paths[0].name,
            hint="Upload the images (…-images-idx3-ubyte) and labels (…-labels-idx1-ubyte) together.",
        )
    chosen = next((p for p in images if "train" in p.name.lower()), images[0])
    prefix = chosen.name.lower().split("-")[0]
    match = [p for p in labels if p.name.lower().split("-")[0] == prefix]
    return chosen, (match or labels)[0]


def _idx_ndim(path: Path) -> int:
    opener = gzip.open if is_gzip(path) else open
    with opener(path, "rb") as stream:
        dims, _, _ = read_idx_header(stream, path.name)
    return len(dims)
