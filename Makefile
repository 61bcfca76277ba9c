# Thin aliases for the names people already type. Each target is ONE line that calls the
# invoke task or nox session doing the work (`invoke --list`, `nox -l`); nothing lives here.
# First time on a machine: `make setup`.

.DEFAULT_GOAL := help
export OVERLAY ?= dev
BIN := .venv/bin

.PHONY: help setup lint test e2e build push deploy dev rollback smoke release \
	cluster-up cluster-down doctor bench clean

help: ## list these targets (OVERLAY defaults to dev: `make deploy OVERLAY=prod`)
	@awk 'BEGIN {FS = ":.*## "} /^[a-z0-9-]+:.*## / {printf "  %-13s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

setup: ## install system packages and the project venv (.venv)
	./bootstrap.sh setup

lint: ## static checks: the pre-commit hooks (ruff, yamllint, mypy, shellcheck, secrets, CI...)
	$(BIN)/nox -s lint

test: ## unit and manifest tests with coverage
	$(BIN)/nox -s tests

e2e: ## end-to-end tests on a fresh kwok cluster
	$(BIN)/nox -s e2e

build: ## build the app image, tagged by the commit
	$(BIN)/invoke image.build

push: ## push the app image to the configured registry
	$(BIN)/invoke image.push

deploy: ## deploy OVERLAY to the current cluster (validate everything, then apply)
	$(BIN)/invoke deploy --overlay=$(OVERLAY)

dev: ## deploy OVERLAY, then again on every save (watch loop; Ctrl-C stops)
	$(BIN)/invoke dev --overlay=$(OVERLAY)

rollback: ## roll OVERLAY back to the previous revision
	$(BIN)/invoke rollback --overlay=$(OVERLAY)

smoke: ## testinfra + HTTPS checks against the current cluster
	$(BIN)/nox -s cluster-smoke

release: ## pin OVERLAY to this commit in git (what ArgoCD follows)
	$(BIN)/invoke release --overlay=$(OVERLAY)

cluster-up: ## start the local cluster (provider from opskit.yaml)
	$(BIN)/invoke cluster.up

cluster-down: ## stop the local cluster and remove its state
	$(BIN)/invoke cluster.down

doctor: ## check the external tools the workflow needs
	$(BIN)/invoke doctor

bench: ## benchmarks against the kwok cluster
	$(BIN)/nox -s bench

clean: ## remove caches and build output (.nox, .pytest_cache, coverage, ...)
	$(BIN)/invoke clean
