"""The few calls a stage notebook makes: load data, build the model, train and save, evaluate.

Each function does one step of the methods section, so a notebook reads as that section does.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
from matplotlib.ticker import MaxNLocator
import pandas as pd
import torch
from accelerate import PartialState

from .data import DataSource, LeakageError, MissingDataError, assert_no_leakage, has_split, resolve_data_dir
from .feature_cache import CACHE_OPTION, FeatureCache
from .features import Feature
from .formats import EvalConfig, featurize, get_format, task_options
from .item_scores import ITEM_COLUMNS, item_rows
from .leakage import GUARD_FILE, ContentGuard, item_keys, load_guard, target_in_pool
from .results import OUTPUT_COLUMNS, result_rows
from .models import (EncoderWithHeads, checkpoint_meta, freeze, load_checkpoint, load_encoder, load_tokenizer,
                     save_checkpoint)
from .precision import autocast, describe, resolve_precision
from .progress import progress
from .registry import get_task
from .tasks import Task
from .train import RESUME_DIR, TrainConfig, clear_progress, predict_sharded, set_seed, train


class _ExpectedLoadReport(logging.Filter):
    """Drops transformers' load report when all it says is that the checkpoint's pooler is not loaded
    (the heads pool hidden states themselves, so the encoder is built without one); any other
    report (missing or mismatched weights) still shows."""

    def filter(self, record: logging.LogRecord) -> bool:
        msg = record.getMessage()
        if "LOAD REPORT" not in msg:
            return True
        rows = [line.split("|") for line in msg.splitlines() if "|" in line and not line.startswith("Key")]
        return not rows or not all(r[0].strip().startswith("pooler.") and r[1].strip() == "UNEXPECTED" for r in rows)


def _quiet_transformers() -> None:
    """A stage record shows our own progress lines, not transformers' per-load bars and reports."""
    # imported here, after .progress has silenced tqdm's widget warning (transformers imports tqdm.auto)
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    logger = logging.getLogger("transformers.modeling_utils")
    if not any(isinstance(f, _ExpectedLoadReport) for f in logger.filters):
        logger.addFilter(_ExpectedLoadReport())


_quiet_transformers()


def open_data(data_dir: str | None = None, data_source: str = "auto") -> DataSource:
    """The stage's data: an explicit folder, else $INTERTASK_DATA, else a `shared/data` folder beside
    the checkout (found from the working folder upwards); printed so the record shows it.

    With none of these and data_source "auto", fails at once with what to set, rather than trying the
    hub for each task (slow, and offline it only fails later).
    """
    directory = resolve_data_dir(data_dir)
    if directory is None and data_source != "hub":
        directory = _shared_data_near(Path.cwd())
        if directory is None:
            raise MissingDataError(
                f"no data folder: INTERTASK_DATA is not set and no shared/data folder was found above {Path.cwd()}. "
                f"Set INTERTASK_DATA=/path/to/data (the XTREME download/ layout; `make lab` sets it), "
                f"pass data_dir=..., or set data_source = \"hub\" on a machine with internet access.")
        print(f"INTERTASK_DATA is not set; using the data folder beside the checkout: {directory}")
    src = DataSource(directory, data_source)
    print(f"data: {directory if directory else '(no local folder)'} [source: {data_source}]")
    return src


def _shared_data_near(start: Path) -> Path | None:
    """`<ancestor>/shared/data` for the nearest ancestor of `start` that has one (the Makefile's default)."""
    for folder in (start, *start.parents):
        if (folder / "shared" / "data").is_dir():
            return (folder / "shared" / "data").resolve()
    return None


@dataclass
class StageData:
    examples: dict[str, list[dict]]
    features: dict[str, list[Feature]]

    @property
    def ids(self) -> dict[str, list[str]]:
        return {t: [ex["id"] for ex in exs] for t, exs in self.examples.items()}

    def counts(self) -> dict[str, int]:
        return {t: len(f) for t, f in self.examples.items()}


def load_features(source: DataSource, tasks: list[str], split: str, tokenizer: Any, max_length: int,
                  limit: int | None = None, language: str | None = None,
                  options: dict[str, dict] | None = None) -> StageData:
    """Read and tokenize one split of each task once (never per epoch); `options`: task -> overrides."""
    examples, feats = {}, {}
    for name in tasks:
        task = get_task(name)
        if split != "train" and not has_split(task, split, source):
            print(f"{name}: no {split} split; training without early stopping on it")
            continue
        opts = task_options(task, (options or {}).get(name))
        # a task may carry its own budget (e.g. Cosmos QA's 4 long choices cost 12 XNLI pairs each)
        own = opts.get("train_examples" if split == "train" else "dev_examples")
        examples[name] = source.load(task, split, language, limit=own if own is not None else limit)
        length = int(opts.get("max_length", max_length))
        feats[name] = featurize(task, examples[name], tokenizer, length, opts) if split == "train" else []
    return StageData(examples, feats)


def build_model(init: str, tasks: list[str], pooling: str = "mean", freeze_embeddings: bool = True,
                freeze_layers: int = 0, seed: int = 1) -> tuple[EncoderWithHeads, Any]:
    """The encoder from `init` (a model id, a folder, or an earlier stage's checkpoint) with fresh heads."""
    tokenizer = load_tokenizer(init)
    encoder = load_encoder(init)
    set_seed(seed)  # the new heads' initial weights are part of what a seed fixes
    model = EncoderWithHeads(encoder, [get_task(t) for t in tasks], pooling=pooling)
    # what the initial checkpoint was trained and selected on travels on to the new stage's checkpoint
    inherited = load_guard(init)
    if inherited is None:
        raise LeakageError(f"{init} has no {GUARD_FILE}: it was trained before the content guard "
                           f"existed. Re-run its stage (delete the stage folder) so the evaluation can check content.")
    model.content_guard = inherited
    trainable = freeze(encoder, freeze_embeddings, freeze_layers)
    total = sum(p.numel() for p in encoder.parameters())
    print(f"encoder: {init} ({total / 1e6:.1f}M parameters, {trainable / 1e6:.1f}M trained)")
    return model, tokenizer


def train_and_save(model: EncoderWithHeads, tokenizer: Any, train_data: StageData, dev_data: StageData,
                   cfg: TrainConfig, output_dir: str | Path, extra: dict | None = None,
                   max_length: int = 128) -> pd.DataFrame:
    """Train, then write `checkpoint/` and `history.csv` under `output_dir`; returns the history."""
    out = Path(output_dir)
    out.mkdir(parents=True, exist_ok=True)
    precision = resolve_precision(cfg.mixed_precision)
    print(f"{describe(cfg.mixed_precision, precision)}; {torch.get_num_threads()} CPU thread(s)")
    start = time.time()
    history = train(model, train_data.features, dev_data.examples, cfg, tokenizer, max_length, folder=out)
    state = PartialState()
    if not state.is_main_process:  # data-parallel: one process writes, the others wait until it has
        state.wait_for_everyone()
        return pd.DataFrame(history)
    meta = {"train_ids": train_data.ids, "dev_ids": dev_data.ids, "train_seconds": round(time.time() - start, 1),
            "precision": precision, **({"processes": state.num_processes} if state.num_processes > 1 else {}),
            **(extra or {})}
    guard = ContentGuard(getattr(model, "content_guard", ContentGuard()).seen)
    for split_data in (train_data, dev_data):
        for name, examples in split_data.examples.items():
            guard.add(name, examples, get_task(name).format)
    save_checkpoint(model, tokenizer, out / "checkpoint", meta, content=guard)
    frame = pd.DataFrame(history)
    frame.to_csv(out / "history.csv", index=False)
    clear_progress(out / RESUME_DIR)  # the checkpoint is written: a rerun has nothing to resume
    state.wait_for_everyone()
    return frame


def plot_training_curve(history: pd.DataFrame, title: str = "") -> plt.Figure:
    """Training loss and dev score at each evaluation, by optimizer step; the selected checkpoint is ringed."""
    fig, (loss_ax, dev_ax) = plt.subplots(1, 2, figsize=(10, 3), constrained_layout=True)
    loss_ax.plot(history["step"], history["train_loss"], marker="o", color="tab:red")
    loss_ax.set(xlabel="optimizer step", ylabel="training loss", title="loss")
    dev_cols = [c for c in history.columns if c.startswith("dev_") and c != "dev_score"]
    for col in dev_cols if len(dev_cols) > 1 else []:  # one task: its column is dev_score itself
        dev_ax.plot(history["step"], 100 * history[col], marker=".", alpha=0.6, label=col[4:])
    dev_ax.plot(history["step"], 100 * history["dev_score"], marker="o", color="black", label="dev score")
    if "selected" in history.columns and history["selected"].any():
        best = history[history["selected"].astype(bool)]
        dev_ax.scatter(best["step"], 100 * best["dev_score"], s=160, facecolors="none", edgecolors="tab:green",
                       label="selected checkpoint", zorder=3)
    dev_ax.set(xlabel="optimizer step", ylabel="English dev score (points)", title="dev score")
    dev_ax.legend(fontsize="small", loc="upper left", bbox_to_anchor=(1.02, 1))  # outside: never over a curve
    for ax in (loss_ax, dev_ax):
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # steps are whole numbers
        ax.margins(x=0.1)
    if title:
        fig.suptitle(title)
    plt.close(fig)  # returned for display once, not drawn a second time by the inline backend
    return fig


def evaluate_zero_shot(checkpoint: str | Path, target: str, languages: list[str] | str, source: DataSource,
                       examples_per_language: int | None, batch_size: int, max_length: int,
                       identity: dict, output_dir: str | Path = ".", options: dict | None = None,
                       mixed_precision: str | None = None, feature_cache: str | Path | None = None) -> pd.DataFrame:
    """Score the fine-tuned model on the held-out test items of every language; writes results.csv.

    `mixed_precision` (auto | no | bf16) defaults to the precision the checkpoint was trained in.
    `feature_cache`: a folder where the test items' features are kept for every run of the study.

    Refuses any item whose id was used to train or select the model, in any language. An item whose
    content (or, for parallel data, its English counterpart's) is among the fingerprints of every
    training and model-selection input of the run (all stages) is not scored: it is dropped and
    counted in the `overlap` column. `split` says what the items are ("test", "dev", "dev-subset").
    Predictions are written per language under `predictions/<task>/` in the benchmark's own file format,
    and per-item scores (formats whose metric is a mean over items) to `items.csv`.
    """
    task = get_task(target)
    fmt = get_format(task.format)
    if languages in ("all", None):
        langs = [lg for lg in task.languages if source.available(task, "test", lg)]
        absent = [lg for lg in task.languages if lg not in langs]
        if absent:  # "all" means all that the data has; name the rest so nobody mistakes them for zeros
            print(f"{target}: no test data for {', '.join(absent)} in {source.data_dir}; evaluating {len(langs)} languages")
        if not langs:
            raise MissingDataError(f"{target}: no test data for any language in {source.data_dir}")
    else:
        langs = list(languages)
        for lang in langs:
            task.check_language(lang)
    model, tokenizer = load_checkpoint(checkpoint, [task])
    meta = checkpoint_meta(checkpoint)
    seen = set(meta.get("train_ids", {}).get(target, [])) | set(meta.get("dev_ids", {}).get(target, []))
    guard = load_guard(checkpoint)
    if guard is None:
        raise LeakageError(f"{checkpoint} has no {GUARD_FILE}: it was trained before the content guard "
                           f"existed. Re-run its stages (delete their folders) so the evaluation can check content.")
    inter = [t for t in str(identity.get("intermediate_tasks") or "none").split("+") if t and t != "none"]
    # the target itself appears only as the equal-compute control's training data (study validation refuses
    # it anywhere else): that is the target stage's own English training split, not data through the back door
    flagged = target_in_pool(target, [t for t in inter if t != target])
    opts = task_options(task, options)
    cfg = EvalConfig(batch_size, int(opts.get("max_length", max_length)), "cuda" if torch.cuda.is_available() else "cpu",
                     opts)
    model.to(cfg.device)
    cache = FeatureCache(feature_cache) if feature_cache else None
    if cache is not None:
        cfg.extra[CACHE_OPTION] = cache
    setting = mixed_precision or meta.get("precision", "auto")
    precision = resolve_precision(setting, "cuda" if torch.cuda.is_available() else "cpu")
    print(f"{describe(setting, precision)}; {torch.get_num_threads()} CPU thread(s)")
    out = Path(output_dir)
    pred_dir = out / "predictions" / target
    pred_dir.mkdir(parents=True, exist_ok=True)
    with autocast(precision, cfg.device):  # retrieval encodes its candidate pools here
        cfg.extra["context"] = fmt.prepare(model, task, source, langs, examples_per_language, tokenizer, cfg)
    # data-parallel: every process predicts its shard of each language, one process writes
    main = PartialState().is_main_process
    rows, items, overlaps = [], [], []
    for lang in progress(langs, desc=f"evaluate {target}", unit="lang"):
        loaded = source.load(task, "test", lang, limit=examples_per_language)
        assert_no_leakage(seen, [ex["id"] for ex in loaded], f"{target} test ({lang})")
        twins = _counterparts(source, task, lang)
        examples, dropped = guard.split(loaded, task.format, twins)
        overlaps.append({"language": lang, "evaluated": len(loaded), "overlap": len(dropped),
                         "from": ", ".join(guard.sources(k for ex in dropped for k in item_keys(ex, task.format, twins)))})
        if not examples:
            raise LeakageError(f"{target} ({lang}): all {len(loaded)} evaluated items share content with the training "
                               f"or model-selection inputs of this run ({overlaps[-1]['from']}); "
                               f"nothing is left to score. Remove those tasks from the condition.")
        with autocast(precision, cfg.device):
            preds = predict_sharded(fmt, model, task, examples, tokenizer, cfg)
        scores = fmt.score(task, examples, preds, lang)
        rows += result_rows(identity, target, lang, source.split_label(task, lang), scores, len(examples),
                            overlap=len(dropped), target_in_pool=flagged)
        items += item_rows(fmt, task, examples, preds, lang)
        lines = fmt.export_lines(task, examples, preds)
        if main:
            (pred_dir / f"test-{lang}.{'json' if isinstance(lines, str) else 'tsv'}").write_text(
                lines if isinstance(lines, str) else "\n".join(lines) + "\n", encoding="utf-8")
    if cache is not None:
        print(f"features: {cache.hits} language(s) read from {feature_cache}, {cache.misses} tokenized")
    report = pd.DataFrame(overlaps)
    print(f"content overlap with this run's training and model-selection inputs (items not scored): "
          f"{int(report['overlap'].sum())} of {int(report['evaluated'].sum())}")
    if report["overlap"].any():
        print(report[report["overlap"] > 0].to_string(index=False))
    if flagged:
        print(f"target_in_pool: the intermediate tasks include {target}'s own data (allow_target_in_pool: true)")
    frame = pd.DataFrame(rows, columns=OUTPUT_COLUMNS)
    if main:
        frame.to_csv(out / "results.csv", index=False)
        if items:  # per-item scores: the reports' paired item-level intervals read them
            pd.DataFrame(items, columns=ITEM_COLUMNS).to_csv(out / "items.csv", index=False)
    PartialState().wait_for_everyone()
    return frame


def _counterparts(source: DataSource, task: Task, lang: str) -> dict[str, dict] | None:
    """For parallel data, each item's training-language twin (same id), whose content the guard checks too."""
    if not task.parallel or lang == task.train_language:
        return None
    return {ex["id"]: ex for ex in source.load(task, "test", task.train_language)}


def task_table(tasks: list[str]) -> pd.DataFrame:
    """What each task is, for the record: format, metric, languages, source, citation."""
    rows = []
    for name in tasks:
        t: Task = get_task(name)
        rows.append({"task": t.name, "format": t.format, "metric": t.metric, "languages": len(t.languages),
                     "local": bool(t.local), "hub": t.hub.path if t.hub else "", "citation": t.citation})
    return pd.DataFrame(rows)
