#!/usr/bin/env bash
# Regenerates every figure the README shows, into experiments/figures/, from the experiments'
# own runs (run from the repository root, in the venv: `bash experiments/figures.sh`).
set -euo pipefail
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
python -m experiments.linear --animate --out "$out/linear"
python -m experiments.sine --out "$out/sine"
python -m experiments.sine --activation tanh --hidden 16 --steps 20000 --batch-size 32 \
    --lr 0.05 --out "$out/tanh"
python -m experiments.sweep --out "$out/sweep"
cd experiments/figures
cp "$out/linear/before_after.png" linear.png
cp "$out/linear/training.gif" training.gif
cp "$out/sine/before_after.png" sine.png
cp "$out/sine/loss.png" sine_loss.png
cp "$out/sine/collapse.png" collapse.png
cp "$out/tanh/loss.png" sine_tanh_loss.png
cp "$out/sweep/sweep_linear.png" sweep.png
cp "$out/sweep/sweep_sine.png" sweep_sine.png
ls -l
