#!/usr/bin/env bash
# `make run`, after the control plane is up: installs the CRD, starts the GPU-less node agent,
# applies sample pools and runs the operator in the foreground. Ctrl-C stops the operator and
# the node agent; `make down` the cluster.
set -euo pipefail
cd "$(dirname "$0")/.."
name=${1:-dev}
eval "$(bash hack/local-cluster.sh env "$name")"

kubectl apply -f crds/ >/dev/null
# GIE's InferencePool (inference.networking.k8s.io/v1): the operator renders one for pools with a
# scheduler block, which llm-d's endpoint picker (emulated by the node agent) reads.
kubectl apply -f hack/gie/ >/dev/null
kubectl wait --for condition=established --timeout=60s crd/inferencepools.inference.x-k8s.io \
  crd/inferencepools.inference.networking.k8s.io >/dev/null

# The GPU-less node agent: two H200 nodes (8 GPUs each) and a CPU node (for llm-d's endpoint
# picker, which asks for no GPU), each pod emulated on its own 127.0.0.x address. It logs to the
# cluster's log folder and stops with this script.
agent_log=$TANDEM_CLUSTER_DIR/logs/node-agent.log
.build/debug/tandem node-agent --kubeconfig "$KUBECONFIG" --nodes nvidia-h200=2 --cpu-nodes 1 \
  --startup-delay 5 </dev/null >>"$agent_log" 2>&1 &
agent=$!
trap 'kill $agent 2>/dev/null; wait $agent 2>/dev/null' EXIT

kubectl apply -f examples/seed-llm-d-deployment.yaml -f examples/llama-8b-small.yaml

cat <<MSG

The local control plane "$name" is up (etcd, kube-apiserver, kube-controller-manager,
kube-scheduler on 127.0.0.1), with the InferencePool CRDs (Tandem's and GIE's), the node agent
playing two H200 nodes of 8 GPUs and a CPU node (log: $agent_log), and two sample pools. In
another terminal:

  export KUBECONFIG=$KUBECONFIG
  kubectl get ipool              # the seed's decode tier does not fit one H200: see its conditions
  kubectl describe ipool llama-70b-disaggregated
  kubectl get deploy,svc,events
  curl -s 127.0.0.1:8080/metrics | grep controller_runtime
  .build/debug/tandem load --pool llama-8b --rate 4 --duration 20   # OpenAI traffic; TTFT/TPOT percentiles
  curl -s \$(kubectl get pod -l inference.x-k8s.io/endpoint-picker=llama-8b -o jsonpath='{.items[0].status.podIP}'):9090/metrics

llama-8b has a scheduler block: the operator renders llm-d's router (endpoint picker, GIE
InferencePool, routing sidecars). "tandem load --pool llama-8b" sends through the emulated
endpoint picker's gateway (its pod IP, port 8080), which prefills prompts of 256+ uncached tokens
on the prefill pod; its /metrics (port 9090) counts the decisions.

The 8B pool's pods turn Ready after a 5 s emulated model load; each serves /health and /v1/models
on its pod IP (kubectl get pods -o wide). Logs: $TANDEM_CLUSTER_DIR/logs/.
Stop the operator with Ctrl-C and the cluster with: make down

MSG
.build/debug/tandem operator --kubeconfig "$KUBECONFIG" --leader-elect=false --metrics-address 127.0.0.1:8080
