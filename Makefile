# Two commands do all set-up on a fresh machine: `make demo` and `make test`.
# Both create .venv and (re)install only when pyproject.toml changed.

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
BACKEND ?= tensorflow
export TF_CPP_MIN_LOG_LEVEL ?= 2
# Python writes the byte code of each module it imports, once, and every
# later process loads it: importing the backends and the tool took 30 s
# the first time, 12 s after (2026-11-29). Some machines turn that off
# (PYTHONDONTWRITEBYTECODE=1); an empty value turns it back on. Byte-
# compiling the whole install instead (pip's own, or compileall) compiles
# thousands of modules no process imports: a fresh set-up took 109 s
# with compileall, 64 s without.
export PYTHONDONTWRITEBYTECODE :=
# The library's tests run once per backend; the tool's tests once.
BACKENDS := tensorflow jax torch

.PHONY: demo examples test lane-jax-torch lane-tf-tool test-lib test-tool browser lint bench clean

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	# torch==2.13.0 exactly: a CPU build; any other version pulls CUDA.
	# Not byte-compiled here: see PYTHONDONTWRITEBYTECODE above.
	$(PY) -m pip install --quiet --no-compile "torch==2.13.0" \
		-e ".[tensorflow,jax,torch,tool,dev]"
	touch $(STAMP)

# The seq2seq tool on the built-in dates corpus (examples/demo.sh); the
# set-up's wall time is measured here and printed with the other phases.
demo:
	@start=$$(date +%s); $(MAKE) --no-print-directory $(STAMP); \
	SETUP_SECONDS=$$(( $$(date +%s) - start )) KERAS_BACKEND=$(BACKEND) \
	PY=$(PY) bash examples/demo.sh

# The library examples: the seed question's three parts, answered.
examples: $(STAMP)
	KERAS_BACKEND=$(BACKEND) $(PY) examples/demo.py

# One pytest run of the library's tests on backend $(1).
define lib_tests
echo "=== library tests, KERAS_BACKEND=$(1)"; \
KERAS_BACKEND=$(1) $(PY) -m pytest tests/lib -q -p no:cacheprovider
endef

# One pytest run of the tool's tests $(1) on the default backend.
define tool_tests
echo "=== tool tests $(1), KERAS_BACKEND=$(BACKEND)"; \
KERAS_BACKEND=$(BACKEND) $(PY) -m pytest $(1) -q -p no:cacheprovider
endef

# Two lanes, one a core: the JAX and PyTorch library tests and the tool's
# tests that need neither the shared trained run nor the other's
# processes, beside the TensorFlow library tests and the rest of the
# tool's. A fresh clone, 2026-11-30 (session 26): JAX 658 + PyTorch 105 +
# 255 s beside TensorFlow 866 + 201 s, the whole run 1,175 s with the
# set-up (about 80 s) and each pytest process' start. The tests are
# mostly Python on small tensors, so the lanes share the machine well;
# each lane's output prints when the lane ends.
TOOL_LANE_A := tests/tool/test_devices.py tests/tool/test_serve_browser.py \
	tests/tool/test_serve_load.py tests/tool/test_without_tensorflow.py \
	tests/tool/test_resume.py

# The set-up and the browser's install side by side, then the two lanes.
test:
	@$(MAKE) --no-print-directory -j2 $(STAMP) browser
	@$(MAKE) --no-print-directory -j2 --output-sync=target lane-jax-torch lane-tf-tool

lane-jax-torch:
	@($(call lib_tests,jax)) && ($(call lib_tests,torch)) \
	&& ($(call tool_tests,$(TOOL_LANE_A)))

lane-tf-tool:
	@($(call lib_tests,tensorflow)) \
	&& ($(call tool_tests,tests/tool $(TOOL_LANE_A:%=--ignore=%)))

# The same runs one after another.
test-lib: $(STAMP)
	@$(foreach b,$(BACKENDS),($(call lib_tests,$(b))) || exit 1;)

test-tool: $(STAMP) browser
	@$(call tool_tests,tests/tool)

# The serve test drives Debian's headless Chromium: installed here where
# apt-get is usable (as root); elsewhere that one test skips, saying why.
browser:
	@command -v chromium >/dev/null && command -v chromedriver >/dev/null \
	|| { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null \
	     && apt-get update -qq \
	     && apt-get install -y -qq chromium chromium-driver >/dev/null; } \
	|| echo "no chromium (needs root and apt-get): the browser test skips"

lint: $(STAMP)
	$(PY) -m ruff check src tests bench examples

bench: $(STAMP)
	flock /tmp/bench.lock $(PY) bench/s2s_m.py --json bench/results/s2s_m.json

clean:
	rm -rf $(VENV) runs demo-out
