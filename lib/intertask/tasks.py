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
    # language code -> code used in file names, where they differ (Tatoeba uses ISO 639-3)
    file_codes: Mapping[str, str] = field(default_factory=dict)
    # family-specific settings (QA doc stride, retrieval layer, ...), overridable per study
    options: Mapping[str, object] = field(default_factory=dict)
    # the underlying dataset: tasks that share one (UD-POS test vs a UD dev set used as an
    # intermediate task) must not be both intermediate and target, or transfer is no longer zero-shot
    dataset: str = ""
    # where an intermediate task's pool metadata should say more than the registry does
    size_hint: int | None = None
    description: str = ""
    citation: str = ""
    license: str = ""

    def __post_init__(self) -> None:
        if not self.dataset:
            object.__setattr__(self, "dataset", self.name)
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
        if lang not in self.languages and lang != self.train_language:
            raise UnknownLanguageError(
                f"task {self.name!r} has no language {lang!r}; its languages are: {', '.join(self.languages)}"
            )


class UnknownTaskError(KeyError):
    def __str__(self) -> str:  # KeyError quotes its message; a researcher wants it plain
        return str(self.args[0])


class UnknownLanguageError(ValueError):
    pass


# XTREME-R's language lists; the offline bundle has test files for a subset (the rest need a download)
UDPOS_LANGS = ("af", "ar", "bg", "de", "el", "en", "es", "et", "eu", "fa", "fi", "fr", "he", "hi", "hu", "id", "it",
               "ja", "kk", "ko", "lt", "mr", "nl", "pl", "pt", "ro", "ru", "ta", "te", "th", "tl", "tr", "uk", "ur",
               "vi", "wo", "yo", "zh")
PANX_LANGS = ("af", "ar", "az", "bg", "bn", "de", "el", "en", "es", "et", "eu", "fa", "fi", "fr", "gu", "he", "hi",
              "hu", "id", "it", "ja", "jv", "ka", "kk", "ko", "lt", "ml", "mr", "ms", "my", "nl", "pa", "pl", "pt",
              "qu", "ro", "ru", "sw", "ta", "te", "th", "tl", "tr", "uk", "ur", "vi", "yo", "zh")
XCOPA_LANGS = ("et", "ht", "id", "it", "qu", "sw", "ta", "th", "tr", "vi", "zh")
XQUAD_LANGS = ("ar", "de", "el", "en", "es", "hi", "ro", "ru", "th", "tr", "vi", "zh")
MLQA_LANGS = ("ar", "de", "en", "es", "hi", "vi", "zh")
TYDIQA_LANGS = ("ar", "bn", "en", "fi", "id", "ko", "ru", "sw", "te")
LAREQA_LANGS = ("ar", "de", "el", "en", "es", "hi", "ru", "th", "tr", "vi", "zh")
TATOEBA_CODES = {"af": "afr", "ar": "ara", "bg": "bul", "bn": "ben", "de": "deu", "el": "ell", "es": "spa", "et": "est",
                 "eu": "eus", "fa": "pes", "fi": "fin", "fr": "fra", "he": "heb", "hi": "hin", "hu": "hun", "id": "ind",
                 "it": "ita", "ja": "jpn", "jv": "jav", "ka": "kat", "kk": "kaz", "ko": "kor", "ml": "mal", "mr": "mar",
                 "nl": "nld", "pt": "por", "ru": "rus", "sw": "swh", "ta": "tam", "te": "tel", "th": "tha", "tl": "tgl",
                 "tr": "tur", "ur": "urd", "vi": "vie", "zh": "cmn"}
BUCC_LANGS = ("de", "fr", "ru", "zh")
MEWSLIX_LANGS = ("ar", "de", "en", "es", "fa", "ja", "pl", "ro", "ta", "tr", "uk")
SQUAD_TRAIN_OFFLINE = "xtreme/tydiqa/tydiqa-goldp-v1.1-train/tydiqa.goldp.en.train.json"

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
    Task(
        name="xcopa", family="multiple_choice", dataset="copa", languages=XCOPA_LANGS, metric="accuracy", num_choices=2,
        local=LocalSource(reader="copa_jsonl", files={"train": "english/copa/train-en.jsonl",
                                                       "dev": "english/copa/val-en.jsonl",
                                                       "test": "xtreme/xcopa/{lang}/test.{lang}.jsonl"}),
        hub=HubSource(path="cambridgeltl/xcopa", name="{lang}", converter="copa_hub",
                      splits={"test": "test", "dev": "validation"}),
        description="Cross-lingual Choice of Plausible Alternatives (Ponti et al. 2020); English training "
        "data is COPA (as XCOPA distributes it), its val set selecting the epoch.",
        citation="Ponti et al. 2020, XCOPA", license="CC BY 4.0",
    ),
    Task(
        name="udpos", family="tagging", dataset="ud", options={"max_length": 128},
        languages=UDPOS_LANGS, metric="f1",
        local=LocalSource(reader="conll_tsv", files={"train": "xtreme/udpos/train-en.tsv", "dev": "xtreme/udpos/dev-en.tsv",
                                                      "test": "xtreme/udpos/test-{lang}.tsv"}),
        hub=HubSource(path="google/xtreme", name="udpos.{lang}", converter="tagging_hub"),
        description="Universal Dependencies v2.5 part-of-speech tags (17 UPOS), as XTREME packages them.",
        citation="Nivre et al. 2020 (UD v2.5); Hu et al. 2020 (XTREME)", license="per treebank (mostly CC BY-SA)",
    ),
    Task(
        name="panx", family="tagging", options={"max_length": 128},
        languages=PANX_LANGS, metric="f1",
        labels=("O", "B-PER", "I-PER", "B-ORG", "I-ORG", "B-LOC", "I-LOC"),
        local=LocalSource(reader="conll_tsv", files={"train": "xtreme/panx/train-en.tsv", "dev": "xtreme/panx/dev-en.tsv",
                                                      "test": "xtreme/panx/test-{lang}.tsv"}),
        hub=HubSource(path="google/xtreme", name="PAN-X.{lang}", converter="tagging_hub"),
        description="WikiANN named entities (PER/ORG/LOC, BIO) with the Rahimi et al. 2019 splits.",
        citation="Pan et al. 2017; Rahimi et al. 2019", license="ODC-BY",
    ),
    Task(
        name="xquad", family="span_qa", options={"max_length": 384, "doc_stride": 128, "max_query_length": 64, "max_answer_length": 30, "n_best": 20},
        languages=XQUAD_LANGS, metric="f1",
        local=LocalSource(reader="squad_json", files={"train": SQUAD_TRAIN_OFFLINE, "test": "xtreme/xquad/xquad.{lang}.json"}),
        hub=HubSource(path="google/xtreme", name="XQuAD.{lang}", converter="squad_hub",
                      splits={"train": "rajpurkar/squad:train", "dev": "rajpurkar/squad:validation", "test": "validation"}),
        description="XQuAD (Artetxe et al. 2020). English training: SQuAD v1.1 from the hub; offline, the "
        "TyDiQA-GoldP English training set stands in for SQuAD (smaller, and a different domain).",
        citation="Artetxe et al. 2020, XQuAD", license="CC BY-SA 4.0",
    ),
    Task(
        name="mlqa", family="span_qa", options={"max_length": 384, "doc_stride": 128, "max_query_length": 64, "max_answer_length": 30, "n_best": 20},
        languages=MLQA_LANGS, metric="f1",
        local=LocalSource(reader="squad_json", files={
            "train": SQUAD_TRAIN_OFFLINE, "test": "xtreme/mlqa/MLQA_V1/dev/dev-context-{lang}-question-{lang}.json"}),
        hub=HubSource(path="facebook/mlqa", name="mlqa.{lang}.{lang}", converter="squad_hub",
                      splits={"train": "rajpurkar/squad:train", "dev": "rajpurkar/squad:validation", "test": "test"}),
        description="MLQA (Lewis et al. 2020), same-language context and question. Offline: the labelled "
        "dev set is evaluated (the public test set is the hub's); English training as for XQuAD.",
        citation="Lewis et al. 2020, MLQA", license="CC BY-SA 3.0",
    ),
    Task(
        name="tydiqa", family="span_qa", dataset="tydiqa", options={"max_length": 384, "doc_stride": 128, "max_query_length": 64, "max_answer_length": 30, "n_best": 20},
        languages=TYDIQA_LANGS, metric="f1",
        local=LocalSource(reader="squad_json", files={
            "all": "xtreme/tydiqa/tydiqa-goldp-v1.1-train/tydiqa.goldp.{lang}.train.json"}),
        hub=HubSource(path="google-research-datasets/tydiqa", name="secondary_task", converter="squad_hub"),
        id_split=(0.8, 0.1, 0.1),
        description="TyDiQA-GoldP (Clark et al. 2020). Offline only en, ko and sw training files exist: "
        "English is split by id into train/dev/test; other languages are evaluated on their whole file.",
        citation="Clark et al. 2020, TyDi QA", license="Apache 2.0",
    ),
    Task(
        name="tatoeba", family="retrieval", options={"max_length": 128, "layer": -1, "all_layers": False},
        languages=tuple(TATOEBA_CODES), metric="accuracy",
        local=LocalSource(reader="tatoeba", files={"test": "xtreme/tatoeba/tatoeba.{lang}-eng.{lang}"}),
        hub=HubSource(path="google/xtreme", name="tatoeba.{lang}", converter="tatoeba_hub", splits={"test": "validation"}),
        file_codes=TATOEBA_CODES, train_language="en",
        description="Tatoeba sentence retrieval (Artetxe & Schwenk 2019), 36 XTREME languages, up to 1,000 "
        "pairs each, x -> English nearest neighbour by cosine similarity.",
        citation="Artetxe & Schwenk 2019", license="CC BY 2.0 FR",
    ),
    Task(
        name="bucc", family="retrieval", options={"max_length": 128, "layer": -1, "all_layers": False},
        languages=BUCC_LANGS, metric="f1",
        local=LocalSource(reader="bucc", files={"test": "xtreme/bucc2018/{lang}-en.dev.{lang}"}),
        hub=HubSource(path="google/xtreme", name="bucc18.{lang}", converter="bucc_hub", splits={"test": "validation"}),
        description="BUCC 2018 parallel sentence mining; XTREME scores the dev sets, with the similarity "
        "threshold chosen to maximise F1 (offline: zh-en only).",
        citation="Zweigenbaum et al. 2018", license="BUCC terms",
    ),
    Task(
        name="lareqa", family="retrieval", options={"max_length": 128, "layer": -1, "all_layers": False},
        languages=LAREQA_LANGS, metric="map@20",
        local=LocalSource(reader="lareqa", files={"test": "xtreme/lareqa/xquad-r/{lang}.json"}),
        hub=HubSource(path="google-research-datasets/lareqa", converter="lareqa_hub", splits={"test": "test"}),
        description="LAReQA on XQuAD-R (Roy et al. 2020): answer-sentence retrieval from the pool of all "
        "languages' sentences; mean average precision at 20.",
        citation="Roy et al. 2020, LAReQA", license="CC BY-SA 4.0",
    ),
    Task(
        name="mewslix", family="retrieval", options={"max_length": 128, "layer": -1, "all_layers": False},
        languages=MEWSLIX_LANGS, metric="map@20",
        local=LocalSource(reader="mewslix", files={"test": "xtreme/mewslix/wikinews_mentions-{lang}.jsonl"}),
        hub=HubSource(path="google-research-datasets/mewsli-x", converter="mewslix_hub", splits={"test": "test"}),
        description="Mewsli-X entity linking as retrieval (Botha et al. 2020; XTREME-R). Not in the offline "
        "bundle: needs the XTREME-R download script's output or the hub.",
        citation="Botha et al. 2020; Ruder et al. 2021 (XTREME-R)", license="CC BY 4.0",
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
        name="copa", family="multiple_choice", dataset="copa", languages=("en",), metric="accuracy", num_choices=2,
        local=LocalSource(reader="copa_jsonl", files={"train": "english/copa/train-en.jsonl",
                                                       "dev": "english/copa/val-en.jsonl"}),
        hub=HubSource(path="aps/super_glue", name="copa", converter="copa_hub"),
        description="Choice of Plausible Alternatives (Roemmele et al. 2011), as distributed with XCOPA.",
        citation="Roemmele et al. 2011", license="BSD 2-Clause",
    ),
    # ---- hub-only intermediate tasks ------------------------------------------------------------
    Task(
        name="mnli", family="classification", dataset="mnli", languages=("en",), metric="accuracy", labels=NLI_LABELS,
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


from . import pool  # noqa: E402,F401  (registers the intermediate-task pool)
