"""The training loop: accelerate (one CPU process here, the same code on one or many GPUs).

Several tasks train one shared encoder with one head each; every batch holds one task's examples
and the epoch interleaves all tasks' batches at random, i.e. examples are sampled in proportion to
each task's (budgeted) size. Under a total budget (`total_examples`, or `total_tokens` for equal
compute) a sampler draws the tasks' batches until the budget is spent; batches can be sized in
tokens (`batch_tokens`); tokens are counted as `budget.feature_tokens` defines them.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import os
import random
import shutil
import time
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, Sequence, TypeVar

import torch

from .budget import batch_tokens, feature_tokens, fit_to_budget, token_batches
from .contracts import EVAL_BATCH_SIZE
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
    eval_batch_size: int = EVAL_BATCH_SIZE
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
    # Mid-stage resume: the training state (model, optimizer, scheduler, RNG, schedule position) is saved
    # under <stage folder>/resume/ every this many steps (an int) or minutes ("30min"); 0 or None: never.
    # A rerun of the stage resumes from the last save. Like max_tokens_per_step, it changes no result.
    save_every: int | str | None = field(default_factory=lambda: _env_save_every())
    tracking: str | None = None  # tensorboard | mlflow | wandb: accelerate's tracker, logs in <stage folder>/tracking

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


def _env_save_every() -> int | str | None:
    value = os.environ.get("INTERTASK_SAVE_EVERY", "30min").strip()
    return int(value) if value.isdigit() else value or None


def save_interval(setting: int | str | None) -> tuple[int | None, float | None]:
    """(steps, seconds) between state saves from `save_every` (an int of steps, or "<n>min"); None: never."""
    if setting in (None, 0, "0", ""):
        return None, None
    if isinstance(setting, int) and not isinstance(setting, bool) and setting > 0:
        return setting, None
    text = str(setting).strip()
    if text.isdigit():
        return int(text), None
    if text.endswith("min"):
        try:
            minutes = float(text[:-3])
        except ValueError:
            minutes = -1.0
        if minutes > 0:
            return None, minutes * 60.0
    raise ValueError(f"save_every must be a number of steps (e.g. 500), minutes (e.g. \"30min\") or 0 (never), "
                     f"got {setting!r}")


# the package each of accelerate's trackers needs, and the pip command that installs it
TRACKERS = {"tensorboard": "tensorboard", "mlflow": "mlflow", "wandb": "wandb"}


def check_tracking(tracking: str | None) -> str | None:
    """The tracker name, after checking that it is known and its package installed (a clear error if not)."""
    if tracking in (None, "", "none", "off"):
        return None
    if tracking not in TRACKERS:
        raise ValueError(f"tracking must be one of {', '.join(TRACKERS)} (or omitted: off), got {tracking!r}")
    from accelerate.tracking import get_available_trackers

    package = TRACKERS[tracking]
    # accelerate's own test: a tracker it does not find is otherwise dropped with only a warning
    if tracking not in {str(t) for t in get_available_trackers()}:
        raise ModuleNotFoundError(f"tracking: {tracking} needs the Python package {package!r}, which is not installed: "
                                  f"run `pip install {package}` in this environment, or remove `tracking` from the "
                                  f"training options")
    return tracking


def set_seed(seed: int) -> None:
    """Seed Python, numpy and torch (all devices) so the same seed and data give the same model."""
    from accelerate.utils import set_seed as _set_seed

    _set_seed(seed, deterministic=False)


def make_accelerator(mixed_precision: str = "no", log_with: str | None = None, project_dir: str | Path | None = None) -> Any:
    """One process's Accelerator; under `accelerate launch`/`torchrun` the processes train data-parallel.

    split_batches: each process trains its slice of one global batch (`shard`), so the prepared
    scheduler steps once per global step, not once per process. find_unused_parameters: a step trains
    one task's head, the other heads get no gradient.
    """
    from accelerate import Accelerator, DataLoaderConfiguration, DistributedDataParallelKwargs
    from accelerate.state import AcceleratorState

    # accelerate keeps one process-wide state and refuses a second precision; a later stage in the
    # same process (a notebook session, the test suite) may train in another one
    if AcceleratorState._shared_state.get("_mixed_precision", mixed_precision) != mixed_precision:
        AcceleratorState._reset_state()

    return Accelerator(mixed_precision=mixed_precision, cpu=not torch.cuda.is_available(), log_with=log_with,
                       project_dir=str(project_dir) if project_dir else None,
                       dataloader_config=DataLoaderConfiguration(split_batches=True),
                       kwargs_handlers=[DistributedDataParallelKwargs(find_unused_parameters=True)])


T = TypeVar("T")


def shard(items: Sequence[T], index: int, count: int) -> list[T]:
    """Process `index`'s contiguous part of `items` cut into `count` near-equal parts (the first ones longer)."""
    size, extra = divmod(len(items), count)
    start = index * size + min(index, extra)
    return list(items[start:start + size + (index < extra)])


# formats whose prediction for an item depends on that item alone; retrieval mines or ranks against the
# whole set of items (BUCC's margin, Tatoeba's pool), so each process predicts it whole
PER_ITEM_FORMATS = ("classification", "multiple_choice", "span_qa", "tagging")


def predict_sharded(fmt: Any, model: Any, task: Any, examples: Sequence[dict], tokenizer: Any, cfg: EvalConfig) -> list:
    """`fmt.predict` over all `examples`; under several processes each predicts its shard and the
    predictions are gathered back in the examples' order (every process gets them all)."""
    from accelerate import PartialState
    from accelerate.utils import gather_object

    state = PartialState()
    if state.num_processes == 1 or fmt.name not in PER_ITEM_FORMATS:
        return fmt.predict(model, task, examples, tokenizer, cfg)
    mine = shard(examples, state.process_index, state.num_processes)
    preds = fmt.predict(model, task, mine, tokenizer, cfg) if mine else []
    return gather_object(preds)  # concatenated in process order: the shards' order


def task_batches(features: list[Feature], cfg: TrainConfig, rng: random.Random) -> list[list[int]]:
    """One epoch of a task's batches: `batch_tokens` tokens each if set, else `batch_size` examples."""
    if cfg.batch_tokens:
        return token_batches(features, cfg.batch_tokens, rng)
    return bucketed_batches(features, cfg.batch_size, rng)


def _epoch_batches(train: dict[str, list[Feature]], cfg: TrainConfig, rng: random.Random) -> list[tuple[str, list[int]]]:
    batches = [(task, b) for task, feats in train.items() for b in task_batches(feats, cfg, rng)]
    rng.shuffle(batches)
    return batches


# devices whose AdamW has a fused kernel (one pass over parameter, gradient and both moments)
FUSED_ADAMW_DEVICES = ("cpu", "cuda")


def adamw(groups: list[dict], lr: float, device: Any) -> torch.optim.AdamW:
    """AdamW, fused where the device has the kernel, as the HF Trainer's default (`adamw_torch_fused`).

    The same update as the multi-tensor one (to float rounding), 5x faster on a 2-core CPU when all
    117M weights train: 0.13 s against 0.65 s a step for XNLI at batch 16."""
    fused = torch.device(device).type in FUSED_ADAMW_DEVICES and all(
        p.is_floating_point() for g in groups for p in g["params"])
    return torch.optim.AdamW(groups, lr=lr, fused=fused or None)


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
                preds = predict_sharded(fmt, model, task, examples, tokenizer, task_cfg)
            scores[name] = float(next(iter(fmt.score(task, examples, preds, task.train_language).values())))
    return scores


RESUME_DIR = "resume"  # under the stage folder: the last saved training state, deleted when the stage ends
LATEST = "latest"  # names the last complete save, replaced atomically, so a kill while saving leaves the one before


@dataclass
class Position:
    """Where a run stands, beyond what accelerate's save_state holds: the schedule position, the current
    round's tallies, the history so far and the best dev round's weights."""

    step: int = 0
    epoch: int = 0
    schedule: str = ""  # fingerprint of the rebuilt schedule: a resume must replay the same batches
    history: list = field(default_factory=list)
    best_score: float = -math.inf
    best_epoch: int = 0
    bad_epochs: int = 0
    best_state: dict | None = None
    losses: list = field(default_factory=list)
    seen: dict = field(default_factory=dict)
    tokens: dict = field(default_factory=dict)
    steps_of: dict = field(default_factory=dict)
    seconds: float = 0.0


def _fingerprint(rounds: list[list[tuple[str, list[int]]]]) -> str:
    return hashlib.sha256(json.dumps(rounds).encode()).hexdigest()


def save_progress(acc: Any, state_dir: Path, pos: Position) -> None:
    """accelerate's save_state (model, optimizer, scheduler, RNG of every process) plus `pos`, then point
    `latest` at it and drop older saves."""
    target = state_dir / f"step-{pos.step}"
    acc.wait_for_everyone()
    acc.save_state(str(target))
    acc.wait_for_everyone()  # every process's RNG file is written before `latest` names this save
    if acc.is_main_process:
        torch.save(dict(vars(pos)), target / "position.pt")  # shallow: asdict would deep-copy the weights
        tmp = state_dir / (LATEST + ".tmp")
        tmp.write_text(target.name)
        os.replace(tmp, state_dir / LATEST)
        for old in state_dir.glob("step-*"):
            if old.name != target.name:
                shutil.rmtree(old, ignore_errors=True)
    acc.wait_for_everyone()


def load_progress(acc: Any, state_dir: Path, fingerprint: str) -> Position | None:
    """The last saved state, restored into `acc`'s prepared objects; None when there is none."""
    latest = state_dir / LATEST
    if not latest.is_file():
        return None
    source = state_dir / latest.read_text().strip()
    pos = Position(**torch.load(source / "position.pt", weights_only=False))
    if pos.schedule != fingerprint:
        raise RuntimeError(f"{state_dir}: the saved training state is from another schedule (other data or "
                           f"training settings); delete {state_dir} to train this stage from the start")
    acc.load_state(str(source))
    print(f"resuming from {source} (step {pos.step})")
    return pos


def clear_progress(state_dir: Path) -> None:
    shutil.rmtree(state_dir, ignore_errors=True)


def _due(acc: Any, step: int, last_save: float, every: tuple[int | None, float | None]) -> bool:
    steps, seconds = every
    if steps is not None:
        return step % steps == 0
    if seconds is None:
        return False
    due = time.time() - last_save >= seconds
    if acc.num_processes > 1:  # the processes' clocks differ: the main process decides for all
        from accelerate.utils import broadcast

        due = bool(broadcast(torch.tensor([int(due)], device=acc.device), from_process=0).item())
    return due


def _tracked_config(cfg: TrainConfig) -> dict:
    # trackers (tensorboard's hparams) take only scalars
    return {k: v for k, v in asdict(cfg).items() if isinstance(v, (int, float, str, bool))}


def train(model: EncoderWithHeads, train_features: dict[str, list[Feature]], dev_examples: dict[str, list[dict]],
          cfg: TrainConfig, tokenizer: Any, max_length: int = 128, folder: str | Path | None = None) -> list[dict]:
    """Train in place; returns the per-round history. The best dev round's weights are restored.

    Under several processes (`accelerate launch`, `torchrun`) every process builds the same schedule
    and trains its shard of each global batch; the gradients are averaged over the global batch.
    `folder` (the stage folder) holds the resume state (`save_every`) and the tracker's logs.
    """
    pad_id = tokenizer.pad_token_id
    empty = [t for t, f in train_features.items() if not f]
    if empty:
        raise ValueError(f"no training examples for {empty}")
    every = save_interval(cfg.save_every)
    tracker = check_tracking(cfg.tracking)
    if tracker and folder is None:
        raise ValueError("tracking needs the stage folder for its logs: pass folder=")
    set_seed(cfg.seed)
    precision = resolve_precision(cfg.mixed_precision)
    acc = make_accelerator(precision, tracker, Path(folder) / "tracking" if tracker else None)
    rank, world = acc.process_index, acc.num_processes
    formats = {name: get_format(model.tasks[name].format) for name in train_features}
    rng = random.Random(cfg.seed)
    params = [p for p in model.parameters() if p.requires_grad]
    decay = [p for n, p in model.named_parameters() if p.requires_grad and p.ndim > 1]
    no_decay = [p for n, p in model.named_parameters() if p.requires_grad and p.ndim <= 1]
    optimizer = adamw([{"params": decay, "weight_decay": cfg.weight_decay},
                       {"params": no_decay, "weight_decay": 0.0}], cfg.learning_rate, acc.device)
    rounds = schedule(train_features, cfg, rng)
    total_steps = sum(len(r) for r in rounds)
    from transformers import get_linear_schedule_with_warmup

    scheduler = get_linear_schedule_with_warmup(optimizer, int(cfg.warmup_ratio * total_steps), total_steps)
    model, optimizer, scheduler = acc.prepare(model, optimizer, scheduler)
    state_dir = Path(folder) / RESUME_DIR if folder is not None and every != (None, None) else None
    fingerprint = _fingerprint(rounds) if state_dir is not None else ""
    resumed = load_progress(acc, state_dir, fingerprint) if state_dir is not None else None
    pos = resumed or Position(schedule=fingerprint)
    if tracker:
        acc.init_trackers("intertask", config=_tracked_config(cfg))
    history: list[dict] = pos.history
    step, start_step = pos.step, pos.step
    bar = progress(total=total_steps, desc="train steps", unit="step", initial=start_step)
    start = time.time() - pos.seconds
    last_save = time.time()
    for epoch, batches in enumerate(rounds, start=1):
        if resumed is not None and epoch < resumed.epoch:
            continue  # rounds finished (and recorded) before the save
        if resumed is not None and epoch == resumed.epoch:  # the round the save was made in
            losses, seen, tokens, steps_of = pos.losses, pos.seen, pos.tokens, pos.steps_of
        else:
            losses, seen, tokens, steps_of = [], {}, {}, {}
        model.train()
        done_before = sum(len(r) for r in rounds[:epoch - 1])
        for k, (task, idx) in enumerate(batches):
            if done_before + k < start_step:
                continue
            fmt = formats[task]
            mine = shard(idx, rank, world)
            # a process whose shard is empty (a batch smaller than the process count) still joins the
            # gradient average, with one example weighted zero
            pieces = micro_batches(train_features[task], mine or idx[:1], cfg.max_tokens_per_step)
            loss_value = 0.0
            for p_i, piece in enumerate(pieces):
                batch = fmt.collate([train_features[task][i] for i in piece], pad_id)
                batch = {k2: v.to(acc.device) for k2, v in batch.items()}
                last = p_i == len(pieces) - 1
                # gradients are averaged over the processes once per step, after the last piece
                with acc.no_sync(model) if not last else contextlib.nullcontext():
                    with acc.autocast():
                        # each piece's mean loss, weighted by its share: the batch mean, as one piece would give
                        loss = fmt.loss(model(task, batch), batch) * ((len(piece) if mine else 0) / len(idx))
                        # DDP averages the processes' gradients: times the process count, the shares sum
                        # to the global batch's mean however unevenly the batch was split
                        scaled = loss * world if world > 1 else loss
                    acc.backward(scaled)
                loss_value += loss.item()
            if world > 1:
                loss_value = acc.reduce(torch.tensor([loss_value], device=acc.device), "sum").item()
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
            if state_dir is not None and step < total_steps and _due(acc, step, last_save, every):
                pos.step, pos.epoch, pos.history, pos.seconds = step, epoch, history, time.time() - start
                pos.losses, pos.seen, pos.tokens, pos.steps_of = losses, seen, tokens, steps_of
                save_progress(acc, state_dir, pos)
                last_save = time.time()
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
            if score > pos.best_score:
                pos.best_score, pos.best_state, pos.bad_epochs, pos.best_epoch = \
                    score, _trainable_state(acc.unwrap_model(model)), 0, epoch
            else:
                pos.bad_epochs += 1
        history.append(record)
        if tracker:
            acc.log({k: v for k, v in record.items() if isinstance(v, (int, float)) and k not in ("epoch", "step")},
                    step=step)
        # a budgeted run trains to its budget (equal compute); its dev rounds only select the checkpoint
        if cfg.patience is not None and not budgeted(cfg) and dev_examples and pos.bad_epochs >= cfg.patience \
                and step < total_steps:
            record["early_stop"] = True
            break
    bar.close()
    if tracker:
        acc.end_training()
    unwrapped = acc.unwrap_model(model)
    if pos.best_state is not None:
        # best English-dev epoch, so a late overfit epoch does not decide what transfers
        unwrapped.load_state_dict(pos.best_state, strict=False)
        for rec in history:
            rec["selected"] = rec["epoch"] == pos.best_epoch
    if resumed is not None:
        history[-1]["resumed_from_step"] = start_step
    return history
