# Two commands do all the set-up on a bare machine: `make run` and `make test`.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
CORES ?= all

.PHONY: setup run figures test lint cost clean

$(STAMP): envs/requirements.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --upgrade --quiet pip
	$(BIN)/pip install --quiet -r envs/requirements.txt
	$(BIN)/pip install --quiet --no-deps --no-build-isolation -e .
	touch $(STAMP)

setup: $(STAMP)

run: setup
	$(BIN)/snakemake --workflow-profile workflow/profiles/local --cores $(CORES) --configfile config.yaml
	$(BIN)/snakemake --configfile config.yaml --report results/report.html

figures: setup
	$(BIN)/snakemake --workflow-profile workflow/profiles/local --cores $(CORES) --configfile config.yaml figures

lint: setup
	$(BIN)/snakemake --lint

test: lint
	$(BIN)/python -m pytest tests

# passes and hours of a study on this machine, e.g. `make cost CONFIG=configs/coherency_full.yaml`
CONFIG ?= config.yaml
cost: setup
	$(BIN)/python -m heatcheck.cost_report $(CONFIG) --measure

clean:
	rm -rf results .snakemake
