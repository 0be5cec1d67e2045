"""The intermediate-task pool for scaling studies: native-language tasks beyond the English core.

- ``tydiqa-ko``, ``tydiqa-sw``: TyDiQA-GoldP training files as Korean / Swahili span-QA tasks.
- ``parsinlu-rc`` (fa), ``polish-ner`` (pl), ``multiemo-en`` / ``multiemo-pl``, ``disfl-qa`` (en):
  BIG-bench ``task.json`` files parsed back into the project's example shapes (`intertask.readers.bigbench`).
- ``udpos-<lang>`` for the 33 non-English UD dev files of the offline bundle (``UDPOS_DEV_LANGS``),
  and ``udpos-en`` (UD English train/dev; dataset "ud", so it is refused before a ``udpos`` target,
  whose dev split it shares).
- benchmark files as tasks in every format and language (`_benchmark_tasks`): ``panx-en`` (train/dev)
  and ``panx-<lang>`` (non-English test files), ``pawsx-<lang>`` (non-English dev files), ``xcopa-<lang>``
  (test for training, val for selection); each keeps its benchmark's dataset name for the target guard.
- hub-only ``kornli`` (ko), ``ocnli`` (zh) and ``squad`` (en).
  CCG supertagging is not offered: CCGbank is LDC-licensed and not openly obtainable.

Leakage notes (``Task.dataset`` is what `study` compares to refuse a target's own data in a pool):
``tydiqa-ko``/``-sw`` are the very files the ``tydiqa`` target evaluates ko/sw on (dataset "tydiqa");
``udpos-<lang>`` are target-language UD data (dataset "ud", like the ``udpos`` target). Disfl-QA is
built on SQuAD v2 dev, which contains 173 of XQuAD's 240 paragraphs: its reader drops them, so
``disfl-qa`` is safe with XQuAD/LAReQA targets (and has its own dataset name). ``kornli`` is MultiNLI
translated (dataset "mnli"); its dev/test (XNLI's items) are not used.
"""

from __future__ import annotations

from ..readers.bigbench import MULTIEMO_LABELS, POLISH_NER_TAGS
from ..tasks import NLI_LABELS, PARAPHRASE_LABELS, HubSource, LocalSource, Task
from .options import QA_OPTIONS, TAGGING_OPTIONS
from .targets import XCOPA_LANGS

# Languages with an `xtreme/udpos/dev-<lang>.tsv` in the offline bundle, English excluded (see above).
UDPOS_DEV_LANGS: tuple[str, ...] = ("af", "ar", "bg", "de", "el", "es", "et", "eu", "fa", "fi", "fr", "he", "hi", "hu",
                                    "id", "it", "ja", "ko", "lt", "mr", "nl", "pl", "pt", "ro", "ru", "ta", "te", "tr",
                                    "uk", "ur", "vi", "wo", "zh")

# PAN-X test files and PAWS-X dev files of the offline bundle, English excluded (its train/dev are separate).
PANX_TEST_LANGS: tuple[str, ...] = ("ar", "bg", "de", "el", "es", "fr", "hi", "ru", "sw", "tr", "ur", "vi", "zh")
PAWSX_POOL_LANGS: tuple[str, ...] = ("de", "es", "fr", "ja", "ko", "zh")
PANX_LABELS: tuple[str, ...] = ("O", "B-PER", "I-PER", "B-ORG", "I-ORG", "B-LOC", "I-LOC")

ID_SPLIT = (0.9, 0.1, 0.0)

# licenses as SOURCES.tsv of the offline bundle records them
BIGBENCH_LICENSE = "Apache-2.0 (BIG-bench); see task README upstream"
UD_LICENSE = "Universal Dependencies v2.5 treebank licenses (mostly CC BY-SA 4.0)"
TYDIQA_LICENSE = "Apache-2.0"
PANX_LICENSE = "WikiANN (Pan et al. 2017), research use"
PAWSX_LICENSE = "PAWS-X: free to use for any purpose (Google)"
XCOPA_LICENSE = "CC BY 4.0"
BIGBENCH_CITATION = "Srivastava et al. 2022, Beyond the Imitation Game (BIG-bench)"

def _pool_tasks() -> list[Task]:
    tasks: list[Task] = []
    for lang, name in (("ko", "Korean"), ("sw", "Swahili")):
        tasks.append(Task(
            name=f"tydiqa-{lang}", scorer="squad", format="span_qa", dataset="tydiqa", languages=(lang,), train_language=lang,
            metric="f1", options=dict(QA_OPTIONS), id_split=ID_SPLIT,
            local=LocalSource(reader="squad_json", files={
                "all": f"xtreme/tydiqa/tydiqa-goldp-v1.1-train/tydiqa.goldp.{lang}.train.json"}),
            description=f"TyDiQA-GoldP {name} training file as a native-language span-QA intermediate task, "
            f"split by content 90/10 into train/dev. The same items are the `tydiqa` target's {lang} test data "
            f"(dataset 'tydiqa'): never use both in one study.",
            citation="Clark et al. 2020, TyDi QA", license=TYDIQA_LICENSE,
        ))
    tasks.append(Task(
        name="parsinlu-rc", scorer="squad", format="span_qa", dataset="parsinlu", languages=("fa",), train_language="fa",
        metric="f1", options=dict(QA_OPTIONS), id_split=ID_SPLIT,
        local=LocalSource(reader="bigbench_parsinlu_rc",
                         files={"all": "bigbench/parsinlu_reading_comprehension/task.json"}),
        description="ParsiNLU reading comprehension (Persian), 518 extractive questions from BIG-bench, parsed "
        "back into passage/question/answer spans; split by content 90/10.",
        citation=f"Khashabi et al. 2021, ParsiNLU; {BIGBENCH_CITATION}", license=BIGBENCH_LICENSE,
    ))
    tasks.append(Task(
        name="polish-ner", scorer="io_span_f1", format="tagging", dataset="polish_sequence_labeling", languages=("pl",),
        train_language="pl", metric="f1", labels=POLISH_NER_TAGS, options=dict(TAGGING_OPTIONS), id_split=ID_SPLIT,
        local=LocalSource(reader="bigbench_polish_ner", files={"all": "bigbench/polish_sequence_labeling/task.json"}),
        description="Polish named entities, temporal expressions and events (BIG-bench polish_sequence_labeling): "
        "one plain (non-BIO) tag per token, 25 tags; split by content 90/10.",
        citation=f"{BIGBENCH_CITATION}, task polish_sequence_labeling", license=BIGBENCH_LICENSE,
    ))
    for lang, name in (("en", "English"), ("pl", "Polish")):
        tasks.append(Task(
            name=f"multiemo-{lang}", scorer="accuracy", format="classification", dataset="multiemo", languages=(lang,),
            train_language=lang, metric="accuracy", labels=MULTIEMO_LABELS, id_split=ID_SPLIT,
            aligned_with="multiemo-en" if lang != "en" else "",
            local=LocalSource(reader="bigbench_multiemo", files={"all": f"bigbench/multiemo/all_sentence_{lang}/task.json"}),
            description=f"MultiEmo sentence-level sentiment, {name} (4 classes; BIG-bench multiemo/all_sentence_{lang}). "
            "The en and pl files are sentence-aligned translations (same ids, dataset 'multiemo'); split by content 90/10.",
            citation=f"Kocoń et al. 2021, MultiEmo; {BIGBENCH_CITATION}", license=BIGBENCH_LICENSE,
        ))
    tasks.append(Task(
        name="disfl-qa", scorer="squad", format="span_qa", dataset="disfl-qa", languages=("en",), train_language="en",
        provenance=("disfl-qa", "squad"),
        metric="f1", options=dict(QA_OPTIONS), id_split=ID_SPLIT,
        local=LocalSource(reader="bigbench_disfl_qa", files={"all": "bigbench/disfl_qa/task.json"}),
        description="Disfl-QA (SQuAD v2 dev questions rewritten with disfluencies), BIG-bench version: answer "
        "spans located in the context; unanswerable questions and XQuAD's paragraphs dropped; split by content 90/10.",
        citation=f"Gupta et al. 2021, Disfl-QA; {BIGBENCH_CITATION}", license=BIGBENCH_LICENSE,
    ))
    for lang in UDPOS_DEV_LANGS:
        tasks.append(Task(
            name=f"udpos-{lang}", scorer="pos", format="tagging", dataset="ud", languages=(lang,), train_language=lang,
            metric="f1", options=dict(TAGGING_OPTIONS), id_split=ID_SPLIT,
            local=LocalSource(reader="conll_tsv", files={"all": f"xtreme/udpos/dev-{lang}.tsv"}),
            description=f"UD v2.5 POS tagging from the {lang} dev file of XTREME's UD-POS, split by content 90/10. "
            "Target-language UD data: dataset 'ud', like the `udpos` target.",
            citation="Nivre et al. 2020 (UD v2.5); Hu et al. 2020 (XTREME)", license=UD_LICENSE,
        ))
    tasks += _benchmark_tasks()
    # ---- hub-only -------------------------------------------------------------------------------
    # CCG supertagging: CCGbank is distributed by the LDC under licence only; no entry.
    tasks.append(Task(
        name="kornli", scorer="accuracy", format="classification", dataset="mnli", languages=("ko",), train_language="ko",
        provenance=("mnli", "mnli-protocol"),
        metric="accuracy", labels=NLI_LABELS, size_hint=392702,
        hub=HubSource(path="kakaobrain/kor_nli", name="multi_nli", converter="nli_hub", splits={"train": "train"},
                     revision="3e0e4626f66911b344c490c26e3cc07e6c3bb0f9"),
        description="Hub only. KorNLI: MultiNLI's training set machine-translated into Korean (dataset 'mnli'). "
        "Train split only: KorNLI's dev/test are XNLI's dev/test in Korean, i.e. the xnli target's items.",
        citation="Ham et al. 2020, KorNLI and KorSTS", license="CC BY-SA 4.0",
    ))
    tasks.append(Task(
        name="ocnli", scorer="accuracy", format="classification", dataset="ocnli", languages=("zh",), train_language="zh",
        provenance=("ocnli", "mnli-protocol"),
        metric="accuracy", labels=NLI_LABELS,
        hub=HubSource(path="clue/clue", name="ocnli", converter="ocnli_hub",
                          splits={"train": "train", "dev": "validation"},
                     revision="7a92286c90a77a495dcaeba0fe34939053ef7dc5"),
        description="Hub only. OCNLI: original (untranslated) Chinese NLI from CLUE; labels remapped to "
        "entailment/neutral/contradiction; the test labels are hidden, so train and validation only.",
        citation="Hu et al. 2020, OCNLI: Original Chinese Natural Language Inference", license="unknown (hub card); see CLUEbenchmark/OCNLI",
    ))
    tasks.append(Task(
        name="squad", scorer="squad", format="span_qa", dataset="squad", languages=("en",), train_language="en",
        provenance=("squad", "xquad"),
        metric="f1", options=dict(QA_OPTIONS), size_hint=87599,
        hub=HubSource(path="rajpurkar/squad", converter="squad_hub", splits={"train": "train", "dev": "validation"}),
        description="Hub only. SQuAD v1.1. Its validation set (used for early stopping, as XQuAD's own English "
        "training does) contains XQuAD's English paragraphs.",
        citation="Rajpurkar et al. 2016, SQuAD", license="CC BY-SA 4.0",
    ))
    return tasks


def _benchmark_tasks() -> list[Task]:
    """Benchmark files reused as intermediate tasks, so every format exists in English and non-English.

    Each keeps its benchmark's `dataset` ("ud", "panx", "pawsx", "copa"), so the target guard refuses
    it before that benchmark's target (pawsx-de -> pawsx, xcopa-et -> xcopa, panx-de -> panx).
    """
    tasks = [
        Task(name="udpos-en", scorer="pos", format="tagging", dataset="ud", languages=("en",), train_language="en", metric="f1",
             options=dict(TAGGING_OPTIONS),
             local=LocalSource(reader="conll_tsv", files={"train": "xtreme/udpos/train-en.tsv",
                                                              "dev": "xtreme/udpos/dev-en.tsv"}),
             description="UD v2.5 English POS tagging (XTREME's UD-POS English train/dev): the English tagging "
             "task of format-stratified designs. Dataset 'ud': refused before a `udpos` target.",
             citation="Nivre et al. 2020 (UD v2.5); Hu et al. 2020 (XTREME)", license=UD_LICENSE),
        Task(name="panx-en", scorer="span_f1", format="tagging", dataset="panx", provenance=("wikiann",), languages=("en",), train_language="en", metric="f1",
             labels=PANX_LABELS, options=dict(TAGGING_OPTIONS),
             local=LocalSource(reader="conll_tsv", files={"train": "xtreme/panx/train-en.tsv",
                                                              "dev": "xtreme/panx/dev-en.tsv"}),
             description="WikiANN English NER (PAN-X en train/dev, BIO). Dataset 'panx': refused before a `panx` "
             "target.", citation="Pan et al. 2017; Rahimi et al. 2019", license=PANX_LICENSE),
    ]
    for lang in PANX_TEST_LANGS:
        tasks.append(Task(
            name=f"panx-{lang}", scorer="span_f1", format="tagging", dataset="panx", provenance=("wikiann",), languages=(lang,), train_language=lang,
            metric="f1", labels=PANX_LABELS, options=dict(TAGGING_OPTIONS), id_split=ID_SPLIT,
            local=LocalSource(reader="conll_tsv", files={"all": f"xtreme/panx/test-{lang}.tsv"}),
            description=f"WikiANN NER from the {lang} test file of XTREME's PAN-X, split by id 90/10: a "
            "native-language tagging task. These are the `panx` target's items (dataset 'panx').",
            citation="Pan et al. 2017; Rahimi et al. 2019", license=PANX_LICENSE))
    for lang in PAWSX_POOL_LANGS:
        tasks.append(Task(
            name=f"pawsx-{lang}", scorer="accuracy", format="classification", dataset="pawsx", provenance=("paws",), languages=(lang,), train_language=lang,
            metric="accuracy", labels=PARAPHRASE_LABELS, id_split=ID_SPLIT,
            local=LocalSource(reader="pawsx_tsv", files={"all": f"xtreme/pawsx/dev-{lang}.tsv"}),
            description=f"PAWS-X paraphrase identification from the {lang} dev file, split by id 90/10: a "
            "native-language (human-translated) classification task. Parallel to the `pawsx` target's items "
            "(dataset 'pawsx').", citation="Yang et al. 2019, PAWS-X", license=PAWSX_LICENSE))
    for lang in XCOPA_LANGS:
        tasks.append(Task(
            name=f"xcopa-{lang}", scorer="accuracy", format="multiple_choice", dataset="copa", languages=(lang,), train_language=lang,
            metric="accuracy", num_choices=2,
            local=LocalSource(reader="copa_jsonl", files={"train": f"xtreme/xcopa/{lang}/test.{lang}.jsonl",
                                                              "dev": f"xtreme/xcopa/{lang}/val.{lang}.jsonl"}),
            description=f"XCOPA {lang} (test 500 for training, val 100 for model selection): a native-language "
            "multiple-choice task. COPA's translations: dataset 'copa', refused before an `xcopa` target.",
            citation="Ponti et al. 2020, XCOPA", license=XCOPA_LICENSE))
    return tasks


POOL_TASKS: tuple[Task, ...] = tuple(_pool_tasks())
POOL_TASK_NAMES: tuple[str, ...] = tuple(t.name for t in POOL_TASKS)
