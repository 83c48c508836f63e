#!/usr/bin/env bash
# Monthly job: classifies the PREVIOUS calendar month, explicitly, and drafts this month's 双随机 plan.
# The month is computed here, once, from the clock of the scheduler; everything downstream receives it
# as an argument (`riskclass run --month` writes it to period.yaml; params.yaml is never edited).
# Exit codes: 0 done; 2 refused (bad month or parameters: see the log); 4 another run holds the lock;
# 10 done, but the month's stability verdict is shifted (偏移): classes sealed, plan drawn and committed, and the
# operator is alerted through the non-zero status (docs/monitoring.md); anything else: a stage failed (dvc repro)
# or the audit found a problem.
set -euo pipefail
repo="${RISKCLASS_HOME:-/opt/riskclass}"
cd "$repo"
export RISKCLASS_AUDIT_KEY_FILE="${RISKCLASS_AUDIT_KEY_FILE:-/etc/riskclass/audit.key}"  # outside the repository
month="$(date -d "$(date +%Y-%m-01) -1 day" +%Y-%m)"
git pull --ff-only                      # start from a clean checkout (dvc.lock hashes deps after running)
status=0
.venv/bin/riskclass run --month "$month" || status=$?
if [ "$status" -ne 0 ] && [ "$status" -ne 10 ]; then exit "$status"; fi
.venv/bin/riskclass audit verify --month "$month"
.venv/bin/riskclass plan --classes-month "$month" --verify   # the drafted plan re-derives from its seed
# the run file, the pipeline's hashes and the ledger head (an anchor of the records outside the data)
git add period.yaml dvc.lock reports/records_head.json
git commit -m "classification $month" --quiet || true
exit "$status"
