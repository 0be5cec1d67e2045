"""The task registry: every task is data (name, format family, languages, sources, labels, metric).

Code that reads, featurizes or scores a task is chosen by the task's *format family*, never by its
name, so adding a task is adding an entry here (and, for a new file format, one reader in `data`).
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from typing import Mapping

FAMILIES = ("classification", "multiple_choice", "tagging", "span_qa", "retrieval")

NLI_LABELS = ("entailment", "neutral", "contradiction")
PARAPHRASE_LABELS = ("not_paraphrase", "paraphrase")


@dataclass(frozen=True)
class LocalSource:
    """Files under the data directory (XTREME `download/` layout or an original English release).

    `files` maps a split name to a path template relative to the data directory; `{lang}` is
    replaced by the language code. The special split name `"all"` marks a single labelled file
    that `Task.id_split` partitions by example id into train/dev/test.
    """

    reader: str
    files: Mapping[str, str | tuple[str, ...]]  # a tuple: several files read as one split


@dataclass(frozen=True)
class HubSource:
    """A pinned Hugging Face dataset (`datasets.load_dataset(path, name, revision=...)`)."""

    path: str
    converter: str
    name: str | None = None  # may contain {lang}
    splits: Mapping[str, str] = field(default_factory=lambda: {"train": "train", "dev": "validation", "test": "test"})
    revision: str | None = None


@dataclass(frozen=True)
class Task:
    name: str
    family: str
    languages: tuple[str, ...]
    metric: str
    labels: tuple[str, ...] | None = None
    num_choices: int | None = None
    local: LocalSource | None = None
    hub: HubSource | None = None
    train_language: str = "en"
    # True when every language holds translations of the same items (XNLI, PAWS-X): splits must
    # then be made by example id across all languages, or training items leak into evaluation.
    parallel: bool = False
    # fractions (train, dev, test) used to partition a local "all" file by example id
    id_split: tuple[float, float, float] | None = None
    description: str = ""
    citation: str = ""
    license: str = ""

    def __post_init__(self) -> None:
        if self.family not in FAMILIES:
            raise ValueError(f"task {self.name!r}: unknown family {self.family!r}; expected one of {FAMILIES}")
        if self.local is None and self.hub is None:
            raise ValueError(f"task {self.name!r} has no source")

    @property
    def num_labels(self) -> int:
        if self.family == "classification":
            assert self.labels is not None
            return len(self.labels)
        return 1

    def check_language(self, lang: str) -> None:
        if lang not in self.languages:
            raise UnknownLanguageError(
                f"task {self.name!r} has no language {lang!r}; its languages are: {', '.join(self.languages)}"
            )


class UnknownTaskError(KeyError):
    def __str__(self) -> str:  # KeyError quotes its message; a researcher wants it plain
        return str(self.args[0])


class UnknownLanguageError(ValueError):
    pass


XNLI_LANGS = ("ar", "bg", "de", "el", "en", "es", "fr", "hi", "ru", "sw", "th", "tr", "ur", "vi", "zh")
PAWSX_LANGS = ("de", "en", "es", "fr", "ja", "ko", "zh")

_TASKS: list[Task] = [
    # ---- target tasks -------------------------------------------------------------------------
    Task(
        name="xnli", family="classification", languages=XNLI_LANGS, metric="accuracy", labels=NLI_LABELS,
        local=LocalSource(reader="xnli_tsv", files={"all": "xtreme/xnli/dev-{lang}.tsv"}),
        hub=HubSource(path="facebook/xnli", name="{lang}", converter="nli_hub"),
        parallel=True, id_split=(0.5, 0.1, 0.4),
        description="Cross-lingual NLI (Conneau et al. 2018). Offline: the labelled dev set, split by "
        "example id into English train/dev and a held-out test in every language.",
        citation="Conneau et al. 2018, XNLI: Evaluating Cross-lingual Sentence Representations", license="CC BY-NC 4.0",
    ),
    Task(
        name="pawsx", family="classification", languages=PAWSX_LANGS, metric="accuracy", labels=PARAPHRASE_LABELS,
        local=LocalSource(reader="pawsx_tsv", files={"all": "xtreme/pawsx/dev-{lang}.tsv"}),
        hub=HubSource(path="google-research-datasets/paws-x", name="{lang}", converter="paraphrase_hub"),
        parallel=True, id_split=(0.5, 0.1, 0.4),
        description="Cross-lingual paraphrase adversaries (Yang et al. 2019). Offline: dev set split by id.",
        citation="Yang et al. 2019, PAWS-X", license="custom (free use with attribution)",
    ),
    # ---- intermediate tasks with offline data ---------------------------------------------------
    Task(
        name="anli", family="classification", languages=("en",), metric="accuracy", labels=NLI_LABELS,
        local=LocalSource(reader="anli_csv", files={"all": tuple(f"english/anli/ANLI_analysis_r{r}_dev.csv" for r in (1, 2, 3))}),
        hub=HubSource(path="facebook/anli", converter="nli_hub",
                      splits={"train": "train_r1+train_r2+train_r3", "dev": "dev_r1+dev_r2+dev_r3", "test": "test_r1+test_r2+test_r3"}),
        id_split=(0.9, 0.1, 0.0),
        description="Adversarial NLI (Nie et al. 2020). Offline: the annotated dev rounds 1-3, split by uid.",
        citation="Nie et al. 2020, Adversarial NLI", license="CC BY-NC 4.0",
    ),
    Task(
        name="qqp", family="classification", languages=("en",), metric="accuracy", labels=PARAPHRASE_LABELS,
        local=LocalSource(reader="qqp_tsv", files={"all": "english/qqp/new_dev.tsv"}),
        hub=HubSource(path="nyu-mll/glue", name="qqp", converter="glue_pair"),
        id_split=(0.9, 0.1, 0.0),
        description="Quora Question Pairs (GLUE). Offline: a 23k-pair dev file, split by pair id.",
        citation="Iyer et al. 2017; Wang et al. 2019 (GLUE)", license="Quora terms",
    ),
    Task(
        name="mrpc", family="classification", languages=("en",), metric="accuracy", labels=PARAPHRASE_LABELS,
        local=LocalSource(reader="mrpc_txt", files={"train": "english/mrpc/msr_paraphrase_train.txt",
                                                     "dev": "english/mrpc/msr_paraphrase_test.txt"}),
        hub=HubSource(path="nyu-mll/glue", name="mrpc", converter="glue_pair"),
        description="Microsoft Research Paraphrase Corpus (original release format).",
        citation="Dolan & Brockett 2005", license="MSR-SSLA",
    ),
    Task(
        name="cosmosqa", family="multiple_choice", languages=("en",), metric="accuracy", num_choices=4,
        local=LocalSource(reader="cosmosqa_csv", files={"all": "english/cosmosqa/valid.csv"}),
        hub=HubSource(path="allenai/cosmos_qa", converter="cosmosqa_hub"),
        id_split=(0.9, 0.1, 0.0),
        description="Cosmos QA commonsense reading comprehension (Huang et al. 2019). Offline: valid.csv split by id.",
        citation="Huang et al. 2019, Cosmos QA", license="CC BY 4.0",
    ),
    Task(
        name="socialiqa", family="multiple_choice", languages=("en",), metric="accuracy", num_choices=3,
        local=LocalSource(reader="socialiqa_jsonl", files={"train": "english/socialiqa/socialIQa_v1.4_dev.jsonl",
                                                            "dev": "english/socialiqa/socialIQa_v1.4_tst.jsonl"}),
        hub=HubSource(path="allenai/social_i_qa", converter="socialiqa_hub"),
        description="Social IQa (Sap et al. 2019). Offline: v1.4 dev for training, v1.4 test for early stopping.",
        citation="Sap et al. 2019, Social IQa", license="CC BY 4.0",
    ),
    Task(
        name="copa", family="multiple_choice", languages=("en",), metric="accuracy", num_choices=2,
        local=LocalSource(reader="copa_jsonl", files={"train": "english/copa/train-en.jsonl",
                                                       "dev": "english/copa/val-en.jsonl"}),
        hub=HubSource(path="aps/super_glue", name="copa", converter="copa_hub"),
        description="Choice of Plausible Alternatives (Roemmele et al. 2011), as distributed with XCOPA.",
        citation="Roemmele et al. 2011", license="BSD 2-Clause",
    ),
    # ---- hub-only intermediate tasks ------------------------------------------------------------
    Task(
        name="mnli", family="classification", languages=("en",), metric="accuracy", labels=NLI_LABELS,
        hub=HubSource(path="nyu-mll/glue", name="mnli", converter="nli_hub",
                      splits={"train": "train", "dev": "validation_matched", "test": "validation_mismatched"}),
        description="MultiNLI (Williams et al. 2018). Hub only: the public files are too large for the bundle.",
        citation="Williams et al. 2018", license="OANC / CC BY-SA 3.0 mix",
    ),
    Task(
        name="sst2", family="classification", languages=("en",), metric="accuracy", labels=("negative", "positive"),
        hub=HubSource(path="nyu-mll/glue", name="sst2", converter="glue_single"),
        description="Stanford Sentiment Treebank, binary (GLUE). Hub only.",
        citation="Socher et al. 2013", license="unknown",
    ),
    Task(
        name="hellaswag", family="multiple_choice", languages=("en",), metric="accuracy", num_choices=4,
        hub=HubSource(path="Rowan/hellaswag", converter="hellaswag_hub"),
        description="HellaSwag (Zellers et al. 2019). Hub only.",
        citation="Zellers et al. 2019", license="MIT",
    ),
    Task(
        name="commonsenseqa", family="multiple_choice", languages=("en",), metric="accuracy", num_choices=5,
        hub=HubSource(path="tau/commonsense_qa", converter="commonsenseqa_hub"),
        description="CommonsenseQA (Talmor et al. 2019). Hub only.",
        citation="Talmor et al. 2019", license="MIT",
    ),
]

REGISTRY: dict[str, Task] = {t.name: t for t in _TASKS}


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
