"""The few calls a stage notebook makes: load data, build the model, train and save, evaluate.

Each function does one step of the methods section, so a notebook reads as that section does.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from .data import DataSource, assert_no_leakage, has_split, resolve_data_dir
from .evaluate import RESULT_COLUMNS, predict, result_rows
from .features import Feature, featurize
from .metrics import accuracy
from .models import (EncoderWithHeads, checkpoint_meta, freeze, load_checkpoint, load_encoder, load_tokenizer,
                     save_checkpoint)
from .progress import progress
from .tasks import Task, get_task
from .train import TrainConfig, set_seed, train


def open_data(data_dir: str | None = None, data_source: str = "auto") -> DataSource:
    """The stage's data: an explicit folder, else $INTERTASK_DATA; printed so the record shows it."""
    directory = resolve_data_dir(data_dir)
    src = DataSource(directory, data_source)
    print(f"data: {directory if directory else '(no local folder)'} [source: {data_source}]")
    return src


@dataclass
class StageData:
    features: dict[str, list[Feature]]
    ids: dict[str, list[str]]

    def counts(self) -> dict[str, int]:
        return {t: len(f) for t, f in self.features.items()}


def load_features(source: DataSource, tasks: list[str], split: str, tokenizer: Any, max_length: int,
                  limit: int | None = None, language: str | None = None) -> StageData:
    """Read and tokenize one split of each task once (never per epoch)."""
    feats, ids = {}, {}
    for name in tasks:
        task = get_task(name)
        if split != "train" and not has_split(task, split):
            print(f"{name}: no {split} split; training without early stopping on it")
            continue
        examples = source.load(task, split, language, limit=limit)
        feats[name] = featurize(task, examples, tokenizer, max_length)
        ids[name] = [ex["id"] for ex in examples]
    return StageData(feats, ids)


def build_model(init: str, tasks: list[str], pooling: str = "mean", freeze_embeddings: bool = True,
                freeze_layers: int = 0, seed: int = 1) -> tuple[EncoderWithHeads, Any]:
    """The encoder from `init` (a model id, a folder, or an earlier stage's checkpoint) with fresh heads."""
    tokenizer = load_tokenizer(init)
    encoder = load_encoder(init)
    set_seed(seed)  # the new heads' initial weights are part of what a seed fixes
    model = EncoderWithHeads(encoder, [get_task(t) for t in tasks], pooling=pooling)
    trainable = freeze(encoder, freeze_embeddings, freeze_layers)
    total = sum(p.numel() for p in encoder.parameters())
    print(f"encoder: {init} ({total / 1e6:.1f}M parameters, {trainable / 1e6:.1f}M trained)")
    return model, tokenizer


def train_and_save(model: EncoderWithHeads, tokenizer: Any, train_data: StageData, dev_data: StageData,
                   cfg: TrainConfig, output_dir: str | Path, extra: dict | None = None) -> pd.DataFrame:
    """Train, then write `checkpoint/` and `history.csv` under `output_dir`; returns the history."""
    out = Path(output_dir)
    out.mkdir(parents=True, exist_ok=True)
    start = time.time()
    history = train(model, train_data.features, dev_data.features, cfg, tokenizer.pad_token_id)
    meta = {"train_ids": train_data.ids, "dev_ids": dev_data.ids, "train_seconds": round(time.time() - start, 1),
            **(extra or {})}
    save_checkpoint(model, tokenizer, out / "checkpoint", meta)
    frame = pd.DataFrame(history)
    frame.to_csv(out / "history.csv", index=False)
    return frame


def evaluate_zero_shot(checkpoint: str | Path, target: str, languages: list[str] | str, source: DataSource,
                       examples_per_language: int | None, batch_size: int, max_length: int,
                       identity: dict, output_dir: str | Path = ".") -> pd.DataFrame:
    """Score the fine-tuned model on the held-out test items of every language; writes results.csv.

    Refuses any item whose id was used to train or select the model, in any language.
    """
    task = get_task(target)
    langs = list(task.languages) if languages in ("all", None) else list(languages)
    for lang in langs:
        task.check_language(lang)
    model, tokenizer = load_checkpoint(Path(checkpoint), [task])
    meta = checkpoint_meta(Path(checkpoint))
    seen = set(meta.get("train_ids", {}).get(target, [])) | set(meta.get("dev_ids", {}).get(target, []))
    rows = []
    for lang in progress(langs, desc=f"evaluate {target}", unit="lang"):
        examples = source.load(task, "test", lang, limit=examples_per_language)
        assert_no_leakage(seen, [ex["id"] for ex in examples], f"{target} test ({lang})")
        feats = featurize(task, examples, tokenizer, max_length)
        preds = predict(model, task.name, feats, batch_size, tokenizer.pad_token_id, desc=f"{target}-{lang}")
        score = accuracy(list(preds), [f["label"] for f in feats])
        rows += result_rows(identity, target, lang, "test", {task.metric: score}, len(feats))
    frame = pd.DataFrame(rows, columns=RESULT_COLUMNS)
    out = Path(output_dir)
    out.mkdir(parents=True, exist_ok=True)
    frame.to_csv(out / "results.csv", index=False)
    return frame


def write_json(path: str | Path, obj: Any) -> None:
    Path(path).write_text(json.dumps(obj, indent=2, sort_keys=True, default=str))


def task_table(tasks: list[str]) -> pd.DataFrame:
    """What each task is, for the record: family, metric, languages, source, citation."""
    rows = []
    for name in tasks:
        t: Task = get_task(name)
        rows.append({"task": t.name, "family": t.family, "metric": t.metric, "languages": len(t.languages),
                     "local": bool(t.local), "hub": t.hub.path if t.hub else "", "citation": t.citation})
    return pd.DataFrame(rows)
