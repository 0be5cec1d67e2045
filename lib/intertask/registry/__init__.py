"""The task registry: every task is one entry (name, format, languages, sources, labels, scorer).

Code that reads, featurizes or scores a task is chosen by the entry's `format`, `reader` and
`scorer`, never by its name, so adding a task is adding an entry in `targets`, `english` or `pool`
(and, for a new file format, one reader in `intertask.readers`).
"""

from __future__ import annotations

import difflib

from ..tasks import Task, UnknownTaskError
from .english import ENGLISH_TASKS
from .pool import POOL_TASK_NAMES, POOL_TASKS, UDPOS_DEV_LANGS
from .targets import TARGET_TASKS

__all__ = ["REGISTRY", "get_task", "register", "TARGET_TASKS", "ENGLISH_TASKS", "POOL_TASKS", "POOL_TASK_NAMES",
           "UDPOS_DEV_LANGS", "XTREME_TARGETS", "XTREME_R_TASKS", "OFFLINE_POOL", "benchmark_tasks"]

REGISTRY: dict[str, Task] = {t.name: t for t in (*TARGET_TASKS, *ENGLISH_TASKS, *POOL_TASKS)}


def benchmark_tasks(benchmark: str) -> tuple[str, ...]:
    """The target tasks of a benchmark ("xtreme", "xtreme-r"), as their entries declare it."""
    return tuple(t.name for t in TARGET_TASKS if benchmark in t.benchmarks)


# The target tasks: never part of an intermediate pool.
XTREME_TARGETS: tuple[str, ...] = tuple(t.name for t in TARGET_TASKS)
# The ten tasks of the XTREME-R score.
XTREME_R_TASKS: tuple[str, ...] = benchmark_tasks("xtreme-r")
# Intermediate tasks usable without internet (local data in the offline bundle), English and not.
OFFLINE_POOL: list[str] = [t.name for t in (*ENGLISH_TASKS, *POOL_TASKS) if t.local is not None]


def get_task(name: str) -> Task:
    """Look a task up by name; an unknown name lists the closest and all valid ones."""
    try:
        return REGISTRY[name]
    except KeyError:
        close = difflib.get_close_matches(name, REGISTRY, n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise UnknownTaskError(f"unknown task {name!r}.{hint} Known tasks: {', '.join(sorted(REGISTRY))}") from None


def register(task: Task) -> None:
    """Add a task at run time (e.g. a user's own data); names must be unique."""
    if task.name in REGISTRY:
        raise ValueError(f"task {task.name!r} is already registered")
    REGISTRY[task.name] = task
