"""``edgenas search``: subcommands load lazily, each from its own module."""

from __future__ import annotations

import click

from edgenas.runtime.cli import LazyGroup

_D = "edgenas-search"
SEARCH_COMMANDS: dict[str, tuple[str, str, str]] = {
    "export": ("edgenas.search.cli_export:export", _D, "Export one architecture as a bundle (ONNX + manifest)."),
    "train": ("edgenas.search.cli_train:train", _D, "Train a supernet (sandwich rule, alpha-divergence KD)."),
    "latency": ("edgenas.search.cli_latency:latency", _D, "Sample architectures and measure their latency."),
    "predictor": ("edgenas.search.cli_predictor:predictor", _D, "Train, report and query the latency predictor."),
}


@click.group(cls=LazyGroup, commands_table=SEARCH_COMMANDS)
def search() -> None:
    """Supernet, latency predictor and evolutionary search."""
