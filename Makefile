# The README's two commands: `make demo` (the offline AWS platform) and `make test` (every test suite).
# Both build .venv from nothing on a fresh clone; the install is redone only when pyproject.toml or constraints.txt changes.

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: demo delivery-demo monitor-demo test lint install lock clean localstack-start localstack-stop bench

comma  := ,
EXTRAS := aws,azure,gcp,spark,emulate,dev

UV_VERSION := 0.13.9
UV         := $(VENV)/bin/uv

$(STAMP): pyproject.toml constraints.txt
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "tricloud needs Python >= 3.11 (set PYTHON=...)")'
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	# uv installs the same pinned tree as pip in about 40 s instead of 3.5 min from a cold cache (measured on the
	# 2-core machine), which keeps `make test` from nothing under CI's 30 minutes. uv reads no pip.conf: where the
	# packages come only through a pip-configured mirror, TRICLOUD_INSTALLER=pip (or uv's failure) uses pip instead.
	# --compile-bytecode as pip does: without .pyc files every Python process (Lambda workers run with
	# PYTHONDONTWRITEBYTECODE, as on Lambda) imported from source, 2.2 s instead of 1.05 s, and make test ran 7 min longer.
	# constraints.txt pins the whole tree: pip's own resolver backtracks for minutes between pulumi-policy's
	# protobuf ~=5.29 and the Google clients, and once landed on an sdist that cannot build (sniffio 0.0.0).
	# sagemaker-pyspark brings the hadoop-aws + AWS SDK bundle jars for s3a; its own deps would pull a second pyspark.
	if [ "$${TRICLOUD_INSTALLER:-uv}" = uv ] && $(PY) -m pip install -q 'uv==$(UV_VERSION)' \
	    && $(UV) pip install -q --compile-bytecode --python $(PY) -c constraints.txt -e '.[$(EXTRAS)]' \
	    && $(UV) pip install -q --compile-bytecode --python $(PY) --no-deps 'sagemaker-pyspark==1.4.5'; then :; else \
	  echo "make install: installing with pip (TRICLOUD_INSTALLER=$${TRICLOUD_INSTALLER:-uv})" >&2; \
	  $(PY) -m pip install -q --upgrade pip \
	  && $(PY) -m pip install -q -c constraints.txt -e '.[$(EXTRAS)]' \
	  && $(PY) -m pip install -q --no-deps 'sagemaker-pyspark==1.4.5'; fi
	touch $@

install: $(STAMP)

# Re-pin constraints.txt after editing pyproject.toml's dependencies (uv resolves in seconds; versions already pinned
# are kept where they still fit). tests/unit/test_constraints.py fails until the pins satisfy pyproject.toml.
lock:
	test -x $(UV) || $(PY) -m pip install -q 'uv==$(UV_VERSION)'
	$(UV) pip compile -q --python-version 3.11 --no-header pyproject.toml $(foreach e,$(subst $(comma), ,$(EXTRAS)),--extra $(e)) -o constraints.txt

demo: $(STAMP)
	$(PY) -m tricloud emulate aws

# The offline model delivery: canary promotions, a refusal at approval, a rollback at canary (docs/model-delivery.md).
delivery-demo: $(STAMP)
	$(PY) -m tricloud model demo aws

# The offline monitoring loop: no alarm, then drift -> alarm -> guarded retrain -> new version (docs/monitoring.md).
monitor-demo: $(STAMP)
	$(PY) -m tricloud monitor scenario aws

lint: $(STAMP)
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

# LocalStack runs for the emulator tests only and is always stopped, even when a test fails.
test: $(STAMP)
	$(PY) -m ruff check .
	scripts/localstack.sh start
	$(PY) -m pytest -q; rc=$$?; scripts/localstack.sh stop; exit $$rc

localstack-start:
	scripts/localstack.sh start

localstack-stop:
	scripts/localstack.sh stop

bench: $(STAMP)
	$(PY) benchmarks/inventory.py
	$(PY) benchmarks/serve.py
	$(PY) benchmarks/emulate.py

clean:
	rm -rf $(VENV) .tricloud .pytest_cache .ruff_cache
