"""Audit a study's data before running it: every evaluated item against every training and
model-selection input of its run, by id and by content (`leakage`), at the study's budgets.

It reads the same examples the stages read (same splits, same per-task budgets, same prefixes), so
a zero here is a zero in the evaluation records. No model is loaded.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable

import pandas as pd

from .data import DataSource, DataError, has_split
from .leakage import ContentGuard, content_keys
from .study import expand, languages_for
from .registry import get_task

AUDIT_COLUMNS = ["intermediate_tasks", "target_task", "language", "split", "evaluated", "id_overlap",
                 "content_overlap", "scored", "from", "unavailable"]


@dataclass
class AuditCache:
    """Examples and fingerprints read once per (task, split, language, limit): studies repeat them."""

    source: DataSource
    examples: dict[tuple, list[dict] | None] = field(default_factory=dict)
    guards: dict[tuple, ContentGuard] = field(default_factory=dict)
    items: dict[tuple, list[tuple[str, set[str]]] | None] = field(default_factory=dict)

    def load(self, task: str, split: str, lang: str | None, limit: int | None) -> list[dict] | None:
        """`DataSource.load`, read once per split and language: a budget takes a prefix, as there."""
        key = (task, split, lang)
        if key not in self.examples:
            t = get_task(task)
            try:
                ok = (split == "test" or has_split(t, split, self.source)) and \
                    self.source.available(t, split, lang or t.train_language)
                self.examples[key] = self.source.load(t, split, lang) if ok else None
            except DataError:
                self.examples[key] = None
        found = self.examples[key]
        return found[:limit] if found is not None and limit else found

    def guard(self, task: str, split: str, limit: int | None) -> ContentGuard:
        key = (task, split, limit)
        if key not in self.guards:
            g = ContentGuard()
            g.add(task, self.load(task, split, None, limit) or [], get_task(task).format)
            self.guards[key] = g
        return self.guards[key]


    def evaluated(self, target: str, lang: str, limit: int | None) -> list[tuple[str, set[str]]] | None:
        """(id, content keys) of the evaluated items; a parallel item also carries its twin's keys."""
        key = (target, lang, limit)
        if key not in self.items:
            task = get_task(target)
            items = self.load(target, "test", lang, limit)
            twins: dict[str, dict] = {}
            if items is not None and task.parallel and lang != task.train_language:
                twins = {ex["id"]: ex for ex in self.load(target, "test", task.train_language, None) or []}
            self.items[key] = None if items is None else [
                (ex["id"], set(content_keys(ex, task.format)) | set(content_keys(twins.get(ex["id"], {}), task.format)))
                for ex in items]
        return self.items[key]


def _budget(options: dict, split: str, default: int | None) -> int | None:
    own = options.get("train_examples" if split == "train" else "dev_examples")
    return own if own is not None else default


def _inputs(stage_params: dict, tasks: Iterable[str]) -> list[tuple[str, str, int | None]]:
    """(task, split, limit) of every training and selection input of one training stage, as
    `pipeline.load_features` reads them."""
    out = []
    for name in tasks:
        opts = {**dict(get_task(name).options), **stage_params.get("task_options", {}).get(name, {}),
                **(stage_params.get("options", {}) if stage_params.get("target") == name else {})}
        for split in ("train", "dev"):
            out.append((name, split, _budget(opts, split, stage_params[f"{split}_examples"])))
    return out


def audit_study(params: dict, source: DataSource, cache: AuditCache | None = None) -> pd.DataFrame:
    """One row per (intermediate tasks, target, language): evaluated items, and how many share an id
    with the target's training/selection items or content with any training/selection input of the
    run. `unavailable` names inputs the source cannot read (hub-only tasks offline): not audited.
    Several studies over one source can share a `cache`."""
    cache = cache if cache is not None and cache.source is source else AuditCache(source)
    rows, done = [], set()
    for run in expand(params):
        key = (tuple(run.intermediate_tasks), run.target)
        if key in done:  # seeds share their data
            continue
        done.add(key)
        inputs = []
        for stage in run.stages[:-1]:
            tasks = stage.parameters["tasks"] if stage.kind == "intermediate" else [stage.parameters["target"]]
            inputs += _inputs(stage.parameters, tasks)
        guards, unavailable, seen_ids = [], [], set()
        for name, split, limit in inputs:
            if cache.load(name, split, None, limit) is None:
                if split == "train":
                    unavailable.append(name)
                continue
            guards.append(cache.guard(name, split, limit))
            if name == run.target:
                seen_ids |= {ex["id"] for ex in cache.load(name, split, None, limit) or []}
        ev = run.stages[-1].parameters
        task = get_task(run.target)
        langs = languages_for(params, run.target)
        if langs == "all":
            langs = [lg for lg in task.languages if source.available(task, "test", lg)]
        seen = [(t, keys) for g in guards for t, keys in g.seen.items()]
        every = set().union(*(keys for _, keys in seen))
        for lang in langs:
            items = cache.evaluated(run.target, lang, ev["examples_per_language"])
            if items is None:
                continue
            dropped = [keys for _, keys in items if keys & every]
            rows.append({"intermediate_tasks": "+".join(run.intermediate_tasks) or "none", "target_task": run.target,
                         "language": lang, "split": source.split_label(task, lang), "evaluated": len(items),
                         "id_overlap": len(seen_ids & {i for i, _ in items}), "content_overlap": len(dropped),
                         "scored": len(items) - len(dropped),
                         "from": ", ".join(sorted({t for keys in dropped for t, s in seen if keys & s})),
                         "unavailable": ", ".join(sorted(set(unavailable)))})
    return pd.DataFrame(rows, columns=AUDIT_COLUMNS)
