"""My blocks: composite blocks saved for reuse, one graph JSON v1 file each.

A saved block is `$LAYERCRAFT_HOME/blocks/<slug>.json`: the block's layers and the edges
among them, named after the block. It loads with the same strict checks as any graph file
(a block file is as untrusted as a graph file), and is inserted under fresh node ids.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from pathlib import Path

from . import groups, sharing
from .errors import BuilderError
from .graph import Architecture
from .runs.store import default_home

MAX_BLOCKS = 200
SLUG_LENGTH = 40


@dataclass(frozen=True)
class SavedBlock:
    slug: str  # the file's stem, also the palette key
    name: str
    layers: int


def blocks_dir(home: str | Path | None = None) -> Path:
    return (Path(home) if home is not None else default_home()) / "blocks"


def slug_of(name: str) -> str:
    """'Residual block (3x3)' -> 'residual_block_3x3': safe as a file name and a widget key."""
    slug = re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")[:SLUG_LENGTH]
    return slug or "block"


def block_graph(arch: Architecture, group_id: str) -> Architecture:
    """The block's layers and the edges among them as a graph of its own."""
    group = groups.get(arch, group_id)
    inside = set(group["nodes"])
    block = Architecture(group["name"])
    for node_id in groups.members_in_order(arch, group):
        block.add_node(
            arch.type_of(node_id),
            arch.user_params_of(node_id),
            id=node_id,
            pos=arch.pos_of(node_id),
        )
    for node_id in block.node_ids:
        pairs = zip(arch.inputs_of(node_id), arch.input_ports_of(node_id), strict=True)
        for src, source_port in pairs:
            if src in inside:
                block.connect(src, node_id, source_port=source_port)
    return block


def save_block(arch: Architecture, group_id: str, home: str | Path | None = None) -> SavedBlock:
    """Write the block to My blocks; a block of the same name is replaced."""
    block = block_graph(arch, group_id)
    folder = blocks_dir(home)
    slug = slug_of(block.name)
    path = folder / f"{slug}.json"
    if not path.exists() and len(list_blocks(home)) >= MAX_BLOCKS:
        raise BuilderError(f"My blocks holds at most {MAX_BLOCKS} blocks", file=str(folder))
    try:
        folder.mkdir(parents=True, exist_ok=True)
        block.save(path)
    except OSError as exc:
        raise BuilderError(f"cannot save the block ({exc.strerror})", file=str(path)) from None
    return SavedBlock(slug, block.name, len(block))


def list_blocks(home: str | Path | None = None) -> list[SavedBlock]:
    """The saved blocks by name; a file that does not load is left out (see load_block)."""
    stamped = []
    for path in sorted(blocks_dir(home).glob("*.json"))[:MAX_BLOCKS]:
        try:
            stamped.append((path, path.stat().st_mtime_ns))
        except OSError:
            continue  # removed meanwhile
    return list(_read_blocks(tuple(stamped)))


@functools.lru_cache(maxsize=8)
def _read_blocks(stamped: tuple[tuple[Path, int], ...]) -> tuple[SavedBlock, ...]:
    # The palette lists My blocks on every rerun: files are parsed again only when changed.
    found = []
    for path, _ in stamped:
        try:
            block = Architecture.load(path)
        except BuilderError:
            continue
        found.append(SavedBlock(path.stem, block.name, len(block)))
    return tuple(sorted(found, key=lambda b: b.name.lower()))


def load_block(slug: str, home: str | Path | None = None) -> Architecture:
    """One saved block, strictly checked; a BuilderError naming the file when it is bad."""
    if not isinstance(slug, str) or slug_of(slug) != slug:
        raise BuilderError(f"there is no saved block {str(slug)[:40]!r}", field="block")
    path = blocks_dir(home) / f"{slug}.json"
    if not path.exists():
        raise BuilderError(f"there is no saved block {slug!r}", file=str(path))
    return Architecture.load(path)


def insert_block(
    arch: Architecture, block: Architecture, at: tuple[float, float] | None = None
) -> str:
    """Copies of the block's layers under fresh ids, wired as saved and grouped under its
    name; `at` is where its top-left corner goes. Returns the new group's id."""
    fresh: dict[str, str] = {}
    origin = groups.corner(block, block.node_ids)
    for node_id in block.node_ids:
        spec_type = block.type_of(node_id)
        pos = block.pos_of(node_id)
        if at is not None and pos is not None and origin is not None:
            pos = (at[0] + pos[0] - origin[0], at[1] + pos[1] - origin[1])
        prefix = node_id.rstrip("0123456789") or "layer"  # conv1 -> conv3 when conv1, 2 exist
        fresh[node_id] = arch.add_node(
            spec_type, block.user_params_of(node_id), id=arch.fresh_id(prefix), pos=pos
        )
    sharing.follow_copies(arch, fresh, outside=False)
    for node_id in block.node_ids:
        pairs = zip(block.inputs_of(node_id), block.input_ports_of(node_id), strict=True)
        for src, source_port in pairs:
            arch.connect(fresh[src], fresh[node_id], source_port=source_port)
    return groups.create(arch, list(fresh.values()), block.name)


def insert_block_after(arch: Architecture, block: Architecture, after: str) -> str:
    """The block placed below `after` and wired in: `after` feeds each of its open entries
    (both branches of a residual block), and what `after` fed now reads the block's output
    (when the block has a single one)."""
    pos = arch.pos_of(after)
    gid = insert_block(arch, block, at=None if pos is None else (pos[0], pos[1] + 100))
    group = groups.get(arch, gid)
    exits = groups.exits(arch, group)
    if len(exits) == 1:
        arch.move_outputs(after, exits[0])
    for member, port in groups.open_entries(arch, group):
        arch.connect(after, member, port)
    return gid
