"""Export: the generated model and graph as files a user can take away."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

from .codegen import generate_source
from .graph import Architecture


def bundle_files(arch: Architecture) -> dict[str, bytes]:
    """File name -> content for the export bundle."""
    return {
        "model.py": generate_source(arch).encode(),
        "graph.json": (arch.to_json_string() + "\n").encode(),
    }


def write_bundle(arch: Architecture, out_dir: str | Path, **_: object) -> list[Path]:
    """Write the bundle into out_dir (created if needed); returns the paths written."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, content in bundle_files(arch).items():
        path = out / name
        path.write_bytes(content)
        paths.append(path)
    return paths


def bundle_zip(arch: Architecture, **_: object) -> bytes:
    """The bundle as one zip archive."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in bundle_files(arch).items():
            archive.writestr(name, content)
    return buffer.getvalue()
