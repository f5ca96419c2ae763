"""The `seq2seq train` options: one flat `Config` and its defaults.

Every field is a config key (YAML, `snake_case`) and a `seq2seq train` flag
(`--kebab-case`), with its help text in the field's metadata. This is the
one place that defines them; it is plain Python, so the launcher builds
the parser from it before Keras is imported. Reading YAML files and
resolving the values is `keras_seq2seq.nmt.config`'s work.
"""

import dataclasses
import os


def _option(default, help_text, **extra):
    metadata = {"help": help_text, **extra}
    if isinstance(default, list):
        return dataclasses.field(
            default_factory=lambda: list(default), metadata=metadata
        )
    return dataclasses.field(default=default, metadata=metadata)


def default_of(field: dataclasses.Field):
    """A field's default value, also for list fields."""
    if field.default_factory is not dataclasses.MISSING:
        return field.default_factory()
    return field.default


def path(text: str) -> str:
    """A file or folder option as a shell reads a word: `~/x` is `x` in
    the home folder. The shell leaves a `~` after `=` as it is
    (`--runs-dir=~/runs`), and so does YAML: the run went into a folder
    named "~" in the current folder.

    Raises:
        ValueError: for an empty `text` (`--json "$OUT"` with OUT unset),
            which names no file: `evaluate` wrote no JSON file and said
            nothing, `--runs-dir ""` trained into the current folder.
    """
    if not text.strip():
        raise ValueError(
            "is empty; give a file or folder name (is a shell variable unset?)"
        )
    return os.path.expanduser(text)


# The config keys that name files or folders: read with `path`.
FILE_KEYS = ("data", "dev", "runs_dir")


@dataclasses.dataclass
class Config:
    """Everything `seq2seq train` needs to make and train a run."""

    # --- Run and data ---
    name: str | None = _option(
        None,
        "run name: the folder under runs-dir (one folder name, no '/'); "
        "unset: 'dates' for the built-in corpus, else the corpus' folder "
        "name",
    )
    runs_dir: str = _option("runs", "folder that holds run folders")
    data: list[str] | None = _option(
        None,
        "training corpus: one TSV file, or two aligned plain-text "
        "files (source, target); none trains on the built-in dates corpus",
        nargs="+",
    )
    dev: list[str] | None = _option(
        None,
        "dev corpus in the same layout; unset: dev.tsv beside a TSV "
        "corpus, else dev-size pairs held out of training",
        nargs="+",
    )
    dev_size: int = _option(500, "pairs held out for dev when no dev corpus")
    columns: list[int] = _option(
        [0, 1],
        "TSV columns (0-based) of source and target; others are ignored",
        nargs=2,
    )
    reverse: bool = _option(False, "swap source and target")
    header: bool = _option(
        False,
        "the first non-blank line of each corpus file (train and dev) "
        "names the columns: skip it; off: every line is a pair",
    )
    tokenizer: str = _option(
        "sentencepiece",
        "'sentencepiece' (subwords) or 'char'",
        choices=("sentencepiece", "char"),
    )
    vocab_size: int = _option(
        8000, "sentencepiece vocabulary size per side (an upper bound)"
    )
    max_source_length: int = _option(
        80,
        "most source tokens; longer training pairs are dropped and "
        "longer inputs to translate are truncated with a warning",
    )
    max_target_length: int = _option(
        80, "most target tokens; longer training pairs are dropped"
    )
    dates_train_size: int = _option(
        20000, "training pairs generated for the built-in corpus"
    )
    # --- Model (keras_seq2seq.Seq2Seq arguments) ---
    embedding_dim: int = _option(256, "embedding depth of both sides")
    cell: str = _option("gru", "recurrent cell", choices=("gru", "lstm"))
    encoder_units: int = _option(256, "encoder units per direction")
    encoder_layers: int = _option(1, "encoder layers")
    bidirectional: bool = _option(True, "bidirectional encoder")
    decoder_units: int = _option(512, "decoder units")
    attention: str = _option(
        "bahdanau", "attention", choices=("bahdanau", "luong")
    )
    attention_units: int = _option(256, "Bahdanau attention depth")
    attention_layer_size: int = _option(512, "attention vector depth")
    dropout: float = _option(
        0.0,
        "dropout rate while training (embeddings, between encoder layers, "
        "decoder outputs); 0: none",
    )
    dtype_policy: str = _option(
        "float32",
        "Keras dtype policy: float32, or compute in 16 bits with float32 "
        "weights: mixed_bfloat16 (GPUs; CPUs with bfloat16 instructions), "
        "mixed_float16 (GPUs; with loss scaling)",
        choices=("float32", "mixed_bfloat16", "mixed_float16"),
    )
    # --- Training ---
    batch_size: int = _option(64, "sentence pairs per batch")
    learning_rate: float = _option(1e-3, "Adam learning rate (peak)")
    warmup_steps: int = _option(200, "steps of linear learning-rate warm-up")
    decay_steps: int = _option(
        0,
        "steps of cosine decay after warm-up to 10%% of the peak (0: constant)",
    )
    clip_norm: float = _option(1.0, "gradient global-norm clipping")
    max_steps: int = _option(100000, "most training steps")
    max_minutes: float = _option(
        0.0,
        "training time budget in minutes (0: none); validation and "
        "checkpointing stop it at the next check",
    )
    validate_every: int = _option(
        500, "steps between validations (BLEU, chrF, exact match on dev)"
    )
    validation_size: int = _option(
        1000, "most dev pairs scored at each validation"
    )
    patience: int = _option(
        8, "stop after this many validations without a better dev score"
    )
    target_exact_match: float = _option(
        0.0, "stop once dev exact match reaches this fraction (0: never)"
    )
    best_metric: str = _option(
        "bleu",
        "dev score that picks model.keras and counts patience",
        choices=("bleu", "chrf", "exact_match"),
    )
    keep_checkpoints: int = _option(5, "step checkpoints kept for averaging")
    bucketing: bool = _option(
        True,
        "batch pairs of similar length (less padding); off: random batches",
    )
    fixed_shape: bool = _option(
        False,
        "pad every batch to max-source-length / max-target-length + 1 "
        "(one shape; else each batch to its longest pair, rounded up to 8)",
    )
    jit_compile: bool | None = _option(
        None,
        "XLA-compile the training step; unset: on for JAX (without it Keras "
        "runs JAX op by op), off for TensorFlow (on CPU: 0.6 GiB more memory "
        "and a compile per batch shape, for 1.12-1.15x at S2S-M sizes); "
        "PyTorch always runs eagerly",
    )
    seed: int = _option(0, "random seed (data order, weights)")
    devices: int = _option(
        1,
        "devices to train on, data parallel (JAX or TensorFlow): each "
        "batch is split over them; on a CPU-only machine, virtual CPU "
        "devices (see README, 'Several devices')",
    )


# The built-in corpus: short character sequences learn fast with a small
# model and big steps; measured on 2 CPU cores (see README, "The tool").
DATES_DEFAULTS = dict(
    tokenizer="char",
    max_source_length=40,
    max_target_length=10,
    bucketing=False,
    fixed_shape=True,
    embedding_dim=32,
    encoder_units=64,
    decoder_units=128,
    attention_units=64,
    attention_layer_size=128,
    batch_size=64,
    learning_rate=3e-3,
    warmup_steps=100,
    decay_steps=1000,
    max_minutes=3.0,
    validate_every=250,
    target_exact_match=0.999,
    best_metric="exact_match",
    validation_size=1000,
)
