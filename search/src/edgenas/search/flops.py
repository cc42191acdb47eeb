"""Analytic multiply-accumulates (MACs, what AlphaNet calls "MFLOPs") and parameter counts.

MACs count convolutions and linears only (as upstream); parameters count every trainable tensor of
the extracted static network (conv and linear weights, biases, BN affine), without AlphaNet's dead
identity-shortcut convs.
"""

from __future__ import annotations

from edgenas.search.arch import ArchConfig
from edgenas.search.spaces import SearchSpace
from edgenas.search.static import BlockPlan, NetPlan, build_plan


def _block(b: BlockPlan) -> tuple[int, int]:
    macs = params = 0
    if b.expand:
        macs += b.size_in ** 2 * b.hidden * b.c_in
        params += b.hidden * b.c_in + 2 * b.hidden
    macs += b.size_out ** 2 * b.hidden * b.kernel ** 2
    params += b.hidden * b.kernel ** 2 + 2 * b.hidden
    if b.se_mid:
        macs += 2 * b.hidden * b.se_mid
        params += 2 * b.hidden * b.se_mid + b.hidden + b.se_mid
    macs += b.size_out ** 2 * b.c_out * b.hidden
    params += b.c_out * b.hidden + 2 * b.c_out
    if b.shortcut_conv:
        macs += b.size_out ** 2 * b.c_out * b.c_in
        params += b.c_out * b.c_in
    return macs, params


def count_plan(plan: NetPlan) -> tuple[int, int]:
    k2 = plan.stem_kernel ** 2
    macs = plan.stem_size ** 2 * plan.stem_c * 3 * k2
    params = plan.stem_c * 3 * k2 + 2 * plan.stem_c
    for b in plan.blocks:
        m, p = _block(b)
        macs, params = macs + m, params + p
    macs += plan.last_size ** 2 * plan.final_c * plan.last_c + plan.final_c * plan.head_c
    params += plan.final_c * plan.last_c + 2 * plan.final_c + plan.final_c * plan.head_c
    macs += plan.head_c * plan.num_classes
    params += plan.head_c * plan.num_classes + plan.num_classes
    return macs, params


def count_flops_params(space: SearchSpace, arch: ArchConfig, num_classes: int | None = None) -> tuple[int, int]:
    """(MACs, params) of ``arch`` at its own resolution, batch 1."""
    return count_plan(build_plan(space, arch, num_classes or space.num_classes))
