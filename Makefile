# wspush: `make run` runs the whole stack locally, `make test` runs every test.
# Every target sets up what it needs (virtualenv, wscat, terraform init) on first use.

SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
# Suites `make test` runs at once (the e2e suite beside the others).
TEST_JOBS ?= 2
BIN := $(VENV)/bin
TERRAFORM ?= terraform
TF_DIR := terraform
# The whole stack is this module; terraform/ is a thin root that calls it.
TF_MODULE_DIR := $(TF_DIR)/modules/wspush
# API Gateway's account setting (its CloudWatch logging role), in a state of its own.
TF_ACCOUNT_DIR := $(TF_DIR)/account
# Complete configurations that use the module from outside, validated like the root.
TF_EXAMPLE_DIRS := $(patsubst %/main.tf,%,$(wildcard examples/*/main.tf))
# A generated CLI config: a provider mirror when one is available (offline machines),
# the public registry otherwise. TF_PLUGIN_MIRROR=/path picks the mirror explicitly.
export TF_CLI_CONFIG_FILE := $(CURDIR)/build/terraform.rc
export TF_IN_AUTOMATION := 1
export TF_INPUT := 0

VENV_STAMP := $(VENV)/.installed
# make release builds the Python package with a pinned build frontend and backend.
RELEASE_STAMP := $(VENV)/.release-installed
# checkov pins its own boto3 and friends exactly, so it lives in a virtualenv of its own.
CHECKOV_VENV := .venv-checkov
CHECKOV_STAMP := $(CHECKOV_VENV)/.installed
NODE_STAMP := node_modules/.installed
TF_STAMP := $(TF_DIR)/.terraform/.initialized

.PHONY: help setup build release docs-tables lint fmt test test-offline test-unit test-js test-integration \
        test-terraform checkov chromium test-e2e docs bench run run-check token push connect listen say \
        account-logging deploy destroy clean

help: ## Show this help
	@grep -E '^[a-zA-Z0-9_-]+:.*?## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*?## "}; {printf "  %-18s %s\n", $$1, $$2}'

$(VENV_STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --quiet --disable-pip-version-check -e '.[dev,local]'
	touch $@

$(RELEASE_STAMP): $(VENV_STAMP) requirements-release.txt
	$(BIN)/pip install --quiet --quiet --disable-pip-version-check -r requirements-release.txt
	touch $@

$(CHECKOV_STAMP): requirements-checkov.txt
	$(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/pip install --quiet --quiet --disable-pip-version-check -r requirements-checkov.txt
	touch $@

$(NODE_STAMP): package.json package-lock.json
	npm ci --silent --no-audit --no-fund
	touch $@

build/terraform.rc: scripts/terraform-cli-config.sh scripts/find-terraform-mirror.sh
	scripts/terraform-cli-config.sh $@

TF_SOURCES := $(shell find $(TF_DIR) $(TF_EXAMPLE_DIRS) \( -name '*.tf' -o -name '*.tftest.hcl' \) -not -path '*/.terraform/*')
# The examples source wspush from its repository at a release tag, as a user's
# configuration does; inside the repository an override file (ignored by git) points them
# at the working tree's modules and at dist/ instead.
EXAMPLE_OVERRIDES := $(addsuffix /repository_override.tf,$(TF_EXAMPLE_DIRS))

examples/%/repository_override.tf: scripts/example-overrides/%_override.tf
	cp $< $@

$(TF_STAMP): build/terraform.rc $(TF_DIR)/.terraform.lock.hcl $(TF_SOURCES) $(EXAMPLE_OVERRIDES)
	cd $(TF_DIR) && $(TERRAFORM) init -backend=false -lockfile=readonly >/dev/null
	# The module's own tests run in its directory, on the root's pinned provider.
	cp $(TF_DIR)/.terraform.lock.hcl $(TF_MODULE_DIR)/.terraform.lock.hcl
	cd $(TF_MODULE_DIR) && $(TERRAFORM) init -backend=false -lockfile=readonly >/dev/null
	cd $(TF_ACCOUNT_DIR) && $(TERRAFORM) init -backend=false -lockfile=readonly >/dev/null
	for example in $(TF_EXAMPLE_DIRS); do \
	  (cd $$example && $(TERRAFORM) init -backend=false -lockfile=readonly >/dev/null); done
	touch $@

setup: $(VENV_STAMP) $(NODE_STAMP) $(TF_STAMP) ## Create the virtualenv, install wscat, init Terraform

build: $(VENV_STAMP) ## Build dist/wspush.zip, the code of every Lambda function (and the examples' zips)
	PYTHON=$(BIN)/python ./build.sh

release: $(RELEASE_STAMP) ## dist/release/: function zips, wheel, sdist, npm tarball and SHA256SUMS, at VERSION (TAG=v<VERSION> checks the tag)
	$(BIN)/python scripts/release.py $(if $(TAG),--tag '$(TAG)')

docs-tables: $(VENV_STAMP) ## Regenerate the module README's inputs and outputs tables
	$(BIN)/python scripts/module_docs.py

lint: $(VENV_STAMP) ## ruff, and mypy on the Lambda code
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

fmt: $(VENV_STAMP) $(TF_STAMP) ## Format Python and Terraform
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .
	$(TERRAFORM) fmt -recursive $(TF_DIR)
	for example in $(TF_EXAMPLE_DIRS); do $(TERRAFORM) fmt -recursive $$example; done

test-unit: $(VENV_STAMP) build ## Unit tests (no AWS; includes a smoke run of the benchmarks)
	$(BIN)/pytest tests/unit

test-js: $(NODE_STAMP) ## JavaScript client tests (fake server, fake timers; no stack needed) and its type declarations
	cd clients/js && node --test --test-reporter=spec src/
	cd clients/js && ../../node_modules/.bin/tsc -p .

test-integration: $(VENV_STAMP) $(RELEASE_STAMP) build build/terraform.rc ## Integration tests against moto, real terraform plans (examples from outside the repository), release reproducibility
	$(BIN)/pytest tests/integration

test-terraform: $(TF_STAMP) build ## terraform fmt, validate and native tests (root, module, examples)
	$(TERRAFORM) fmt -check -recursive $(TF_DIR)
	cd $(TF_DIR) && $(TERRAFORM) validate -no-color
	cd $(TF_MODULE_DIR) && $(TERRAFORM) validate -no-color
	cd $(TF_ACCOUNT_DIR) && $(TERRAFORM) validate -no-color
	for example in $(TF_EXAMPLE_DIRS); do \
	  $(TERRAFORM) fmt -check -recursive $$example && \
	  (cd $$example && $(TERRAFORM) validate -no-color) || exit 1; \
	  if [ -d $$example/tests ]; then \
	    scripts/run-in-group.sh bash -c "cd $$example && $(TERRAFORM) test -no-color" || exit 1; fi; done
	scripts/run-in-group.sh bash -c 'cd $(TF_DIR) && $(TERRAFORM) test -no-color'
	scripts/run-in-group.sh bash -c 'cd $(TF_MODULE_DIR) && $(TERRAFORM) test -no-color'

checkov: $(CHECKOV_STAMP) ## Static security checks of the Terraform
	$(CHECKOV_VENV)/bin/checkov --directory $(TF_DIR) --framework terraform --skip-download --quiet --compact
	$(CHECKOV_VENV)/bin/checkov --directory examples/order_status --framework terraform --skip-download --quiet --compact
	$(CHECKOV_VENV)/bin/checkov --directory examples/cognito --framework terraform --skip-download --quiet --compact
	$(CHECKOV_VENV)/bin/checkov --directory examples/chat_moderation --framework terraform --skip-download --quiet --compact
	$(CHECKOV_VENV)/bin/checkov --directory examples/offline_fallback --framework terraform --skip-download --quiet --compact

chromium: ## Install Debian's Chromium for the browser test when it is missing (apt-get)
	scripts/ensure-chromium.sh

test-e2e: setup build chromium ## End-to-end tests against the local stack (Python, Node and Chromium clients)
	$(BIN)/pytest tests/e2e

# Not --quiet: it hides the warnings that --strict turns into a failure.
docs: $(VENV_STAMP) ## Build the documentation site into build/site (strict: a broken link or anchor fails)
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict

# The end-to-end suite mostly waits (stacks starting, schedules, clients), so it runs beside
# the others; --output-sync keeps each suite's output together in the log.
test: setup lint ## Run every test (the e2e suite beside the rest: TEST_JOBS=1 for one at a time)
	$(MAKE) --no-print-directory -j$(TEST_JOBS) --output-sync=target test-e2e test-offline

test-offline: test-unit test-js test-integration test-terraform checkov docs ## Every test that needs no local stack

bench: $(VENV_STAMP) build ## Benchmarks against baselines -> docs/benchmarks.md (BENCH_SCALE=small for a quick look)
	$(BIN)/python -m bench

# run-check first: a busy port or a stack already running here is refused before the build.
run: run-check setup build ## Run the whole stack locally (RUN_ARGS="--schedule-scale 0.1" for fast pushes; EXAMPLE=order_status for an example)
	$(BIN)/wspush run $(if $(EXAMPLE),--example $(EXAMPLE)) $(RUN_ARGS)

run-check: $(VENV_STAMP)
	@$(BIN)/wspush run --check-only $(RUN_ARGS)

# The targets below print only what the command prints (no echoed recipe), so their
# output pipes into jq.
ENTITY ?= demo-user
# What make token/connect grant besides the stack's public topics (news, demo.*).
TOPICS ?= user:$(ENTITY)/*

token: $(VENV_STAMP) ## Print a token for ENTITY (default demo-user) granting TOPICS (default user:ENTITY/*)
	@$(BIN)/wspush token --entity '$(ENTITY)' --topics '$(TOPICS)'

push: $(VENV_STAMP) ## Push MESSAGE (JSON) to ENTITY, or to everyone with BROADCAST=1
	@$(BIN)/wspush push $(if $(BROADCAST),--broadcast,--entity '$(ENTITY)') --message '$(or $(MESSAGE),{"text":"hello"})'

connect: $(NODE_STAMP) $(VENV_STAMP) ## Open wscat on the local stack as ENTITY (default demo-user), granted TOPICS
	@url=$$($(BIN)/wspush url) && token=$$($(BIN)/wspush token --entity '$(ENTITY)' --topics '$(TOPICS)') \
	  && exec node_modules/.bin/wscat -c "$$url?token=$$token"

listen: $(VENV_STAMP) ## Print every push ENTITY (and TOPIC) receives, one JSON line each
	@$(BIN)/wspush listen --entity '$(ENTITY)' $(if $(TOPIC),--topic '$(TOPIC)')

say: $(VENV_STAMP) ## Publish MESSAGE (text) to TOPIC over the WebSocket as ENTITY; prints {id, seq}
	@$(BIN)/wspush say --entity '$(ENTITY)' --topic '$(or $(TOPIC),demo.room.lobby)' --message '$(or $(MESSAGE),hello)'

# Deploy and destroy work on the real state, so they initialise the backend (validate and
# the tests run with -backend=false). They may ask for approval (TF_INPUT=1); set
# TF_CLI_ARGS_apply=-auto-approve to run them unattended (destroy is `apply -destroy`).
TF_DEPLOY_INIT := cd $(TF_DIR) && $(TERRAFORM) init -input=false -lockfile=readonly >/dev/null
PREFLIGHT := $(BIN)/python scripts/deploy_preflight.py --terraform $(TERRAFORM)

# Once per account and region, where make deploy deploys (terraform/terraform.tfvars' region).
account-logging: build/terraform.rc $(VENV_STAMP) ## Set API Gateway's CloudWatch logging role for the deploy's account and region (once; make deploy asks for it)
	$(TF_DEPLOY_INIT)
	$(PREFLIGHT) account-variables $(TF_DIR) > build/account-logging.tfvars.json
	cd $(TF_ACCOUNT_DIR) && $(TERRAFORM) init -input=false -lockfile=readonly >/dev/null
	cd $(TF_ACCOUNT_DIR) && TF_INPUT=1 $(TERRAFORM) apply -var-file=$(CURDIR)/build/account-logging.tfvars.json

# The preflight stops the deploy before anything is created when AWS would refuse the apply
# half-way (scripts/deploy_preflight.py says which checks, and each failure names its fix).
deploy: build/terraform.rc build ## Build, check the account (preflight) and apply to your AWS account (state in terraform/terraform.tfstate)
	$(TF_DEPLOY_INIT)
	$(PREFLIGHT) check $(TF_DIR)
	PYTHON=$(BIN)/python TERRAFORM=$(TERRAFORM) scripts/check-lambda-concurrency.sh $(TF_DIR)
	cd $(TF_DIR) && TF_INPUT=1 $(TERRAFORM) apply

destroy: build/terraform.rc ## Destroy the AWS deployment (refuses while the table's deletion_protection is on)
	$(TF_DEPLOY_INIT)
	scripts/check-deletion-protection.sh $(TF_DIR)
	cd $(TF_DIR) && TF_INPUT=1 $(TERRAFORM) apply -destroy

clean: ## Remove build outputs, local state and virtualenvs
	rm -rf build dist .wspush $(TF_DIR)/.terraform $(TF_MODULE_DIR)/.terraform $(TF_ACCOUNT_DIR)/.terraform
	rm -rf $(VENV) $(CHECKOV_VENV) node_modules
	rm -rf $(addsuffix /.terraform,$(TF_EXAMPLE_DIRS)) $(EXAMPLE_OVERRIDES)
