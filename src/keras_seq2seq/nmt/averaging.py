"""`seq2seq average`: one model from the mean of the last checkpoints."""

import sys
from pathlib import Path

import numpy as np

from keras_seq2seq.nmt import run_folder
from keras_seq2seq.nmt.run_error import RunError


def average_checkpoints(run_dir, last: int, output: str) -> Path:
    """Averages the weights of the newest `last` checkpoints of a run.

    Every checkpoint must have the same architecture (they come from one
    run). The result is a whole-model `.keras` file inside the run, without
    optimizer state, usable by `translate --model`.

    Returns:
        The written file's path.
    """
    run = run_folder.open_run(run_dir)
    if last < 1:
        raise RunError(f"--last must be >= 1; got {last}")
    if Path(output).name != output:
        raise RunError(
            f"--output {output} is a path, but the averaged model is "
            f"written inside the run {run.path}; give a file name (e.g. "
            "averaged.keras) and copy the file from there"
        )
    if not output.endswith(".keras"):
        raise RunError(
            f"--output {output} must end in .keras (a Keras model file); "
            "give e.g. averaged.keras"
        )
    if output == "model.keras":
        raise RunError(
            "--output model.keras would replace the run's best model; "
            "give another name (the default is averaged.keras)"
        )
    # Checked first: loading the checkpoints takes a while.
    run_folder.check_can_write("--output", run.path / output)
    found = run_folder.checkpoints(run.path)
    if not found:
        raise RunError(f"{run.path} has no checkpoints; train it first")
    chosen = found[-last:]
    if len(found) < last:
        keep = run.config.keep_checkpoints
        # A young run has fewer than it keeps: the setting is not why.
        has = (
            f"keeps {keep} (--keep-checkpoints)"
            if len(found) >= keep
            else f"has {len(found)} so far (it keeps {keep})"
        )
        print(
            f"seq2seq: warning: --last {last} asks for more checkpoints than "
            f"{run.path} {has}; averaging those {len(found)}",
            file=sys.stderr,
        )
    model = run_folder.load_model(chosen[-1])
    run_folder.check_vocabularies(model, run.source, run.target)
    total = [np.zeros_like(w, dtype="float64") for w in model.get_weights()]
    for path in chosen:
        weights = run_folder.load_model(path).get_weights()
        if [w.shape for w in weights] != [t.shape for t in total]:
            raise RunError(f"{path.name} has other shapes than the rest")
        total = [t + w for t, w in zip(total, weights, strict=True)]
    model.set_weights(
        [
            (t / len(chosen)).astype(w.dtype)
            for t, w in zip(total, model.get_weights(), strict=True)
        ]
    )
    target = run.path / output
    run_folder.save_model(model, target)
    names = ", ".join(p.stem for p in chosen)
    count = "1 checkpoint" if len(chosen) == 1 else f"{len(chosen)} checkpoints"
    print(f"averaged {count} ({names})", file=sys.stderr)
    return target
