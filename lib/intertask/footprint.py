"""Disk a study uses, and the `keep_checkpoints` policy that deletes checkpoints nobody needs any more.

A target checkpoint is read by one thing only, its evaluation stage; once that is done (status done
and `results.csv` written) the checkpoint is dead weight, 85 MB per run. The policy:

- `intermediate` (default): keep intermediate checkpoints (new targets may start from them), delete a
  target checkpoint once every evaluation that reads it is done;
- `all`: keep everything (needed to `intertask verify` an evaluation record later);
- `none`: also delete an intermediate checkpoint once every stage that starts from it is done.

A deleted checkpoint leaves `checkpoint.pruned.json` beside it. If a stage that needs it is added
later (a new language, say), the runner re-runs the stage that wrote it first. No torch here.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

from .integrity import PRUNED

KEEP_POLICIES = ("intermediate", "all", "none")
CHECKPOINT = "checkpoint"
RESULTS = "results.csv"


def folder_bytes(directory: str | Path) -> int:
    """Bytes of the files under `directory` (0 if it does not exist); links are not followed."""
    root = Path(directory)
    if not root.exists():
        return 0
    return sum(f.stat().st_size for f in root.rglob("*") if f.is_file() and not f.is_symlink())


def human_bytes(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if abs(n) < 1000 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n:.1f} TB"


def may_delete(kind: str, policy: str) -> bool:
    """Whether `policy` deletes the checkpoint of a stage of `kind` once its children are done."""
    if policy not in KEEP_POLICIES:
        raise ValueError(f"keep_checkpoints must be one of {', '.join(KEEP_POLICIES)}, got {policy!r}")
    return kind == "target" and policy != "all" or kind == "intermediate" and policy == "none"


def is_pruned(stage_folder: Path) -> bool:
    return (Path(stage_folder) / PRUNED).exists()


def finished(folder: Path, kind: str, status: Callable[[Path], str]) -> bool:
    """Verifiably done: status done, and an evaluation's results are on disk."""
    return status(folder) == "done" and (kind != "evaluate" or (folder / RESULTS).is_file())


@dataclass
class StageNode:
    folder: Path
    kind: str
    children: list[tuple[Path, str]]  # (folder, kind) of every stage that starts from this one


def prune_checkpoints(nodes: Sequence[StageNode], policy: str, status: Callable[[Path], str]) -> list[Path]:
    """Delete the checkpoints `policy` lets go whose stage and children are all verifiably done."""
    deleted = []
    for node in nodes:
        ckpt = node.folder / CHECKPOINT
        if not ckpt.exists() or not may_delete(node.kind, policy) or not node.children:
            continue
        if not finished(node.folder, node.kind, status):
            continue
        if all(finished(f, k, status) for f, k in node.children):
            size = folder_bytes(ckpt)
            # the marker first: a process killed mid-delete leaves a stage that is known to need re-running
            tmp = node.folder / (PRUNED + ".tmp")
            tmp.write_text(json.dumps({"deleted": dt.datetime.now().isoformat(timespec="seconds"), "bytes": size,
                                       "policy": policy, "read_by": [f.name for f, _ in node.children]}, indent=2))
            os.replace(tmp, node.folder / PRUNED)
            shutil.rmtree(ckpt)
            deleted.append(ckpt)
    return deleted


def reopen_pruned(chain: Sequence[Path], status: Callable[[Path], str]) -> list[Path]:
    """Before running a run's chain of stages: mark for re-running the pruned ones a pending stage needs.

    A stage needs its parent's checkpoint only while it is not done itself, so only the pruned stages
    directly before the first unfinished one are reopened (a re-run stage needs its own parent too).
    """
    first_open = next((i for i, f in enumerate(chain) if status(f) != "done"), None)
    reopened: list[Path] = []
    if first_open is None:
        return reopened
    for folder in reversed(chain[:first_open]):
        if not is_pruned(folder):
            break
        (folder / "status.json").unlink(missing_ok=True)  # pending again: the runner re-executes it
        (folder / PRUNED).unlink()
        reopened.append(folder)
    return reopened


def pruned_message(checkpoint: str | Path) -> str | None:
    """Why a checkpoint folder is missing, if the policy deleted it; None otherwise."""
    path = Path(checkpoint)
    marker = path.parent / PRUNED
    if path.exists() or not marker.exists():
        return None
    return (f"checkpoint {path} was deleted by the study's keep_checkpoints policy after the stages reading it "
            f"finished ({marker}). To use it again, set `keep_checkpoints: all` in the study file and run the "
            f"study: a stage that needs it re-runs the stage that wrote it (or delete {path.parent.name}/status.json "
            f"and run again).")


def disk_usage(stages_dir: Path) -> dict:
    """Bytes of the study's stages: total, in checkpoints, and how many checkpoints are kept or deleted."""
    root = Path(stages_dir)
    folders = [d for d in root.iterdir() if d.is_dir()] if root.exists() else []
    ckpts = [d / CHECKPOINT for d in folders if (d / CHECKPOINT).is_dir()]
    return {"total": folder_bytes(root), "checkpoints": sum(folder_bytes(c) for c in ckpts),
            "kept": len(ckpts), "deleted": sum(1 for d in folders if is_pruned(d)),
            "freed": sum(json.loads((d / PRUNED).read_text()).get("bytes", 0) for d in folders if is_pruned(d))}


def disk_line(stages_dir: Path, policy: str) -> str:
    u = disk_usage(stages_dir)
    return (f"disk: {human_bytes(u['total'])} in {stages_dir} ({human_bytes(u['checkpoints'])} in {u['kept']} "
            f"checkpoint(s); {u['deleted']} deleted by keep_checkpoints: {policy}, {human_bytes(u['freed'])} freed)")
