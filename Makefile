# Two commands do all set-up on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
# Optional dependency groups of pyproject.toml: `make test EXTRAS=dev,engines` adds dbt-postgres,
# dbt-spark and pyspark (CI does; DuckDB needs none of them).
EXTRAS ?= dev
comma := ,
STAMP := $(VENV)/.installed-$(subst $(comma),-,$(EXTRAS))
DBT_DIR := dbt_project
MANIFEST := $(DBT_DIR)/target/manifest.json
DBT_SOURCES := $(shell find $(DBT_DIR)/models $(DBT_DIR)/macros $(DBT_DIR)/tests -type f 2>/dev/null) $(DBT_DIR)/dbt_project.yml $(DBT_DIR)/profiles.yml

.PHONY: run test install manifest demo ui docs lock clean

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade "pip==26.3"
	$(PY) -m pip install --quiet -c constraints.txt -e ".[$(EXTRAS)]"
	touch $(STAMP)

install: $(STAMP)

# dagster-dbt loads the manifest when the definitions import, so it must exist first.
$(MANIFEST): $(STAMP) $(DBT_SOURCES)
	$(PY) -m orchestration.defs.dbt.args $(DBT_DIR)
	touch $(MANIFEST)

manifest: $(MANIFEST)

# Runs are recorded in .dagster_home so that `make ui` shows them; the venv's tools come first
# on PATH (dagster-dbt looks dbt up there).
export DAGSTER_HOME ?= $(CURDIR)/.dagster_home
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)

run: $(MANIFEST)
	$(VENV)/bin/winback run

# pytest-xdist workers, one per core by default (`make test TEST_WORKERS=1`: one process).
# --dist loadscope sends each test module to one worker, so a module-scoped fixture (one
# pipeline run shared by a module's tests) runs once (README, Tests in parallel). Modules go
# out in collection order, tests/integration first: xdist's default would send the modules
# with the most tests first, which leaves the few slow whole-pipeline tests for the end.
TEST_WORKERS ?= auto
test: $(MANIFEST)
	$(PY) -m pytest -n $(TEST_WORKERS) --dist loadscope --no-loadscope-reorder

demo: $(STAMP)
	$(VENV)/bin/winback demo

# `dagster dev -w workspace.yaml` (see README, "Open the Dagster UI", for why not `dg dev`).
ui: $(MANIFEST)
	$(VENV)/bin/winback ui

# dbt docs (static page) and Great Expectations Data Docs for the warehouse of the last run.
docs: $(MANIFEST)
	$(VENV)/bin/winback docs

# Re-resolve the pinned set from pyproject.toml into constraints.txt.
lock:
	rm -rf .venv-lock && $(PYTHON) -m venv .venv-lock
	.venv-lock/bin/pip install --quiet --upgrade "pip==26.3" && .venv-lock/bin/pip install --quiet ".[dev,engines]"
	{ echo '# Exact dependency set resolved on Python 3.11 (pip install -c constraints.txt -e ".[dev,engines]").'; \
	  echo '# Regenerate: make lock'; .venv-lock/bin/pip freeze | grep -viE '^(winback|pip|setuptools|wheel)[= @]'; } > constraints.txt
	rm -rf .venv-lock

clean:
	rm -rf $(VENV) $(DBT_DIR)/target $(DBT_DIR)/logs data
