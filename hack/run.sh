#!/usr/bin/env bash
# `make run`, after the control plane is up: installs the CRD, registers two GPU Nodes through
# the API (the node agent that runs emulated model servers comes later), applies sample pools
# and runs the operator in the foreground. Ctrl-C stops the operator; `make down` the cluster.
set -euo pipefail
cd "$(dirname "$0")/.."
name=${1:-dev}
eval "$(bash hack/local-cluster.sh env "$name")"

kubectl apply -f crds/ >/dev/null
kubectl wait --for condition=established --timeout=60s crd/inferencepools.inference.x-k8s.io >/dev/null

api() { # METHOD PATH [JSON] — the API with the admin certificate (works with any kubectl version)
  curl -sS --fail --cacert "$TANDEM_CA_FILE" --cert "$TANDEM_ADMIN_CERT_FILE" --key "$TANDEM_ADMIN_KEY_FILE" \
    -X "$1" -H "Content-Type: ${4:-application/json}" "$TANDEM_APISERVER_URL$2" ${3:+-d "$3"} >/dev/null
}
for i in 0 1; do
  node=h200-$i
  api GET "/api/v1/nodes/$node" 2>/dev/null || api POST /api/v1/nodes "{\"apiVersion\":\"v1\",\"kind\":\"Node\",
    \"metadata\":{\"name\":\"$node\",\"labels\":{\"nvidia.com/gpu.product\":\"NVIDIA-H200\",\"kubernetes.io/hostname\":\"$node\"}},
    \"spec\":{\"taints\":[{\"key\":\"nvidia.com/gpu\",\"value\":\"present\",\"effect\":\"NoSchedule\"}]}}"
  api PATCH "/api/v1/nodes/$node/status" "{\"status\":{\"capacity\":{\"nvidia.com/gpu\":\"8\",\"cpu\":\"192\",\"memory\":\"2Ti\",\"pods\":\"110\"},
    \"allocatable\":{\"nvidia.com/gpu\":\"8\",\"cpu\":\"192\",\"memory\":\"2Ti\",\"pods\":\"110\"}}}" application/merge-patch+json
done

kubectl apply -f examples/seed-llm-d-deployment.yaml -f examples/llama-8b-small.yaml

cat <<MSG

The local control plane "$name" is up (etcd, kube-apiserver, kube-controller-manager,
kube-scheduler on 127.0.0.1), with the InferencePool CRD, two H200 Nodes registered through
the API, and two sample pools. In another terminal:

  export KUBECONFIG=$KUBECONFIG
  kubectl get ipool              # the seed's decode tier does not fit one H200: see its conditions
  kubectl describe ipool llama-70b-disaggregated
  kubectl get deploy,svc,events
  curl -s 127.0.0.1:8080/metrics | grep controller_runtime

Pods stay Pending until the GPU-less node agent lands (road step 4). Logs: $TANDEM_CLUSTER_DIR/logs/.
Stop the operator with Ctrl-C and the cluster with: make down

MSG
exec .build/debug/tandem operator --kubeconfig "$KUBECONFIG" --leader-elect=false --metrics-address 127.0.0.1:8080
