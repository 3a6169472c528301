# The README's two commands: `make demo` (the offline AWS platform) and `make test` (every test suite).
# Both build .venv from nothing on a fresh clone; the install is redone only when pyproject.toml changes.

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: demo delivery-demo test lint install clean localstack-start localstack-stop bench

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "tricloud needs Python >= 3.11 (set PYTHON=...)")'
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[aws,azure,gcp,spark,emulate,dev]'
	# hadoop-aws + AWS SDK bundle jars for s3a against the emulator; its own deps would pull a second pyspark
	$(PY) -m pip install -q --no-deps 'sagemaker-pyspark==1.4.5'
	touch $@

install: $(STAMP)

demo: $(STAMP)
	$(PY) -m tricloud emulate aws

# The offline model delivery: canary promotions, a refusal at approval, a rollback at canary (docs/model-delivery.md).
delivery-demo: $(STAMP)
	$(PY) -m tricloud model demo aws

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
