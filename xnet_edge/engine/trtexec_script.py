"""The ``trtexec`` command line equivalent to a :class:`~.plan.TrtBuildPlan`.

Every engine folder gets a ``build.sh`` with this command, so users who build
with trtexec (or need to on JetPack 5, where xnet-edge's builder does not run)
get the same engine settings. Flags per TensorRT generation:

* precision: ``--fp16`` / ``--int8`` (8, 10); ``--stronglyTyped`` (10 with an FP16
  ONNX); none on 11, where the flags are gone and every network is strongly typed;
* ``--calib=FILE`` for a legacy calibration cache (8, 10);
* ``--memPoolSize=workspace:N`` (MiB), ``--timingCacheFile``, ``--useDLACore`` +
  ``--allowGPUFallback``, ``--minShapes/--optShapes/--maxShapes``;
* ``--builderOptimizationLevel`` (TensorRT 8.6+);
* ``--profilingVerbosity=detailed --exportLayerInfo=FILE`` for per-layer JSON;
* ``--skipInference`` (8.6+) or ``--buildOnly`` (8.5) to build without benchmarking.

The per-release options come from :mod:`.trt_releases`. Every word is shell-quoted in
the scripts; an input name that trtexec's ``name:dims`` syntax cannot carry (a comma,
colon, quote or control character) is refused.
"""

from __future__ import annotations

import shlex
from typing import Optional

from .._version import __version__
from ..errors import UsageError
from .plan import TrtBuildPlan

_FLAG_ARGS = {"FP16": "--fp16", "INT8": "--int8"}
_SHAPE_NAME_UNSAFE = ",:'\""


def check_script_text(text: str, what: str) -> str:
    """Return ``text`` if it can stand in a shell script line; refuse control characters.

    Raises:
        UsageError: ``text`` holds a newline, NUL or another control character (named).
    """
    for char in text:
        if ord(char) < 32 or ord(char) == 127:
            raise UsageError(f"{what} {text!r} contains the control character {char!r}; it cannot go into a script")
    return text


def _shape_name(name: str) -> str:
    check_script_text(name, "input name")
    for char in _SHAPE_NAME_UNSAFE:
        if char in name:
            raise UsageError(f"input name {name!r} contains {char!r}, which trtexec's --minShapes=name:dims cannot "
                             "carry; rename the ONNX input (the contract name is 'image')")
    return name


def _dims(shape) -> str:
    return "x".join(str(int(d)) for d in shape)


def trtexec_build_args(plan: TrtBuildPlan, *, onnx: str = "model.onnx", engine: str = "model.plan",
                       calibration_cache: Optional[str] = None, timing_cache: Optional[str] = "timing.cache",
                       layer_info: Optional[str] = "layers.json") -> list[str]:
    """trtexec arguments (without the program name) that build ``plan``.

    Args:
        plan: the build plan.
        onnx, engine: input model and output plan paths.
        calibration_cache: the TensorRT calibration cache; required when the plan's INT8
            scales come from a cache or a calibrator (which writes one).
        timing_cache: timing cache file (loaded if present, then updated), or None.
        layer_info: per-layer JSON output, or None.

    Raises:
        UsageError: the plan needs a calibration cache and none was given.
    """
    args = [f"--onnx={onnx}", f"--saveEngine={engine}"]
    if plan.profile is not None:
        name = _shape_name(plan.profile.input_name)
        args += [f"--minShapes={name}:{_dims(plan.profile.min)}", f"--optShapes={name}:{_dims(plan.profile.opt)}",
                 f"--maxShapes={name}:{_dims(plan.profile.max)}"]
    if plan.strongly_typed and plan.generation == 10:
        args.append("--stronglyTyped")
    args += [_FLAG_ARGS[f] for f in plan.flags if f in _FLAG_ARGS]
    if plan.int8_source in ("calibration-cache", "calibrator"):
        if not calibration_cache:
            raise UsageError("this build uses a TensorRT calibration cache: pass its path for --calib")
        args.append(f"--calib={calibration_cache}")
    args.append(f"--memPoolSize=workspace:{plan.workspace_mb}")
    if plan.dla_core is not None:
        args += [f"--useDLACore={plan.dla_core}", "--allowGPUFallback"]
    if plan.opt_level is not None:
        args.append(f"--builderOptimizationLevel={plan.opt_level}")
    if timing_cache:
        args.append(f"--timingCacheFile={timing_cache}")
    if layer_info:
        args += ["--profilingVerbosity=detailed", f"--exportLayerInfo={layer_info}"]
    args.append(plan.tensorrt.trtexec_build_only)
    return args


def trtexec_command(plan: TrtBuildPlan, program: str = "trtexec", **paths) -> str:
    """One shell-quoted command line; ``paths`` as in :func:`trtexec_build_args`."""
    return " ".join(shlex.quote(a) for a in [program, *trtexec_build_args(plan, **paths)])


FIND_TRTEXEC_SH = """\
TRTEXEC="${TRTEXEC:-$(command -v trtexec || true)}"
if [ -z "$TRTEXEC" ] && [ -x /usr/src/tensorrt/bin/trtexec ]; then TRTEXEC=/usr/src/tensorrt/bin/trtexec; fi
if [ -z "$TRTEXEC" ]; then echo "trtexec not found: set TRTEXEC=/path/to/trtexec" >&2; exit 1; fi
"""


def build_script(plan: TrtBuildPlan, **paths) -> str:
    """A POSIX shell script that rebuilds the engine with trtexec, run from the engine folder.

    ``paths`` as in :func:`trtexec_build_args` (relative to the folder).
    """
    args = trtexec_build_args(plan, **paths)
    body = " \\\n  ".join(shlex.quote(a) for a in args)
    header = (f"#!/bin/sh\n# Equivalent trtexec build of this engine: target {plan.target}, precision "
              f"{plan.precision}, TensorRT generation {plan.generation}.\n# Written by xnet-edge {__version__}. "
              "Run from anywhere: sh build.sh (the plan must be built on the device that runs it).\n")
    notes = "".join(f"# note: {check_script_text(n, 'a note')}\n" for n in plan.notes)
    return f'{header}{notes}set -eu\ncd "$(dirname "$0")"\n{FIND_TRTEXEC_SH}"$TRTEXEC" \\\n  {body}\n'
