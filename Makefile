# Two commands on a fresh machine:  make demo  |  make test
# Both create .venv (pinned requirements + this package, editable) when it is missing.

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
export HF_HUB_OFFLINE := 1
export TOKENIZERS_PARALLELISM := false

# NVIDIA's published Python APIs that the TensorRT/CUDA code is checked against without a GPU,
# each in its own folder (pip --target, --no-deps: tensorrt-stubs' only dependency is TensorRT
# itself, and several cuda-python releases cannot share one environment). The 13.x bindings are
# in requirements.txt. tests/runtime/test_cuda_real_bindings.py and tests/engine/test_trt_api.py.
NVIDIA_API := $(VENV)/nvidia-api
PYRIGHT    := .tools/pyright/node_modules/.bin/pyright
PIP_TARGET := $(PY) -m pip install --quiet --no-deps --target

.PHONY: venv test test-all demo clean-venv typecheck

venv: $(STAMP)

$(STAMP): requirements.txt setup.py Makefile
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade "pip>=24" "setuptools>=70" wheel
	$(PY) -m pip install --quiet -r requirements.txt
	$(PY) -m pip install --quiet --no-deps --no-build-isolation -e .
	rm -rf $(NVIDIA_API)
	$(PIP_TARGET) $(NVIDIA_API)/tensorrt-stubs tensorrt-stubs==10.13.0.35.1
	$(PIP_TARGET) $(NVIDIA_API)/cuda-bindings-12.9 cuda-bindings==12.9.6
	$(PIP_TARGET) $(NVIDIA_API)/cuda-python-12.5 cuda-python==12.5.0
	$(PIP_TARGET) $(NVIDIA_API)/cuda-bindings-11.8 cuda-bindings==11.8.7
	touch $(STAMP)

# pyright (npm, pinned) on the TensorRT and CUDA modules, with NVIDIA's tensorrt-stubs; pyrightconfig.json
$(PYRIGHT):
	npm install --silent --no-audit --no-fund --prefix .tools/pyright pyright@1.1.414

typecheck: $(STAMP) $(PYRIGHT)
	$(PYRIGHT) --pythonpath $(PY) -p pyrightconfig.json

test: $(STAMP) $(PYRIGHT)
	$(PY) -m pytest -q

test-all: $(STAMP) $(PYRIGHT)
	$(PY) -m pytest -q -m "slow or not slow"

demo: $(STAMP)
	$(VENV)/bin/xnet-edge demo -o out/demo

clean-venv:
	rm -rf $(VENV)
