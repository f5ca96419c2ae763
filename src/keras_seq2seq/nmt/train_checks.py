"""What `seq2seq train` refuses, or warns about, before it trains: options
that change nothing, batches that do not split over the devices, a
folder with an earlier run's checkpoints, a resume with nothing left to
train. Each refusal is a one-line `RunError`, found before the corpus is
read or the model built where it can be."""

import sys
from pathlib import Path

import keras

from keras_seq2seq.nmt import config as config_lib
from keras_seq2seq.nmt import run_folder
from keras_seq2seq.nmt.run_error import RunError

# Options that say how to read corpus files: the built-in corpus has its
# own direction and dev split, so without `data` they would change nothing.
CORPUS_FILE_KEYS = ("dev", "dev_size", "columns", "reverse", "header")


def check_corpus_options(config, given: dict) -> None:
    """A `RunError` for a new run on the built-in dates corpus given an
    option that reads corpus files (`--dev`, `--reverse`, ...): the dates
    corpus was trained as it is, its own dev split and direction, while
    config.yaml recorded the option (evaluate then read the test split
    reversed, as the run said it was trained). With `data`, a warning
    for `--dates-train-size`, which sizes the built-in corpus alone."""
    if config.data:
        if given.get("dates_train_size") not in (
            None,
            config_lib.default_of(config_lib.FIELDS["dates_train_size"]),
        ):
            print(
                f"seq2seq: warning: --dates-train-size "
                f"{config.dates_train_size} sizes the built-in dates "
                "corpus; with --data it changes nothing",
                file=sys.stderr,
            )
        return
    ignored = [
        "--" + key.replace("_", "-")
        for key in CORPUS_FILE_KEYS
        if key in given
        and given[key] is not None
        and not config_lib.same_value(
            key, given[key], config_lib.default_of(config_lib.FIELDS[key])
        )
    ]
    if ignored:
        names = ", ".join(ignored)
        raise RunError(
            f"{names} read{'s' * (len(ignored) == 1)} a corpus given with "
            "--data, but no --data is given: the built-in dates corpus has "
            "its own direction and dev split; give --data with your "
            f"corpus, or drop {names}"
        )


def warn_if_vocab_size_unused(config, given: dict) -> None:
    """A warning for a `--vocab-size` given to a character vocabulary,
    which holds every character of its side, however many."""
    if "vocab_size" in given and config.tokenizer == "char":
        print(
            f"seq2seq: warning: --vocab-size {config.vocab_size} sizes "
            "sentencepiece vocabularies; with --tokenizer char (every "
            "character of the corpus) it changes nothing",
            file=sys.stderr,
        )


def warn_if_jit_compile_unused(config, jit: bool) -> None:
    """A warning for a `--jit-compile` (or `--no-jit-compile`) that the
    backend or `--devices` overrides, so that the step runs as `jit`
    says (`train.jit_compile_of`)."""
    if config.jit_compile is None or config.jit_compile == jit:
        return
    flag = "--jit-compile" if config.jit_compile else "--no-jit-compile"
    backend = keras.backend.backend()
    if backend == "torch":
        why = "the PyTorch backend trains eagerly here"
    elif backend == "jax":
        why = (
            f"with --devices {config.devices} JAX always compiles the "
            "sharded step (op by op it trained 100 times slower)"
        )
    else:
        why = (
            f"with --devices {config.devices} TensorFlow trains without "
            "XLA, whose step fails under MirroredStrategy"
        )
    print(f"seq2seq: warning: {flag} changes nothing: {why}", file=sys.stderr)


def check_batch_splits(batch_size: int, devices: int) -> None:
    """A `RunError` unless a batch splits evenly over the devices: the
    first step refused it, after the corpus was read and the vocabularies
    trained (minutes on a large corpus)."""
    if devices >= 1 and batch_size % devices:  # else distribute refuses
        raise RunError(
            f"batch_size {batch_size} does not split over {devices} "
            "devices; make --batch-size a multiple of --devices"
        )


def check_corpus_splits(pairs: int, batch_size: int, devices: int) -> None:
    """A `RunError` when the corpus holds fewer pairs than a batch and
    that one batch does not split evenly over the devices: every batch is
    then the whole corpus, whatever `--batch-size` says."""
    if pairs < batch_size and devices > 1 and pairs % devices:
        fits = pairs - pairs % devices
        raise RunError(
            f"the corpus gives {pairs} training pairs, fewer than "
            f"--batch-size {batch_size}, so each batch is all {pairs}, which "
            f"does not split over {devices} devices; give --batch-size "
            f"{fits} (or any multiple of {devices} up to {pairs}), or a "
            "bigger corpus"
        )


def check_no_checkpoints(path: Path) -> None:
    """A `RunError` if a new run's folder holds checkpoints: an earlier
    run's, whose state.json is gone (deleted to start over, or a kill
    between a checkpoint and its state). A new run's would sit beside
    them: `average` mixed the two runs' weights, and pruning by step kept
    the earlier run's higher steps."""
    if run_folder.checkpoints(path):
        raise RunError(
            f"run folder {path} holds checkpoints of an earlier run but no "
            "state.json to resume them; give another --name, or delete "
            f"{path / 'checkpoints'} to train a new run there"
        )


def check_something_to_train(config, state) -> None:
    """A `RunError` when a resumed run is at its step limit or has used
    its time budget: the resume would load it, train nothing (or one
    step) and stop, saying only that it stopped."""
    step, minutes = state["step"], state["seconds"] / 60
    if step >= config.max_steps:
        raise RunError(
            f"the run is at step {step}, its --max-steps is "
            f"{config.max_steps}: nothing to train; resume with "
            f"--max-steps above {step}"
        )
    if config.max_minutes and minutes >= config.max_minutes:
        raise RunError(
            f"the run has trained {minutes:.1f} min, its --max-minutes is "
            f"{config.max_minutes:g}: its time budget is used; resume with "
            f"--max-minutes above {minutes:.1f}, or 0 for none"
        )
