#!/usr/bin/env bash
# `make test`: every check the project has, phase by phase, each phase timed.
# Phases: deps, build, unit, integration (the client and runtime against a real API server),
# e2e (the operator, node agent, emulators and the tandem binary working together), smoke (the
# chaos smoke through the fault proxy). Pass phase
# names to run only those.
# The control plane the integration tests use is started here, writes only to log files,
# and is stopped on exit, whatever happens.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
phases=("$@")
[ ${#phases[@]} -gt 0 ] || phases=(deps build unit integration e2e smoke)
# Suites of the e2e phase (a regular expression over swift-testing's test identifiers).
e2e='IntegrationTests\.(OperatorTests|OperatorProcessTests|CommandLineTests|NodeAgentTests|EmulatorTests|LoadGeneratorTests|RouterTests|AutoscalingScenarioTests|HelmChartTests|UpgradeTests)\b'


declare -a report=()
results=$(mktemp /tmp/tandem-test-results.XXXXXX)
total_start=$(date +%s)
cluster=""

cleanup() {
  local rc=$?
  if [ -n "$cluster" ]; then
    bash hack/local-cluster.sh down "$cluster" --purge >/dev/null 2>&1 || true
  fi
  # Clusters a crashed test process started for itself (test-PID, gone-PID, …) are stopped too,
  # but only those whose process is gone: another run on this machine (another worktree shares
  # ~/.cache/tandem/clusters) may be using its own clusters right now.
  for name in $(bash hack/local-cluster.sh list 2>/dev/null | awk '{print $1}' | grep -E -- '-[0-9]+$' || true); do
    kill -0 "${name##*-}" 2>/dev/null && continue
    bash hack/local-cluster.sh down "$name" --purge >/dev/null 2>&1 || true
  done
  echo
  echo "== time per phase"
  for line in "${report[@]}"; do echo "   $line"; done
  echo "   total: $(( $(date +%s) - total_start ))s (exit $rc)"
  # One plain closing line over every swift-testing run: "tests: N passed, N failed".
  local total failed
  total=$(sed -n 's/.*Test run with \([0-9]*\) tests\{0,1\} .*/\1/p' "$results" | awk '{s+=$1} END{print s+0}')
  failed=$(grep -c -E '^✘ Test .*\) failed after' "$results" || true)
  rm -f "$results"
  echo "tests: $(( total - failed )) passed, $failed failed"
  exit $rc
}
trap cleanup EXIT

phase() {
  local name=$1; shift
  echo
  echo "== phase $name"
  local start=$(date +%s)
  local rc=0
  "$@" || rc=$?
  local took=$(( $(date +%s) - start ))
  report+=("$name: ${took}s$( [ $rc = 0 ] || echo " (FAILED, exit $rc)")")
  echo "== phase $name: ${took}s"
  return $rc
}

run_deps() { bash hack/install-deps.sh; }
run_build() { swift build --build-tests; }
# swift test's output goes to the terminal and to $results (for the closing count).
swift_test() { swift test --skip-build "$@" 2>&1 | tee -a "$results"; }
run_unit() { swift_test --skip IntegrationTests; }
# The shared control plane for the integration and e2e phases, started once.
shared_cluster() {
  [ -n "$cluster" ] && return 0
  cluster="test-make-$$"
  bash hack/local-cluster.sh up "$cluster"
  eval "$(bash hack/local-cluster.sh env "$cluster")"
  export TANDEM_TEST_KUBECONFIG=$KUBECONFIG TANDEM_ROOT=$root
}
# The chaos smoke (issue 14): operator processes through the fault proxy on compressed election
# timings, on a cluster of its own; run alone, after the rest, so its timings meet an idle core.
smoke='IntegrationTests\.ChaosSmokeTests\b'
run_integration() { shared_cluster && swift_test --filter IntegrationTests --skip "$e2e" --skip "$smoke"; }
run_e2e() { shared_cluster && swift_test --filter "$e2e"; }
# `make chaos`: the fault suites (each on clusters of its own), apart from the default phases.
run_smoke() { swift_test --filter "$smoke"; }
run_chaos() { shared_cluster && TANDEM_CHAOS_PROFILE=production swift_test --filter 'IntegrationTests\.(FaultProxyTests|ChaosSmokeTests|PoisonPillTests|AutoscalerFaultTests|StalledScrapeTests|LeaderElectionTests)\b'; }

for p in "${phases[@]}"; do
  phase "$p" "run_$p"
done
