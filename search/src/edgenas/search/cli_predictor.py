"""``edgenas search predictor``: train the latency predictor, report its quality, query it.
See docs/search-latency.md."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import click
import numpy as np

log = logging.getLogger(__name__)


@click.group()
def predictor() -> None:
    """Latency predictor: train, report, predict."""


@predictor.command()
@click.option("--data", "data_files", multiple=True, required=True, type=click.Path(dir_okay=False),
              help="latency.csv from `edgenas search latency measure`; repeatable.")
@click.option("--space", "space_name", required=True)
@click.option("--target", required=True, help="Target the data was measured on (checked against metadata.json).")
@click.option("--out", type=click.Path(file_okay=False), required=True, help="Predictor directory (new).")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--ensemble", type=click.IntRange(min=1), default=5, show_default=True, help="Ensemble members.")
@click.option("--holdout", type=click.FloatRange(0.0, 0.9), default=0.0, show_default=True,
              help="Fraction held out (seeded); written to OUT/heldout.csv and scored in the metadata.")
@click.option("--encoding", type=click.Choice(["onehot", "normalized"]), default="normalized", show_default=True,
              help="Genes as indices scaled to [0, 1] (one feature per gene), or one-hot.")
@click.option("--macs/--no-macs", "use_macs", default=True, show_default=True, help="log-MACs as a feature.")
@click.option("--params/--no-params", "use_params", default=True, show_default=True, help="log-params feature.")
@click.option("--max-epochs", type=click.IntRange(min=1), default=1500, show_default=True)
@click.option("--latency-column", default="auto", show_default=True,
              help="Which measured figure to learn. auto: latency_ratio (paired with the reference network, "
                   "learned in ms at the median reference speed) when every row has it, else latency_p50_ms.")
@click.option("--residual/--no-residual", default=True, show_default=True,
              help="Learn the departure from a FLOPs-linear fit (log residual) instead of the latency itself.")
@click.option("--overwrite", is_flag=True, help="Replace an existing OUT.")
def train(data_files: tuple[str, ...], space_name: str, target: str, out: str, seed: int, ensemble: int,
          holdout: float, encoding: str, use_macs: bool, use_params: bool, max_epochs: int, latency_column: str,
          residual: bool, overwrite: bool) -> None:
    """Train an MLP ensemble on measured latencies (log p50), with early stopping."""
    from edgenas.search.latency.train import train_command

    summary = train_command(list(data_files), space_name, target, Path(out), seed=seed, ensemble=ensemble,
                            holdout=holdout, encoding=encoding, use_macs=use_macs, use_params=use_params,
                            max_epochs=max_epochs, overwrite=overwrite, latency_column=latency_column,
                            residual=residual)
    click.echo(json.dumps(summary, sort_keys=True))


@predictor.command()
@click.option("--predictor", "predictor_dir", required=True, type=click.Path(file_okay=False, exists=True))
@click.option("--data", "data_files", multiple=True, required=True, type=click.Path(dir_okay=False),
              help="Held-out latency.csv; repeatable.")
@click.option("--lut", "lut_file", type=click.Path(dir_okay=False), default=None,
              help="Per-block lookup table (`edgenas search latency lut`) to score beside the predictor.")
@click.option("--out", type=click.Path(file_okay=False), required=True,
              help="Report directory: report.json, scatter.png, predictions.csv.")
def report(predictor_dir: str, data_files: tuple[str, ...], lut_file: str | None, out: str) -> None:
    """Score the predictor and the baselines side by side on held-out measurements."""
    from edgenas.search.latency.train import report_command

    table, _ = report_command(Path(predictor_dir), list(data_files), lut_file, Path(out))
    click.echo(table)


@predictor.command()
@click.option("--predictor", "predictor_dir", required=True, type=click.Path(file_okay=False, exists=True))
@click.option("--archs", "archs_file", required=True, type=click.Path(dir_okay=False, exists=True),
              help="archs.jsonl (one architecture per line).")
def predict(predictor_dir: str, archs_file: str) -> None:
    """Predicted latency of each architecture: JSON lines {arch_id, predicted_ms, std_ms[, p_multi_context]}."""
    from edgenas.search.latency.predictor import Predictor
    from edgenas.search.latency.sample import read_archs_jsonl

    pred = Predictor.load(predictor_dir)
    space = pred.space()
    archs = read_archs_jsonl(archs_file)
    genes = np.asarray([space.encode(space.validate(a)) for _, a in archs], dtype=np.int64).reshape(len(archs), -1)
    res = pred.predict_genes(genes)
    for i, (aid, _) in enumerate(archs):
        row: dict[str, Any] = {"arch_id": aid, "predicted_ms": round(float(res.ms[i]), 6),
                               "std_ms": round(float(res.std_ms[i]), 6)}
        if res.p_multi is not None:
            row["p_multi_context"] = round(float(res.p_multi[i]), 4)
        click.echo(json.dumps(row))
