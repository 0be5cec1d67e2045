"""The training optimizer: AdamW, fused where the device has the kernel, with the multi-tensor update's results."""

from __future__ import annotations

import torch

from intertask.train import adamw


def _model(seed: int) -> torch.nn.Module:
    torch.manual_seed(seed)
    return torch.nn.Sequential(torch.nn.Embedding(500, 16), torch.nn.Linear(16, 3))


def _groups(model: torch.nn.Module) -> list[dict]:
    decay = [p for p in model.parameters() if p.ndim > 1]
    no_decay = [p for p in model.parameters() if p.ndim <= 1]
    return [{"params": decay, "weight_decay": 0.01}, {"params": no_decay, "weight_decay": 0.0}]


def _train(model: torch.nn.Module, optimizer: torch.optim.Optimizer, steps: int = 20) -> None:
    gen = torch.Generator().manual_seed(3)
    for _ in range(steps):
        ids = torch.randint(0, 500, (8, 5), generator=gen)  # most embedding rows get no gradient in a step
        labels = torch.randint(0, 3, (8,), generator=gen)
        loss = torch.nn.functional.cross_entropy(model(ids).mean(1), labels)
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()


def test_cpu_training_gets_the_fused_adamw_and_it_updates_as_the_multi_tensor_one():
    fused_model, reference_model = _model(1), _model(1)
    start = [p.detach().clone() for p in fused_model.parameters()]
    fused = adamw(_groups(fused_model), 1e-2, "cpu")
    reference = torch.optim.AdamW(_groups(reference_model), lr=1e-2, foreach=True)
    assert fused.defaults["fused"] is True
    _train(fused_model, fused)
    _train(reference_model, reference)
    for got, want, before in zip(fused_model.parameters(), reference_model.parameters(), start):
        assert (got - before).abs().max() > 1e-3  # it trained
        torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-6)


def test_a_device_without_the_fused_kernel_gets_the_default_adamw():
    optimizer = adamw(_groups(_model(1)), 1e-2, "mps")  # only built here, never stepped
    assert not optimizer.defaults["fused"]
