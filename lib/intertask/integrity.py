"""Output manifests: what a finished stage wrote, with sizes and sha256, so `done` can be verified.

A stage is *verifiably done* when every file its manifest lists is still there with the recorded
size (cheap: one `stat` per file) and, on request, the recorded sha256. The runner's own bookkeeping
(status, claim, attempts log, progress) is left out: it changes without the results changing.
No torch here.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

# written by the runner, not by the stage: never part of what the stage produced
BOOKKEEPING = {"status.json", "claim", "claim.break", "attempts.jsonl", ".progress", ".progress.tmp", "progress.log"}
CHUNK = 1 << 20
# files this small (results, histories, predictions, most notebooks) are always hashed: it costs
# microseconds and catches an edited number that keeps the size; checkpoints are hashed on request
ALWAYS_HASH = 1 << 20
# left by the keep_checkpoints policy (footprint.py) where it deleted a finished stage's checkpoint on
# purpose: its manifest's checkpoint entries are then excused, not a sign of damage
PRUNED = "checkpoint.pruned.json"


@dataclass(frozen=True)
class Entry:
    size: int
    sha256: str


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(CHUNK), b""):
            h.update(block)
    return h.hexdigest()


# hashes of small files already checked by this process, keyed by what `stat` says: a study of hundreds
# of stages is checked after every run, and rehashing unchanged files each time would be quadratic
_SEEN: dict[tuple[str, int, int, int], str] = {}


def _small_file_hash(path: Path, st: os.stat_result) -> str:
    key = (str(path), st.st_size, st.st_mtime_ns, st.st_ino)
    if key not in _SEEN:
        _SEEN[key] = sha256_file(path)
    return _SEEN[key]


def _is_output(rel: Path) -> bool:
    return rel.name not in BOOKKEEPING and not rel.name.endswith(".tmp") and ".tmp" not in rel.parts[0]


def build_manifest(folder: Path) -> dict[str, dict]:
    """Every file under `folder` the stage wrote: relative path -> {size, sha256}."""
    out: dict[str, dict] = {}
    for path in sorted(folder.rglob("*")):
        rel = path.relative_to(folder)
        if path.is_file() and _is_output(rel):
            out[rel.as_posix()] = {"size": path.stat().st_size, "sha256": sha256_file(path)}
    return out


def manifest_digest(manifest: dict[str, dict]) -> str:
    """One hash of a whole manifest: a dependant records it to notice when its input was redone."""
    return hashlib.sha256(json.dumps(manifest, sort_keys=True).encode()).hexdigest()[:16]


def check_manifest(folder: Path, manifest: dict[str, dict], full: bool = False) -> str | None:
    """Why the outputs no longer match the manifest (None when they do). Sizes always, hashes of small
    files always, hashes of large files (checkpoints) only when `full`."""
    pruned = (folder / PRUNED).exists()
    for rel, entry in sorted(manifest.items()):
        if pruned and rel.startswith("checkpoint/"):
            continue
        path = folder / rel
        try:
            st = path.stat()
        except FileNotFoundError:
            return f"{rel} is missing"
        if st.st_size != entry["size"]:
            return f"{rel} changed size ({entry['size']} -> {st.st_size} bytes)"
        if full:
            actual = sha256_file(path)  # --check: really read every byte again
        elif st.st_size <= ALWAYS_HASH:
            actual = _small_file_hash(path, st)
        else:
            continue
        if actual != entry["sha256"]:
            return f"{rel} changed content (sha256 differs from the record)"
    return None
