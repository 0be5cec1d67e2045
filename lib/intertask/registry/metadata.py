"""`pool_frame`: the intermediate-capable tasks' language and data metadata, as one table."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from ..data import DataSource, resolve_data_dir
from ..languages import get_language
from ..tasks import Task
from . import REGISTRY, XTREME_TARGETS

if TYPE_CHECKING:  # pandas is imported lazily, in pool_frame()
    import pandas as pd

POOL_COLUMNS = ["task", "language", "language_family", "genus", "script", "format", "dataset", "source",
                "size", "size_hint", "license", "citation", "description"]


def _train_size(task: Task, data_dir: Path | None) -> int | None:
    """Training examples readable from local files under `data_dir`, else None."""
    if data_dir is None or task.local is None:
        return None
    source = DataSource(data_dir, "local")
    if not source.available(task, "train", task.train_language):
        return None
    return len(source.load(task, "train"))


def pool_frame(data_dir: str | Path | None = None) -> "pd.DataFrame":
    """One row per intermediate-capable task (XTREME targets excluded) with language and data metadata.

    `size` counts training examples from local files under `data_dir` (default: $INTERTASK_DATA);
    it is None where the task has no local data there. Reading every file takes a few seconds.
    """
    import pandas as pd  # heavy; only needed here

    root = Path(data_dir).expanduser().resolve() if data_dir else resolve_data_dir()
    rows = []
    for name, task in REGISTRY.items():
        if name in XTREME_TARGETS:
            continue
        lang = get_language(task.train_language)
        rows.append({
            "task": name, "language": task.train_language, "language_family": lang.family, "genus": lang.genus,
            "script": lang.script, "format": task.format, "dataset": task.dataset,
            "source": "local+hub" if task.local and task.hub else ("local" if task.local else "hub"),
            "size": _train_size(task, root), "size_hint": task.size_hint, "license": task.license,
            "citation": task.citation, "description": task.description,
        })
    frame = pd.DataFrame(rows, columns=POOL_COLUMNS)
    frame["size"] = frame["size"].astype("Int64")
    frame["size_hint"] = frame["size_hint"].astype("Int64")
    return frame
