"""File readers and hub converters: ONE explicit table from a source's format name to its function.

A task's `LocalSource.reader` names an entry of `READERS` (path -> examples); its
`HubSource.converter` names an entry of `HUB_CONVERTERS` (one dataset row -> one example, or None
to drop an unlabelled row). A new file format is one function in a module here and one line below;
nothing registers itself at import time.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

from ..tasks import Example
from . import bigbench, conll, retrieval, squad, text

Reader = Callable[[Path], list[Example]]
HubConverter = Callable[[dict], "Example | None"]

READERS: dict[str, Reader] = {
    # text / TSV / CSV / JSON lines: classification and multiple choice
    "xnli_tsv": text.read_xnli_tsv,
    "pawsx_tsv": text.read_pawsx_tsv,
    "qqp_tsv": text.read_qqp_tsv,
    "mrpc_txt": text.read_mrpc_txt,
    "anli_csv": text.read_anli_csv,
    "cosmosqa_csv": text.read_cosmosqa_csv,
    "socialiqa_jsonl": text.read_socialiqa_jsonl,
    "copa_jsonl": text.read_copa_jsonl,
    # CoNLL-style tagging
    "conll_tsv": conll.read_conll_tsv,
    # SQuAD v1.1 JSON
    "squad_json": squad.read_squad_json,
    # retrieval benchmarks
    "tatoeba": retrieval.read_tatoeba,
    "bucc": retrieval.read_bucc,
    "lareqa": retrieval.read_lareqa,
    "mewslix": retrieval.read_mewslix,
    # BIG-bench task.json
    "bigbench_parsinlu_rc": bigbench.read_parsinlu_rc,
    "bigbench_disfl_qa": bigbench.read_disfl_qa,
    "bigbench_polish_ner": bigbench.read_polish_ner,
    "bigbench_multiemo": bigbench.read_multiemo,
}

HUB_CONVERTERS: dict[str, HubConverter] = {
    **text.TEXT_HUB_CONVERTERS,
    "tagging_hub": conll.tagging_hub,
    "squad_hub": squad.squad_hub,
    "tatoeba_hub": retrieval.hub_pair,
    "bucc_hub": retrieval.hub_pair,
    "lareqa_hub": retrieval.hub_unsupported("lareqa"),
    "mewslix_hub": retrieval.hub_unsupported("mewslix"),
    "ocnli_hub": bigbench.ocnli_hub,
}
