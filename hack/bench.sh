#!/usr/bin/env bash
# `make bench`: the autoscaling benchmark — `tandem simulate` (docs/benchmarks.md) with the
# tandem policy on the Azure conversation trace and on two synthetic patterns, Llama-3.1-70B on
# H200. Prints each report and the wall time per run. Deterministic: same binary, same numbers.
# TRACE overrides the trace's path; RATE_SCALE the number of interleaved trace copies.
set -euo pipefail
cd "$(dirname "$0")/.."
trace=${TRACE:-../shared/data/traces/AzureLLMInferenceTrace_conv.csv}
rate_scale=${RATE_SCALE:-10}
out=${BENCH_OUT:-.build/bench}
mkdir -p "$out"

echo "== build (release)"
swift build -c release --product tandem 2>&1 | tail -1
tandem=.build/release/tandem
echo "machine: $(nproc) cores, $(uname -m), $(date -u +%Y-%m-%dT%H:%MZ)"

# Both tiers autoscaled by the policy, 1..32 replicas, started warm at 4 prefill / 8 decode.
common=(--model meta-llama/Llama-3.1-70B-Instruct --accelerator nvidia-h200 --policy tandem
        --max-replicas 32 --prefill-replicas 4 --decode-replicas 8)

run() {
  local name=$1; shift
  echo
  echo "== $name"
  local start end
  start=$(date +%s.%N)
  "$tandem" simulate "${common[@]}" "$@" --timeline-csv "$out/$name.csv"
  end=$(date +%s.%N)
  printf 'process wall time %.2f s; timeline in %s\n' "$(awk -v a="$start" -v b="$end" 'BEGIN { print b - a }')" "$out/$name.csv"
}

if [ -f "$trace" ]; then
  run "conversation-x$rate_scale" --trace "$trace" --rate-scale "$rate_scale" --seed 1
else
  echo "no trace at $trace (set TRACE=…); skipping the trace run"
fi
run step-1024x256 --pattern step --rate 8 --duration 1800 --prompt-tokens 1024 --output-tokens 256 --seed 1
run burst-2048x128 --pattern burst --rate 6 --duration 1800 --prompt-tokens 2048 --output-tokens 128 --seed 1
