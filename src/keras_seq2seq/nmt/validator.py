"""Validation and checkpoints at the end of each validation period."""

import csv
import io
import json
import shutil
import sys
import time
from pathlib import Path

import keras

from keras_seq2seq.nmt import run_folder, scoring
from keras_seq2seq.nmt.atomic import write_atomically
from keras_seq2seq.nmt.interrupts import interrupts_held
from keras_seq2seq.nmt.translator import Translator

METRIC_FIELDS = (
    "step",
    "seconds",
    "loss",
    "tokens_per_second",
    "bleu",
    "chrf",
    "exact_match",
    "best",
)


class Validator(keras.callbacks.Callback):
    """Scores dev, writes checkpoints and decides when training stops.

    Runs at the end of each Keras epoch (one validation period). It
    translates the dev sources greedily, scores BLEU, chrF and exact match,
    saves `checkpoints/step-N.keras` (keeping the newest few), copies it to
    `model.keras` when the dev score is the best so far, writes the
    config it trained with to `config.yaml` (a resume's `--max-steps`,
    ...), appends to `metrics.csv` and saves `state.json`, each file
    atomically and the state last, so a killed run resumes from a
    complete checkpoint. It stops training on the time budget, on
    `patience` validations without progress, or once dev exact match
    reaches `target_exact_match`.

    Args:
        run: `run_folder.Run`. The run being trained.
        dev: list of `(source, target)` pairs.
        state: dict. Training state (`best`, `bad_validations`, `seconds`,
            `metrics`), updated in place.
        progress: `Progress`. Its tokens/s and line.
        deadline: optional float. `time.monotonic()` budget end.
    """

    def __init__(self, run, dev, state, progress, deadline=None):
        super().__init__()
        self.run = run
        self.dev = dev
        self.state = state
        self.progress = progress
        self.deadline = deadline
        self._start = None
        self._seconds_before = state["seconds"]

    def on_train_begin(self, logs=None):
        self._start = time.monotonic()

    def on_epoch_end(self, epoch, logs=None):
        logs = logs if logs is not None else {}
        elapsed = time.monotonic() - self._start  # validations included
        self.state["seconds"] = self._seconds_before + elapsed
        config = self.run.config
        step = int(keras.ops.convert_to_numpy(self.model.optimizer.iterations))
        scores = self._score()
        key = config.best_metric
        best = self.state["best"] is None or scores[key] > self.state["best"]
        if best:
            self.state["best"] = scores[key]
            self.state["bad_validations"] = 0
        else:
            self.state["bad_validations"] += 1
        row = {
            "step": step,
            "seconds": round(self.state["seconds"], 1),
            "loss": round(float(logs.get("loss", float("nan"))), 5),
            "tokens_per_second": round(self.progress.tokens_per_second),
            "bleu": round(scores["bleu"], 2),
            "chrf": round(scores["chrf"], 2),
            "exact_match": round(scores["exact_match"], 4),
            "best": int(best),
        }
        self._save(step, row, best)
        for name in ("bleu", "chrf", "exact_match"):
            logs[f"dev_{name}"] = scores[name]
        self._report(row)
        self._maybe_stop(scores)

    def _score(self):
        config = self.run.config
        # Evenly spaced pairs, not the first ones: corpora such as
        # Tatoeba's are sorted by length.
        step = max(1, len(self.dev) / config.validation_size)
        count = min(config.validation_size, len(self.dev))
        dev = [self.dev[int(i * step)] for i in range(count)]
        translator = Translator(
            self.model,
            self.run.source,
            self.run.target,
            config.max_source_length,
            config.max_target_length,
            batch_size=max(config.batch_size, 64),
        )
        found = translator.translate([source for source, _ in dev])
        return scoring.score(
            [h[0].text for h in found], [target for _, target in dev]
        )

    def _save(self, step, row, best):
        path = self.run.path
        (path / "checkpoints").mkdir(exist_ok=True)
        checkpoint = path / "checkpoints" / f"step-{step:07d}.keras"
        run_folder.save_model(self.model, checkpoint)
        # Ctrl-C or SIGTERM waits for the files that must agree: else
        # state.json stayed a validation behind model.keras and metrics.csv.
        with interrupts_held():
            if best:
                write_atomically(
                    path / "model.keras",
                    lambda t: shutil.copyfile(checkpoint, t),
                )
            # What trained to this step: a resume's --max-steps, ...
            run_folder.write_config(path, self.run.config)
            self.state["metrics"].append(row)
            run_folder.write_text(
                path / "metrics.csv", _csv(self.state["metrics"])
            )
            self.state["step"] = step
            self.state["checkpoint"] = checkpoint.name
            run_folder.write_text(
                path / "state.json", json.dumps(self.state, indent=1)
            )
        for old in run_folder.checkpoints(path)[
            : -self.run.config.keep_checkpoints
        ]:
            old.unlink(missing_ok=True)

    def _report(self, row):
        self.progress.clear()
        print(
            f"step {row['step']}  loss {row['loss']:.4f}  dev BLEU "
            f"{row['bleu']:.2f}  chrF {row['chrf']:.2f}  exact "
            f"{100 * row['exact_match']:.2f}%  "
            f"{row['tokens_per_second']:,} tok/s  {row['seconds']:.0f} s"
            + ("  (best)" if row["best"] else ""),
            file=sys.stderr,
            flush=True,
        )

    def _maybe_stop(self, scores):
        config = self.run.config
        reasons = []
        target = config.target_exact_match
        if target and scores["exact_match"] >= target:
            reasons.append(f"dev exact match reached {100 * target:g}%")
        if self.deadline is not None and time.monotonic() >= self.deadline:
            reasons.append(f"time budget of {config.max_minutes:g} min used")
        if self.state["bad_validations"] >= config.patience:
            reasons.append(
                f"no better dev score in {config.patience} validations"
            )
        if reasons:
            self.state["stopped"] = reasons[0]
            self.model.stop_training = True


def _csv(rows) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, METRIC_FIELDS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()


def latest_checkpoint(path: Path, state: dict) -> Path:
    """The checkpoint `state.json` names (the newest complete one)."""
    return path / "checkpoints" / state["checkpoint"]
