#!/usr/bin/env bash
# Benchmark: how long the llmdisc command takes to answer when it does no work (issue #19).
# Whole-process wall time (/usr/bin/time), median of RUNS runs, warm file cache (one untimed
# run first). With several source folders the runs alternate between them, so that a busy
# machine slows each alike, and the last column is each one's median over the first's.
#   bash benchmarks/cli_startup.sh                            # this checkout
#   bash benchmarks/cli_startup.sh /tmp/before .              # before / after, alternating
#   (/tmp/before: git archive 6e1af60 | tar -x -C /tmp/before, the code before issue #19)
set -euo pipefail
cd "$(dirname "$0")/.."
EXE=${LLMDISC_EXE:-$PWD/.venv/bin/llmdisc}
RUNS=${RUNS:-5}
SRCS=("$@")
[ ${#SRCS[@]} -gt 0 ] || SRCS=("$PWD")
export HF_HUB_OFFLINE=1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
printf 'sentence,label\nfine,positive\nbad,negative\n' > "$tmp/no-text.csv"

median() { sort -n | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }

time_it() {  # time_it NAME ARGS...: a warm-up each, then RUNS alternating timed runs per source
  local name=$1; shift
  for i in "${!SRCS[@]}"; do
    PYTHONPATH="${SRCS[$i]}" "$EXE" "$@" >/dev/null 2>&1 || true
    : > "$tmp/times.$i"
  done
  for _ in $(seq "$RUNS"); do
    for i in "${!SRCS[@]}"; do
      PYTHONPATH="${SRCS[$i]}" /usr/bin/time -f %e -o "$tmp/t" "$EXE" "$@" >/dev/null 2>&1 || true
      tail -n 1 "$tmp/t" >> "$tmp/times.$i"  # the last line: time prepends "Command exited with non-zero status N"
    done
  done
  local first
  first=$(median < "$tmp/times.0")
  for i in "${!SRCS[@]}"; do
    m=$(median < "$tmp/times.$i")
    printf '%-34s %-28s median %6.2f s  (runs: %s)  x%.2f\n' "$name" "${SRCS[$i]}" "$m" \
      "$(paste -sd' ' "$tmp/times.$i")" "$(echo "$m / $first" | bc -l)"
  done
}

time_it "llmdisc --help" --help
time_it "llmdisc train encoder --help" train encoder --help
time_it "missing text column (train)" train naive_bayes --data "$tmp/no-text.csv" --text-column body
