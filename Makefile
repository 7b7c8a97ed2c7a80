# Tandem — two commands do all the set-up on a fresh machine:
#   make run    install what is needed, start the local control plane, run the operator
#   make test   everything the project checks (deps, build, unit, integration), timed per phase
SHELL := /bin/bash
.DEFAULT_GOAL := help
CLUSTER ?= dev

.PHONY: help deps build test unit integration e2e bench chaos soak run down clean

help:
	@echo "make run    - install deps, start the local control plane ($(CLUSTER)), print how to use it"
	@echo "make test   - deps, build, unit and integration tests against a real API server"
	@echo "make down   - stop the local control plane started by make run"
	@echo "make bench  - the autoscaling benchmark: tandem simulate on a trace and two patterns (release build)"
	@echo "make chaos  - the hardening tier apart from make test: 100k overflow fuzz cases, the fault suites"
	@echo "make soak   - 10,000 pools created and deleted over an hour, names re-used: RSS and /metrics back to baseline (SOAK_POOLS, SOAK_MINUTES)"

deps:
	@bash hack/install-deps.sh

build:
	swift build

test:
	@bash hack/test.sh

# Faster loops while developing (they assume deps are installed).
unit:
	@bash hack/test.sh unit
integration:
	@bash hack/test.sh integration
e2e:
	@bash hack/test.sh e2e

# The autoscaling benchmark (docs/benchmarks.md): simulated, no cluster needed.
bench:
	@bash hack/bench.sh

# The hardening tier (docs/testing.md): the overflow fuzz at 100k cases, then the fault suites.
chaos: deps
	swift build --build-tests
	@bash hack/fuzz.sh 20000 1 2 3 4 5
	@bash hack/test.sh chaos

# The soak (docs/testing.md): its own control plane, a release operator, pools created and deleted
# for SOAK_MINUTES (default 60); not part of make test.
soak: deps
	swift build -c release --product tandem
	swift build -c release --product tandem-soak
	@bash hack/soak.sh

run: deps build
	@bash hack/local-cluster.sh up $(CLUSTER)
	@bash hack/run.sh $(CLUSTER)

down:
	@bash hack/local-cluster.sh down $(CLUSTER)

clean:
	rm -rf .build
