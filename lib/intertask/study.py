"""Study definitions: the params schema, its validation, and expansion into runs and cached stages.

No torch here: `intertask status` must answer instantly and the orchestrator must run anywhere.
"""

from __future__ import annotations

import copy
import difflib
import hashlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from .contracts import EVAL_BATCH_SIZE, OFFLINE_MODEL
from .design import CONTROL, TARGET_PLACEHOLDER, DesignError, condition_row, expand_design
from .leakage import target_clashes
from .registry import get_task
from .schema import ParamsError, validate
from .tasks import UnknownTaskError

STAGE_SCHEMA = 2  # bump when a stage's meaning changes, so old caches are not reused (2: content partitions)

DEFAULTS: dict[str, Any] = {
    "study": None,
    "description": "",
    "model": OFFLINE_MODEL,
    "data_dir": None,
    "data_source": "auto",
    "seeds": [1],
    "intermediate": {"none": []},
    "targets": ["xnli"],
    "languages": "all",
    "task_options": {},
    "allow_target_in_pool": False,
    "design": None,
    "keep_checkpoints": "intermediate",  # intermediate | all | none: see footprint.py (not part of any hash)
    "budgets": {
        "intermediate": {"train_examples": 1000, "dev_examples": 200, "epochs": 1.0, "learning_rate": 5e-5,
                         "batch_size": 32, "total_examples": None, "sampler": "proportional", "temperature": 2.0,
                         "example_cap": None, "evaluations": 1, "total_tokens": None, "batch_tokens": None},
        "target": {"train_examples": 1000, "dev_examples": 200, "epochs": 3.0, "learning_rate": 5e-5,
                   "batch_size": 32},
        "eval": {"examples_per_language": 300, "batch_size": EVAL_BATCH_SIZE},
    },
    # job sizes for --executor slurm|local (schema.Executor); how a study runs, not what it computes: no hash
    "executor": {"partition": None, "gpus_per_job": 1, "cpus_per_job": 8, "mem_gb": 32, "time_min": 720,
                 "max_parallel": None, "extra": {}},
    "training": {"max_length": 128, "warmup_ratio": 0.1, "weight_decay": 0.01, "freeze_embeddings": True,
                 "freeze_layers": 0, "pooling": "mean", "patience": 1, "mixed_precision": "auto",
                 # how a stage runs, not what it computes: left out of the stage hash (UNHASHED_TRAINING)
                 "save_every": "30min", "tracking": None},
}

# budget keys a task may override (QA needs fewer, longer examples than NLI in the same study)
BUDGET_OVERRIDES = ("train_examples", "dev_examples", "epochs", "learning_rate", "batch_size",
                    "examples_per_language")


class _UniqueKeyLoader(yaml.SafeLoader):
    """A safe loader that refuses a key given twice in one mapping (plain YAML keeps the last silently)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict:
        first: dict[Any, int] = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            line = key_node.start_mark.line + 1
            if key in first:
                raise yaml.constructor.ConstructorError(
                    None, None, f"duplicate key {key!r} (first given on line {first[key]}); keep only one",
                    key_node.start_mark)
            first[key] = line
        return super().construct_mapping(node, deep)


def _load_yaml(path: Path) -> dict:
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise ParamsError(f"{path}: params file not found") from None
    try:
        data = yaml.load(text, Loader=_UniqueKeyLoader)  # noqa: S506 (a SafeLoader)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark else str(path)
        problem = getattr(e, "problem", None) or str(e)
        raise ParamsError(f"{where}: YAML error: {problem}") from None
    if not isinstance(data, dict):
        raise ParamsError(f"{path}: expected a mapping of settings at the top level")
    return data


def _merge(defaults: dict, given: dict, path: Path, prefix: str = "") -> dict:
    out = copy.deepcopy(defaults)
    for key, value in given.items():
        name = f"{prefix}{key}"
        if key not in defaults:
            close = difflib.get_close_matches(str(key), [str(k) for k in defaults], n=1)
            hint = f" Did you mean {prefix + close[0]!r}?" if close else ""
            raise ParamsError(f"{path}: unknown key {name!r}.{hint} Valid keys here: {', '.join(map(str, defaults))}")
        free = (prefix == "" and key in ("intermediate", "task_options", "design")) or name == "executor.extra"
        if isinstance(defaults[key], dict) and not free:
            if not isinstance(value, dict):
                raise ParamsError(f"{path}: {name!r} must be a mapping, got {type(value).__name__}")
            out[key] = _merge(defaults[key], value, path, f"{name}.")
        else:
            out[key] = value
    return out


def _check_tasks(params: dict, path: Path) -> None:
    def known(name: Any, field_name: str) -> None:
        try:
            get_task(str(name))
        except UnknownTaskError as e:
            raise ParamsError(f"{path}: {field_name}: {e}") from None

    for cond, tasks in params["intermediate"].items():
        if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.+-]*", str(cond)):
            raise ParamsError(f"{path}: intermediate condition name {cond!r} may hold only letters, digits, _ . + -")
        if tasks is None:
            tasks = []
        if isinstance(tasks, str):
            tasks = [tasks]
        params["intermediate"][cond] = list(tasks)
        for t in tasks:
            if t != TARGET_PLACEHOLDER:  # the equal-compute control: the run's own target, resolved in expand()
                known(t, f"intermediate.{cond}")
    if not params["targets"]:
        raise ParamsError(f"{path}: 'targets' is empty; name at least one target task, e.g. [xnli]")
    for t in params["targets"]:
        known(t, "targets")
        for cond, tasks in params["intermediate"].items():
            clash = target_clashes(t, [x for x in tasks if x != TARGET_PLACEHOLDER])
            if clash and not params["allow_target_in_pool"]:
                shared = ", ".join(sorted({c for cs in clash.values() for c in cs}))
                raise ParamsError(
                    f"{path}: intermediate.{cond} trains on {list(clash)}, which share the target task {t!r}'s data "
                    f"({shared}: its training data or the collections its test items come from; see "
                    f"Task.provenance). The transfer would no longer be zero-shot. Remove the task from the condition "
                    f"(or the design's pool), or set allow_target_in_pool: true to allow it (the results then flag "
                    f"such runs in the column target_in_pool).")
    for t, opts in params["task_options"].items():
        known(t, "task_options")
        if not isinstance(opts, dict):
            raise ParamsError(f"{path}: task_options.{t} must be a mapping of option: value")
        allowed = ["max_length", *get_task(str(t)).options, *BUDGET_OVERRIDES]
        bad = [k for k in opts if k not in allowed]
        if bad:
            close = difflib.get_close_matches(str(bad[0]), allowed, n=1)
            hint = f" Did you mean {close[0]!r}?" if close else ""
            raise ParamsError(f"{path}: task_options.{t}: unknown option(s) {bad}.{hint} "
                              f"{t} takes: {', '.join(dict.fromkeys(allowed))}")
    langs = params["languages"]
    for t in params["targets"]:
        task = get_task(t)
        wanted = langs.get(t, "all") if isinstance(langs, dict) else langs
        if wanted != "all":
            if not isinstance(wanted, list):
                raise ParamsError(f"{path}: languages for {t!r} must be 'all' or a list")
            bad = [lg for lg in wanted if lg not in task.languages]
            if bad:
                raise ParamsError(f"{path}: languages: {t} has no language(s) {bad}; valid: {', '.join(task.languages)}")
    inter = params["budgets"]["intermediate"]
    if inter["sampler"] not in ("proportional", "uniform", "temperature"):
        raise ParamsError(f"{path}: budgets.intermediate.sampler must be proportional, uniform or temperature, "
                          f"got {inter['sampler']!r}")
    if inter["total_examples"] is not None:
        k_max = max((len(t) for t in params["intermediate"].values()), default=0)
        if inter["total_examples"] < k_max * inter["batch_size"]:
            raise ParamsError(f"{path}: budgets.intermediate.total_examples={inter['total_examples']} cannot give each "
                              f"of the {k_max} tasks of the largest condition one batch of {inter['batch_size']}; "
                              f"raise it to at least {k_max * inter['batch_size']} or lower batch_size")
    _check_compute_budget(params, path)
    if params["data_source"] not in ("auto", "local", "hub"):
        raise ParamsError(f"{path}: data_source must be auto, local or hub, got {params['data_source']!r}")
    if params["training"]["pooling"] not in ("mean", "cls"):
        raise ParamsError(f"{path}: training.pooling must be mean or cls")
    if not params["seeds"] or not all(isinstance(s, int) for s in params["seeds"]):
        raise ParamsError(f"{path}: seeds must be a non-empty list of integers, e.g. [1, 2, 3]")


def _check_compute_budget(params: dict, path: Path) -> None:
    """Token budget rules: one kind of total budget; a design needs one; no early stop under it."""
    inter = params["budgets"]["intermediate"]
    for key in ("total_tokens", "batch_tokens"):
        if inter[key] is not None and inter[key] < 1:
            raise ParamsError(f"{path}: budgets.intermediate.{key} must be a positive number of tokens, got {inter[key]}")
    if inter["total_tokens"] is not None and inter["total_examples"] is not None:
        raise ParamsError(f"{path}: budgets.intermediate: give total_tokens (equal compute: non-pad tokens) or "
                          f"total_examples (equal examples), not both; remove total_examples")
    if params["design"] is not None and inter["total_tokens"] is None and inter["total_examples"] is None:
        raise ParamsError(f"{path}: budgets.intermediate.total_tokens is not set: a scaling design trains every "
                          f"condition on the same budget of non-pad tokens; set it, e.g. total_tokens: 40000 "
                          f"(about 1,000 XNLI pairs), or total_examples for an equal number of examples")
    has_control = any(TARGET_PLACEHOLDER in tasks for tasks in params["intermediate"].values())
    if has_control and inter["total_tokens"] is None and inter["total_examples"] is None:
        raise ParamsError(f"{path}: the {CONTROL} condition spends the intermediate budget on the target's own data; "
                          f"set budgets.intermediate.total_tokens so it matches the other conditions' compute")


def load_params(path: str | Path) -> dict:
    """Read, validate and complete a study file; every error names the file and the field."""
    path = Path(path)
    given = _load_yaml(path)
    params = _merge(DEFAULTS, given, path)
    if not params["study"]:
        params["study"] = path.stem
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]*", params["study"]):
        raise ParamsError(f"{path}: study name {params['study']!r} may hold only letters, digits, _ . -")
    validate(params, path)
    if params["design"] is not None:
        if "intermediate" in given:
            raise ParamsError(f"{path}: give either 'intermediate' (conditions by hand) or 'design' (drawn), not both")
        try:
            params["intermediate"], params["_conditions"] = expand_design(params["design"], str(path))
        except DesignError as e:
            raise ParamsError(str(e)) from None
    _check_tasks(params, path)
    params["_path"] = str(path)
    return params


def stable_hash(obj: Any, length: int = 10) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()[:length]


@dataclass
class Stage:
    kind: str  # intermediate | target | evaluate
    name: str
    notebook: str
    parameters: dict
    parent: "Stage | None" = None
    hash: str = ""

    @property
    def dirname(self) -> str:
        order = {"intermediate": 1, "target": 2, "evaluate": 3}[self.kind]
        return f"{order}-{self.kind}-{self.name}-{self.hash}"


@dataclass
class Run:
    id: str
    condition: str
    intermediate_tasks: list[str]
    target: str
    seed: int
    stages: list[Stage] = field(default_factory=list)


NOTEBOOKS = {"intermediate": "01_intermediate.ipynb", "target": "02_target.ipynb", "evaluate": "03_evaluate.ipynb"}


MULTITASK_KEYS = ("total_examples", "sampler", "temperature", "example_cap", "evaluations")
TOKEN_KEYS = ("total_tokens", "batch_tokens")  # newer keys: unset, they stay out of the hash


def hashed_budget(budget: dict) -> dict:
    """The budget as it determines the stage: sampler settings only matter under a fixed total budget,
    so they stay out of the hash otherwise (and stages trained before they existed keep their hash)."""
    budget = {k: v for k, v in budget.items() if not (k in TOKEN_KEYS and v is None)}
    if budget.get("total_examples") is None and budget.get("total_tokens") is None:
        return {k: v for k, v in budget.items() if k not in MULTITASK_KEYS}
    return budget


# training settings that change no result (when the state is saved for resume, where losses are logged):
# not in the stage hash, so turning them on never redoes a finished stage
UNHASHED_TRAINING = ("save_every", "tracking")


def hashed_training(training: dict) -> dict:
    return {k: v for k, v in training.items() if k not in UNHASHED_TRAINING}


def _stage(kind: str, name: str, key: dict, parameters: dict, parent: Stage | None) -> Stage:
    full_key = {"schema": STAGE_SCHEMA, "kind": kind, "key": key, "parent": parent.hash if parent else None}
    return Stage(kind, name, NOTEBOOKS[kind], parameters, parent, stable_hash(full_key))


def _intermediate_stage(params: dict, name: str, tasks: list[str], seed: int,
                        topts: dict | None = None) -> Stage:
    b, tr = params["budgets"], params["training"]
    if topts is None:
        topts = {t: params["task_options"][t] for t in tasks if t in params["task_options"]}
    key = {"model": params["model"], "data_source": params["data_source"], "tasks": tasks,
           "budget": hashed_budget(b["intermediate"]), "training": hashed_training(tr), "seed": seed,
           "options": topts}
    return _stage("intermediate", name, key, {
        "model": params["model"], "tasks": tasks, "seed": seed, **b["intermediate"], **tr,
        "data_source": params["data_source"], "task_options": topts}, None)


def languages_for(params: dict, target: str) -> list[str] | str:
    """The languages to evaluate: a list, or "all" (every language the data has, decided at evaluation)."""
    langs = params["languages"]
    wanted = langs.get(target, "all") if isinstance(langs, dict) else langs
    return "all" if wanted == "all" else list(wanted)


def expand(params: dict) -> list[Run]:
    """Runs = intermediate condition x target x seed; identical stages share one hash (and checkpoint)."""
    b, tr = params["budgets"], params["training"]
    common = {"model": params["model"], "data_source": params["data_source"]}
    stages: dict[str, Stage] = {}

    def unique(s: Stage) -> Stage:
        return stages.setdefault(s.hash, s)

    runs = []
    for seed in params["seeds"]:
        for cond, cond_tasks in params["intermediate"].items():
            parent = None
            if cond_tasks and TARGET_PLACEHOLDER not in cond_tasks:
                parent = unique(_intermediate_stage(params, cond, cond_tasks, seed))
            for target in params["targets"]:
                retrieval = get_task(target).format == "retrieval"
                inter_tasks = [target if t == TARGET_PLACEHOLDER else t for t in cond_tasks]
                if TARGET_PLACEHOLDER in cond_tasks:
                    if retrieval:  # no English training data to spend the control's budget on
                        continue
                given = dict(params["task_options"].get(target, {}))
                budget = {k: given.pop(k, v) for k, v in b["target"].items()}
                eval_budget = {k: given.pop(k, v) for k, v in b["eval"].items()}
                options = given  # what remains are the task's own options (max_length, doc_stride, ...)
                if TARGET_PLACEHOLDER in cond_tasks:
                    # the control's extra steps go over exactly the examples the target stage trains on
                    own = {target: {**options, "train_examples": budget["train_examples"],
                                    "dev_examples": budget["dev_examples"]}}
                    parent = unique(_intermediate_stage(params, f"{cond}-{target}", inter_tasks, seed, own))
                tstage = None
                if not retrieval:  # retrieval reads representations: there is no English fine-tuning
                    key = {**common, "target": target, "budget": budget, "training": hashed_training(tr), "seed": seed,
                           "options": options}
                    tstage = unique(_stage("target", f"{cond}-{target}", key, {
                        "model": params["model"], "target": target, "seed": seed, **budget, **tr,
                        "data_source": params["data_source"], "options": options}, parent))
                langs = languages_for(params, target)
                run_id = f"{cond}__{target}__s{seed}"
                ekey = {"languages": langs, "budget": eval_budget, "max_length": tr["max_length"],
                        "data_source": params["data_source"], "options": options,
                        "model": params["model"] if tstage is None and parent is None else None}
                if tstage is None and parent is None:  # no parent hash carries the training settings
                    ekey["precision"] = tr["mixed_precision"]
                estage = unique(_stage("evaluate", f"{cond}-{target}", ekey, {
                    "target": target, "languages": langs, **eval_budget, "max_length": tr["max_length"],
                    "data_source": params["data_source"], "study": params["study"], "run": run_id,
                    "model": params["model"], "intermediate_tasks": "+".join(inter_tasks) or "none", "seed": seed,
                    "options": options, "mixed_precision": tr["mixed_precision"]}, tstage or parent))
                run = Run(run_id, cond, list(inter_tasks), target, seed, [s for s in (parent, tstage, estage) if s])
                runs.append(run)
    return runs


def condition_rows(params: dict) -> list[dict]:
    """Metadata of every condition: drawn by a design, or described from hand-written conditions."""
    if params.get("_conditions"):
        rows = params["_conditions"]
    else:
        rows = [condition_row(cond, tasks, "custom" if tasks else "baseline", len(tasks), 0)
                for cond, tasks in params["intermediate"].items()]
    return [{**row, **planned_compute(params, row["k"] > 0 or row["arm"] == "control")} for row in rows]


def planned_compute(params: dict, trains: bool) -> dict:
    """What a condition's intermediate stage is planned to train: tokens, examples, steps (None: not fixed).

    Under total_tokens the steps depend on the examples' lengths: the actual ones come from the
    stage's record after training (`budget.trained_compute`).
    """
    inter = params["budgets"]["intermediate"]
    if not trains:
        return {"budget": "none", "planned_tokens": 0, "planned_examples": 0, "planned_steps": 0}
    if inter["total_tokens"] is not None:
        return {"budget": "total_tokens", "planned_tokens": inter["total_tokens"], "planned_examples": None,
                "planned_steps": None}
    if inter["total_examples"] is not None:
        return {"budget": "total_examples", "planned_tokens": None, "planned_examples": inter["total_examples"],
                "planned_steps": -(-inter["total_examples"] // inter["batch_size"])}
    return {"budget": "epochs", "planned_tokens": None, "planned_examples": None, "planned_steps": None}


def study_dir(params: dict, outputs: str | Path = "outputs") -> Path:
    return Path(outputs) / params["study"]
