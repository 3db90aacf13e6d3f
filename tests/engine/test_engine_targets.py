"""Target profiles: the table's contents, lookups, and the `xnet-edge targets` command."""

import json

import pytest

from xnet_edge.cli import main
from xnet_edge.errors import UsageError
from xnet_edge.targets import get_target, list_targets, target_for_compute_capability, trt_generation


def test_table_holds_the_issue_devices_with_their_facts():
    by_name = {t.name: t for t in list_targets()}
    assert set(by_name) >= {"cpu", "jetson-orin-nano", "jetson-orin-nx", "jetson-agx-orin", "jetson-xavier-nx",
                            "jetson-agx-xavier", "gpu-sm75", "gpu-sm86", "gpu-sm89", "gpu-sm90", "gpu-sm100"}
    for name in ("jetson-orin-nano", "jetson-orin-nx", "jetson-agx-orin"):  # JetPack 6
        t = by_name[name]
        assert (t.tensorrt, t.trt_generations, t.compute_capability, t.jetpack) == ("10.3", (10, 8), "8.7", "6")
        assert t.tensorrt_releases == ("10.3", "8.6")  # JetPack 6.1/6.2 and 6.0
    for name in ("jetson-xavier-nx", "jetson-agx-xavier"):  # JetPack 5
        t = by_name[name]
        assert (t.tensorrt, t.trt_generations, t.compute_capability, t.jetpack, t.dla_cores) == (
            "8.5", (8,), "7.2", "5", 2)
    assert by_name["jetson-orin-nano"].dla_cores == 0
    assert by_name["jetson-orin-nx"].dla_cores == by_name["jetson-agx-orin"].dla_cores == 2
    for cc in ("7.5", "8.6", "8.9", "9.0", "10.0"):
        t = target_for_compute_capability(cc)
        assert t.name == f"gpu-sm{cc.replace('.', '')}" and t.trt_generations == (10, 11)
    assert target_for_compute_capability("8.7") is None  # Orin is a Jetson target, not a desktop one
    cpu = by_name["cpu"]
    assert not cpu.is_gpu and cpu.trt_generations == () and "fp16" not in cpu.precisions
    for t in list_targets():
        h, w = t.input_size
        assert h % 32 == 0 and w % 32 == 0 and t.memory_mb > 0 and t.max_batch >= 1
        assert t.default_precision in t.precisions
        assert (t.workspace_mb > 0) == t.is_gpu


def test_lookup_errors_and_versions():
    with pytest.raises(UsageError, match="unknown target 'jetson-nano'.*jetson-orin-nano"):
        get_target("jetson-nano")
    assert [trt_generation(v) for v in ("8.5.2.2", "8.6.1", "9.3.0", "10.3.0.30", "10.13", "11.0.0", "12.1")] == [
        8, 8, 10, 10, 10, 11, 11]
    for bad in ("7.1.3", "abc"):
        with pytest.raises(UsageError):
            trt_generation(bad)


def test_targets_command_table_and_json(capsys):
    assert main(["targets"]) == 0
    table = capsys.readouterr().out.splitlines()
    assert table[0].split()[:3] == ["name", "kind", "precisions"]
    assert len(table) == 2 + len(list_targets())
    assert main(["targets", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert [d["name"] for d in data] == [t.name for t in list_targets()]
    orin_nx = next(d for d in data if d["name"] == "jetson-orin-nx")
    assert orin_nx == get_target("jetson-orin-nx").to_dict() and orin_nx["input_size"] == [320, 416]
