"""Stratified architecture samples: small, medium and large networks all covered; seeded; deduplicated.

A candidate pool is drawn from the space (half uniform ``space.sample``, half with a per-draw size
bias that pushes every gene towards its small or large end, so the tails exist in the pool), then
the sample is taken bin by bin over log-MACs (equal-width bins between the space's smallest and
largest network). Attempts are bounded; a bin that the pool cannot fill is topped up from the
neighbouring bins and reported in the summary.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np

from edgenas.runtime._io import atomic_write_text
from edgenas.search.latency.errors import LatencyError

log = logging.getLogger(__name__)


def _biased_genes(space: Any, rng: np.random.Generator) -> list[int]:
    beta = rng.uniform(-4.0, 4.0)
    genes = []
    for lo, hi in zip(*space.gene_bounds(), strict=True):
        k = np.arange(int(lo), int(hi) + 1)
        w = np.exp(beta * (k - lo) / max(hi - lo, 1))
        genes.append(int(rng.choice(k, p=w / w.sum())))
    return genes


def candidate_pool(space: Any, size: int, rng: np.random.Generator, exclude: set[str]) -> dict[str, Any]:
    """Up to ``size`` distinct architectures not in ``exclude``; at most ``3 * size`` draws."""
    pool: dict[str, Any] = {}
    for arch in (space.min_arch(), space.max_arch()):
        if arch.arch_id not in exclude:
            pool[arch.arch_id] = arch
    for attempt in range(3 * size):
        if len(pool) >= size:
            break
        arch = space.sample(rng) if attempt % 2 == 0 else space.decode(_biased_genes(space, rng))
        if arch.arch_id not in exclude:
            pool.setdefault(arch.arch_id, arch)
    return pool


def stratify(log_macs: np.ndarray, n: int, bins: int, lo: float, hi: float,
             rng: np.random.Generator) -> tuple[list[int], list[int]]:
    """Indices of ``n`` items spread over ``bins`` equal-width bins of ``log_macs``; and the per-bin counts."""
    edges = np.linspace(lo, hi, bins + 1)
    which = np.clip(np.searchsorted(edges, log_macs, side="right") - 1, 0, bins - 1)
    members = [list(rng.permutation(np.flatnonzero(which == b))) for b in range(bins)]
    quota = [n // bins + (1 if b < n % bins else 0) for b in range(bins)]
    chosen: list[list[int]] = [m[:q] for m, q in zip(members, quota, strict=True)]
    short = n - sum(len(c) for c in chosen)
    order = sorted(range(bins), key=lambda b: -len(members[b]) + len(chosen[b]))
    for b in order:  # top up from the bins with the most left over
        if short <= 0:
            break
        extra = members[b][len(chosen[b]):len(chosen[b]) + short]
        chosen[b] += extra
        short -= len(extra)
    flat = [int(i) for c in chosen for i in c]
    return [flat[i] for i in rng.permutation(len(flat))], [len(c) for c in chosen]


def sample_archs(space: Any, n: int, seed: int, *, num_classes: int, bins: int = 5, pool_factor: int = 10,
                 exclude: Iterable[str] = ()) -> tuple[list[Any], dict[str, Any]]:
    from edgenas.search.flops import count_flops_params

    if n < 1:
        raise LatencyError(f"--n must be >= 1, got {n}")
    if n > space.size() - len(set(exclude)):
        raise LatencyError(f"space {space.name!r} holds {space.size()} architectures ({len(set(exclude))} "
                           f"excluded); it cannot give {n} distinct ones: ask for fewer with --n")
    rng = np.random.default_rng(seed)
    pool = candidate_pool(space, max(pool_factor * n, 50), rng, set(exclude))
    if len(pool) < n:
        raise LatencyError(f"the space {space.name!r} gave only {len(pool)} distinct architectures (after "
                           f"exclusions) in {3 * max(pool_factor * n, 50)} draws; ask for fewer (--n {len(pool)})")
    archs = list(pool.values())
    log_macs = np.log([count_flops_params(space, a, num_classes)[0] for a in archs])
    lo = float(np.log(count_flops_params(space, space.min_arch(), num_classes)[0]))
    hi = float(np.log(count_flops_params(space, space.max_arch(), num_classes)[0]))
    idx, counts = stratify(log_macs, n, bins, lo, hi, rng)
    summary = {"space": space.name, "n": n, "seed": seed, "bins": bins, "pool": len(pool), "per_bin": counts,
               "macs_range": [float(np.exp(lo)), float(np.exp(hi))], "excluded": len(set(exclude))}
    log.info("sampled %d architectures, per log-MACs bin %s (pool %d)", n, counts, len(pool))
    return [archs[i] for i in idx], summary


def arch_line(space_name: str, arch: Any) -> str:
    """One archs.jsonl line: ArchConfig.to_dict(space) + arch_id (what `edgenas search export --arch` reads)."""
    return json.dumps({"arch_id": arch.arch_id, **arch.to_dict(space=space_name)}, separators=(",", ":"))


def write_archs_jsonl(path: str | Path, space_name: str, archs: Iterable[Any]) -> Path:
    return atomic_write_text(path, "".join(arch_line(space_name, a) + "\n" for a in archs))


def read_archs_jsonl(path: str | Path) -> list[tuple[str, Any]]:
    """(arch_id, ArchConfig) pairs; the stored arch_id must be the architecture's own."""
    from edgenas.search.arch import ArchConfig

    path = Path(path)
    if not path.is_file():
        raise LatencyError(f"{path} does not exist; make it with `edgenas search latency sample`")
    out, seen = [], set()
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            d = json.loads(line)
        except json.JSONDecodeError as exc:
            raise LatencyError(f"{path}:{n} is not JSON ({exc}); one architecture per line") from exc
        arch = ArchConfig.from_dict(d)
        if d.get("arch_id", arch.arch_id) != arch.arch_id:
            raise LatencyError(f"{path}:{n}: arch_id {d['arch_id']!r} is not this architecture's ({arch.arch_id})")
        if arch.arch_id not in seen:
            seen.add(arch.arch_id)
            out.append((arch.arch_id, arch))
    return out
