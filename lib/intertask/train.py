"""The training loop: accelerate (one CPU process here, the same code on one or many GPUs).

Several tasks train one shared encoder with one head each; every batch holds one task's examples
and the epoch interleaves all tasks' batches at random, i.e. examples are sampled in proportion to
each task's (budgeted) size. Under a total budget (`total_examples`, or `total_tokens` for equal
compute) a sampler draws the tasks' batches until the budget is spent; batches can be sized in
tokens (`batch_tokens`); tokens are counted as `budget.feature_tokens` defines them.
"""

from __future__ import annotations

import math
import os
import random
import time
from dataclasses import dataclass, field, fields
from typing import Any

import torch

from .budget import batch_tokens, feature_tokens, fit_to_budget, token_batches
from .formats import EvalConfig, get_format, task_options
from .features import Feature, bucketed_batches
from .models import EncoderWithHeads
from .precision import autocast, resolve_precision
from .progress import progress


@dataclass
class TrainConfig:
    epochs: float = 1.0
    learning_rate: float = 5e-5
    batch_size: int = 32
    warmup_ratio: float = 0.1
    weight_decay: float = 0.01
    max_grad_norm: float = 1.0
    patience: int | None = 1  # epochs without a better English dev score before stopping; None: never
    eval_batch_size: int = 64
    seed: int = 1
    mixed_precision: str = "auto"  # auto (bf16 where the hardware has it) | no | bf16 | fp16: see precision.py
    task_options: dict | None = None  # task -> options (max_length, doc_stride, ...) for dev scoring
    # Multi-task budget: with total_examples set, training runs ceil(total_examples / batch_size) steps
    # whatever the number of tasks, each step drawing one task's batch by the sampler's weights, so
    # "more tasks" never means "more training". Without it, every task's examples are seen `epochs` times.
    total_examples: int | None = None
    sampler: str = "proportional"  # proportional | uniform | temperature
    temperature: float = 2.0  # p_i ~ min(n_i, cap)^(1/T) for the temperature sampler
    example_cap: int | None = None  # per-task size cap in the weights (jiant/MUPPET style)
    evaluations: int = 1  # dev evaluations spread over a budgeted run (best one kept)
    # Equal compute: with total_tokens set, batches are drawn (as above) until this many non-pad tokens
    # (`budget.feature_tokens`) are spent; the last batch is cut to fit, so every condition trains
    # within one example's tokens of the budget. A budgeted run (total_tokens or total_examples) always
    # trains to the end: `patience` never stops it, the dev evaluations only select the checkpoint.
    total_tokens: int | None = None
    # Token-sized batches: at most this many non-pad tokens per batch instead of batch_size examples.
    batch_tokens: int | None = None
    # Memory, not maths: a batch holding more tokens than this (multiple choice: examples x choices x
    # length) is run as several micro-batches with accumulated gradients. Cosmos QA at batch 32 needs
    # ~14 GB in one piece on CPU. Set INTERTASK_MAX_TOKENS_PER_STEP (0: never split) to change it.
    max_tokens_per_step: int = field(default_factory=lambda: int(os.environ.get("INTERTASK_MAX_TOKENS_PER_STEP", 4096)))

    @classmethod
    def from_params(cls, params: Any) -> "TrainConfig":
        """The training settings of a stage's parameters (`contracts.IntermediateParams` / `TargetParams`).

        Every TrainConfig field the stage declares is taken by name; a target stage's `options` are
        its one task's options (for dev scoring).
        """
        values = {f.name: getattr(params, f.name) for f in fields(cls) if hasattr(params, f.name)}
        if hasattr(params, "target") and hasattr(params, "options"):
            values["task_options"] = {params.target: params.options}
        return cls(**values)


def set_seed(seed: int) -> None:
    """Seed Python, numpy and torch (all devices) so the same seed and data give the same model."""
    from accelerate.utils import set_seed as _set_seed

    _set_seed(seed, deterministic=False)


def make_accelerator(mixed_precision: str = "no") -> Any:
    from accelerate import Accelerator
    from accelerate.state import AcceleratorState

    # accelerate keeps one process-wide state and refuses a second precision; a later stage in the
    # same process (a notebook session, the test suite) may train in another one
    if AcceleratorState._shared_state.get("_mixed_precision", mixed_precision) != mixed_precision:
        AcceleratorState._reset_state()

    return Accelerator(mixed_precision=mixed_precision, cpu=not torch.cuda.is_available())


def task_batches(features: list[Feature], cfg: TrainConfig, rng: random.Random) -> list[list[int]]:
    """One epoch of a task's batches: `batch_tokens` tokens each if set, else `batch_size` examples."""
    if cfg.batch_tokens:
        return token_batches(features, cfg.batch_tokens, rng)
    return bucketed_batches(features, cfg.batch_size, rng)


def _epoch_batches(train: dict[str, list[Feature]], cfg: TrainConfig, rng: random.Random) -> list[tuple[str, list[int]]]:
    batches = [(task, b) for task, feats in train.items() for b in task_batches(feats, cfg, rng)]
    rng.shuffle(batches)
    return batches


def budgeted(cfg: TrainConfig) -> bool:
    return cfg.total_tokens is not None or cfg.total_examples is not None


SAMPLERS = ("proportional", "uniform", "temperature")


def sampling_weights(sizes: dict[str, int], sampler: str = "proportional", temperature: float = 2.0,
                     cap: int | None = None) -> dict[str, float]:
    """Probability of drawing each task's batch: uniform, proportional to (capped) size, or temperature-scaled."""
    if sampler not in SAMPLERS:
        raise ValueError(f"sampler must be one of {SAMPLERS}, got {sampler!r}")
    if sampler == "temperature" and temperature <= 0:
        raise ValueError(f"temperature must be positive, got {temperature}")
    capped = {t: float(min(n, cap) if cap else n) for t, n in sizes.items()}
    if sampler == "uniform":
        raw = {t: 1.0 for t in capped}
    elif sampler == "proportional":
        raw = capped
    else:
        raw = {t: n ** (1.0 / temperature) for t, n in capped.items()}
    total = sum(raw.values())
    return {t: w / total for t, w in raw.items()}


def schedule(train: dict[str, list[Feature]], cfg: TrainConfig, rng: random.Random) -> list[list[tuple[str, list[int]]]]:
    """The batches of the whole run, in rounds; dev evaluation (and early stopping) follows each round."""
    if cfg.total_tokens is not None and cfg.total_examples is not None:
        raise ValueError("give total_tokens or total_examples, not both")
    if not budgeted(cfg):
        first = _epoch_batches(train, cfg, rng)
        total = max(1, int(math.ceil(cfg.epochs * len(first))))
        rounds, left = [first[:total]], total - len(first[:total])
        while left > 0:
            batches = _epoch_batches(train, cfg, rng)[:left]
            rounds.append(batches)
            left -= len(batches)
        return rounds
    max_steps = None  # under total_examples: a number of batches; under total_tokens: until spent
    if cfg.total_examples is not None:
        max_steps = steps = int(math.ceil(cfg.total_examples / cfg.batch_size))
        if steps < len(train):
            raise ValueError(f"total_examples={cfg.total_examples} gives {steps} batches of {cfg.batch_size}, fewer "
                             f"than the {len(train)} tasks: raise total_examples (budgets.intermediate.total_examples) "
                             f"to at least {len(train) * cfg.batch_size} so every task gets a batch")
    weights = sampling_weights({t: len(f) for t, f in train.items()}, cfg.sampler, cfg.temperature, cfg.example_cap)
    names = sorted(weights)
    streams: dict[str, list[list[int]]] = {t: [] for t in names}
    drawn: list[tuple[str, list[int]]] = []
    spent = 0
    while len(drawn) < max_steps if max_steps is not None else spent < (cfg.total_tokens or 0):
        task = rng.choices(names, weights=[weights[t] for t in names])[0]
        if not streams[task]:  # a task's own epochs continue where they left off, reshuffled each time
            streams[task] = task_batches(train[task], cfg, rng)
        idx = streams[task].pop()
        if cfg.total_tokens is not None:
            n = batch_tokens(train[task], idx)
            if spent + n > cfg.total_tokens:  # the last batch: only what fits, then the budget is spent
                idx = fit_to_budget(train[task], idx, cfg.total_tokens - spent)
                if not idx:
                    break
                spent = cfg.total_tokens  # stop here even if the cut batch left a few tokens unspent
            else:
                spent += n
        drawn.append((task, idx))
    steps = len(drawn)
    n_rounds = max(1, min(cfg.evaluations, steps))
    size = math.ceil(steps / n_rounds)
    return [drawn[i:i + size] for i in range(0, steps, size)]


def micro_batches(features: list[Feature], idx: list[int], max_tokens: int) -> list[list[int]]:
    """Split one batch into consecutive pieces of at most `max_tokens` tokens (at least one example each)."""
    if not max_tokens:
        return [idx]
    pieces: list[list[int]] = [[]]
    tokens = 0
    for i in idx:
        n = features[i]["length"]
        if pieces[-1] and tokens + n > max_tokens:
            pieces.append([])
            tokens = 0
        pieces[-1].append(i)
        tokens += n
    return pieces


def _trainable_state(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in model.named_parameters() if v.requires_grad}


def dev_scores(model: EncoderWithHeads, dev_examples: dict[str, list[dict]], tokenizer: Any, cfg: EvalConfig,
               options: dict | None = None, precision: str = "no") -> dict[str, float]:
    """Each task's main metric (its format's first) on its English dev examples, in `precision` (resolved)."""
    scores = {}
    for name, examples in dev_examples.items():
        if examples:
            task = model.tasks[name]
            fmt = get_format(task.format)
            opts = task_options(task, (options or {}).get(name))
            task_cfg = EvalConfig(cfg.batch_size, int(opts.get("max_length", cfg.max_length)), cfg.device, opts)
            with autocast(precision, cfg.device):
                preds = fmt.predict(model, task, examples, tokenizer, task_cfg)
            scores[name] = float(next(iter(fmt.score(task, examples, preds, task.train_language).values())))
    return scores


def train(model: EncoderWithHeads, train_features: dict[str, list[Feature]], dev_examples: dict[str, list[dict]],
          cfg: TrainConfig, tokenizer: Any, max_length: int = 128) -> list[dict]:
    """Train in place; returns the per-epoch history. The best dev epoch's weights are restored."""
    pad_id = tokenizer.pad_token_id
    empty = [t for t, f in train_features.items() if not f]
    if empty:
        raise ValueError(f"no training examples for {empty}")
    set_seed(cfg.seed)
    precision = resolve_precision(cfg.mixed_precision)
    acc = make_accelerator(precision)
    formats = {name: get_format(model.tasks[name].format) for name in train_features}
    rng = random.Random(cfg.seed)
    params = [p for p in model.parameters() if p.requires_grad]
    decay = [p for n, p in model.named_parameters() if p.requires_grad and p.ndim > 1]
    no_decay = [p for n, p in model.named_parameters() if p.requires_grad and p.ndim <= 1]
    optimizer = torch.optim.AdamW([{"params": decay, "weight_decay": cfg.weight_decay},
                                   {"params": no_decay, "weight_decay": 0.0}], lr=cfg.learning_rate)
    rounds = schedule(train_features, cfg, rng)
    total_steps = sum(len(r) for r in rounds)
    from transformers import get_linear_schedule_with_warmup

    scheduler = get_linear_schedule_with_warmup(optimizer, int(cfg.warmup_ratio * total_steps), total_steps)
    model, optimizer, scheduler = acc.prepare(model, optimizer, scheduler)
    history: list[dict] = []
    best_score, best_state, bad_epochs, best_epoch = -math.inf, None, 0, 0
    step, epoch = 0, 0
    bar = progress(total=total_steps, desc="train steps", unit="step")
    start = time.time()
    for batches in rounds:
        epoch += 1
        model.train()
        losses = []
        seen: dict[str, int] = {}
        tokens: dict[str, int] = {}
        steps_of: dict[str, int] = {}
        for task, idx in batches:
            fmt = formats[task]
            loss_value = 0.0
            for piece in micro_batches(train_features[task], idx, cfg.max_tokens_per_step):
                batch = fmt.collate([train_features[task][i] for i in piece], pad_id)
                batch = {k: v.to(acc.device) for k, v in batch.items()}
                with acc.autocast():
                    # each piece's mean loss, weighted by its share: the batch mean, as one piece would give
                    loss = fmt.loss(model(task, batch), batch) * (len(piece) / len(idx))
                acc.backward(loss)
                loss_value += loss.item()
            if cfg.max_grad_norm:
                acc.clip_grad_norm_(params, cfg.max_grad_norm)
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad()
            step += 1
            seen[task] = seen.get(task, 0) + len(idx)
            tokens[task] = tokens.get(task, 0) + sum(feature_tokens(train_features[task][i]) for i in idx)
            steps_of[task] = steps_of.get(task, 0) + 1
            losses.append(loss_value)
            bar.set_postfix_str(f"round {epoch} loss {sum(losses[-20:]) / len(losses[-20:]):.3f}", refresh=False)
            bar.update(1)
        record = {"epoch": epoch, "step": step, "train_loss": sum(losses) / max(1, len(losses)),
                  "seconds": round(time.time() - start, 1)}
        if len(train_features) > 1 or budgeted(cfg):
            record.update({f"examples_{t}": seen.get(t, 0) for t in sorted(train_features)})
        if budgeted(cfg):  # what equal compute is checked against: per task, per round (history.csv sums)
            record.update({f"tokens_{t}": tokens.get(t, 0) for t in sorted(train_features)})
            record.update({f"steps_{t}": steps_of.get(t, 0) for t in sorted(train_features)})
        if dev_examples:
            scores = dev_scores(acc.unwrap_model(model), dev_examples, tokenizer,
                                EvalConfig(cfg.eval_batch_size, max_length, acc.device), cfg.task_options, precision)
            record.update({f"dev_{t}": s for t, s in scores.items()})
            score = sum(scores.values()) / len(scores) if scores else -math.inf
            record["dev_score"] = score
            if score > best_score:
                best_score, best_state, bad_epochs, best_epoch = score, _trainable_state(acc.unwrap_model(model)), 0, epoch
            else:
                bad_epochs += 1
        history.append(record)
        # a budgeted run trains to its budget (equal compute); its dev rounds only select the checkpoint
        if cfg.patience is not None and not budgeted(cfg) and dev_examples and bad_epochs >= cfg.patience \
                and step < total_steps:
            record["early_stop"] = True
            break
    bar.close()
    unwrapped = acc.unwrap_model(model)
    if best_state is not None:
        # best English-dev epoch, so a late overfit epoch does not decide what transfers
        unwrapped.load_state_dict(best_state, strict=False)
        for rec in history:
            rec["selected"] = rec["epoch"] == best_epoch
    return history
