"""Loading encoders (hub id, local directory, the offline 4-bit e5 conversion) and one head per task."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
from torch import nn

from .checkpoints import (Origin, apply_small, get_origin, is_small_checkpoint, model_reference, read_base,
                          set_origin, write_small)
from .features import mean_pool
from .footprint import pruned_message
from .formats import get_format
from .leakage import ContentGuard, save_guard
from .offline_model import ensure_offline_model, is_offline_model_id
from .tasks import Task

HEADS_FILE = "heads.safetensors"
HEADS_META = "heads.json"


class ModelNotFoundError(OSError):
    pass


def resolve_model_path(name: str) -> str:
    """A path or hub id that `AutoModel.from_pretrained` accepts; offline ids are converted once."""
    if is_offline_model_id(name):
        return str(ensure_offline_model())
    p = Path(name).expanduser()
    if p.exists():
        if not (p / "config.json").exists():
            raise ModelNotFoundError(f"model directory {p} has no config.json; it is not a Hugging Face model folder")
        return str(p.resolve())
    pruned = pruned_message(p)
    if pruned:
        raise ModelNotFoundError(pruned)
    if name.startswith((".", "/", "~")) or name.count("/") > 1:
        raise ModelNotFoundError(f"model directory {name!r} does not exist")
    return name


def load_tokenizer(name: str) -> Any:
    from transformers import AutoTokenizer

    if is_small_checkpoint(name):  # the tokenizer is the base model's
        return load_tokenizer(read_base(name).model)
    path = resolve_model_path(name)
    try:
        return AutoTokenizer.from_pretrained(path)
    except OSError as e:
        raise ModelNotFoundError(_not_found(name, e)) from e


def _not_found(name: str, e: Exception) -> str:
    return (f"could not load model {name!r}: it is not a local model folder and the Hugging Face hub did not "
            f"provide it ({type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}). Check the name, or, "
            f"without internet, use the offline model `intertask/multilingual-e5-small-4bit`.")


def load_encoder(name: str) -> nn.Module:
    """A model id, a Hugging Face folder, or a small checkpoint (its base model plus what was trained)."""
    if is_small_checkpoint(name):
        ref = read_base(name)
        return apply_small(load_encoder(ref.model), name, ref)
    encoder = _load_pretrained(name)
    if get_origin(encoder) is None:
        set_origin(encoder, Origin(model_reference(name)))
    return encoder


def _load_pretrained(name: str) -> nn.Module:
    from transformers import AutoModel

    path = resolve_model_path(name)
    try:
        try:
            # heads pool the hidden states themselves; a randomly initialised pooler would be dead weight
            return AutoModel.from_pretrained(path, add_pooling_layer=False)
        except TypeError:
            return AutoModel.from_pretrained(path)
    except OSError as e:
        raise ModelNotFoundError(_not_found(name, e)) from e


class EncoderWithHeads(nn.Module):
    """A shared encoder and one small head per task; each task's format decides how it is used."""

    def __init__(self, encoder: nn.Module, tasks: list[Task], pooling: str = "mean", dropout: float = 0.1):
        super().__init__()
        if pooling not in ("mean", "cls"):
            raise ValueError(f"pooling must be 'mean' or 'cls', got {pooling!r}")
        self.encoder = encoder
        self.pooling = pooling
        hidden = encoder.config.hidden_size
        self.tasks = {t.name: t for t in tasks}
        self.formats = {t.name: t.format for t in tasks}
        heads = {t.name: get_format(t.format).make_head(t, hidden, dropout) for t in tasks}
        self.heads = nn.ModuleDict({k: v for k, v in heads.items() if v is not None})

    def hidden(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        """Last-layer hidden states [batch, length, hidden]."""
        return self.encoder(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state

    def all_hidden(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """Embeddings and every layer's hidden states from one forward pass."""
        return self.encoder(input_ids=input_ids, attention_mask=attention_mask, output_hidden_states=True).hidden_states

    def pooled(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        hidden = self.hidden(input_ids, attention_mask)
        return hidden[:, 0] if self.pooling == "cls" else mean_pool(hidden, attention_mask)

    def forward(self, task: str, batch: dict[str, torch.Tensor]) -> object:
        return get_format(self.formats[task]).forward(self, self.tasks[task], batch)


def encoder_layers(encoder: nn.Module) -> nn.ModuleList:
    for path in ("encoder.layer", "encoder.layers", "layers", "transformer.layer"):
        obj: Any = encoder
        try:
            for part in path.split("."):
                obj = getattr(obj, part)
        except AttributeError:
            continue
        return obj
    raise ValueError(f"cannot find the transformer layers of {type(encoder).__name__} to freeze")


def freeze(encoder: nn.Module, embeddings: bool, layers: int) -> int:
    """Freeze the embeddings and the lowest `layers` layers; returns the number of trainable params.

    Frozen embeddings are most of a small multilingual model (96M of 118M in e5-small): freezing
    them saves a third of a step and keeps the shared vocabulary aligned across languages.
    """
    if embeddings:
        for p in encoder.get_input_embeddings().parameters():
            p.requires_grad_(False)
        emb = getattr(encoder, "embeddings", None)
        if emb is not None:
            for p in emb.parameters():
                p.requires_grad_(False)
    if layers:
        stack = encoder_layers(encoder)
        if layers > len(stack):
            raise ValueError(f"freeze_layers={layers} but the model has only {len(stack)} layers")
        for layer in stack[:layers]:
            for p in layer.parameters():
                p.requires_grad_(False)
    return sum(p.numel() for p in encoder.parameters() if p.requires_grad)


def save_checkpoint(model: EncoderWithHeads, tokenizer: Any, directory: Path, extra: dict | None = None,
                    full: bool = False, content: ContentGuard | None = None) -> Path:
    """Write the trained encoder tensors (a small checkpoint) plus the heads; atomic via rename.

    `full=True`, or an encoder that does not know its base model, writes a standard HF folder instead.
    `content`: the fingerprints of every input the model was trained or selected on, in all its stages
    (`leakage.ContentGuard`); none given means it has seen none of our data (a fresh head on a pretrained
    encoder).
    """
    from safetensors.torch import save_file

    directory = Path(directory)
    tmp = directory.with_name(directory.name + ".tmp")
    if tmp.exists():
        import shutil

        shutil.rmtree(tmp)
    tmp.mkdir(parents=True)
    if full or get_origin(model.encoder) is None:
        model.encoder.save_pretrained(tmp, safe_serialization=True)
        tokenizer.save_pretrained(tmp)
    else:
        write_small(model.encoder, tmp)
    heads = {k: v.detach().cpu().contiguous() for k, v in model.heads.state_dict().items()}
    save_file(heads, str(tmp / HEADS_FILE))
    meta = {"formats": model.formats, "pooling": model.pooling, **(extra or {})}
    (tmp / HEADS_META).write_text(json.dumps(meta, indent=2))
    save_guard(content or ContentGuard(), tmp)
    if directory.exists():
        import shutil

        shutil.rmtree(directory)
    tmp.rename(directory)
    return directory


def load_checkpoint(directory: str | Path, tasks: list[Task], pooling: str = "mean") -> tuple[EncoderWithHeads, Any]:
    """Load a checkpoint written by `save_checkpoint` with the heads of `tasks`.

    Tasks without a head (retrieval) need only an encoder, so `directory` may then also be a model id.
    """
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    path = Path(directory)
    pruned = pruned_message(path)
    if pruned:
        raise ModelNotFoundError(pruned)
    meta = json.loads((path / HEADS_META).read_text()) if (path / HEADS_META).exists() else None
    need = [t.name for t in tasks if get_format(t.format).trainable]
    if need and meta is None:
        raise ModelNotFoundError(f"{directory} is not an intertask checkpoint (no {HEADS_META}); its stage is not "
                                 f"finished or its checkpoint was removed: `intertask status` names it and "
                                 f"`intertask run` redoes it")
    # checkpoints written before the rename to "formats" name their heads under "families"
    have = (meta or {}).get("formats", (meta or {}).get("families", {}))
    missing = [n for n in need if n not in have]
    if missing:
        raise ValueError(f"checkpoint {directory} has no head for {missing}; it has {list(have)}")
    try:
        model = EncoderWithHeads(load_encoder(str(directory)), tasks, pooling=meta["pooling"] if meta else pooling)
        if need:
            state = load_file(str(path / HEADS_FILE))
            model.heads.load_state_dict({k: v for k, v in state.items() if k.split(".")[0] in model.heads}, strict=True)
    except (SafetensorError, OSError) as e:
        if meta is None:
            raise
        # a truncated or altered checkpoint: name it and the fix, not the raw deserializer error
        raise ModelNotFoundError(f"{path}: checkpoint files are unreadable ({type(e).__name__}: {e}); the stage "
                                 f"that wrote it is invalid: `intertask status` names it and `intertask run` "
                                 f"redoes it") from e
    return model, load_tokenizer(str(directory))


def checkpoint_meta(directory: str | Path) -> dict:
    """The checkpoint's record (tasks, train/dev ids, ...); empty for a plain model."""
    path = Path(directory) / HEADS_META
    return json.loads(path.read_text()) if path.exists() else {}
