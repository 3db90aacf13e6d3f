"""Where the CUDA Python bindings live, in one place.

cuda-python moved its runtime module: ``cuda.bindings.runtime`` from 12.6 on,
``cuda.cudart`` before (12.6-12.9 keep ``cuda.cudart`` as a deprecated alias, 13.x
drops it). Older releases do not expose ``cudart`` as an attribute of the ``cuda``
package until the submodule is imported, so it is always imported by its full name.

cuda-python 13.x needs a CUDA 13 driver (>= 580): on an older driver (JetPack 6 ships
CUDA 12.6) every call returns ``cudaErrorInsufficientDriver``.
:func:`describe_driver_mismatch` turns that into one line saying what to install.

Nothing here imports a binding at module level.
"""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import Optional

from .errors import MissingDependencyError

CUDART_MODULES = ("cuda.bindings.runtime", "cuda.cudart")
#: cudaError_t values this module tells apart
CUDA_SUCCESS = 0
CUDA_ERROR_INSUFFICIENT_DRIVER = 35
CUDA_ERROR_NO_DEVICE = 100


def import_cudart() -> Optional[ModuleType]:
    """cuda-python's runtime module, whichever layout the installed release has.

    Returns:
        ``cuda.bindings.runtime`` or ``cuda.cudart``; None when neither imports.
    """
    for name in CUDART_MODULES:
        try:
            return importlib.import_module(name)
        except ImportError:
            continue
    return None


def require_cudart() -> ModuleType:
    """:func:`import_cudart`, raising when cuda-python is missing.

    Raises:
        MissingDependencyError: cuda-python is not installed.
    """
    cudart = import_cudart()
    if cudart is None:
        raise MissingDependencyError("cuda-python", "trt", "provides cuda.bindings.runtime / cuda.cudart")
    return cudart


def import_pycuda_driver() -> Optional[ModuleType]:
    """``pycuda.driver``, or None when pycuda is missing."""
    try:
        return importlib.import_module("pycuda.driver")
    except ImportError:
        return None


def version_string(version: int) -> str:
    """CUDA's integer version (``12060``) as ``"12.6"``."""
    version = int(version)
    return f"{version // 1000}.{(version % 1000) // 10}"


def _value(cudart: ModuleType, fn: str) -> Optional[int]:
    try:
        err, value = getattr(cudart, fn)()
    except Exception:  # noqa: BLE001 - a partial or broken binding reports "unknown"
        return None
    return int(value) if int(err) == CUDA_SUCCESS else None


def cuda_versions(cudart: Optional[ModuleType] = None) -> dict:
    """The CUDA driver's version and the bindings' own CUDA version.

    ``cudaRuntimeGetVersion`` reports the CUDA release the bindings were built
    for, not the driver's; ``cudaDriverGetVersion`` reports the newest CUDA the
    installed driver supports (0 when no driver is installed).

    Args:
        cudart: the runtime module (imported when None).

    Returns:
        ``{"driver": "12.6" | None, "bindings_cuda": "13.0" | None}`` (None: unknown).
    """
    cudart = cudart if cudart is not None else import_cudart()
    if cudart is None:
        return {"driver": None, "bindings_cuda": None}
    driver, runtime = _value(cudart, "cudaDriverGetVersion"), _value(cudart, "cudaRuntimeGetVersion")
    return {"driver": version_string(driver) if driver else None,
            "bindings_cuda": version_string(runtime) if runtime else None}


def describe_driver_mismatch(cudart: ModuleType) -> str:
    """One line for ``cudaErrorInsufficientDriver``: which driver is here and what to install.

    Args:
        cudart: the runtime module whose call failed.
    """
    versions = cuda_versions(cudart)
    bindings = versions["bindings_cuda"] or "?"
    if versions["driver"] is None:
        return (f"no CUDA driver found (cuda-python built for CUDA {bindings}): install the NVIDIA driver "
                "(JetPack on a Jetson)")
    major = versions["driver"].split(".")[0]
    return (f"this machine's driver supports CUDA {versions['driver']} but the installed cuda-python is built "
            f"for CUDA {bindings}: pip install 'cuda-python>={major},<{int(major) + 1}' "
            f"(or 'xnet-edge[trt-cu{major}]'), or install pycuda")
