from __future__ import annotations

import json

import pytest

from edgenas.search.arch import ArchConfig, ArchError, load_arch

A0 = {"resolution": 192, "width": [16, 16, 24, 32, 64, 112, 192, 216, 1792], "depth": [1, 3, 3, 3, 3, 3, 1],
      "kernel_size": [3] * 7, "expand_ratio": [1, 4, 4, 4, 4, 6, 6]}


def test_alphanet_format_and_our_format_round_trip(tmp_path):
    a = ArchConfig.from_dict({**A0, "model": "a0", "flops": 203, "acc1": 77.9})
    assert a.widths[-1] == 1792 and a.depths == (1, 3, 3, 3, 3, 3, 1)
    assert ArchConfig.from_dict(a.to_dict(space="alphanet")) == a
    assert ArchConfig.from_dict(a.to_alphanet_dict()) == a
    p = tmp_path / "a.json"
    p.write_text(json.dumps(a.to_dict()))
    assert load_arch(p) == a


def test_arch_id_is_stable_and_distinct():
    a = ArchConfig.from_dict(A0)
    b = ArchConfig.from_dict({**A0, "resolution": 224})
    assert a.arch_id == ArchConfig.from_dict(dict(A0)).arch_id
    assert a.arch_id != b.arch_id
    assert len(a.arch_id) == 12 and int(a.arch_id, 16) >= 0


@pytest.mark.parametrize("bad, match", [
    ({"resolution": 192}, "not an architecture"),
    ({**A0, "depth": [1, 2]}, "do not fit together"),
    ({**A0, "resolution": 192.5}, "must be an integer"),
    ({**A0, "width": "16,24"}, "list of integers"),
    ({"resolution": 1, "widths": [1], "depths": [], "kernel_sizes": [], "expand_ratios": [], "foo": 1}, "unknown keys"),
    ({k: v for k, v in A0.items() if k != "kernel_size"}, "missing"),
])
def test_bad_dicts_are_rejected(bad, match):
    with pytest.raises(ArchError, match=match):
        ArchConfig.from_dict(bad)


def test_bad_files(tmp_path):
    with pytest.raises(ArchError, match="does not exist"):
        load_arch(tmp_path / "none.json")
    (tmp_path / "x.json").write_text("{not json")
    with pytest.raises(ArchError, match="not valid JSON"):
        load_arch(tmp_path / "x.json")
    (tmp_path / "y.json").write_text("[1, 2]")
    with pytest.raises(ArchError, match="JSON object"):
        load_arch(tmp_path / "y.json")
