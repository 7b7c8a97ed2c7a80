#!/usr/bin/env bash
# `make run`, after the control plane is up: says how to use it. Later issues start the operator
# on a sample pool here.
set -euo pipefail
cd "$(dirname "$0")/.."
name=${1:-dev}
eval "$(bash hack/local-cluster.sh env "$name")"
cat <<MSG

The local control plane "$name" is up (etcd, kube-apiserver, kube-controller-manager,
kube-scheduler on 127.0.0.1). Point kubectl at it:

  export KUBECONFIG=$KUBECONFIG
  kubectl get namespaces

API server: $TANDEM_APISERVER_URL   logs: $TANDEM_CLUSTER_DIR/logs/
Stop it with: make down
MSG
.build/debug/tandem version
