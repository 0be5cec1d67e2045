"""The params file's schema as pydantic models: types, ranges and allowed values of every setting.

`study.load_params` merges a file over the defaults (unknown keys are refused there, with the closest
valid key), then validates the result here. Errors keep the project's style: the file, the field
path, the value given and the allowed range or values. No torch here.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any, Literal, Optional, Union

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, StrictBool, StrictInt, ValidationError

# YAML 1.1 reads `5e-5` (no dot) as a string; everyone writes learning rates that way
_NUMBER = re.compile(r"[-+]?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?")


def _number(value: Any) -> Any:
    if isinstance(value, bool):
        raise ValueError("must be a number, not true/false")  # YAML `yes` must not become 1
    if isinstance(value, str) and _NUMBER.fullmatch(value.strip()):
        number = float(value)
        return int(number) if number.is_integer() and not re.search(r"[.eE]", value) else number
    return value


Float = Annotated[float, BeforeValidator(_number)]
Int = Annotated[int, BeforeValidator(_number)]


def _save_every(value: Any) -> Any:
    if value is None or (isinstance(value, int) and not isinstance(value, bool) and value >= 0):
        return value
    if isinstance(value, str) and re.fullmatch(r"\d+(\.\d+)?min", value.strip()):
        return value.strip()
    raise ValueError('must be a number of steps (e.g. 500), minutes as "30min", or 0 (never)')


# `train.save_interval` reads it; checked here so a bad value fails before any stage starts
SaveEvery = Annotated[Any, BeforeValidator(_save_every)]


class _Section(BaseModel):
    # other engineers add settings (token budgets, checkpoint keeping) to the defaults: let them through
    model_config = ConfigDict(extra="allow")


class IntermediateBudget(_Section):
    train_examples: Int = Field(ge=1)
    dev_examples: Int = Field(ge=0)
    epochs: Float = Field(gt=0)
    learning_rate: Float = Field(gt=0)
    batch_size: Int = Field(ge=1)
    total_examples: Optional[Int] = Field(default=None, ge=1)
    sampler: Literal["proportional", "uniform", "temperature"] = "proportional"
    temperature: Float = Field(default=2.0, gt=0)
    example_cap: Optional[Int] = Field(default=None, ge=1)
    evaluations: Int = Field(default=1, ge=1)
    # equal compute (issue 7): a budget of non-pad tokens per condition; token-sized batches
    total_tokens: Optional[Int] = Field(default=None, ge=1)
    batch_tokens: Optional[Int] = Field(default=None, ge=1)


class TargetBudget(_Section):
    train_examples: Int = Field(ge=1)
    dev_examples: Int = Field(ge=0)
    epochs: Float = Field(gt=0)
    learning_rate: Float = Field(gt=0)
    batch_size: Int = Field(ge=1)


class EvalBudget(_Section):
    examples_per_language: Optional[Int] = Field(ge=1)
    batch_size: Int = Field(ge=1)


class Budgets(_Section):
    intermediate: IntermediateBudget
    target: TargetBudget
    eval: EvalBudget


class Training(_Section):
    max_length: Int = Field(ge=8)
    warmup_ratio: Float = Field(ge=0, lt=1)
    weight_decay: Float = Field(ge=0)
    freeze_embeddings: StrictBool
    freeze_layers: Int = Field(ge=0)
    pooling: Literal["mean", "cls"]
    patience: Optional[Int] = Field(ge=0)
    mixed_precision: Literal["no", "fp16", "bf16", "auto"]
    # steps (an int), minutes ("30min") or 0 (never): how often a training stage saves its state for resume
    save_every: SaveEvery = "30min"
    tracking: Optional[Literal["tensorboard", "mlflow", "wandb"]] = None


def _sbatch_flags(value: Any) -> Any:
    if not isinstance(value, dict):
        raise ValueError("must be a mapping of sbatch flags, e.g. {account: myproject, qos: high}")
    for key, flag in value.items():
        if isinstance(flag, (list, dict)) or flag is None:
            raise ValueError(f"flag {key!r} must be one value (sbatch --{key}=VALUE; true for a bare flag)")
    return value


class Executor(_Section):
    """How `intertask run --executor slurm|local` sizes its jobs (one job = one stage); not part of any hash."""
    partition: Optional[str] = None
    gpus_per_job: Int = Field(default=1, ge=0)
    cpus_per_job: Int = Field(default=8, ge=1)
    mem_gb: Float = Field(default=32, gt=0)
    time_min: Int = Field(default=720, ge=1)
    max_parallel: Optional[Int] = Field(default=None, ge=1)
    extra: Annotated[dict[str, Union[StrictBool, int, float, str]], BeforeValidator(_sbatch_flags)] = Field(
        default_factory=dict)  # more sbatch flags, passed as they are


class StudyFile(_Section):
    study: str
    description: Optional[str]
    model: str
    data_dir: Optional[str]
    data_source: Literal["auto", "local", "hub"]
    seeds: list[StrictInt] = Field(min_length=1)
    intermediate: dict
    targets: list
    languages: Union[str, list, dict]
    task_options: dict
    allow_target_in_pool: StrictBool
    keep_checkpoints: Literal["intermediate", "all", "none"]  # see footprint.KEEP_POLICIES
    design: Optional[dict]
    budgets: Budgets
    training: Training
    executor: Executor


class ParamsError(ValueError):
    """A study file problem; the message names the file, the field and the fix."""


_WANT = {"float": "int or float", "int": "int", "bool": "bool", "string": "str", "list": "list", "dict": "dict",
         "model": "a mapping"}
_EXAMPLES = {"seeds": ", e.g. [1, 2, 3]"}


def _message(err: dict) -> str:
    loc = [str(p) for p in err["loc"] if not isinstance(p, int)]
    field = ".".join(loc)
    kind, ctx, value = err["type"], err.get("ctx", {}), err.get("input")
    if kind in ("greater_than", "greater_than_equal", "less_than", "less_than_equal"):
        bounds = {k: int(v) if isinstance(v, float) and v.is_integer() else v for k, v in ctx.items()}
        op = {"greater_than": "> {gt}", "greater_than_equal": ">= {ge}", "less_than": "< {lt}",
              "less_than_equal": "<= {le}"}[kind].format(**bounds)
        return f"{field!r} must be {op}, got {value!r}"
    if kind == "literal_error":
        return f"{field!r} must be one of {ctx.get('expected', '')}, got {value!r}"
    if kind == "value_error":
        return f"{field!r} {ctx.get('error', err['msg'])}, got {value!r}"
    if kind == "too_short":
        return f"{field!r} must not be empty{_EXAMPLES.get(field, '')}"
    if field.startswith("seeds"):
        return f"'seeds' must be a list of integers{_EXAMPLES['seeds']}, got {value!r}"
    want = next((w for k, w in _WANT.items() if kind.startswith(k)), None)
    if want:
        return f"{field!r} must be {want}, got {value!r}"
    return f"{field!r}: {err['msg']}, got {value!r}"


def _write_back(params: dict, model: BaseModel, given: dict) -> None:
    """Numbers written as strings (`5e-5`) become numbers; everything else keeps its given form, so the
    stage hashes of valid files do not change."""
    for key, value in given.items():
        new = getattr(model, key, None)
        if isinstance(new, BaseModel) and isinstance(value, dict):
            _write_back(params[key], new, value)
        elif isinstance(value, str) and isinstance(new, (int, float)) and not isinstance(new, bool):
            params[key] = new


def validate(params: dict, path: Path) -> None:
    """Check every setting's type and range; raise ParamsError-style ValueError naming file, field, value."""
    given = {k: v for k, v in params.items() if not k.startswith("_")}
    try:
        model = StudyFile.model_validate(given)
    except ValidationError as e:
        first = e.errors(include_url=False)[0]
        more = len(e.errors()) - 1
        extra = f" (and {more} more problem{'s' if more > 1 else ''})" if more else ""
        raise ParamsError(f"{path}: {_message(first)}{extra}") from None
    _write_back(params, model, given)
