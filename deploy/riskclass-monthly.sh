#!/usr/bin/env bash
# Monthly job: classifies the PREVIOUS calendar month, explicitly, and drafts this month's 双随机 plan.
# The month is computed here, once, from the clock of the scheduler; everything downstream receives
# it as a parameter (params.yaml classify.month via `riskclass run --month`).
set -euo pipefail
repo="${RISKCLASS_HOME:-/opt/riskclass}"
cd "$repo"
month="$(date -d "$(date +%Y-%m-01) -1 day" +%Y-%m)"
git pull --ff-only                      # start from a clean checkout (dvc.lock hashes deps after running)
.venv/bin/riskclass run --month "$month"
.venv/bin/riskclass audit verify --month "$month"
.venv/bin/riskclass plan --classes-month "$month" --verify   # the drafted plan re-derives from its seed
git add params.yaml dvc.lock
git commit -m "classification $month" --quiet || true
