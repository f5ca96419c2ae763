#!/usr/bin/env bash
# `make demo`: the seq2seq tool on the built-in dates corpus, end to end.
# Trains (at most 3 minutes), translates, scores the test split, draws an
# attention map, and prints where everything went and how long each took.
set -euo pipefail

# TensorFlow C++ log lines off (the Makefile exports level 2); at level 3
# the launcher also hides the lines TensorFlow prints while it is imported.
export TF_CPP_MIN_LOG_LEVEL=3
PY=${PY:-.venv/bin/python}
RUN=runs/dates
OUT=demo-out
SETUP_SECONDS=${SETUP_SECONDS:-0}
seq2seq() { "$PY" -m keras_seq2seq_cli "$@"; }  # what `seq2seq` runs
now() { date +%s%N; }  # nanoseconds
took() { local d=$((($2 - $1) / 100000000)); echo "$((d / 10)).$((d % 10))"; }

rm -rf "$RUN" "$OUT"
mkdir -p "$OUT"
echo "== 1. train: seq2seq train   (dates corpus, character level, backend ${KERAS_BACKEND:-tensorflow})"
t0=$(now)
seq2seq train
t1=$(now)

echo
echo "== 2. translate: seq2seq translate $RUN   (sentences on stdin)"
printf '%s\n' "saturday 9 may 2018" "9/5/18" "May 9th, 2018" \
  "THE 1ST OF JANUARY 1900" "tue, dec 31,  2099" "20240229" \
  | tee "$OUT/sentences.txt" \
  | seq2seq translate "$RUN" > "$OUT/translations.txt"
paste "$OUT/sentences.txt" "$OUT/translations.txt" | sed 's/\t/  ->  /'
t2=$(now)

echo
echo "== 3. evaluate: seq2seq evaluate $RUN --data $RUN/data/test.tsv"
seq2seq evaluate "$RUN" --data "$RUN/data/test.tsv" --json "$OUT/test.json"
t3=$(now)

echo
echo "== 4. plot: seq2seq plot $RUN \"saturday 9 may 2018\""
seq2seq plot "$RUN" "saturday 9 may 2018" --output "$OUT/attention.png"
t4=$(now)

"$PY" - "$OUT/test.json" <<'PYEOF'
import json, sys
scores = json.load(open(sys.argv[1]))
exact = 100 * scores["exact_match"]
print(f"\nTest-split exact match: {exact:.2f}% of {scores['n']} dates")
if exact < 99.5:
    sys.exit("demo: exact match below 99.5%")
PYEOF

cat <<NOTE

Where everything went:
  $RUN/                  the run: model.keras, config.yaml, vocabularies,
                              metrics.csv, checkpoints/, tensorboard/, data/
  $RUN/data/test.tsv     the test split (also train.tsv, dev.tsv)
  $OUT/translations.txt  the translations above
  $OUT/test.json         test-split scores (BLEU, chrF, exact match, speed)
  $OUT/attention.png     the attention heat map
Wall time per phase:
  set-up     ${SETUP_SECONDS} s
  train      $(took "$t0" "$t1") s
  translate  $(took "$t1" "$t2") s
  evaluate   $(took "$t2" "$t3") s
  plot       $(took "$t3" "$t4") s
NOTE
