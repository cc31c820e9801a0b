#!/usr/bin/env bash
# Check that copiloot's ROUGE equals the `rouge-score` package's (stemming on, F1, mean over references):
# scores the predictions file of `copiloot eval summary --predictions` again in Python and compares
# per dialogue and on the mean. Uses its own venv (benches/.rouge-venv, PyPI only: rouge-score==0.1.2,
# nltk==3.10.4).
#
# Usage: benches/rouge_check.sh PREDICTIONS.jsonl
#   e.g. copiloot eval summary --data ../shared/data/summary/tweetsumm/tweetsumm_dev.jsonl --limit 100 \
#          --predictions /tmp/preds.jsonl && benches/rouge_check.sh /tmp/preds.jsonl
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${ROUGE_VENV:-$ROOT/benches/.rouge-venv}"
PY="${PYTHON:-python3}"

if [[ ! -x "$VENV/bin/python" ]]; then
  "$PY" -m venv "$VENV"
fi
if ! "$VENV/bin/python" -c "import rouge_score, nltk" 2>/dev/null; then
  "$VENV/bin/pip" install --quiet --disable-pip-version-check rouge-score==0.1.2 nltk==3.10.4
fi

"$VENV/bin/python" - "$1" <<'PYEOF'
import json, sys
from rouge_score import rouge_scorer

scorer = rouge_scorer.RougeScorer(["rouge1", "rouge2", "rougeL"], use_stemmer=True)
keys = {"rouge1": "rouge1", "rouge2": "rouge2", "rougeL": "rougeL"}
n, worst, ours_sum, theirs_sum = 0, 0.0, {k: 0.0 for k in keys}, {k: 0.0 for k in keys}
for line in open(sys.argv[1], encoding="utf-8"):
    row = json.loads(line)
    refs = row["references"]
    scores = [scorer.score(r, row["prediction"]) for r in refs]
    for k in keys:
        theirs = sum(s[k].fmeasure for s in scores) / len(scores)
        ours = row["rouge"][keys[k]]["f1"]
        worst = max(worst, abs(theirs - ours))
        ours_sum[k] += ours
        theirs_sum[k] += theirs
    n += 1
for k in keys:
    print(f"{k:7s} copiloot {100 * ours_sum[k] / n:6.2f}   rouge-score {100 * theirs_sum[k] / n:6.2f}")
print(f"dialogues {n}; largest per-dialogue difference in F1: {worst:.2e}")
sys.exit(0 if worst < 1e-6 else 1)
PYEOF
