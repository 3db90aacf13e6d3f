"""Host probing on captured text (/proc/cpuinfo, nvidia-smi, nvpmodel, L4T release, device tree)."""

import pytest

from xnet_edge import platform
from xnet_edge.engine.manifest import BUILD_MACHINE_KEYS

CPUINFO = """\
processor\t: 0
model name\t: Intel(R) Core(TM) i7-8700 CPU @ 3.20GHz
physical id\t: 0
core id\t\t: 0

processor\t: 1
model name\t: Intel(R) Core(TM) i7-8700 CPU @ 3.20GHz
physical id\t: 0
core id\t\t: 0

processor\t: 2
model name\t: Intel(R) Core(TM) i7-8700 CPU @ 3.20GHz
physical id\t: 0
core id\t\t: 1
"""

# Jetson (aarch64) cpuinfo has no "model name"; the model comes from the device tree.
CPUINFO_ARM = "processor\t: 0\nBogoMIPS\t: 62.50\nCPU implementer\t: 0x41\n"


def test_cpuinfo():
    assert platform.parse_cpuinfo(CPUINFO) == {"model": "Intel(R) Core(TM) i7-8700 CPU @ 3.20GHz",
                                               "physical_cores": 2}
    assert platform.parse_cpuinfo(CPUINFO_ARM) == {"model": None, "physical_cores": None}


def test_nvpmodel_output():
    assert platform.parse_nvpmodel("NV Power Mode: MAXN\n0\n") == {"mode": "MAXN", "id": 0}
    assert platform.parse_nvpmodel("NV Fan Mode:quiet\nNV Power Mode: 15W\n2\n") == {"mode": "15W", "id": 2}
    assert platform.parse_nvpmodel("nvpmodel: command not permitted\n") == {"mode": None, "id": None}


def test_nvidia_smi_query():
    gpu = platform.parse_nvidia_smi("NVIDIA GeForce RTX 3090, 550.54.15, 24576, 210, 2100\n")
    assert gpu == {"name": "NVIDIA GeForce RTX 3090", "driver": "550.54.15", "memory_mb": 24576.0,
                   "sm_clock_mhz": 210.0, "sm_clock_max_mhz": 2100.0, "count": 1}
    two = "NVIDIA A100, 535.1, [N/A], 1410, 1410\nNVIDIA A100, 535.1, 1, 1, 1\n"
    assert platform.parse_nvidia_smi(two)["count"] == 2
    assert platform.parse_nvidia_smi("") is None


@pytest.mark.parametrize("text, expected", [
    ("# R36 (release), REVISION: 4.3, GCID: 38968081, BOARD: generic, EABI: aarch64, DATE: Wed Jan 8",
     "6.1/6.2 (L4T R36.4.3)"),
    ("# R35 (release), REVISION: 4.1, GCID: 33958178, BOARD: t186ref, EABI: aarch64", "5.1.2 (L4T R35.4.1)"),
    ("# R38 (release), REVISION: 9, GCID: 1", "L4T R38.9.0"),
    ("garbage", None),
])
def test_nv_tegra_release_parsing(tmp_path, text, expected):
    assert platform.parse_nv_tegra_release(text) == expected
    path = tmp_path / "nv_tegra_release"
    path.write_text(text)
    assert platform.jetpack_release(path) == expected
    assert platform.jetpack_release(tmp_path / "absent") is None


def test_machine_info_has_contract_keys_without_gpu():
    info = platform.machine_info(probe_gpu=False)
    assert set(info) == set(BUILD_MACHINE_KEYS)
    assert info["gpu_name"] is None and info["compute_capability"] is None
    assert info["python"].count(".") == 2


@pytest.mark.parametrize("model, cc", [
    (b"NVIDIA Jetson Orin Nano Developer Kit\x00", "8.7"),
    (b"NVIDIA Jetson AGX Xavier [16GB]\x00", "7.2"),
    (b"Raspberry Pi 5 Model B\x00", None),
])
def test_jetson_gpu_from_device_tree(tmp_path, model, cc):
    path = tmp_path / "model"
    path.write_bytes(model)
    info = platform.jetson_gpu(path)
    if cc is None:
        assert info is None
    else:
        assert info == {"name": model.decode().strip("\x00"), "compute_capability": cc}
    assert platform.jetson_gpu(tmp_path / "absent") is None


def test_gpu_device_takes_the_first_probe_that_names_a_gpu(monkeypatch):
    def broken():
        raise RuntimeError("driver too old")

    found = {"name": "Orin", "compute_capability": "8.7"}
    monkeypatch.setattr(platform, "_GPU_PROBES", (broken, lambda: None, lambda: {"name": ""}, lambda: found,
                                                  lambda: {"name": "never asked"}))
    assert platform.gpu_device() == found
    monkeypatch.setattr(platform, "_GPU_PROBES", (broken, lambda: None))
    assert platform.gpu_device() == {}
