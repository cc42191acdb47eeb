"""BN recalibration (Slimmable / AttentiveNAS style): reset every BatchNorm's running statistics and
re-estimate them as a cumulative average (momentum None) over forward passes of training batches."""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterable
from typing import Any

import torch
from torch import Tensor, nn
from tqdm import tqdm

from edgenas.runtime.errors import EdgeNasError

log = logging.getLogger(__name__)


class CalibrationError(EdgeNasError):
    """BN recalibration got no data or a model without BatchNorm layers."""


def _images(batch: Any) -> Tensor:
    if isinstance(batch, Tensor):
        return batch
    if isinstance(batch, list | tuple) and batch and isinstance(batch[0], Tensor):
        return batch[0]  # (images, labels) from a DataLoader
    raise CalibrationError(f"calibration batches must be image tensors or (images, labels) pairs, got {type(batch)}")


@torch.no_grad()
def recalibrate_bn(model: nn.Module, batches: Iterable[Any], num_batches: int) -> nn.Module:
    """Re-estimate BN statistics from up to ``num_batches`` batches; returns ``model`` in eval mode.

    Only the BN layers run in training mode (dropout and the like stay off). Each BN keeps its
    original momentum afterwards. Works on a ``StaticNet`` and on an activated ``Supernet``.
    """
    if num_batches < 1:
        raise CalibrationError(f"num_batches must be >= 1, got {num_batches}")
    bns = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    if not bns:
        raise CalibrationError("the model has no BatchNorm layers to recalibrate")
    momenta = [bn.momentum for bn in bns]
    model.eval()
    for bn in bns:
        bn.reset_running_stats()
        bn.momentum = None
        bn.train()
    device = next(model.parameters()).device
    seen = 0
    try:
        bar = tqdm(total=num_batches, desc="BN recalibration", unit="batch", disable=not sys.stderr.isatty())
        for batch in batches:
            if seen >= num_batches:
                break
            model(_images(batch).to(device))
            seen += 1
            bar.update(1)
        bar.close()
    finally:
        for bn, m in zip(bns, momenta, strict=True):
            bn.momentum = m
        model.eval()
    if seen == 0:
        raise CalibrationError("BN recalibration got no batches; the calibration data set is empty")
    if seen < num_batches:
        log.warning("BN recalibration used %d batches, fewer than the %d asked for (the data ran out)", seen, num_batches)
    return model
