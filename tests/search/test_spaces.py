from __future__ import annotations

import numpy as np
import pytest

from edgenas.search.arch import ArchConfig
from edgenas.search.spaces import BUILTIN_SPACES, SearchSpaceError, load_space


@pytest.mark.parametrize("name", BUILTIN_SPACES)
def test_encode_decode_round_trip(name):
    space = load_space(name)
    rng = np.random.default_rng(0)
    lo, hi = space.gene_bounds()
    assert len(lo) == len(hi) == space.num_genes == len(space.gene_names)
    for arch in [space.min_arch(), space.max_arch(), *(space.sample(rng) for _ in range(20))]:
        genes = space.encode(arch)
        assert genes.dtype.kind == "i" and np.all(genes >= lo) and np.all(genes <= hi)
        assert space.decode(genes) == arch
        assert space.contains(arch)
    assert np.all(space.encode(space.min_arch()) == lo)
    assert np.all(space.encode(space.max_arch()) == hi)


def test_alphanet_space_matches_reference():
    s = load_space("alphanet")
    assert s.size() == 440_301_256_704
    assert s.num_genes == 31 and s.resolutions == (192, 224, 256, 288)
    assert s.max_depths == (2, 5, 6, 6, 8, 8, 2)
    assert [st.se for st in s.stages] == [False, False, True, False, True, True, True]
    assert s.min_arch() == ArchConfig(192, (16, 16, 24, 32, 64, 112, 192, 216, 1792), (1, 3, 3, 3, 3, 3, 1),
                                      (3,) * 7, (1, 4, 4, 4, 4, 6, 6))


def test_invalid_genes_are_rejected():
    s = load_space("tiny")
    _, hi = s.gene_bounds()
    with pytest.raises(SearchSpaceError, match="out of range"):
        s.decode(hi + 1)
    with pytest.raises(SearchSpaceError, match="out of range"):
        s.decode(np.full(s.num_genes, -1))
    with pytest.raises(SearchSpaceError, match="genes"):
        s.decode(np.zeros(s.num_genes + 1, dtype=int))
    with pytest.raises(SearchSpaceError, match="integers"):
        s.decode(np.full(s.num_genes, 0.5))
    assert s.decode(np.zeros(s.num_genes, dtype=float)) == s.min_arch()


def test_validate_names_the_field():
    s = load_space("tiny")
    a = s.max_arch()
    bad = ArchConfig(a.resolution, a.widths, (a.depths[0], 7, a.depths[2]), a.kernel_sizes, a.expand_ratios)
    with pytest.raises(SearchSpaceError, match=r"depth\.s2 = 7"):
        s.validate(bad)
    assert not s.contains(bad)
    other = load_space("alphanet").min_arch()
    with pytest.raises(SearchSpaceError, match="stages"):
        s.validate(other)


def test_unknown_space_and_yaml_file(tmp_path):
    with pytest.raises(SearchSpaceError, match="unknown search space"):
        load_space("nope")
    p = tmp_path / "s.yaml"
    p.write_text("name: x\nresolutions: [8]\nstem: {widths: [8]}\nhead: {widths: [8]}\n"
                 "stages: [{name: a, widths: [8], depths: [1], kernel_sizes: [4], expand_ratios: [1], stride: 1}]\n")
    with pytest.raises(SearchSpaceError, match="odd"):
        load_space(p)
    p.write_text(p.read_text().replace("[4]", "[3]").replace("name: x", "name: x\nbogus: 1"))
    with pytest.raises(SearchSpaceError, match="unknown keys"):
        load_space(p)
    p.write_text(p.read_text().replace("bogus: 1", ""))
    assert load_space(p).num_genes == 7


def test_sampling_is_seeded():
    s = load_space("cifar")
    a = [s.sample(np.random.default_rng(3)) for _ in range(2)]
    assert a[0] == a[1]
    assert len({s.sample(np.random.default_rng(i)).arch_id for i in range(20)}) > 10
