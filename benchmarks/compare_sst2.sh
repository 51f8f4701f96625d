#!/usr/bin/env bash
# Benchmark: the full comparison on SST-2 (every approach; learning curves, calibration,
# robustness, cost), then its plots copied beside RESULTS.md.
#   bash benchmarks/compare_sst2.sh            # add --resume to continue an interrupted run
set -euo pipefail
cd "$(dirname "$0")/.."
.venv/bin/llmdisc compare --config recipes/sst2-compare.yaml "$@"
mkdir -p benchmarks/figures
for plot in learning_curves reliability robustness cost; do
  cp "outputs/compare-sst2/plots/$plot.png" "benchmarks/figures/sst2-$plot.png"
done
