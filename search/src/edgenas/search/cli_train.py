"""``edgenas search train``: train a supernet (sandwich rule, alpha-divergence in-place distillation).

Settings come from, in precedence order: these options > EDGENAS_<SETTING> environment variables >
``--config`` YAML > defaults (see TrainConfig). Multi-process: ``torchrun --nproc_per_node N
"$(which edgenas)" search train ...`` (gloo on CPU, nccl on GPU).
"""

from __future__ import annotations

import json
from typing import Any

import click

# option name -> (TrainConfig field, click type, help)
_OPTIONS: list[tuple[str, str, Any, str]] = [
    ("--space", "space", str, "Search space: cifar, tiny, alphanet, or a YAML file."),
    ("--dataset", "dataset", str, "digits, cifar10, cifar100 or imagefolder:PATH."),
    ("--data-root", "data_root", str, "Where CIFAR lives / is downloaded (default ~/.cache/edgenas/data)."),
    ("--out", "out", str, "Output directory (config, logs, last.pt, supernet.pt)."),
    ("--epochs", "epochs", click.IntRange(min=1), "Training epochs."),
    ("--batch-size", "batch_size", click.IntRange(min=1), "Batch size per process."),
    ("--lr", "lr", float, "Peak learning rate for the global batch."),
    ("--weight-decay", "weight_decay", float, "Weight decay on conv/linear weights."),
    ("--warmup-epochs", "warmup_epochs", float, "Linear warm-up length in epochs."),
    ("--distill", "distill", click.Choice(["alpha", "kl"]), "In-place distillation loss."),
    ("--dropout", "dropout", float, "Dropout before the classifier of the max subnet."),
    ("--train-subset", "train_subset", float, "Train on a balanced subset: a count (> 1) or a fraction."),
    ("--calib-batches", "calib_batches", click.IntRange(min=1), "BN recalibration batches for validation."),
    ("--eval-every", "eval_every", click.IntRange(min=0), "Validate every N epochs (0: at the end only)."),
    ("--checkpoint-every", "checkpoint_every", click.IntRange(min=0), "Also write last.pt every N steps."),
    ("--seed", "seed", int, "Seed for initialization, data order and subnet sampling."),
    ("--num-workers", "num_workers", click.IntRange(min=0), "DataLoader worker processes."),
    ("--threads", "threads", click.IntRange(min=1), "torch CPU threads per process."),
    ("--device", "device", str, "auto, cpu, cuda or cuda:N."),
]


def _add_options(func: Any) -> Any:
    for flag, field, kind, text in reversed(_OPTIONS):
        func = click.option(flag, field, type=kind, default=None, help=text)(func)
    return func


@click.command(name="train")
@click.option("--config", "config_path", type=click.Path(dir_okay=False), default=None,
              help="YAML file of settings (keys as in docs/search-training.md).")
@_add_options
@click.option("--resume", is_flag=True, default=None, help="Continue the run in --out from its last.pt.")
@click.option("--augment/--no-augment", default=None, help="Training augmentation (default on).")
@click.option("--progress/--no-progress", default=None, help="Progress bars (shown only on a terminal).")
@click.option("--json", "as_json", is_flag=True, help="Print the final log row as JSON on stdout.")
def train(config_path: str | None, as_json: bool, **options: Any) -> None:
    """Train a supernet with the sandwich rule and in-place distillation; writes supernet.pt."""
    from edgenas.search.train_config import resolve
    from edgenas.search.train_run import run_training

    cfg = resolve(options, config_path)
    summary = run_training(cfg)
    if as_json:
        click.echo(json.dumps(summary))
