"""Study designs: from an intermediate-task pool and k values to matched, seeded conditions.

A scaling design draws, for each k, several task subsets in two arms with the same k and the same
training budget: English-only tasks, and tasks drawn to cover as many language families as the pool
allows. Every condition carries its metadata (arm, k, draw, languages, families) so the analysis
can ask whether gains come from more tasks, more families, or simply having seen the target language.
No torch here.
"""

from __future__ import annotations

import difflib
import random
from typing import Any

from .languages import get_language
from .registry import REGISTRY, get_task

ARMS = ("english", "diverse")
DESIGN_DEFAULTS: dict[str, Any] = {"type": "scaling", "pool": [], "k": [0, 1, 2], "draws": 2,
                                   "arms": list(ARMS), "seed": 0}
CONDITION_COLUMNS = ["condition", "arm", "k", "draw", "tasks", "task_languages", "task_families", "n_languages",
                     "n_families"]


class DesignError(ValueError):
    pass


def task_language_family(name: str) -> tuple[str, str]:
    task = get_task(name)
    return task.train_language, get_language(task.train_language).family


def condition_row(condition: str, tasks: list[str], arm: str, k: int, draw: int) -> dict:
    langs = sorted({task_language_family(t)[0] for t in tasks})
    fams = sorted({task_language_family(t)[1] for t in tasks})
    return {"condition": condition, "arm": arm, "k": k, "draw": draw, "tasks": "+".join(tasks) or "none",
            "task_languages": "+".join(langs), "task_families": "+".join(fams), "n_languages": len(langs),
            "n_families": len(fams)}


def _draw_english(pool: list[str], k: int, rng: random.Random) -> list[str]:
    return sorted(rng.sample(pool, k))


def _draw_diverse(pool: list[str], k: int, rng: random.Random) -> list[str]:
    """k tasks covering min(k, #families) families: one per family in random order, then again."""
    by_family: dict[str, list[str]] = {}
    for t in pool:
        by_family.setdefault(task_language_family(t)[1], []).append(t)
    families = sorted(by_family)
    rng.shuffle(families)
    for fam in families:
        rng.shuffle(by_family[fam])
    picked: list[str] = []
    while len(picked) < k:
        for fam in families:
            if by_family[fam] and len(picked) < k:
                picked.append(by_family[fam].pop())
    return sorted(picked)


def expand_design(design: dict, where: str = "design") -> tuple[dict[str, list[str]], list[dict]]:
    """The design's conditions (name -> tasks) and one metadata row per condition."""
    unknown = [k for k in design if k not in DESIGN_DEFAULTS]
    if unknown:
        close = difflib.get_close_matches(str(unknown[0]), list(DESIGN_DEFAULTS), n=1)
        hint = f" Did you mean {'design.' + close[0]!r}?" if close else ""
        raise DesignError(f"{where}: unknown key 'design.{unknown[0]}'.{hint} Valid: {', '.join(DESIGN_DEFAULTS)}")
    d = {**DESIGN_DEFAULTS, **design}
    if d["type"] != "scaling":
        raise DesignError(f"{where}: design.type must be 'scaling', got {d['type']!r}")
    pool = list(d["pool"])
    for t in pool:
        if t not in REGISTRY:
            close = difflib.get_close_matches(str(t), REGISTRY, n=1)
            raise DesignError(f"{where}: design.pool: unknown task {t!r}." + (f" Did you mean {close[0]!r}?" if close else ""))
    if len(set(pool)) != len(pool):
        raise DesignError(f"{where}: design.pool lists a task twice")
    bad_arms = [a for a in d["arms"] if a not in ARMS]
    if bad_arms:
        raise DesignError(f"{where}: design.arms: unknown arm(s) {bad_arms}; valid: {', '.join(ARMS)}")
    ks = list(d["k"])
    if not ks or any(not isinstance(k, int) or k < 0 for k in ks):
        raise DesignError(f"{where}: design.k must be a list of non-negative integers, e.g. [0, 1, 2, 4]")
    if not isinstance(d["draws"], int) or d["draws"] < 1:
        raise DesignError(f"{where}: design.draws must be a positive integer")
    english = [t for t in pool if get_task(t).train_language == "en"]
    candidates = {"english": english, "diverse": pool}
    for arm in d["arms"]:
        too_big = [k for k in ks if k > len(candidates[arm])]
        if too_big:
            raise DesignError(f"{where}: design.k {too_big} is larger than the {arm} arm's pool "
                              f"({len(candidates[arm])} tasks: {', '.join(candidates[arm]) or 'none'}); "
                              f"lower k or add tasks to design.pool")
    conditions: dict[str, list[str]] = {}
    rows: list[dict] = []
    if 0 in ks:
        conditions["none"] = []
        rows.append(condition_row("none", [], "baseline", 0, 0))
    for arm in d["arms"]:
        for k in sorted(set(ks) - {0}):
            seen: set[tuple[str, ...]] = set()
            for draw in range(1, d["draws"] + 1):
                # one generator per (arm, k, draw): adding a k or an arm never changes other draws
                rng = random.Random(f"{d['seed']}-{arm}-{k}-{draw}")
                for _attempt in range(50):
                    tasks = (_draw_english if arm == "english" else _draw_diverse)(candidates[arm], k, rng)
                    if tuple(tasks) not in seen:
                        break
                else:
                    continue  # fewer distinct subsets than draws (k close to the pool size): keep the distinct ones
                seen.add(tuple(tasks))
                name = f"{arm}-k{k}-d{draw}"
                conditions[name] = tasks
                rows.append(condition_row(name, tasks, arm, k, draw))
    return conditions, rows


def seen_flags(task_languages: str, target_language: str) -> tuple[bool, bool]:
    """Whether the target language, and its family, were among the intermediate tasks' languages."""
    langs = [lg for lg in task_languages.split("+") if lg]
    fams = {get_language(lg).family for lg in langs}
    return target_language in langs, get_language(target_language).family in fams
