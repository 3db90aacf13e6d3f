"""What the host probe records about CUDA: the driver's version and TensorRT's CUDA, not the
CUDA release the Python bindings were built for."""

from __future__ import annotations

import sys
from importlib import metadata

import pytest

from xnet_edge import platform as host


def test_machine_info_records_the_driver_not_the_bindings_cuda(fakes, monkeypatch):
    modules = {}
    fakes.install(modules, fakes.FakeGPU(), runtime_version=13000)  # cuda-python 13 on a CUDA 12.6 driver
    for name, module in modules.items():
        monkeypatch.setitem(sys.modules, name, module)
    info = host.machine_info()
    assert (info["gpu_name"], info["compute_capability"], info["cuda_driver"]) == ("Fake Orin", "8.7", "12.6")
    assert "13.0" not in {info["cuda"], info["cuda_driver"], info["tensorrt_cuda"]}
    assert "cudaDriverGetVersion" in modules["cuda.bindings.runtime"].calls


def _installed(monkeypatch, dists: dict):
    def version(dist):
        if dist in dists:
            return dists[dist]
        raise metadata.PackageNotFoundError(dist)

    monkeypatch.setattr(metadata, "version", version)
    monkeypatch.setattr(metadata, "requires", lambda dist: [] if dist in dists else version(dist))


@pytest.mark.parametrize("dists, jetpack, expected", [
    ({"tensorrt-cu12": "10.13.0"}, None, "12"),
    ({"tensorrt-cu13": "11.4.0"}, None, "13"),
    ({}, "6.1/6.2 (L4T R36.4.3)", "12.6"),
    ({}, "6.0 (L4T R36.3.0)", "12.2"),
    ({}, "5.1.2 (L4T R35.4.1)", "11.4"),
    ({}, None, None),
])
def test_tensorrt_cuda_from_pip_packages_or_the_jetpack_release(monkeypatch, dists, jetpack, expected):
    _installed(monkeypatch, dists)
    monkeypatch.setattr(host, "jetpack_release", lambda: jetpack)
    assert host.tensorrt_cuda() == expected


def test_the_tensorrt_metapackage_names_its_cuda_in_its_requirements(monkeypatch):
    _installed(monkeypatch, {"tensorrt": "10.3.0"})
    monkeypatch.setattr(metadata, "requires", lambda dist: ["tensorrt-cu12==10.3.0"])
    monkeypatch.setattr(host, "jetpack_release", lambda: None)
    assert host.tensorrt_cuda() == "12"
