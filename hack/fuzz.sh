#!/usr/bin/env bash
# The overflow fuzz's `make chaos` tier (issue 14, defect 2): 100,000 seeded cases of hostile
# numbers (vLLM flags with k/M/G suffixes, values near the Int32 and Int64 limits, huge and odd
# quantities, replicas and bounds near the limits) through validation, planning, sizing,
# rendering and the pool status, in child processes of `tandem-fuzz`. Prints the figures of each
# seed and the totals; exits 1 if a child traps (naming the seed, the case and the command that
# re-runs it alone) or breaks a rule.
#
#   hack/fuzz.sh [cases-per-seed] [seed ...]      default: 20000 cases × seeds 1 2 3 4 5
#   CONFIG=release hack/fuzz.sh                   use .build/release (default: debug)
#   JOBS=1 hack/fuzz.sh                           one seed at a time (default: one per core)
set -uo pipefail
cd "$(dirname "$0")/.."
config="${CONFIG:-debug}"
binary=".build/$config/tandem-fuzz"
per_seed="${1:-20000}"
shift || true
seeds=("$@")
[ ${#seeds[@]} -gt 0 ] || seeds=(1 2 3 4 5)
if [ ! -x "$binary" ]; then
    echo "fuzz: $binary is missing; build it first: swift build -c $config --product tandem-fuzz" >&2
    exit 2
fi
log_dir="$(mktemp -d "${TMPDIR:-/tmp}/tandem-fuzz.XXXXXX")"
total_cases=0 total_plans=0 total_failures=0 total_invalid=0 failed=0
started=$(date +%s)
# The seeds run side by side (JOBS at a time, default: the cores), each in its own child.
jobs_max="${JOBS:-$(nproc 2>/dev/null || echo 2)}"
for seed in "${seeds[@]}"; do
    while [ "$(jobs -rp | wc -l)" -ge "$jobs_max" ]; do wait -n; done
    ( "$binary" --seed "$seed" --cases "$per_seed" --progress-every 10000 >"$log_dir/seed-$seed.out" 2>"$log_dir/seed-$seed.err"
      echo $? >"$log_dir/seed-$seed.rc" ) &
done
wait
for seed in "${seeds[@]}"; do
    out="$log_dir/seed-$seed.out"
    err="$log_dir/seed-$seed.err"
    status="$(cat "$log_dir/seed-$seed.rc")"
    if [ $status -gt 128 ]; then
        last="$(grep '^case ' "$out" | tail -1)"
        echo "fuzz: seed $seed: the child died of signal $((status - 128)) in '$last'" >&2
        echo "fuzz:   re-run that case alone: $binary --case-seed ${last##* }" >&2
        tail -5 "$err" >&2
        failed=1
        continue
    fi
    summary="$(grep '^summary ' "$out" | tail -1)"
    echo "fuzz: seed $seed: ${summary#summary }"
    grep '^reasons ' "$out" | sed "s/^/fuzz: seed $seed: /"
    if [ $status -ne 0 ] || [ -z "$summary" ]; then
        echo "fuzz: seed $seed: exit $status: $(grep '^inconsistent ' "$out" | tail -1)" >&2
        failed=1
        continue
    fi
    read -r cases plans failures invalid < <(awk '{for (i = 2; i < NF; i += 2) v[$i] = $(i + 1); print v["cases"], v["plans"], v["failures"], v["invalid"]}' <<<"$summary")
    if [ $((plans + failures + invalid)) -ne "$cases" ]; then
        echo "fuzz: seed $seed: $plans plans + $failures failures + $invalid invalid != $cases cases" >&2
        failed=1
    fi
    total_cases=$((total_cases + cases)) total_plans=$((total_plans + plans))
    total_failures=$((total_failures + failures)) total_invalid=$((total_invalid + invalid))
done
elapsed=$(($(date +%s) - started))
echo "fuzz: total: $total_cases cases ($config build) in ${elapsed}s: $total_plans plans, $total_failures with a SizingValid=False condition, $total_invalid invalid specs; traps: $([ $failed -eq 0 ] && echo 0 || echo 'see above')"
[ $failed -eq 0 ] && rm -rf "$log_dir" || echo "fuzz: logs in $log_dir" >&2
exit $failed
