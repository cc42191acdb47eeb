"""The MLP and its training loop (early stopping on a validation split). Torch only here."""

from __future__ import annotations

import copy
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn


@dataclass(frozen=True)
class TrainSettings:
    hidden: int = 128
    layers: int = 2
    lr: float = 2e-3
    weight_decay: float = 1e-4
    batch_size: int = 32
    max_epochs: int = 1500
    patience: int = 150
    val_fraction: float = 0.15


def make_mlp(n_in: int, hidden: int, layers: int) -> nn.Sequential:
    mods: list[nn.Module] = []
    width = n_in
    for _ in range(layers):
        mods += [nn.Linear(width, hidden), nn.ReLU()]
        width = hidden
    mods.append(nn.Linear(width, 1))
    return nn.Sequential(*mods)


def fit_member(x: np.ndarray, y: np.ndarray, *, seed: int, settings: TrainSettings,
               classify: bool = False) -> tuple[nn.Sequential, dict[str, float]]:
    """Train one network on (x, y) with its own random validation split; returns the best-val model.

    ``classify``: y is 0/1 and the loss is binary cross-entropy on logits; otherwise MSE.
    """
    gen = torch.Generator().manual_seed(seed)
    rng = np.random.default_rng(seed)
    n = len(x)
    perm = rng.permutation(n)
    n_val = max(1, int(round(settings.val_fraction * n)))
    val, tr = perm[:n_val], perm[n_val:]
    xt, yt = torch.from_numpy(x[tr]), torch.from_numpy(y[tr].astype(np.float32))[:, None]
    xv, yv = torch.from_numpy(x[val]), torch.from_numpy(y[val].astype(np.float32))[:, None]
    torch.manual_seed(seed)
    model = make_mlp(x.shape[1], settings.hidden, settings.layers)
    opt = torch.optim.AdamW(model.parameters(), lr=settings.lr, weight_decay=settings.weight_decay)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, settings.max_epochs)
    loss_fn: nn.Module = nn.BCEWithLogitsLoss() if classify else nn.MSELoss()
    best, best_state, best_epoch, epoch = float("inf"), copy.deepcopy(model.state_dict()), 0, 0
    for epoch in range(settings.max_epochs):
        model.train()
        order = torch.randperm(len(xt), generator=gen)
        for i in range(0, len(xt), settings.batch_size):
            idx = order[i:i + settings.batch_size]
            opt.zero_grad()
            loss_fn(model(xt[idx]), yt[idx]).backward()
            opt.step()
        sched.step()
        model.eval()
        with torch.no_grad():
            v = float(loss_fn(model(xv), yv))
        if v < best - 1e-7:
            best, best_state, best_epoch = v, copy.deepcopy(model.state_dict()), epoch
        elif epoch - best_epoch >= settings.patience:
            break
    model.load_state_dict(best_state)
    model.eval()
    return model, {"val_loss": best, "best_epoch": best_epoch, "epochs": epoch + 1}


def run_members(models: list[nn.Sequential], x: np.ndarray) -> np.ndarray:
    """(n_members, n) raw outputs, batched, without gradients."""
    xt = torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32))
    with torch.inference_mode():
        return np.stack([m(xt)[:, 0].numpy() for m in models]).astype(np.float64)
