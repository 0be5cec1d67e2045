"""The stage contract: exactly the parameters papermill injects into each stage notebook, with their defaults.

One dataclass per stage kind is the single source of these names and defaults: the runner builds
the injected parameters through it (an unknown or missing name fails before a notebook starts), each
notebook's parameters cell repeats it field for field (`tests/test_contracts.py` checks that), and a
notebook reads its parameters back as the dataclass (`from_namespace`) to call lib with keywords.
The defaults are the notebook's own: a quick interactive run (`outputs/notebook-defaults/`).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any, Mapping

# evaluation batch size by default: on a 2-core CPU 16-32 examples measured fastest (less padding, activations
# that stay in cache; benchmarks/throughput.py); on a GPU a study should raise it (eval.batch_size)
EVAL_BATCH_SIZE = 32

OFFLINE_MODEL = "intertask/multilingual-e5-small-4bit"


class ContractError(TypeError):
    """Stage parameters that do not match the stage's contract (names the stage kind and the fields)."""


@dataclass
class StageParams:
    """Shared behaviour; subclasses hold the fields."""

    @classmethod
    def names(cls) -> tuple[str, ...]:
        return tuple(f.name for f in fields(cls))

    @classmethod
    def checked(cls, values: Mapping[str, Any], kind: str) -> "StageParams":
        """The contract filled from `values`, which must hold exactly its fields."""
        unknown = sorted(set(values) - set(cls.names()))
        missing = sorted(set(cls.names()) - set(values))
        if unknown or missing:
            raise ContractError(f"{kind} stage parameters do not match {cls.__name__}: unknown {unknown}, "
                                f"missing {missing}; add the field to intertask.contracts and to the notebook's "
                                f"parameters cell, or drop it from the study expansion")
        return cls(**dict(values))

    @classmethod
    def from_namespace(cls, namespace: Mapping[str, Any]) -> "StageParams":
        """The parameters a notebook holds after its parameters cell (and papermill's injected cell).

        A field the namespace lacks takes its default: a record made before the field existed
        (e.g. `mixed_precision` of an evaluation) still re-executes as it was recorded.
        """
        return cls(**{name: namespace[name] for name in cls.names() if name in namespace})

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class IntermediateParams(StageParams):
    """01_intermediate.ipynb: train one or more intermediate tasks together from the pretrained model."""

    model: str = OFFLINE_MODEL
    tasks: list[str] = field(default_factory=lambda: ["anli"])
    task_options: dict = field(default_factory=dict)  # task -> options, e.g. {"tydiqa": {"max_length": 384}}
    total_examples: int | None = None  # multi-task budget: every condition trains the same number of steps
    sampler: str = "proportional"  # proportional | uniform | temperature
    temperature: float = 2.0
    example_cap: int | None = None
    evaluations: int = 1
    # equal compute: a budget of non-pad tokens per condition; batches of at most batch_tokens tokens
    total_tokens: int | None = None
    batch_tokens: int | None = None
    seed: int = 1
    train_examples: int = 64  # per task
    dev_examples: int = 32
    epochs: float = 1.0
    learning_rate: float = 5e-5
    batch_size: int = 16
    max_length: int = 128
    warmup_ratio: float = 0.1
    weight_decay: float = 0.01
    freeze_embeddings: bool = True
    freeze_layers: int = 0
    pooling: str = "mean"
    patience: int | None = 1
    mixed_precision: str = "auto"  # auto (bf16 where the hardware has it) | no | bf16
    save_every: int | str | None = "30min"  # training state saved every N steps or "<n>min"; a rerun resumes
    tracking: str | None = None  # tensorboard | mlflow | wandb (accelerate trackers); None: off
    data_source: str = "auto"  # auto | local | hub
    data_dir: str | None = None  # None: $INTERTASK_DATA
    output_dir: str = "../outputs/notebook-defaults/01_intermediate"


@dataclass
class TargetParams(StageParams):
    """02_target.ipynb: fine-tune on the English target task from `init` (a model or an intermediate checkpoint)."""

    init: str = OFFLINE_MODEL  # a model id, or ../<intermediate stage>/checkpoint
    target: str = "xnli"
    options: dict = field(default_factory=dict)  # the target task's options, e.g. {"max_length": 384}
    seed: int = 1
    train_examples: int = 64
    dev_examples: int = 32
    epochs: float = 1.0
    learning_rate: float = 5e-5
    batch_size: int = 16
    max_length: int = 128
    warmup_ratio: float = 0.1
    weight_decay: float = 0.01
    freeze_embeddings: bool = True
    freeze_layers: int = 0
    pooling: str = "mean"
    patience: int | None = 1
    mixed_precision: str = "auto"  # auto (bf16 where the hardware has it) | no | bf16
    save_every: int | str | None = "30min"  # training state saved every N steps or "<n>min"; a rerun resumes
    tracking: str | None = None  # tensorboard | mlflow | wandb (accelerate trackers); None: off
    data_source: str = "auto"
    data_dir: str | None = None
    output_dir: str = "../outputs/notebook-defaults/02_target"


@dataclass
class EvaluateParams(StageParams):
    """03_evaluate.ipynb: zero-shot evaluation of a checkpoint in every language; identity fields label the rows."""

    checkpoint: str = "../outputs/notebook-defaults/02_target/checkpoint"
    target: str = "xnli"
    languages: list[str] | str = field(default_factory=lambda: ["en", "de", "sw"])  # or "all"
    examples_per_language: int | None = 32
    batch_size: int = EVAL_BATCH_SIZE
    max_length: int = 128
    options: dict = field(default_factory=dict)  # the target task's options (QA doc_stride, retrieval layer, ...)
    mixed_precision: str | None = None  # None: as the checkpoint was trained; auto | no | bf16
    feature_cache: str | None = None  # a folder shared by the study's runs (the runner sets it)
    data_source: str = "auto"
    data_dir: str | None = None
    study: str = "notebook-defaults"
    run: str = "none__xnli__s1"
    model: str = OFFLINE_MODEL
    intermediate_tasks: str = "none"
    seed: int = 1
    output_dir: str = "../outputs/notebook-defaults/03_evaluate"

    def identity(self) -> dict[str, Any]:
        """The run's identity, written into every results row."""
        return {"study": self.study, "run": self.run, "model": self.model,
                "intermediate_tasks": self.intermediate_tasks, "seed": self.seed}


CONTRACTS: dict[str, type[StageParams]] = {
    "intermediate": IntermediateParams,
    "target": TargetParams,
    "evaluate": EvaluateParams,
}
