"""The target tasks: the XTREME-R suite plus PAWS-X and BUCC from XTREME (English training, zero-shot test)."""

from __future__ import annotations

from ..tasks import NLI_LABELS, PARAPHRASE_LABELS, HubSource, LocalSource, Task
from .options import QA_OPTIONS, RETRIEVAL_OPTIONS, TAGGING_OPTIONS

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
                 "tr": "tur", "ur": "urd", "vi": "vie", "zh": "cmn",
                 # the five XTREME-R adds (evaluate_retrieval.py's ISO 639-3 codes)
                 "az": "aze", "lt": "lit", "pl": "pol", "uk": "ukr", "ro": "ron"}
BUCC_LANGS = ("de", "fr", "ru", "zh")
MEWSLIX_LANGS = ("ar", "de", "en", "es", "fa", "ja", "pl", "ro", "ta", "tr", "uk")
SQUAD_TRAIN_OFFLINE = "xtreme/tydiqa/tydiqa-goldp-v1.1-train/tydiqa.goldp.en.train.json"

XNLI_LANGS = ("ar", "bg", "de", "el", "en", "es", "fr", "hi", "ru", "sw", "th", "tr", "ur", "vi", "zh")
PAWSX_LANGS = ("de", "en", "es", "fr", "ja", "ko", "zh")

TARGET_TASKS: tuple[Task, ...] = (
    Task(
        name="xnli", scorer="accuracy", benchmarks=("xtreme", "xtreme-r"), format="classification", languages=XNLI_LANGS, metric="accuracy", labels=NLI_LABELS,
        local=LocalSource(reader="xnli_tsv", files={"all": "xtreme/xnli/dev-{lang}.tsv"}, origin={"all": "dev"}),
        hub=HubSource(path="facebook/xnli", name="{lang}", converter="nli_hub"),
        parallel=True, id_split=(0.5, 0.1, 0.4), provenance=("xnli", "mnli", "mnli-protocol"),
        description="Cross-lingual NLI (Conneau et al. 2018). Offline: the labelled dev set, split by "
        "premise into English train/dev and a held-out test in every language.",
        citation="Conneau et al. 2018, XNLI: Evaluating Cross-lingual Sentence Representations", license="CC BY-NC 4.0",
    ),
    Task(
        name="pawsx", scorer="accuracy", benchmarks=("xtreme",), format="classification", languages=PAWSX_LANGS, metric="accuracy", labels=PARAPHRASE_LABELS,
        local=LocalSource(reader="pawsx_tsv", files={"all": "xtreme/pawsx/dev-{lang}.tsv"}, origin={"all": "dev"}),
        hub=HubSource(path="google-research-datasets/paws-x", name="{lang}", converter="paraphrase_hub"),
        parallel=True, id_split=(0.5, 0.1, 0.4), provenance=("paws",),
        description="Cross-lingual paraphrase adversaries (Yang et al. 2019). Offline: dev set split by shared sentences.",
        citation="Yang et al. 2019, PAWS-X", license="custom (free use with attribution)",
    ),
    Task(
        name="xcopa", scorer="accuracy", benchmarks=("xtreme-r",), format="multiple_choice", dataset="copa", languages=XCOPA_LANGS, metric="accuracy", num_choices=2,
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
        name="udpos", scorer="pos", benchmarks=("xtreme", "xtreme-r"), format="tagging", dataset="ud", options=dict(TAGGING_OPTIONS),
        languages=UDPOS_LANGS, metric="f1",
        local=LocalSource(reader="conll_tsv", files={"train": "xtreme/udpos/train-en.tsv", "dev": "xtreme/udpos/dev-en.tsv",
                                                      "test": "xtreme/udpos/test-{lang}.tsv"}),
        hub=HubSource(path="google/xtreme", name="udpos.{lang}", converter="tagging_hub"),
        description="Universal Dependencies v2.5 part-of-speech tags (17 UPOS), as XTREME packages them.",
        citation="Nivre et al. 2020 (UD v2.5); Hu et al. 2020 (XTREME)", license="per treebank (mostly CC BY-SA)",
    ),
    Task(
        name="panx", scorer="span_f1", benchmarks=("xtreme", "xtreme-r"), format="tagging", options=dict(TAGGING_OPTIONS),
        provenance=("wikiann",),
        languages=PANX_LANGS, metric="f1",
        labels=("O", "B-PER", "I-PER", "B-ORG", "I-ORG", "B-LOC", "I-LOC"),
        local=LocalSource(reader="conll_tsv", files={"train": "xtreme/panx/train-en.tsv", "dev": "xtreme/panx/dev-en.tsv",
                                                      "test": "xtreme/panx/test-{lang}.tsv"}),
        hub=HubSource(path="google/xtreme", name="PAN-X.{lang}", converter="tagging_hub"),
        description="WikiANN named entities (PER/ORG/LOC, BIO) with the Rahimi et al. 2019 splits.",
        citation="Pan et al. 2017; Rahimi et al. 2019", license="ODC-BY",
    ),
    Task(
        name="xquad", scorer="squad", benchmarks=("xtreme", "xtreme-r"), format="span_qa", options=dict(QA_OPTIONS),
        languages=XQUAD_LANGS, metric="f1",
        local=LocalSource(reader="squad_json", files={"train": SQUAD_TRAIN_OFFLINE, "test": "xtreme/xquad/xquad.{lang}.json"}),
        hub=HubSource(path="google/xtreme", name="XQuAD.{lang}", converter="squad_hub",
                      splits={"train": "rajpurkar/squad:train", "dev": "rajpurkar/squad:validation", "test": "validation"},
                      origin={"test": "test"}),
        provenance=("xquad", "squad", "tydiqa-en"),
        description="XQuAD (Artetxe et al. 2020). English training: SQuAD v1.1 from the hub; offline, the "
        "TyDiQA-GoldP English training set stands in for SQuAD (smaller, and a different domain).",
        citation="Artetxe et al. 2020, XQuAD", license="CC BY-SA 4.0",
    ),
    Task(
        name="mlqa", scorer="mlqa", benchmarks=("xtreme", "xtreme-r"), format="span_qa", options=dict(QA_OPTIONS),
        languages=MLQA_LANGS, metric="f1",
        local=LocalSource(reader="squad_json", files={
            "train": SQUAD_TRAIN_OFFLINE, "test": "xtreme/mlqa/MLQA_V1/dev/dev-context-{lang}-question-{lang}.json"},
            origin={"test": "dev"}),
        provenance=("mlqa", "squad", "tydiqa-en"),
        hub=HubSource(path="facebook/mlqa", name="mlqa.{lang}.{lang}", converter="squad_hub",
                      splits={"train": "rajpurkar/squad:train", "dev": "rajpurkar/squad:validation", "test": "test"}),
        description="MLQA (Lewis et al. 2020), same-language context and question. Offline: the labelled "
        "dev set is evaluated (the public test set is the hub's); English training as for XQuAD.",
        citation="Lewis et al. 2020, MLQA", license="CC BY-SA 3.0",
    ),
    Task(
        name="tydiqa", scorer="squad", benchmarks=("xtreme", "xtreme-r"), format="span_qa", dataset="tydiqa", options=dict(QA_OPTIONS),
        languages=TYDIQA_LANGS, metric="f1",
        local=LocalSource(reader="squad_json", files={
            "all": "xtreme/tydiqa/tydiqa-goldp-v1.1-train/tydiqa.goldp.{lang}.train.json"}, origin={"all": "train"}),
        hub=HubSource(path="google-research-datasets/tydiqa", name="secondary_task", converter="squad_hub"),
        provenance=("tydiqa", "tydiqa-en"),
        id_split=(0.8, 0.1, 0.1),
        description="TyDiQA-GoldP (Clark et al. 2020). Offline only en, ko and sw training files exist: "
        "English is split by paragraph into train/dev/test; other languages are evaluated on their whole file.",
        citation="Clark et al. 2020, TyDi QA", license="Apache 2.0",
    ),
    # XTREME-R's order (its score lists the retrieval tasks as Mewsli-X, LAReQA, Tatoeba)
    Task(
        name="mewslix", scorer="map@20", benchmarks=("xtreme-r",), format="retrieval", options=dict(RETRIEVAL_OPTIONS, procedure="mewslix"),
        languages=MEWSLIX_LANGS, metric="map@20",
        local=LocalSource(reader="mewslix", files={"test": "xtreme/mewslix/wikinews_mentions-{lang}.jsonl"}),
        hub=HubSource(path="google-research-datasets/mewsli-x", converter="mewslix_hub", splits={"test": "test"}),
        description="Mewsli-X entity linking as retrieval (Botha et al. 2020; XTREME-R). Not in the offline "
        "bundle: needs the XTREME-R download script's output or the hub.",
        citation="Botha et al. 2020; Ruder et al. 2021 (XTREME-R)", license="CC BY 4.0",
    ),
    Task(
        name="lareqa", scorer="map@20", benchmarks=("xtreme-r",), format="retrieval", options=dict(RETRIEVAL_OPTIONS, procedure="lareqa"),
        languages=LAREQA_LANGS, metric="map@20",
        local=LocalSource(reader="lareqa", files={"test": "xtreme/lareqa/xquad-r/{lang}.json"}),
        hub=HubSource(path="google-research-datasets/lareqa", converter="lareqa_hub", splits={"test": "test"}),
        provenance=("lareqa", "xquad"),
        description="LAReQA on XQuAD-R (Roy et al. 2020): answer-sentence retrieval from the pool of all "
        "languages' sentences; mean average precision at 20.",
        citation="Roy et al. 2020, LAReQA", license="CC BY-SA 4.0",
    ),
    Task(
        name="tatoeba", scorer="accuracy", benchmarks=("xtreme", "xtreme-r"), format="retrieval", options=dict(RETRIEVAL_OPTIONS, procedure="tatoeba"),
        languages=tuple(TATOEBA_CODES), metric="accuracy",
        local=LocalSource(reader="tatoeba", files={"test": "xtreme/tatoeba/tatoeba.{lang}-eng.{lang}"}),
        hub=HubSource(path="google/xtreme", name="tatoeba.{lang}", converter="tatoeba_hub", splits={"test": "validation"},
                      origin={"test": "test"}),
        file_codes=TATOEBA_CODES, train_language="en",
        description="Tatoeba sentence retrieval (Artetxe & Schwenk 2019), 41 XTREME-R languages, up to 1,000 "
        "pairs each, x -> English nearest neighbour by cosine similarity.",
        citation="Artetxe & Schwenk 2019", license="CC BY 2.0 FR",
    ),
    Task(
        name="bucc", scorer="bucc_f1", benchmarks=("xtreme",), format="retrieval", options=dict(RETRIEVAL_OPTIONS, procedure="bucc"),
        languages=BUCC_LANGS, metric="f1",
        local=LocalSource(reader="bucc", files={"test": "xtreme/bucc2018/{lang}-en.dev.{lang}"}, origin={"test": "dev"}),
        hub=HubSource(path="google/xtreme", name="bucc18.{lang}", converter="bucc_hub", splits={"test": "validation"}),
        description="BUCC 2018 parallel sentence mining; XTREME scores the dev sets, with the similarity "
        "threshold chosen to maximise F1 (offline: zh-en only).",
        citation="Zweigenbaum et al. 2018", license="BUCC terms",
    ),
)
