"""The English intermediate tasks of Phang et al. 2020 (offline where the bundle has them, else the hub)."""

from __future__ import annotations

from ..tasks import NLI_LABELS, PARAPHRASE_LABELS, HubSource, LocalSource, Task

ENGLISH_TASKS: tuple[Task, ...] = (
    # ---- intermediate tasks with offline data ---------------------------------------------------
    Task(
        name="anli", scorer="accuracy", format="classification", languages=("en",), metric="accuracy", labels=NLI_LABELS,
        local=LocalSource(reader="anli_csv", files={"all": tuple(f"english/anli/ANLI_analysis_r{r}_dev.csv" for r in (1, 2, 3))}),
        hub=HubSource(path="facebook/anli", converter="nli_hub",
                      splits={"train": "train_r1+train_r2+train_r3", "dev": "dev_r1+dev_r2+dev_r3", "test": "test_r1+test_r2+test_r3"}),
        id_split=(0.9, 0.1, 0.0),
        description="Adversarial NLI (Nie et al. 2020). Offline: the annotated dev rounds 1-3, split by content (premise/hypothesis).",
        citation="Nie et al. 2020, Adversarial NLI", license="CC BY-NC 4.0",
    ),
    Task(
        name="qqp", scorer="accuracy", format="classification", languages=("en",), metric="accuracy", labels=PARAPHRASE_LABELS,
        local=LocalSource(reader="qqp_tsv", files={"all": "english/qqp/new_dev.tsv"}),
        hub=HubSource(path="nyu-mll/glue", name="qqp", converter="glue_pair"),
        id_split=(0.9, 0.1, 0.0),
        description="Quora Question Pairs (GLUE). Offline: a 23k-pair dev file, split by content (pairs sharing a question stay together).",
        citation="Iyer et al. 2017; Wang et al. 2019 (GLUE)", license="Quora terms",
    ),
    Task(
        name="mrpc", scorer="accuracy", format="classification", languages=("en",), metric="accuracy", labels=PARAPHRASE_LABELS,
        local=LocalSource(reader="mrpc_txt", files={"train": "english/mrpc/msr_paraphrase_train.txt",
                                                     "dev": "english/mrpc/msr_paraphrase_test.txt"}),
        hub=HubSource(path="nyu-mll/glue", name="mrpc", converter="glue_pair"),
        description="Microsoft Research Paraphrase Corpus (original release format).",
        citation="Dolan & Brockett 2005", license="MSR-SSLA",
    ),
    Task(
        name="cosmosqa", scorer="accuracy", format="multiple_choice", languages=("en",), metric="accuracy", num_choices=4,
        local=LocalSource(reader="cosmosqa_csv", files={"all": "english/cosmosqa/valid.csv"}),
        hub=HubSource(path="allenai/cosmos_qa", converter="cosmosqa_hub"),
        id_split=(0.9, 0.1, 0.0),
        description="Cosmos QA commonsense reading comprehension (Huang et al. 2019). Offline: valid.csv split by content (questions on one passage stay together).",
        citation="Huang et al. 2019, Cosmos QA", license="CC BY 4.0",
    ),
    Task(
        name="socialiqa", scorer="accuracy", format="multiple_choice", languages=("en",), metric="accuracy", num_choices=3,
        local=LocalSource(reader="socialiqa_jsonl", files={"train": "english/socialiqa/socialIQa_v1.4_dev.jsonl",
                                                            "dev": "english/socialiqa/socialIQa_v1.4_tst.jsonl"}),
        hub=HubSource(path="allenai/social_i_qa", converter="socialiqa_hub"),
        description="Social IQa (Sap et al. 2019). Offline: v1.4 dev for training, v1.4 test for early stopping.",
        citation="Sap et al. 2019, Social IQa", license="CC BY 4.0",
    ),
    Task(
        name="copa", scorer="accuracy", format="multiple_choice", dataset="copa", languages=("en",), metric="accuracy", num_choices=2,
        local=LocalSource(reader="copa_jsonl", files={"train": "english/copa/train-en.jsonl",
                                                       "dev": "english/copa/val-en.jsonl"}),
        hub=HubSource(path="aps/super_glue", name="copa", converter="copa_hub"),
        description="Choice of Plausible Alternatives (Roemmele et al. 2011), as distributed with XCOPA.",
        citation="Roemmele et al. 2011", license="BSD 2-Clause",
    ),
    # ---- hub-only intermediate tasks ------------------------------------------------------------
    Task(
        name="mnli", scorer="accuracy", format="classification", dataset="mnli", languages=("en",), metric="accuracy", labels=NLI_LABELS,
        provenance=("mnli", "mnli-protocol"),
        hub=HubSource(path="nyu-mll/glue", name="mnli", converter="nli_hub",
                      splits={"train": "train", "dev": "validation_matched", "test": "validation_mismatched"}),
        description="MultiNLI (Williams et al. 2018). Hub only: the public files are too large for the bundle.",
        citation="Williams et al. 2018", license="OANC / CC BY-SA 3.0 mix",
    ),
    Task(
        name="sst2", scorer="accuracy", format="classification", languages=("en",), metric="accuracy", labels=("negative", "positive"),
        hub=HubSource(path="nyu-mll/glue", name="sst2", converter="glue_single"),
        description="Stanford Sentiment Treebank, binary (GLUE). Hub only.",
        citation="Socher et al. 2013", license="unknown",
    ),
    Task(
        name="hellaswag", scorer="accuracy", format="multiple_choice", languages=("en",), metric="accuracy", num_choices=4,
        hub=HubSource(path="Rowan/hellaswag", converter="hellaswag_hub"),
        description="HellaSwag (Zellers et al. 2019). Hub only.",
        citation="Zellers et al. 2019", license="MIT",
    ),
    Task(
        name="commonsenseqa", scorer="accuracy", format="multiple_choice", languages=("en",), metric="accuracy", num_choices=5,
        hub=HubSource(path="tau/commonsense_qa", converter="commonsenseqa_hub"),
        description="CommonsenseQA (Talmor et al. 2019). Hub only.",
        citation="Talmor et al. 2019", license="MIT",
    ),
)
