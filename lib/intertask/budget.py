"""Compute budgets in tokens: what a token is, token-sized batches, and what a stage actually trained.

One definition serves the equal-compute budget (``total_tokens``: every condition of a design trains
on the same number of tokens) and token-sized batches (``batch_tokens``, issue 11): a feature's
tokens are its **non-pad input tokens**, i.e. the length of its ``input_ids``, summed over the
choices of a multiple-choice item and counted once per window of a long QA context. Special tokens
(<s>, </s>) count; padding never does, so the count does not depend on how batches are padded.

No torch here: the orchestrator reads the stage records with it.
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any, Iterable, Sequence

import pandas as pd

Feature = dict


def feature_tokens(feature: Feature) -> int:
    """Non-pad input tokens of one feature (all choices of a multiple-choice item)."""
    ids = feature["input_ids"]
    if ids and isinstance(ids[0], (list, tuple)):
        return sum(len(c) for c in ids)
    return len(ids)


def batch_tokens(features: Sequence[Feature], idx: Iterable[int]) -> int:
    return sum(feature_tokens(features[i]) for i in idx)


def token_batches(features: Sequence[Feature], max_tokens: int, rng: random.Random, bucket: int = 2000) -> list[list[int]]:
    """Training batches of at most `max_tokens` non-pad tokens (at least one feature each).

    As `features.bucketed_batches`: random order, sorted by length within pools of `bucket` features so
    a batch's lengths are alike (little padding), batches shuffled. A feature longer than the limit
    forms a batch of its own.
    """
    order = list(range(len(features)))
    rng.shuffle(order)
    batches: list[list[int]] = []
    for start in range(0, len(order), bucket):
        chunk = sorted(order[start:start + bucket], key=lambda i: feature_tokens(features[i]))
        current: list[int] = []
        spent = 0
        for i in chunk:
            n = feature_tokens(features[i])
            if current and spent + n > max_tokens:
                batches.append(current)
                current, spent = [], 0
            current.append(i)
            spent += n
        if current:
            batches.append(current)
    rng.shuffle(batches)
    return batches


def fit_to_budget(features: Sequence[Feature], idx: list[int], room: int) -> list[int]:
    """The items of a batch, in order, that fit in `room` tokens (the budget's last, partial batch).

    Items too long for what is left are skipped, so the budget is missed by less than one item's
    tokens: at most choices x max_length (e.g. 4 x 128 for Cosmos QA), i.e. within 2% for any budget
    of at least 50 such items.
    """
    kept: list[int] = []
    for i in idx:
        n = feature_tokens(features[i])
        if n <= room:
            kept.append(i)
            room -= n
    return kept


# ---------------------------------------------------------------------------------------------
# what was trained, from the stage records


def trained_compute(history: pd.DataFrame) -> dict[str, Any]:
    """Tokens, examples and steps a stage trained, in total and per task, from its `history.csv`.

    Rounds record ``tokens_<task>``, ``steps_<task>`` and ``examples_<task>`` (budgeted and multi-task
    stages); a stage recorded before they existed gives only its steps.
    """
    out: dict[str, Any] = {"trained_steps": int(history["step"].max()) if "step" in history and len(history) else None}
    per_task: dict[str, dict[str, int]] = {}
    for col in history.columns:
        for kind in ("tokens", "steps", "examples"):
            if col.startswith(f"{kind}_"):
                per_task.setdefault(col[len(kind) + 1:], {})[kind] = int(history[col].fillna(0).sum())
    if per_task:
        out["trained_tokens"] = sum(v.get("tokens", 0) for v in per_task.values()) if any(
            "tokens" in v for v in per_task.values()) else None
        out["trained_examples"] = sum(v.get("examples", 0) for v in per_task.values())
        for kind in ("tokens", "steps"):
            out[f"{kind}_per_task"] = "+".join(f"{t}:{v[kind]}" for t, v in sorted(per_task.items()) if kind in v)
    return out


def add_trained_compute(conditions: pd.DataFrame, intermediate_folders: dict[str, list[Path]]) -> pd.DataFrame:
    """The conditions table with what each condition's finished intermediate stage(s) trained.

    `intermediate_folders`: condition -> its intermediate stage folders (one per seed; the control
    has one per target too). Several stages of a condition are listed ';'-separated in their order;
    a condition not trained yet keeps empty cells.
    """
    frame = conditions.copy()
    for c in ("planned_tokens", "planned_examples", "planned_steps"):
        if c in frame.columns:  # counts, not floats, where some are unknown
            frame[c] = frame[c].astype("Int64")
    cols = ["trained_tokens", "trained_steps", "tokens_per_task", "steps_per_task"]
    for c in cols:
        frame[c] = None
    for i, cond in frame["condition"].items():
        found = []
        for folder in intermediate_folders.get(str(cond), []):
            hist = folder / "history.csv"
            if hist.exists():
                found.append(trained_compute(pd.read_csv(hist)))
        if found:
            for c in cols:
                values = [str(f[c]) for f in found if f.get(c) is not None]
                frame.at[i, c] = ";".join(values) if len(set(values)) > 1 else (values[0] if values else None)
    return frame
