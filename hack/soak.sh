#!/usr/bin/env bash
# `make soak` (issue 14): SOAK_POOLS InferencePools created and deleted over SOAK_MINUTES, names
# re-used, against an operator process on a control plane of its own; the operator's RSS and its
# /metrics series must return to baseline, and a pool re-created under a name whose last pool had
# a scaling history must start without it. The driver is `tandem-soak` (Sources/tandem-soak);
# docs/testing.md describes what it checks and the tolerances.
#
#   hack/soak.sh                                 10,000 pools over 60 minutes (release build)
#   SOAK_POOLS=600 SOAK_MINUTES=6 hack/soak.sh   a shorter run
#   SOAK_CONFIG=debug hack/soak.sh               use .build/debug (default: release)
#   SOAK_BUILD_PATH=.build-release hack/soak.sh  binaries of another --scratch-path (default: .build)
#   SOAK_DRIVER=.build/debug/tandem-soak hack/soak.sh   the driver from elsewhere (it is not timed)
#   SOAK_ARGS="--lifetime 20" hack/soak.sh       more tandem-soak options (tandem-soak --help)
#
# The cluster (soak-<pid>), the operator and their logs live under ~/.cache/tandem/clusters/;
# everything this script started is stopped on exit, whatever happens. Exit status: the driver's
# (0 passed, 1 a figure out of tolerance or a check failed, 2 the run could not finish).
set -euo pipefail
cd "$(dirname "$0")/.."
pools=${SOAK_POOLS:-10000}
minutes=${SOAK_MINUTES:-60}
config=${SOAK_CONFIG:-release}
name=${SOAK_CLUSTER:-soak-$$}
build=${SOAK_BUILD_PATH:-.build}
tandem=$build/$config/tandem
driver=${SOAK_DRIVER:-$build/$config/tandem-soak}
for binary in "$tandem" "$driver"; do
  if [ ! -x "$binary" ]; then
    echo "soak: $binary is missing; build it first: swift build -c $config --product ${binary##*/}" >&2
    exit 2
  fi
done

operator=""
cleanup() {
  local rc=$?
  if [ -n "$operator" ] && kill -0 "$operator" 2>/dev/null; then
    kill -TERM "$operator" 2>/dev/null || true
    for _ in $(seq 1 100); do kill -0 "$operator" 2>/dev/null || break; sleep 0.2; done
    kill -KILL "$operator" 2>/dev/null || true
  fi
  if [ -z "${SOAK_KEEP_CLUSTER:-}" ]; then
    bash hack/local-cluster.sh down "$name" --purge >/dev/null 2>&1 || true
  else
    echo "soak: cluster $name kept (SOAK_KEEP_CLUSTER); stop it with: bash hack/local-cluster.sh down $name --purge"
  fi
  exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

bash hack/local-cluster.sh up "$name" >/dev/null
eval "$(bash hack/local-cluster.sh env "$name")"
logs=$TANDEM_CLUSTER_DIR/logs
# Kept beside the cluster's logs, outside it: `down --purge` removes the cluster's folder.
keep=${TMPDIR:-/tmp}/tandem-soak-$name
mkdir -p "$keep"
kubectl apply -f crds/ >/dev/null
kubectl wait --for condition=established --timeout=60s crd/inferencepools.inference.x-k8s.io >/dev/null

# The operator: one process, no election, /metrics over plain HTTP on a free port (read back
# from its log), JSON logs to a file.
"$tandem" operator --kubeconfig "$KUBECONFIG" --leader-elect=false --metrics-secure=false \
  --metrics-address 127.0.0.1:0 --log-format json </dev/null >"$keep/operator.log" 2>&1 &
operator=$!
port=""
for _ in $(seq 1 300); do
  port=$(sed -n 's|.*serving /metrics.* on http://127\.0\.0\.1:\([0-9]*\).*|\1|p' "$keep/operator.log" | head -1)
  [ -n "$port" ] && break
  kill -0 "$operator" 2>/dev/null || { echo "soak: the operator exited; its log:" >&2; tail -20 "$keep/operator.log" >&2; exit 2; }
  sleep 0.2
done
[ -n "$port" ] || { echo "soak: the operator did not report its /metrics port within 60 s ($keep/operator.log)" >&2; exit 2; }
echo "soak: cluster $name, operator pid $operator ($config build), /metrics on 127.0.0.1:$port; logs: $keep/operator.log, $logs/"

rc=0
# shellcheck disable=SC2086
"$driver" --kubeconfig "$KUBECONFIG" --pools "$pools" --minutes "$minutes" --operator-pid "$operator" \
  --metrics-url "http://127.0.0.1:$port/metrics" ${SOAK_ARGS:-} 2>"$keep/driver.err" || rc=$?
if ! kill -0 "$operator" 2>/dev/null; then
  echo "soak: the operator is no longer running; the end of its log:" >&2
  tail -20 "$keep/operator.log" >&2
  [ $rc -ne 0 ] || rc=2
fi
[ ! -s "$keep/driver.err" ] || { echo "soak: the driver's warnings ($keep/driver.err):"; tail -5 "$keep/driver.err"; }
exit $rc
