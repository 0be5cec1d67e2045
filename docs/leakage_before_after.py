"""Issue 7: how much of the evaluated XNLI / PAWS-X data the old id split leaked, and the content split's count.

    PYTHONPATH=lib INTERTASK_DATA=../shared/data python docs/leakage_before_after.py

Old: the files partitioned by line id (fixed-seed shuffle, 50/10/40), as before issue 7. New: the
content partition (`leakage.partition_by_content`). Counted over the first 300 evaluated items (the
budget of params/smoke.yaml and params/pawsx_smoke.yaml), with those studies' train/dev budgets. The
items are parallel, so every language has the same count.
"""

from __future__ import annotations

import random

from intertask.data import DataSource, resolve_data_dir
from intertask.readers import READERS
from intertask.leakage import PARTITION_SEED, ContentGuard, fingerprint
from intertask.registry import get_task

BUDGETS = {"xnli": (1245, 249), "pawsx": (1000, 200)}  # smoke.yaml, pawsx_smoke.yaml


def old_id_partition(ids: list[str], fractions: tuple[float, float, float]) -> dict[str, list[str]]:
    order = list(ids)
    random.Random(PARTITION_SEED).shuffle(order)
    a, b = round(fractions[0] * len(order)), round((fractions[0] + fractions[1]) * len(order))
    return {"train": order[:a], "dev": order[a:b], "test": order[b:]}


def main() -> None:
    src = DataSource(resolve_data_dir(), "local")
    for name, (n_train, n_dev) in BUDGETS.items():
        task = get_task(name)
        en = READERS[task.local.reader](src.local_path(task.local.files["all"], "en"))
        by_id = {ex["id"]: ex for ex in en}
        parts = old_id_partition(list(by_id), task.id_split)
        seen = [by_id[i] for i in parts["train"][:n_train] + parts["dev"][:n_dev]]
        first = {fingerprint(ex["text_a"]) for ex in seen}
        either = first | {fingerprint(ex["text_b"]) for ex in seen}
        test = [by_id[i] for i in parts["test"][:300]]
        old_first = sum(fingerprint(ex["text_a"]) in first for ex in test)
        old_either = sum(bool({fingerprint(ex["text_a"]), fingerprint(ex["text_b"])} & either) for ex in test)
        guard = ContentGuard()
        guard.add(name, src.load(task, "train", limit=n_train) + src.load(task, "dev", limit=n_dev), task.format)
        twins = {ex["id"]: ex for ex in src.load(task, "test", "en")}
        new = {lg: len(guard.split(src.load(task, "test", lg, limit=300), task.format, twins)[1])
               for lg in task.languages}
        print(f"{name}, first 300 evaluated items per language: old id split: first text (premise) in train/dev "
              f"{old_first}, either text {old_either}; content split: {sorted(set(new.values()))} in {len(new)} languages")


if __name__ == "__main__":
    main()
