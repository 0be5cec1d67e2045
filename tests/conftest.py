"""Shared fixtures: the offline data bundle and a tiny random encoder with the real XLM-R tokenizer."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _data_dir() -> Path:
    env = os.environ.get("INTERTASK_DATA")
    return Path(env) if env else ROOT.parent / "shared" / "data"


DATA = _data_dir()


@pytest.fixture(scope="session", autouse=True)
def one_torch_thread():
    """Tiny models run 10-50x faster on one thread than on two contended ones (measured here)."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="session")
def data_dir() -> Path:
    if not (DATA / "xtreme" / "xnli" / "dev-en.tsv").exists():
        pytest.skip(f"offline data bundle not found at {DATA} (set INTERTASK_DATA)")
    return DATA


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory) -> Path:
    """A 2-layer, 32-wide BERT with the real multilingual tokenizer: trains in well under a second."""
    import torch
    from transformers import AutoTokenizer, BertConfig, BertModel

    from intertask.offline_model import ensure_offline_model

    tok = AutoTokenizer.from_pretrained(ensure_offline_model())
    torch.manual_seed(0)
    config = BertConfig(vocab_size=len(tok), hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                        intermediate_size=64, max_position_embeddings=512, pad_token_id=tok.pad_token_id)
    out = tmp_path_factory.mktemp("tiny-model")
    BertModel(config, add_pooling_layer=False).save_pretrained(out)
    tok.save_pretrained(out)
    return out
