"""``xnet-edge bench`` refuses unwritable report paths before measuring anything."""

import pytest


def test_a_read_only_report_folder_fails_before_measuring(mount_tmpfs, tmp_path, cli_error, monkeypatch):
    import xnet_edge.bench as bench

    disk = mount_tmpfs("ro", read_only=True)
    monkeypatch.setattr(bench, "run_benchmark", lambda *a, **k: pytest.fail("measuring started"))
    for flag, name in (("--json", "b.json"), ("--plot", "b.png")):
        code, err = cli_error("bench", tmp_path / "any.onnx", flag, disk / name)
        assert code == 1 and str(disk / name) in err and "Read-only file system" in err


def test_demo_onto_a_read_only_disk_fails_before_the_export(mount_tmpfs, cli_error, monkeypatch):
    import xnet_edge.demo as demo

    disk = mount_tmpfs("ro", read_only=True)
    monkeypatch.setattr(demo, "run_demo", lambda *a, **k: pytest.fail("the demo started"))
    code, err = cli_error("demo", "-o", disk / "demo")
    assert code == 1 and str(disk / "demo") in err and "Read-only file system" in err
