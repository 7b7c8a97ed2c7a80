#!/usr/bin/env bash
# `make bench`: the autoscaling benchmark — `tandem simulate --policy all` (docs/benchmarks.md):
# Tandem's policy and the five baselines (static-peak, hpa, keda-llmd, dynamo-load, oracle) on
# the Azure conversation trace and on four synthetic patterns, Llama-3.1-70B on H200. Prints each
# report, one comparison table per load and the wall time per run, plus the tandem policy alone
# on the trace (the acceptance's "one policy, one simulated hour at 10×, < 30 s on one core").
# Deterministic: same binary, same numbers.
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

# Both tiers autoscaled by the policy, 1..32 replicas, each run starting warm at the replicas its
# load needs in the first minute (the oracle's count then; static-peak at its own counts).
common=(--model meta-llama/Llama-3.1-70B-Instruct --accelerator nvidia-h200
        --max-replicas 32 --warm-at-demand)

# run NAME POLICY ARGS…: one `tandem simulate`, timed; timelines under $out.
run() {
  local name=$1 policy=$2; shift 2
  echo
  echo "== $name ($policy)"
  local start end
  start=$(date +%s.%N)
  "$tandem" simulate "${common[@]}" --policy "$policy" "$@" --timeline-csv "$out/$name.csv"
  end=$(date +%s.%N)
  printf 'process wall time %.2f s; timeline%s in %s\n' "$(awk -v a="$start" -v b="$end" 'BEGIN { print b - a }')" \
    "$([ "$policy" = all ] && echo "s (one per policy)")" "$out/$name*.csv"
  [ "$policy" = all ] && plot "$name"
  return 0
}

# plot NAME: the PNG chart of every policy's timeline of run NAME (matplotlib from the venv
# hack/install-deps.sh makes; without it the CSVs are there and the chart is skipped, said so).
python=${TANDEM_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/tandem}/venv/bin/python
plot() {
  local name=$1 pairs=()
  for policy in tandem static-peak hpa keda-llmd dynamo-load oracle; do
    pairs+=("$policy=$out/$name-$policy.csv")
  done
  if "$python" -c 'import matplotlib' 2>/dev/null; then
    "$python" hack/plot-timeline.py "$out/$name.png" "$name: ready replicas per policy" "${pairs[@]}"
  else
    echo "no matplotlib at $python (run hack/install-deps.sh); chart $out/$name.png skipped"
  fi
}

if [ -f "$trace" ]; then
  trace_args=(--trace "$trace" --rate-scale "$rate_scale" --seed 1)
  run "conversation-x$rate_scale-tandem" tandem "${trace_args[@]}"
  run "conversation-x$rate_scale" all "${trace_args[@]}"
else
  echo "no trace at $trace (set TRACE=…); skipping the trace runs"
fi
run step-1024x256 all --pattern step --rate 8 --duration 1800 --prompt-tokens 1024 --output-tokens 256 --seed 1
run diurnal-1024x256 all --pattern diurnal --rate 10 --duration 3600 --prompt-tokens 1024 --output-tokens 256 --seed 1
run surge-1024x256 all --pattern surge --rate 6 --duration 1800 --prompt-tokens 1024 --output-tokens 256 --seed 1
run burst-2048x128 all --pattern burst --rate 6 --duration 1800 --prompt-tokens 2048 --output-tokens 128 --seed 1
