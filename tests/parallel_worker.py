"""One training stage and one evaluation of a tiny model: run as its own process (under `torchrun` for
data-parallel training) or called in-process, by test_parallel_train.py.

Usage: python parallel_worker.py MODEL DATA OUT [--epochs E] [--batch-size B] [--save-every N]
       [--kill-after-step K] [--precision no|bf16] [--no-dropout]
`--kill-after-step K` sends SIGKILL to this process right after the first state save at or past step K:
a kill -9 in the middle of training, at a known point.
"""

from __future__ import annotations

import argparse
import os
import signal
from pathlib import Path

import torch

from intertask import train as train_module
from intertask.stages import build_model, evaluate_zero_shot, load_features, open_data, train_and_save
from intertask.train import TrainConfig

TASK = "xnli"
TRAIN_EXAMPLES, DEV_EXAMPLES = 22, 15  # 22 in batches of 3 or 7 leaves a last batch of 1: an empty shard


def run_stage(model_dir: str, data_dir: str, out: str | Path, epochs: float = 2, batch_size: int = 7,
              save_every: int = 0, precision: str = "no", no_dropout: bool = False) -> None:
    """Train `TASK` on the tiny model (train_and_save writes out/checkpoint, out/history.csv), then
    evaluate it zero-shot in German (out/eval/results.csv)."""
    model, tokenizer = build_model(model_dir, [TASK], freeze_embeddings=True)
    if no_dropout:  # dropout masks come from each process's own random stream: they cannot match
        for module in model.modules():
            if isinstance(module, torch.nn.Dropout):
                module.p = 0.0
    source = open_data(data_dir)
    train_data = load_features(source, [TASK], "train", tokenizer, 64, limit=TRAIN_EXAMPLES)
    dev_data = load_features(source, [TASK], "dev", tokenizer, 64, limit=DEV_EXAMPLES)
    cfg = TrainConfig(epochs=epochs, batch_size=batch_size, learning_rate=1e-3, seed=3, patience=None,
                      eval_batch_size=4, mixed_precision=precision, save_every=save_every)
    train_and_save(model, tokenizer, train_data, dev_data, cfg, out, max_length=64)
    evaluate_zero_shot(Path(out) / "checkpoint", TASK, ["de"], source, DEV_EXAMPLES, 4, 64,
                       {"study": "parallel", "run": "r", "model": model_dir, "intermediate_tasks": "none", "seed": 3},
                       output_dir=Path(out) / "eval")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("model")
    ap.add_argument("data")
    ap.add_argument("out")
    ap.add_argument("--epochs", type=float, default=2)
    ap.add_argument("--batch-size", type=int, default=7)
    ap.add_argument("--save-every", type=int, default=0)
    ap.add_argument("--kill-after-step", type=int, default=None)
    ap.add_argument("--precision", default="no")
    ap.add_argument("--no-dropout", action="store_true")
    args = ap.parse_args()
    torch.set_num_threads(1)
    if args.kill_after_step is not None:
        save = train_module.save_progress

        def save_then_die(acc, state_dir, pos):
            save(acc, state_dir, pos)
            if pos.step >= args.kill_after_step:
                os.kill(os.getpid(), signal.SIGKILL)

        train_module.save_progress = save_then_die
    run_stage(args.model, args.data, args.out, args.epochs, args.batch_size, args.save_every, args.precision,
              args.no_dropout)


if __name__ == "__main__":
    main()
