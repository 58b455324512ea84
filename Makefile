# The two commands a new machine needs: `make run` and `make test`.
# No Docker, no system PostgreSQL or Kafka: the local stack starts both from pip wheels.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: tools run test lint unit integration migrate schemas bench bench-grouper bench-gateway bench-console clean stack deploy-check docs contract-check

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade "pip==26.3"
	$(BIN)/pip install --quiet -c constraints.txt -e ".[dev,local]"
	touch $(STAMP)

venv: $(STAMP)

## Debian's Chromium (the console's browser tests) and promtool (the alert rules' tests), installed once.
## Needs apt and root, as on CI; a machine that has both installs nothing.
TOOLS := /usr/bin/chromium /usr/bin/promtool
$(TOOLS):
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium prometheus >/dev/null

tools: $(TOOLS)

## Start the local stack and every service; Ctrl-C stops everything.
## `make run DEMO=0` starts empty, without the demo data and the demo hospital feed.
run: $(STAMP)
	DEMO=$(or $(DEMO),1) $(BIN)/python -m deploy.run

## Lint, then unit and integration tests against a real broker and database.
test: lint tools
	@# pytest exits 5 when it collected nothing: that must fail, never pass quietly.
	@# Two workers, each with its own PostgreSQL and broker (the suite mostly waits on the broker); a file's
	@# tests stay on one worker and the slow end-to-end files start first. A test still running after 400 s
	@# has its stack printed, so a hang says where it is.
	$(BIN)/pytest -q -n 2 --dist loadfile --no-loadscope-reorder -o faulthandler_timeout=400 tests; rc=$$?; \
	  if [ $$rc -eq 5 ]; then echo "make test: no tests were collected" >&2; fi; exit $$rc

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy .

unit: $(STAMP)
	$(BIN)/pytest -q tests/unit

## Apply every service's migrations to DATABASE_URL (or the running local stack).
migrate: $(STAMP)
	$(BIN)/claimsctl migrate

## Validate deploy/ with real tools (docker-compose v2, kustomize + Kubernetes 1.33 schemas, hadolint) and the code.
deploy-check: $(STAMP) tools
	$(BIN)/python -m deploy.check
	$(BIN)/pytest -q tests/unit/deploy tests/integration/deploy/test_deploy_check.py

## Re-render the README's rule, reason-code and settings tables from the code.
docs: $(STAMP)
	$(BIN)/python -m shared.docs

## Fail on an event-contract change that is incompatible with the released contract (docs/contract-policy.md).
contract-check: $(STAMP)
	$(BIN)/python -m shared.contract_check

## Write one JSON Schema per event to docs/events/.
schemas: $(STAMP)
	$(BIN)/python -m shared.schemas docs/events

## End to end: N claims through all four services on a fresh local stack -> bench/results/e2e.{json,png}.
bench: $(STAMP)
	$(BIN)/python -m bench.e2e $(if $(CLAIMS),--claims $(CLAIMS))

## Grouper: the pure engine on one core, then the running service through the broker.
bench-grouper: $(STAMP)
	$(BIN)/python bench/grouper_engine.py
	$(BIN)/python -m bench.grouper_service

## Gateway: signed submissions per second through the HTTP gateway to claims.submitted, and p99 latency.
bench-gateway: $(STAMP)
	$(BIN)/python -m bench.gateway $(if $(CLAIMS),--claims $(CLAIMS))

## Console read model: 1,000,000 claims stored, each analytics and operations query timed -> bench/results/console.json.
bench-console: $(STAMP)
	$(BIN)/python -m bench.console_read_model $(if $(CLAIMS),--claims $(CLAIMS))

## The local stack alone (connection settings in .local/stack.env).
stack: $(STAMP)
	$(BIN)/python -m deploy.local up

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .local
