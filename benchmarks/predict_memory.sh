#!/usr/bin/env bash
# Benchmark: peak memory of `llmdisc predict` against the input's length (issue 29).
# A naive_bayes model trained on the demo reviews (the cheapest approach and a small model, so
# that what grows with the input shows: a model trained on all of SST-2 peaks at ~530 MiB while
# skops loads its vocabulary, above anything predicting does), then `predict --file` on 1,000
# and 200,000 lines of SST-2 sentences (DATA=path trains on other data), the
# records to stdout (/dev/null), a .jsonl file and a .parquet file. Peak resident memory is
# /usr/bin/time's "maximum resident set size", median of RUNS runs. With several source folders
# (PYTHONPATH) they alternate, so that each sees the same machine.
#   bash benchmarks/predict_memory.sh                       # this checkout
#   bash benchmarks/predict_memory.sh /tmp/before .         # before / after
#   LINES="1000 20000 200000" RUNS=3 bash benchmarks/predict_memory.sh
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-$PWD/.venv/bin/python}
RUNS=${RUNS:-3}
LINES=${LINES:-"1000 200000"}
SST2=${SST2:-$PWD/../shared/data/sst2}
DATA=${DATA:-demo}
SRCS=("$@")
[ ${#SRCS[@]} -gt 0 ] || SRCS=("$PWD")
export HF_HUB_OFFLINE=1 OMP_NUM_THREADS=1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
SST2=$(cd "$SST2" && pwd)
for i in "${!SRCS[@]}"; do SRCS[$i]=$(cd "${SRCS[$i]}" && pwd); done
[ ! -e "$DATA" ] || DATA=$(realpath "$DATA")
# `python -m` puts the working folder first on sys.path: run from one without llmdisc, so that
# PYTHONPATH decides which source is measured.
cd "$tmp"

PYTHONPATH="${SRCS[0]}" "$PYTHON" -m llmdisc train naive_bayes --data "$DATA" --eval-splits validation \
  --output-dir "$tmp/nb" >/dev/null 2>"$tmp/err" || { cat "$tmp/err"; exit 1; }
for n in $LINES; do  # SST-2's training sentences, cycled to n lines
  tail -n +2 "$SST2/train.tsv" | cut -f1 | awk -v n="$n" '{a[NR]=$0} END {for (i = 0; i < n; i++) print a[i % NR + 1]}' \
    > "$tmp/in-$n.txt"
done

median() { sort -n | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }

printf '%-28s %-8s %8s %14s   %s\n' source output lines "peak MiB" "runs (MiB)"
for out in stdout jsonl parquet; do
  for n in $LINES; do
    for i in "${!SRCS[@]}"; do : > "$tmp/rss.$i"; done
    for _ in $(seq "$RUNS"); do
      for i in "${!SRCS[@]}"; do
        target=()
        [ "$out" = stdout ] || target=(--output "$tmp/out.$out")
        PYTHONPATH="${SRCS[$i]}" /usr/bin/time -f %M -o "$tmp/t" "$PYTHON" -m llmdisc predict "$tmp/nb" \
          --file "$tmp/in-$n.txt" "${target[@]}" >/dev/null 2>"$tmp/err" || { cat "$tmp/err"; exit 1; }
        echo "$(tail -n 1 "$tmp/t") / 1024" | bc -l >> "$tmp/rss.$i"
      done
    done
    for i in "${!SRCS[@]}"; do
      printf '%-28s %-8s %8d %14.1f   %s\n' "${SRCS[$i]}" "$out" "$n" "$(median < "$tmp/rss.$i")" \
        "$(xargs printf '%.1f ' < "$tmp/rss.$i")"
    done
  done
done
