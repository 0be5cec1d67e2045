"""Throughput of intertask against a Hugging Face Trainer baseline, in one sitting.

Same model, data and hyperparameters (English XNLI training items, held-out XNLI test items, batch
size, learning rate, epochs, no warm-up, no weight decay, no dev evaluation during training). Each
setup runs in its own process, so its peak memory is its own:

- `hf`: `Trainer` as the example scripts use it (`run_xnli.py` defaults): every input padded to
  `max_length`, all weights trained, fp32;
- `hf-bf16`: the same with `bf16=True` (autocast in training and prediction), the baseline for
  intertask's bf16 setups at the same precision;
- `matched`: intertask with all weights trained, fp32 (only the batching differs from `hf`);
- `matched-auto`: the same with `mixed_precision: auto` (bf16 where the hardware has it);
- `defaults-fp32`: intertask's defaults (frozen embeddings) in fp32;
- `defaults`: intertask's defaults, with `mixed_precision: auto`.

Printed per setup: train and eval examples/s, the fraction of real (non-pad) tokens in the batches,
peak memory (max RSS; on GPU the allocator's peak), accuracy, the ratios to `hf`, and for bf16
setups the ratios to `hf-bf16` (the same precision).

    python benchmarks/throughput.py --train 384 --eval 256 --langs de
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SETUPS = ("hf", "hf-bf16", "matched", "matched-auto", "defaults-fp32", "defaults")


def _data(args: argparse.Namespace) -> tuple[list[dict], dict[str, list[dict]]]:
    from intertask.data import DataSource, resolve_data_dir
    from intertask.registry import get_task

    src = DataSource(resolve_data_dir(None), "local")
    task = get_task("xnli")
    return src.load(task, "train", limit=args.train), {lg: src.load(task, "test", lg, limit=args.eval)
                                                       for lg in args.langs}


def _peak_memory_mb() -> float:
    import torch

    if torch.cuda.is_available():
        return torch.cuda.max_memory_allocated() / 2 ** 20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def run_hf(args: argparse.Namespace, bf16: bool = False) -> dict:
    """The example-script way: AutoModelForSequenceClassification, padding to max_length, Trainer."""
    import numpy as np
    import torch
    from transformers import AutoModelForSequenceClassification, Trainer, TrainingArguments

    from intertask.models import load_tokenizer, resolve_model_path

    train, evals = _data(args)
    tok = load_tokenizer(args.model)

    def encode(examples: list[dict]) -> list[dict]:
        enc = tok([e["text_a"] for e in examples], [e["text_b"] for e in examples], padding="max_length",
                  truncation=True, max_length=args.max_length)
        return [{"input_ids": enc["input_ids"][i], "attention_mask": enc["attention_mask"][i], "labels": e["label"]}
                for i, e in enumerate(examples)]

    train_ds = encode(train)
    model = AutoModelForSequenceClassification.from_pretrained(resolve_model_path(args.model), num_labels=3)
    with tempfile.TemporaryDirectory() as tmp:
        targs = TrainingArguments(output_dir=tmp, per_device_train_batch_size=args.batch_size,
                                  per_device_eval_batch_size=args.eval_batch_size, learning_rate=args.lr,
                                  num_train_epochs=args.epochs, seed=args.seed, report_to="none",
                                  save_strategy="no", logging_strategy="no", disable_tqdm=True,
                                  use_cpu=not torch.cuda.is_available(), bf16=bf16)
        trainer = Trainer(model=model, args=targs, train_dataset=train_ds)
        start = time.perf_counter()
        trainer.train()
        train_s = time.perf_counter() - start
        correct = n = 0
        eval_s = 0.0
        real = padded = 0
        for examples in evals.values():
            ds = encode(examples)
            start = time.perf_counter()
            out = trainer.predict(ds)
            eval_s += time.perf_counter() - start
            correct += int((np.argmax(out.predictions, -1) == out.label_ids).sum())
            n += len(ds)
            real += sum(sum(d["attention_mask"]) for d in ds)
            padded += len(ds) * args.max_length
    train_real = sum(sum(d["attention_mask"]) for d in train_ds) / (len(train_ds) * args.max_length)
    return {"train_ex_s": len(train_ds) * args.epochs / train_s, "eval_ex_s": n / eval_s,
            "train_real": train_real, "eval_real": real / padded, "accuracy": correct / n,
            "peak_mb": _peak_memory_mb(), "precision": "bf16" if bf16 else "fp32", "trained_params": _trained(model)}


def _trained(model) -> int:
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def _real_fraction(batches: list[list[int]], lengths: list[int]) -> float:
    real = sum(lengths[i] for b in batches for i in b)
    return real / sum(max(lengths[i] for i in b) * len(b) for b in batches)


def run_intertask(args: argparse.Namespace, setup: str) -> dict:
    """The product's own calls, as a target stage makes them (no dev evaluation, to match `hf`)."""
    from intertask.formats import EvalConfig, featurize, get_format
    from intertask.features import length_sorted_batches
    from intertask.stages import build_model
    from intertask.precision import autocast, resolve_precision
    from intertask.registry import get_task
    from intertask.train import TrainConfig, schedule, train

    task = get_task("xnli")
    train_ex, evals = _data(args)
    model, tok = build_model(args.model, ["xnli"], freeze_embeddings=not setup.startswith("matched"), seed=args.seed)
    feats = featurize(task, train_ex, tok, args.max_length)
    precision = "no" if setup in ("matched", "defaults-fp32") else "auto"
    cfg = TrainConfig(epochs=args.epochs, learning_rate=args.lr, batch_size=args.batch_size, warmup_ratio=0.0,
                      weight_decay=0.0, patience=None, seed=args.seed, mixed_precision=precision)
    batches = [b for r in schedule({"xnli": feats}, cfg, random.Random(args.seed)) for _, b in r]
    start = time.perf_counter()
    train(model, {"xnli": feats}, {}, cfg, tok, args.max_length)
    train_s = time.perf_counter() - start
    resolved = resolve_precision(precision)
    fmt = get_format(task.format)
    ecfg = EvalConfig(args.eval_batch_size, args.max_length, "cuda" if _cuda() else "cpu")
    correct = n = 0
    eval_s = 0.0
    real = padded = 0
    for examples in evals.values():
        start = time.perf_counter()
        with autocast(resolved, ecfg.device):
            preds = fmt.predict(model, task, examples, tok, ecfg)
        eval_s += time.perf_counter() - start
        correct += sum(int(p == e["label"]) for p, e in zip(preds, examples))
        n += len(examples)
        lengths = [f["length"] for f in featurize(task, examples, tok, args.max_length)]
        eb = length_sorted_batches([{"length": x} for x in lengths], args.eval_batch_size)
        real += sum(lengths)
        padded += sum(max(lengths[i] for i in b) * len(b) for b in eb)
    return {"train_ex_s": len(feats) * args.epochs / train_s, "eval_ex_s": n / eval_s,
            "train_real": _real_fraction(batches, [f["length"] for f in feats]), "eval_real": real / padded,
            "accuracy": correct / n, "peak_mb": _peak_memory_mb(), "precision": "bf16" if resolved == "bf16" else "fp32",
            "trained_params": _trained(model)}


def _cuda() -> bool:
    import torch

    return torch.cuda.is_available()


LABELS = {"hf": "HF Trainer, example-script defaults (pad to max_length, all weights trained)",
          "hf-bf16": "HF Trainer, the same with bf16=True",
          "matched": "intertask, all weights trained, fp32 (matched)",
          "matched-auto": "intertask, all weights trained, mixed_precision auto",
          "defaults-fp32": "intertask defaults (embeddings frozen), fp32",
          "defaults": "intertask defaults (embeddings frozen), mixed_precision auto"}


def table(results: dict[str, dict]) -> str:
    """Markdown: ratios to `hf` in brackets; for bf16 setups also to `hf-bf16`, the same precision."""
    base, base_bf16 = results.get("hf"), results.get("hf-bf16")
    lines = ["| setup | precision | train ex/s | eval ex/s | vs HF bf16 (train / eval) | real tokens train / eval "
             "| peak memory | accuracy |", "|---|---|---|---|---|---|---|---|"]
    for setup, r in results.items():
        ratio = (lambda k: f" ({r[k] / base[k]:.1f}x)") if base and setup != "hf" else (lambda k: "")
        same = (f"{r['train_ex_s'] / base_bf16['train_ex_s']:.1f}x / {r['eval_ex_s'] / base_bf16['eval_ex_s']:.1f}x"
                if base_bf16 and r["precision"] == "bf16" and not setup.startswith("hf") else "")
        lines.append(f"| {LABELS[setup]} | {r['precision']} | {r['train_ex_s']:.2f}{ratio('train_ex_s')} | "
                     f"{r['eval_ex_s']:.1f}{ratio('eval_ex_s')} | {same} | {r['train_real']:.0%} / {r['eval_real']:.0%} | "
                     f"{r['peak_mb'] / 1024:.2f} GiB | {r['accuracy']:.3f} |")
    return "\n".join(lines)


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", default="intertask/multilingual-e5-small-4bit")
    p.add_argument("--train", type=int, default=384, help="English XNLI training items")
    p.add_argument("--eval", type=int, default=256, help="held-out test items per language")
    p.add_argument("--langs", nargs="+", default=["de"], help="evaluation languages")
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--eval-batch-size", type=int, default=32)
    p.add_argument("--lr", type=float, default=2e-5)
    p.add_argument("--epochs", type=float, default=1.0)
    p.add_argument("--max-length", type=int, default=128)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--setups", nargs="+", default=list(SETUPS), choices=SETUPS)
    p.add_argument("--json", help="also write the results here")
    p.add_argument("--one", choices=SETUPS, help=argparse.SUPPRESS)  # internal: run one setup in this process
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    if args.one:
        out = run_hf(args, bf16=args.one == "hf-bf16") if args.one.startswith("hf") else run_intertask(args, args.one)
        print("RESULT " + json.dumps(out))
        return 0
    results = {}
    for setup in args.setups:
        cmd = [sys.executable, __file__, "--one", setup, *(argv if argv is not None else sys.argv[1:])]
        proc = subprocess.run(cmd, capture_output=True, text=True, env=dict(os.environ))
        line = [x for x in proc.stdout.splitlines() if x.startswith("RESULT ")]
        if proc.returncode or not line:
            print(f"{setup} failed:\n{proc.stderr[-3000:]}", file=sys.stderr)
            return 1
        results[setup] = json.loads(line[-1][len("RESULT "):])
        print(f"{setup}: {results[setup]}", file=sys.stderr)
    print(table(results))
    if args.json:
        Path(args.json).write_text(json.dumps({"args": vars(args), "results": results}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
