"""`seq2seq train`: make or resume a run, then train it.

The loop is a plain `train_on_batch` loop (batches change shape with
bucketing, which Keras' generator adapters do not allow) driving Keras
callbacks: `Progress` (the progress line, the time budget), `Validator`
(dev scores, checkpoints, stopping) and `ScalarLog` (TensorBoard scalars).
One Keras "epoch" is one validation period of `validate_every` steps,
numbered by its first step (`on_epoch_begin`) and last step
(`on_epoch_end`), so TensorBoard plots the dev scores over steps, as
metrics.csv lists them.
"""

import contextlib
import math
import shlex
import sys
import time
from pathlib import Path

import keras

from keras_seq2seq.models import Seq2Seq
from keras_seq2seq.nmt import config as config_lib
from keras_seq2seq.nmt import corpus, data, dates, run_folder
from keras_seq2seq.nmt import resume as resume_lib
from keras_seq2seq.nmt.devices import distribute, train_step
from keras_seq2seq.nmt.interrupts import interrupts_held, sigterm_as_ctrl_c
from keras_seq2seq.nmt.progress import Progress
from keras_seq2seq.nmt.run_error import RunError, is_out_of_memory
from keras_seq2seq.nmt.scalar_log import ScalarLog
from keras_seq2seq.nmt.tokenizer import Tokenizer
from keras_seq2seq.nmt.train_checks import (
    check_batch_splits,
    check_corpus_options,
    check_corpus_splits,
    check_no_checkpoints,
    check_something_to_train,
    warn_if_jit_compile_unused,
    warn_if_vocab_size_unused,
)
from keras_seq2seq.nmt.validator import Validator
from keras_seq2seq.seeding import set_random_seed


def build_model(config, source_vocab_size, target_vocab_size) -> Seq2Seq:
    """The `Seq2Seq` of `config`, compiled for training."""
    model = Seq2Seq(
        source_vocab_size,
        target_vocab_size,
        **{key: getattr(config, key) for key in config_lib.MODEL_KEYS},
        # Saved with the model: translate, evaluate and a resume use it.
        # Keras' compile adds loss scaling for mixed_float16.
        dtype=config.dtype_policy,
    )
    model.build()
    if config.decay_steps:
        alpha, decay_steps = 0.1, config.decay_steps
    else:
        alpha, decay_steps = 1.0, 1  # constant after the warm-up
    schedule = keras.optimizers.schedules.CosineDecay(
        initial_learning_rate=config.learning_rate / 100,
        decay_steps=decay_steps,
        alpha=alpha,
        warmup_target=config.learning_rate,
        warmup_steps=config.warmup_steps,
    )
    model.compile(
        optimizer=keras.optimizers.Adam(schedule, clipnorm=config.clip_norm),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        jit_compile=jit_compile_of(config),
    )
    return model


def jit_compile_of(config) -> bool:
    """Whether the training step of `config` runs compiled (XLA) on this
    backend and its `devices`. A resume sets it again: a checkpoint's
    compile config holds the backend it was saved on."""
    # XLA: JAX needs it (Keras runs an uncompiled JAX step op by op: 160
    # vs thousands of tokens/s on dates); on TensorFlow's CPU it was no
    # faster and compiles once per batch shape. Torch stays eager.
    backend = keras.backend.backend()
    if config.devices > 1:
        # Data parallel: a sharded JAX step without jit runs op by op (48
        # vs 5,300 tokens/s on dates); TensorFlow's XLA step fails under
        # MirroredStrategy.
        return backend == "jax"
    jit = config.jit_compile
    if jit is None:
        jit = backend == "jax"
    return jit and backend != "torch"


def train(
    file_values: dict,
    flag_values: dict,
    resume: bool = False,
    config_file: str | None = None,
):
    """Trains a run; returns its folder. See `nmt.config.Config`.
    `file_values` are those of the YAML file `config_file`."""
    config = config_lib.resolve(file_values, flag_values, config_file)
    path = Path(config.runs_dir) / config.name
    run_folder.check_folders(Path(config.runs_dir), path)
    run_folder.check_not_foreign(path, resume)
    if not resume:  # a resume's batch size is the run's: checked there
        warn_if_jit_compile_unused(config, jit_compile_of(config))
        check_batch_splits(config.batch_size, config.devices)
        check_corpus_options(config, {**file_values, **flag_values})
    if not resume and (path / "state.json").exists():
        raise RunError(
            f"run folder {path} exists; continue it with --resume "
            "or pick another --name"
        )
    made = run_folder.outermost_missing(path)
    before = set(path.iterdir()) if made is None else set()
    model = None  # its optimizer counts the steps an interrupt reached
    try:
        # The model is built (or loaded) and trained on `devices` devices.
        with (
            sigterm_as_ctrl_c(),
            run_folder.lock(path, create=not resume),
            distribute(config.devices),
            _naming_the_columns(file_values, flag_values, config_file, resume),
        ):
            if resume:
                from_file = set(file_values) - set(flag_values)
                resumed = resume_lib.reopen(
                    path,
                    {**file_values, **flag_values},
                    (config_file, from_file),
                )
                check_batch_splits(
                    resumed.run.config.batch_size, config.devices
                )
                encoded, dev = resume_lib.load_corpus(resumed)
                run, model, state = resumed.run, resumed.model, resumed.state
                model.jit_compile = jit_compile_of(run.config)
                warn_if_jit_compile_unused(run.config, model.jit_compile)
            else:
                check_no_checkpoints(path)
                given = {**file_values, **flag_values}
                warn_if_vocab_size_unused(config, given)
                asked = "dev_size" in given
                run, encoded, dev, fingerprint = _new_run(config, path, asked)
                set_random_seed(config.seed)  # the initial weights
                model = build_model(
                    run.config, run.source.vocab_size, run.target.vocab_size
                )
                state = {
                    "step": 0,
                    "seconds": 0.0,
                    "best": None,
                    "bad_validations": 0,
                    "metrics": [],
                    "corpus": fingerprint,  # what a resume must train on
                }
            check_corpus_splits(
                len(encoded), run.config.batch_size, config.devices
            )
            try:
                _fit(run, model, encoded, dev, state)
            except Exception as error:
                if not is_out_of_memory(error):
                    raise
                raise RunError(
                    f"out of memory in a step on batches of "
                    f"{run.config.batch_size} pairs ({type(error).__name__}); "
                    "lower --batch-size, or --max-source-length and "
                    "--max-target-length"
                ) from error
    except BaseException as error:
        # A run that failed (NaN loss, Ctrl-C, ...) before its first
        # checkpoint has nothing to resume: what it wrote goes.
        if not (path / "state.json").exists():
            run_folder.remove_written(path, made, before)
        elif isinstance(error, KeyboardInterrupt):
            given = {**file_values, **flag_values} if resume else {}
            _say_how_to_resume(config, path, given, _steps_of(model))
        raise
    return path


@contextlib.contextmanager
def _naming_the_columns(file_values, flag_values, config_file, resume):
    """Says where the columns that a corpus line lacks came from, when no
    flag gave them (it said "--columns needs 3" of a value that the
    `--config` file `config_file` gave, or a resumed run's config.yaml)."""
    try:
        yield
    except data.TooFewColumns as error:
        shown = " ".join(map(str, error.columns))
        need = max(error.columns) + 1
        if "columns" in flag_values:
            raise
        if "columns" in file_values:
            raise RunError(
                f"config file {config_file}: columns {shown} need {need} "
                f"columns, but {error.where}; fix it there"
            ) from None
        if not resume:
            raise
        raise RunError(
            f"{error.where}, but the run's columns {shown} (its "
            f"config.yaml) need {need}; restore the run's corpus, or give "
            "--data where it is"
        ) from None


def _steps_of(model) -> int | None:
    """The training steps `model` has taken (its optimizer's count);
    `None` before there is one."""
    optimizer = getattr(model, "optimizer", None)
    try:
        # convert_to_numpy: int() fails on a variable mirrored over devices.
        return int(keras.ops.convert_to_numpy(optimizer.iterations))
    except Exception:  # no optimizer yet: said after an interrupt, no new error
        return None


def _say_how_to_resume(config, path: Path, given: dict, reached=None) -> None:
    """After Ctrl-C: where the run stands, and the command that goes on,
    with the options a resume `given` them changed (config.yaml takes them
    with the resume's first checkpoint: before it, the next resume would
    drop them). Steps taken since the checkpoint (the step `reached`) are
    not kept: said, so that a resume going back to it is no surprise."""
    state = run_folder.read_state(path)
    lost = ""
    if reached is not None and reached > state["step"]:
        count = reached - state["step"]
        steps = (
            "1 step since it is"
            if count == 1
            else f"{count} steps since it are"
        )
        lost = (
            f" (training reached step {reached}: the {steps} not kept; a "
            "checkpoint comes with each validation, --validate-every)"
        )
    command = ["seq2seq", "train", "--resume", *_flag("--name", config.name)]
    if Path(config.runs_dir) != Path(config_lib.Config.runs_dir):
        command += _flag("--runs-dir", config.runs_dir)
    for key in (*resume_lib.RESUMABLE_KEYS, "devices"):
        if key in given:
            command += _flag("--" + key.replace("_", "-"), given[key])
    print(
        f"seq2seq: {path} keeps its checkpoint of step {state['step']}"
        f"{lost}; continue it with `{shlex.join(command)}`",
        file=sys.stderr,
    )


def _flag(flag: str, value) -> list[str]:
    """`flag value`, or `flag=value` for a value that starts with "-",
    which argparse would read as the next option (`--name -old`:
    "expected one argument")."""
    value = str(value)
    return [f"{flag}={value}"] if value.startswith("-") else [flag, value]


def _new_run(config, path, dev_size_given: bool):
    train_pairs, dev = corpus.load(config)
    # Once, for a new run: not on resumes. The default --dev-size asks for
    # nothing: the start line gives the dev pairs held out.
    if dev_size_given:
        corpus.warn_if_dev_is_short(config, train_pairs, dev)
    corpus.warn_if_dev_overlaps(config, train_pairs, dev)
    source = Tokenizer.train(
        (s for s, _ in train_pairs), config.tokenizer, config.vocab_size
    )
    target = Tokenizer.train(
        (t for _, t in train_pairs), config.tokenizer, config.vocab_size
    )
    encoded, dropped = data.encode_pairs(
        train_pairs,
        source,
        target,
        config.max_source_length,
        config.max_target_length,
    )
    limits = (
        f"--max-source-length {config.max_source_length} or "
        f"--max-target-length {config.max_target_length} tokens"
    )
    if not encoded:
        raise RunError(
            f"every training pair is longer than {limits}; raise them"
        )
    if dropped:
        print(
            f"dropped {dropped} of {len(train_pairs)} training pairs: "
            f"longer than {limits}",
            file=sys.stderr,
        )
    path.mkdir(parents=True, exist_ok=True)
    # The vocabularies, then config.yaml: together they mark the folder as
    # a run (run_folder.is_run_folder); a config.yaml alone may be a
    # user's file.
    source.save(path, "source")
    target.save(path, "target")
    run_folder.write_config(path, config)
    if not config.data:
        splits = corpus.dates_splits(config)
        dates.write_splits(splits, path / "data")
    fingerprint = corpus.fingerprint(config, train_pairs, dev)
    return (
        run_folder.Run(path, config, source, target),
        encoded,
        dev,
        fingerprint,
    )


def _batches(encoded, config, start_step, token_counts):
    """Training batches from `start_step` on, the same after a resume."""
    args = (config.batch_size, config.bucketing, config.seed)
    per_epoch = len(data.epoch_batches(encoded, *args, 0))
    epoch, offset = divmod(start_step, per_epoch)
    widths = None  # each batch as wide as its longest pair
    if config.fixed_shape:  # one shape: one compilation
        widths = (config.max_source_length, config.max_target_length + 1)
    while True:
        for indices in data.epoch_batches(encoded, *args, epoch)[offset:]:
            x, y = data.make_batch([encoded[i] for i in indices], widths)
            token_counts.append(int((y != 0).sum()))
            yield x, y
        epoch, offset = epoch + 1, 0


def _fit(run, model, encoded, dev, state):
    config = run.config
    start = state["step"]
    deadline = None
    if config.max_minutes:
        deadline = time.monotonic() + 60 * config.max_minutes - state["seconds"]
    check_something_to_train(config, state)
    token_counts = [0] * start
    progress = Progress(config.max_steps, deadline, token_counts)
    validator = Validator(run, dev, state, progress, deadline)
    scalars = ScalarLog(run.path / "tensorboard")
    callbacks = keras.callbacks.CallbackList(
        [progress, validator, scalars], model=model
    )
    batches = _batches(encoded, config, start, token_counts)
    every = config.validate_every
    period = "step" if every == 1 else f"{every} steps"
    # Validation scores at most --validation-size of the dev pairs (1000
    # of Tatoeba's 2000 by default): said, so that "2000 dev pairs" does
    # not read as the pairs each score comes from.
    scored = min(config.validation_size, len(dev))
    of_dev = f", on {scored} of them" if scored < len(dev) else ""
    print(
        f"{'resuming' if start else 'training'} {run.path} at step {start}: "
        f"{len(encoded)} training pairs, {len(dev)} dev pairs, vocabularies "
        f"{run.source.vocab_size}/{run.target.vocab_size}, "
        f"{model.count_params():,} parameters; dev scores every {period}"
        f"{of_dev}",
        file=sys.stderr,
        flush=True,
    )
    model.stop_training = False
    callbacks.on_train_begin()
    step, losses = start, []
    while step < config.max_steps and not model.stop_training:
        callbacks.on_epoch_begin(step)
        losses = []
        try:
            # A period ends at a multiple of --validate-every (or at
            # --max-steps), also after a resume from a step between.
            for batch in range(every - step % every):
                # Ctrl-C or SIGTERM waits for the step's end: on PyTorch
                # (and JAX's variables after its step) the weights change
                # one by one, and the checkpoint below must not see half.
                with interrupts_held():
                    x, y = next(batches)
                    logs = train_step(model, x, y)  # split over the devices
                    losses.append(float(logs["loss"]))
                    if not math.isfinite(losses[-1]):  # not the period's
                        # end: up to --validate-every steps of NaN training
                        raise RunError(
                            f"the loss became NaN at step {step + 1}; lower "
                            "--learning-rate"
                        )
                    logs = {"loss": sum(losses) / len(losses)}
                    callbacks.on_train_batch_end(batch, logs)
                    step += 1
                if model.stop_training or step >= config.max_steps:
                    break
            model.stop_training = False
            # TensorBoard's x axis: the step, not the period's index.
            callbacks.on_epoch_end(step, logs)
        except KeyboardInterrupt:
            # Once the run has a checkpoint, the steps since are kept: the
            # period ends here, validated and checkpointed as any other (a
            # second Ctrl-C stops at once). Before its first checkpoint,
            # `train` removes the run, as after any failure.
            if 0 < state["step"] < step:
                progress.clear()
                print(
                    f"seq2seq: stopping at step {step}: scoring dev for its "
                    "checkpoint (Ctrl-C again stops now, back to step "
                    f"{state['step']})",
                    file=sys.stderr,
                    flush=True,
                )
                logs = {"loss": sum(losses) / len(losses)} if losses else {}
                callbacks.on_epoch_end(step, logs)
            raise
    callbacks.on_train_end()
    print(
        f"stopped at step {state['step']}: "
        f"{state.get('stopped', 'step limit reached')}; best dev "
        f"{config.best_metric} {state['best']:.4g}; run in {run.path}",
        file=sys.stderr,
    )
