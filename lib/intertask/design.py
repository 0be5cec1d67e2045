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
import warnings
from typing import Any

from .languages import get_language
from .registry import REGISTRY, get_task

ARMS = ("english", "diverse")
# Formats a design stratifies on (retrieval tasks have no training data, so never enter a pool).
FORMATS = ("classification", "multiple_choice", "tagging", "span_qa")
# In a condition's task list: "train on the run's own target task" (the equal-compute control). Not a
# task name: `study.expand` replaces it by each target in turn.
TARGET_PLACEHOLDER = "@target"
CONTROL = "control-k0"
DESIGN_DEFAULTS: dict[str, Any] = {"type": "scaling", "pool": [], "k": [0, 1, 2], "draws": 2,
                                   "arms": list(ARMS), "seed": 0, "stratify": "format", "control": True}
STRATIFY = ("format", "none")
CONDITION_COLUMNS = ["condition", "arm", "k", "draw", "tasks", "task_languages", "task_families", "n_languages",
                     "n_families", "n_english", "task_formats", *[f"n_{f}" for f in FORMATS], "format_matched"]


class DesignError(ValueError):
    pass


def task_language_family(name: str) -> tuple[str, str]:
    task = get_task(name)
    return task.train_language, get_language(task.train_language).family


def task_format(name: str) -> str:
    return get_task(name).format


def condition_row(condition: str, tasks: list[str], arm: str, k: int, draw: int,
                  format_matched: bool = True) -> dict:
    real = [t for t in tasks if t != TARGET_PLACEHOLDER]
    langs = sorted({task_language_family(t)[0] for t in real})
    fams = sorted({task_language_family(t)[1] for t in real})
    formats = [task_format(t) for t in real]
    return {"condition": condition, "arm": arm, "k": k, "draw": draw,
            "tasks": "+".join(tasks) or "none", "task_languages": "+".join(langs), "task_families": "+".join(fams),
            "n_languages": len(langs), "n_families": len(fams),
            "n_english": sum(task_language_family(t)[0] == "en" for t in real), "task_formats": "+".join(formats),
            **{f"n_{f}": formats.count(f) for f in FORMATS}, "format_matched": format_matched}


def format_sequence(capacity: dict[str, dict[str, int]], length: int, rng: random.Random) -> tuple[list[str], int]:
    """The format of each slot 1..length, shared by every arm, and how many leading slots are matched.

    Round robin over the formats in a seeded order, skipping a format once any arm has no task of it
    left: every prefix then holds the same format counts in every arm, and k = 4 covers four formats.
    `capacity`: arm -> format -> number of the arm's candidate tasks of that format.
    """
    left = {arm: dict(c) for arm, c in capacity.items()}
    sequence: list[str] = []
    while len(sequence) < length:
        open_formats = [f for f in FORMATS if all(c.get(f, 0) > 0 for c in left.values())]
        if not open_formats:
            return sequence, len(sequence)
        rng.shuffle(open_formats)
        for f in open_formats[:length - len(sequence)]:
            sequence.append(f)
            for c in left.values():
                c[f] -= 1
    return sequence, len(sequence)


def _pick(candidates: list[str], used: list[str], fmt: str | None, diverse: bool, rng: random.Random) -> str | None:
    """One more task of format `fmt` (None: any); the diverse arm prefers its least-covered family."""
    free = [t for t in candidates if t not in used and (fmt is None or task_format(t) == fmt)]
    if not free:
        return None
    if diverse:
        counts: dict[str, int] = {}
        for t in used:
            fam = task_language_family(t)[1]
            counts[fam] = counts.get(fam, 0) + 1
        fewest = min(counts.get(task_language_family(t)[1], 0) for t in free)
        free = [t for t in free if counts.get(task_language_family(t)[1], 0) == fewest]
    return rng.choice(sorted(free))


def draw_sequence(candidates: list[str], formats: list[str], length: int, diverse: bool,
                  rng: random.Random) -> list[str]:
    """An ordered draw of `length` tasks: slot i has format formats[i] (beyond it: any format).

    The condition at k is the first k tasks, so draws are nested across k by construction.
    """
    picked: list[str] = []
    for i in range(length):
        task = _pick(candidates, picked, formats[i] if i < len(formats) else None, diverse, rng)
        if task is None:
            task = _pick(candidates, picked, None, diverse, rng)
        if task is None:
            break
        picked.append(task)
    return picked


def _check(d: dict, where: str) -> None:
    unknown = [k for k in d if k not in DESIGN_DEFAULTS]
    if unknown:
        close = difflib.get_close_matches(str(unknown[0]), list(DESIGN_DEFAULTS), n=1)
        hint = f" Did you mean {'design.' + close[0]!r}?" if close else ""
        raise DesignError(f"{where}: unknown key 'design.{unknown[0]}'.{hint} Valid: {', '.join(DESIGN_DEFAULTS)}")
    d = {**DESIGN_DEFAULTS, **d}
    if d["type"] != "scaling":
        raise DesignError(f"{where}: design.type must be 'scaling', got {d['type']!r}")
    for t in d["pool"]:
        if t not in REGISTRY:
            close = difflib.get_close_matches(str(t), REGISTRY, n=1)
            raise DesignError(f"{where}: design.pool: unknown task {t!r}." + (f" Did you mean {close[0]!r}?" if close else ""))
        if task_format(t) not in FORMATS:
            raise DesignError(f"{where}: design.pool: {t!r} is a {task_format(t)} task, which has no training "
                              f"data; a pool holds {', '.join(FORMATS)} tasks")
    if len(set(d["pool"])) != len(d["pool"]):
        raise DesignError(f"{where}: design.pool lists a task twice")
    bad_arms = [a for a in d["arms"] if a not in ARMS]
    if bad_arms:
        raise DesignError(f"{where}: design.arms: unknown arm(s) {bad_arms}; valid: {', '.join(ARMS)}")
    ks = list(d["k"])
    if not ks or any(not isinstance(k, int) or isinstance(k, bool) or k < 0 for k in ks):
        raise DesignError(f"{where}: design.k must be a list of non-negative integers, e.g. [0, 1, 2, 4]")
    if not isinstance(d["draws"], int) or d["draws"] < 1:
        raise DesignError(f"{where}: design.draws must be a positive integer")
    if d["stratify"] not in STRATIFY:
        raise DesignError(f"{where}: design.stratify must be one of {', '.join(STRATIFY)}, got {d['stratify']!r}")
    if not isinstance(d["control"], bool):
        raise DesignError(f"{where}: design.control must be true or false, got {d['control']!r}")


def expand_design(design: dict, where: str = "design") -> tuple[dict[str, list[str]], list[dict]]:
    """The design's conditions (name -> tasks) and one metadata row per condition.

    Every (arm, draw) is one seeded ordered draw; the condition at k is its first k tasks (nested).
    With ``stratify: format`` the formats of the slots are shared by the arms of a draw, so both arms
    hold the same number of tasks of each format at every k; where the pool cannot give that, the
    condition row says ``format_matched: False`` and a warning names it. ``control: true`` adds
    ``control-k0``: k = 0 intermediate tasks, the same budget spent on the target's own English data.
    """
    _check(design, where)
    d = {**DESIGN_DEFAULTS, **design}
    pool, ks = list(d["pool"]), sorted(set(d["k"]))
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
        if d["control"]:
            conditions[CONTROL] = [TARGET_PLACEHOLDER]
            rows.append(condition_row(CONTROL, [TARGET_PLACEHOLDER], "control", 0, 0))
    k_max = max(ks)
    capacity = {arm: {f: sum(task_format(t) == f for t in candidates[arm]) for f in FORMATS} for arm in d["arms"]}
    drawn: dict[str, dict[int, list[str]]] = {arm: {} for arm in d["arms"]}
    unmatched: list[str] = []
    for draw in range(1, d["draws"] + 1):
        if d["stratify"] == "format":
            formats, _ = format_sequence(capacity, k_max, random.Random(f"{d['seed']}-formats-{draw}"))
        else:
            formats = []
        for arm in d["arms"]:
            seen = {tuple(sorted(s[:k])) for s in drawn[arm].values() for k in ks}
            # one generator per (arm, draw): adding a k or an arm never changes other draws
            rng = random.Random(f"{d['seed']}-{arm}-{draw}")
            for _attempt in range(50):  # prefer a draw whose subsets differ from earlier draws' at every k
                seq = draw_sequence(candidates[arm], formats, k_max, arm == "diverse", rng)
                if not any(tuple(sorted(seq[:k])) in seen for k in ks if k):
                    break
            drawn[arm][draw] = seq
    for arm in d["arms"]:
        for k in ks:
            if k == 0:
                continue
            taken: set[tuple[str, ...]] = set()
            for draw, seq in drawn[arm].items():
                tasks = sorted(seq[:k])
                if tuple(tasks) in taken:
                    continue  # fewer distinct subsets than draws (k close to the pool size): keep the distinct ones
                taken.add(tuple(tasks))
                name = f"{arm}-k{k}-d{draw}"
                # recorded as it is, also with stratify: none, so the analysis can see unequal formats
                ok = _matched_at(drawn, draw, k)
                if not ok and d["stratify"] == "format":
                    unmatched.append(name)
                conditions[name] = tasks
                rows.append(condition_row(name, tasks, arm, k, draw, ok))
    english_only = [f for f in FORMATS if "diverse" in d["arms"] and capacity["diverse"][f] > 0
                    and all(get_task(t).train_language == "en" for t in pool if task_format(t) == f)]
    if english_only:
        warnings.warn(f"{where}: design.pool has no non-English {' or '.join(english_only)} task: the diverse arm "
                      "fills those format slots with English tasks (n_english in conditions.csv counts them)",
                      DesignWarning, stacklevel=2)
    if unmatched:
        warnings.warn(f"{where}: the pool cannot give every arm the same formats in {', '.join(unmatched)}: "
                      "their format_matched is False (conditions.csv); add tasks of the missing formats to "
                      "design.pool, or carry the format counts (n_<format>) as covariates", DesignWarning,
                      stacklevel=2)
    return conditions, rows


class DesignWarning(UserWarning):
    pass


def _matched_at(drawn: dict[str, dict[int, list[str]]], draw: int, k: int) -> bool:
    """Whether every arm's draw holds the same number of tasks of each format among its first k."""
    counts = [sorted(task_format(t) for t in seqs[draw][:k]) for seqs in drawn.values() if draw in seqs]
    return all(c == counts[0] for c in counts)


def format_table(rows: list[dict]) -> list[dict]:
    """Per arm and k: the format counts of each draw (equal across arms when the design is matched)."""
    out = []
    for r in rows:
        if r["k"]:
            out.append({"arm": r["arm"], "k": r["k"], "draw": r["draw"], **{f: r[f"n_{f}"] for f in FORMATS}})
    return out


def seen_flags(task_languages: str, target_language: str) -> tuple[bool, bool]:
    """Whether the target language, and its family, were among the intermediate tasks' languages."""
    langs = [lg for lg in task_languages.split("+") if lg]
    fams = {get_language(lg).family for lg in langs}
    return target_language in langs, get_language(target_language).family in fams
