"""The types every layer shares: a task (what its data is and where it lives), its sources, labels, errors.

A task is data: its *format* (the input/output shape: classification, multiple choice, tagging, span
QA, retrieval) chooses the model side in `intertask.formats`, its local `reader` the file reader in
`intertask.readers`, its `scorer` the metric in `intertask.metrics`. The task entries themselves
live in `intertask.registry`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping

FORMATS = ("classification", "multiple_choice", "tagging", "span_qa", "retrieval")

NLI_LABELS = ("entailment", "neutral", "contradiction")
PARAPHRASE_LABELS = ("not_paraphrase", "paraphrase")

Example = dict
@dataclass(frozen=True)
class LocalSource:
    """Files under the data directory (XTREME `download/` layout or an original English release).

    `files` maps a split name to a path template relative to the data directory; `{lang}` is
    replaced by the language code. The special split name `"all"` marks a single labelled file
    that `Task.id_split` partitions by example id into train/dev/test.
    """

    reader: str
    files: Mapping[str, str | tuple[str, ...]]  # a tuple: several files read as one split
    # what a file is in its own release, where that is not the split key ("all" -> "dev" for XNLI's
    # labelled dev file): the results' `split` column says what was really evaluated
    origin: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class HubSource:
    """A pinned Hugging Face dataset (`datasets.load_dataset(path, name, revision=...)`)."""

    path: str
    converter: str
    name: str | None = None  # may contain {lang}
    splits: Mapping[str, str] = field(default_factory=lambda: {"train": "train", "dev": "validation", "test": "test"})
    revision: str | None = None
    # what a hub split is in the benchmark, where its name says otherwise (XQuAD is published as
    # "validation" but is the test set); other names are reported as they are ("validation" as "dev")
    origin: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Task:
    name: str
    format: str
    languages: tuple[str, ...]
    metric: str
    # the name of its metric function in `intertask.metrics.SCORERS` (as XTREME's evaluate.py table)
    scorer: str = ""
    # the benchmarks it is a target task of ("xtreme", "xtreme-r"); empty for intermediate tasks
    benchmarks: tuple[str, ...] = ()
    labels: tuple[str, ...] | None = None
    num_choices: int | None = None
    local: LocalSource | None = None
    hub: HubSource | None = None
    train_language: str = "en"
    # True when every language holds translations of the same items (XNLI, PAWS-X): splits must
    # then be one partition for all languages, or training items leak into evaluation.
    parallel: bool = False
    # fractions (train, dev, test) used to partition a local "all" file by content
    id_split: tuple[float, float, float] | None = None
    # another task whose file holds the same items under the same ids (MultiEmo pl translates en):
    # its content partition is used, so no item is trained on in one and selected on in the other
    aligned_with: str = ""
    # language code -> code used in file names, where they differ (Tatoeba uses ISO 639-3)
    file_codes: Mapping[str, str] = field(default_factory=dict)
    # format-specific settings (QA doc stride, retrieval layer, ...), overridable per study
    options: Mapping[str, object] = field(default_factory=dict)
    # the underlying dataset: tasks that share one (UD-POS test vs a UD dev set used as an
    # intermediate task) must not be both intermediate and target, or transfer is no longer zero-shot
    dataset: str = ""
    # every data collection this task's examples (any split it reads, local or hub) contain or derive
    # from, named as in `leakage.PROVENANCE`; a target refuses intermediate tasks sharing any of them
    # (default: its dataset)
    provenance: tuple[str, ...] = ()
    # where an intermediate task's pool metadata should say more than the registry does
    size_hint: int | None = None
    description: str = ""
    citation: str = ""
    license: str = ""

    def __post_init__(self) -> None:
        if not self.dataset:
            object.__setattr__(self, "dataset", self.name)
        if not self.provenance:
            object.__setattr__(self, "provenance", (self.dataset,))
        if self.format not in FORMATS:
            raise ValueError(f"task {self.name!r}: unknown format {self.format!r}; expected one of {FORMATS}")
        if not self.scorer:
            raise ValueError(f"task {self.name!r} declares no scorer; name one of intertask.metrics.SCORERS")
        if self.local is None and self.hub is None:
            raise ValueError(f"task {self.name!r} has no source")

    @property
    def num_labels(self) -> int:
        if self.format == "classification":
            assert self.labels is not None
            return len(self.labels)
        return 1

    def check_language(self, lang: str) -> None:
        if lang not in self.languages and lang != self.train_language:
            raise UnknownLanguageError(
                f"task {self.name!r} has no language {lang!r}; its languages are: {', '.join(self.languages)}"
            )


class UnknownTaskError(KeyError):
    def __str__(self) -> str:  # KeyError quotes its message; a researcher wants it plain
        return str(self.args[0])


class UnknownLanguageError(ValueError):
    pass



class DataError(Exception):
    """Base class for every data problem; messages name the file (and line) and the fix."""


class MissingDataError(DataError):
    pass


class MalformedDataError(DataError):
    pass


class LeakageError(DataError):
    pass
