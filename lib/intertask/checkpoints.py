"""Small checkpoints: the tensors a stage trained, plus the heads; the frozen rest is a reference.

With frozen embeddings a stage trains 22M of e5-small's 118M parameters; writing the other 96M again
for every stage made each checkpoint 465 MB. A small checkpoint stores only the encoder tensors that
any stage of its chain trained (`encoder.safetensors`) and, in `base.json`, the base model it takes
everything else from, with a hash of those tensors: loading refuses a base that changed since.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Mapping

import torch
from torch import nn

BASE_FILE = "base.json"
ENCODER_FILE = "encoder.safetensors"
ORIGIN_ATTR = "intertask_origin"


class BaseModelChangedError(ValueError):
    """The base model a small checkpoint refers to is not the one it was trained from."""


@dataclass(frozen=True)
class Origin:
    """Where an encoder's weights come from: the base model, and the tensors trained since."""

    model: str
    stored: frozenset[str] = field(default_factory=frozenset)


@dataclass(frozen=True)
class BaseRef:
    """What `base.json` holds: the base model, the hash of the tensors taken from it, what is stored."""

    model: str
    sha256: str
    stored: tuple[str, ...]

    def to_json(self) -> str:
        return json.dumps({"model": self.model, "sha256": self.sha256, "stored": list(self.stored)}, indent=2)


def set_origin(encoder: nn.Module, origin: Origin) -> None:
    setattr(encoder, ORIGIN_ATTR, origin)


def get_origin(encoder: nn.Module) -> Origin | None:
    return getattr(encoder, ORIGIN_ATTR, None)


def model_reference(name: str) -> str:
    """How a checkpoint names its base: an absolute folder (stages run in their own folder) or the id."""
    p = Path(name).expanduser()
    return str(p.resolve()) if p.exists() else name


def tensor_digest(state: Mapping[str, torch.Tensor], names: Iterable[str]) -> str:
    """SHA-256 over the names, dtypes, shapes and bytes of `names` (sorted): the content, not the file."""
    h = hashlib.sha256()
    for name in sorted(names):
        t = state[name].detach().cpu().contiguous()
        h.update(f"{name}|{t.dtype}|{tuple(t.shape)}\n".encode())
        h.update(t.reshape(-1).view(torch.uint8).numpy())  # hashed in place, no copy
    return h.hexdigest()


def stored_names(encoder: nn.Module) -> set[str]:
    """The encoder tensors a checkpoint must hold: trained now, or trained by an earlier stage."""
    origin = get_origin(encoder)
    trained = {n for n, p in encoder.named_parameters() if p.requires_grad}
    return trained | set(origin.stored if origin else ())


def is_small_checkpoint(directory: str | Path) -> bool:
    return (Path(directory) / BASE_FILE).is_file()


def read_base(directory: str | Path) -> BaseRef:
    path = Path(directory) / BASE_FILE
    try:
        raw = json.loads(path.read_text())
        return BaseRef(str(raw["model"]), str(raw["sha256"]), tuple(raw["stored"]))
    except (json.JSONDecodeError, KeyError, TypeError) as e:
        raise ValueError(f"{path}: not a valid base reference ({type(e).__name__}: {e}); the stage that wrote "
                         f"it did not finish: delete its stage folder and run the study again") from None


def write_small(encoder: nn.Module, directory: Path) -> BaseRef:
    """Write the stored tensors and `base.json` into `directory`; the encoder must know its origin."""
    from safetensors.torch import save_file

    origin = get_origin(encoder)
    if origin is None:
        raise ValueError("the encoder does not record the base model it was loaded from; load it with "
                         "intertask.models.load_encoder, or save a full checkpoint")
    state = encoder.state_dict()
    keep = sorted(stored_names(encoder) & set(state))
    ref = BaseRef(origin.model, tensor_digest(state, [n for n in state if n not in keep]), tuple(keep))
    save_file({n: state[n].detach().cpu().contiguous() for n in keep}, str(directory / ENCODER_FILE))
    (directory / BASE_FILE).write_text(ref.to_json())
    return ref


def apply_small(base_encoder: nn.Module, directory: str | Path, ref: BaseRef) -> nn.Module:
    """Check the base's hash, then load the stored tensors over it (in place); returns the encoder."""
    from safetensors.torch import load_file

    state = base_encoder.state_dict()
    unknown = [n for n in ref.stored if n not in state]
    taken = [n for n in state if n not in set(ref.stored)]
    got = tensor_digest(state, taken) if not unknown else "(different architecture)"
    if unknown or got != ref.sha256:
        raise BaseModelChangedError(
            f"{directory}: this checkpoint stores only the weights its training changed and takes the other "
            f"{len(taken)} tensors from the base model {ref.model!r}, but that model is not the one it was trained "
            f"from (tensor hash {got[:12]}, expected {ref.sha256[:12]}"
            f"{'; unknown tensors ' + str(unknown[:3]) if unknown else ''}). Restore the original base model "
            f"(the offline one: `intertask prepare-model`), or re-run the stage that wrote this checkpoint "
            f"(delete its stage folder and run the study again).")
    delta = load_file(str(Path(directory) / ENCODER_FILE))
    missing, unexpected = base_encoder.load_state_dict(delta, strict=False)
    if unexpected or set(delta) != set(ref.stored):
        raise ValueError(f"{directory}: {ENCODER_FILE} does not match {BASE_FILE} (unexpected {unexpected[:3]}, "
                         f"listed {len(ref.stored)}, stored {len(delta)}); delete the stage folder and re-run it")
    set_origin(base_encoder, Origin(ref.model, frozenset(ref.stored)))
    # anything keyed on "which weights" (retrieval's vector cache) must see the checkpoint, not the base
    base_encoder.config._name_or_path = str(Path(directory).resolve())
    return base_encoder

