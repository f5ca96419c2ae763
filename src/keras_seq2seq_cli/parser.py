"""`seq2seq`'s command line: the parser of every command, and `parse_args`.

Plain Python, outside `keras_seq2seq`: the launcher parses the arguments
before it imports the package (Keras and its backend, seconds), so
`--help` and usage errors answer at once. `keras_seq2seq.cli` runs the
parsed arguments.
"""

import argparse
import dataclasses
import os
import types
import typing

from keras_seq2seq_cli.options import (
    DATES_DEFAULTS,
    FILE_KEYS,
    Config,
    default_of,
    path,
)

COMMANDS = ("train", "translate", "evaluate", "plot", "average", "serve")


def _path(text: str) -> str:
    """`options.path` as an argparse type: an empty path is a usage
    error."""
    try:
        return path(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(f"{text!r} {error}") from None


class _DefaultsFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Ends an option's help with its default, unless the default is None
    or False (an unset option, an off switch: nothing worth showing) or
    the option is positional."""

    def _get_help_string(self, action):
        # `is`, not `in (None, False)`: 0.0 == False would hide a 0 default.
        if not action.option_strings or any(
            action.default is unset for unset in (None, False)
        ):
            return action.help
        return super()._get_help_string(action)

    def _format_args(self, action, default_metavar):
        if isinstance(action, _RunAfterData):
            return action.metavar  # required: "RUN", not "[RUN]"
        return super()._format_args(action, default_metavar)


class _RunAfterData(argparse.Action):
    """`evaluate`'s RUN, which may come after `--data` as the usage line
    shows it: `evaluate --data test.tsv runs/x`. `--data` takes every word
    up to the next option, RUN too, so RUN is optional to argparse and
    taken back from `--data` here: a run is a folder, never a corpus
    file."""

    def __call__(self, parser, namespace, values, option_string=None):
        if values is None:  # nothing left for RUN after the options
            data = getattr(namespace, "data", None) or []
            if len(data) < 2 or not os.path.isdir(data[-1]):
                parser.error("the following arguments are required: RUN")
            values = data.pop()
        setattr(namespace, self.dest, values)


class _FilesOnce(argparse.Action):
    """A list of files given after one flag (`--data A B`): a second
    `--data` is a usage error, since argparse would keep the last list and
    drop the first without a word (`--data a.tsv --data b.tsv` scored or
    trained on b.tsv alone)."""

    def __call__(self, parser, namespace, values, option_string=None):
        before = getattr(namespace, self.dest, None)
        if before is not None and before is not self.default:
            files = values
            if len(values) > 1 and os.path.isdir(values[-1]):
                files = values[:-1]  # evaluate's RUN (`_RunAfterData`)
            parser.error(
                f"{option_string} given twice ({', '.join(before)}, then "
                f"{', '.join(files)}); give its files once: "
                f"{option_string} FILE [FILE]"
            )
        setattr(namespace, self.dest, values)


def _debug_parent():
    parent = argparse.ArgumentParser(add_help=False)
    parent.add_argument(
        "--debug",
        action="store_true",
        help="show tracebacks instead of one-line errors",
    )
    return parent


def _add_config_flags(parser):
    group = parser.add_argument_group(
        "config keys (also settable in the --config YAML file)"
    )
    for field in dataclasses.fields(Config):
        flag = "--" + field.name.replace("_", "-")
        meta = field.metadata
        default = default_of(field)
        text = f"{meta['help']} (default: {default})"
        kind = field.type
        if _scalar_type(kind) is bool:
            group.add_argument(
                flag,
                dest=field.name,
                default=None,
                action=argparse.BooleanOptionalAction,
                help=text,
            )
            continue
        item = {int: int, float: float}.get(_scalar_type(kind), str)
        if field.name in FILE_KEYS:
            item = _path
        extra = {"nargs": meta["nargs"]} if "nargs" in meta else {}
        if meta.get("nargs") == "+":  # files: --data, --dev
            extra["action"] = _FilesOnce
        metavar = field.name.upper()
        if "choices" in meta:  # shown in the usage and the help: {a,b}
            extra["choices"] = meta["choices"]
            metavar = "{" + ",".join(meta["choices"]) + "}"
        group.add_argument(
            flag,
            dest=field.name,
            default=None,
            type=item,
            metavar=metavar,
            help=text,
            **extra,
        )


def _scalar_type(kind):
    if isinstance(kind, types.UnionType):  # `X | None`
        (kind,) = [a for a in typing.get_args(kind) if a is not type(None)]
    if typing.get_origin(kind) is list:
        (kind,) = typing.get_args(kind)
    return kind


def _add_run_command(commands, name, help, description, after_data=False):
    """A command on a run folder: `RUN`, `--debug`, defaults in its help.
    With `after_data`, RUN may follow `--data` (see `_RunAfterData`)."""
    parser = commands.add_parser(
        name,
        parents=[_debug_parent()],
        formatter_class=_DefaultsFormatter,
        help=help,
        description=description,
    )
    extra = {"nargs": "?", "action": _RunAfterData} if after_data else {}
    parser.add_argument(
        "run", type=_path, metavar="RUN", help="run folder", **extra
    )
    return parser


def _add_model_option(parser, help="model file inside RUN"):
    parser.add_argument(
        "--model", default="model.keras", type=_path, metavar="FILE", help=help
    )


def _add_search_options(parser):
    parser.add_argument(
        "--beam-size",
        "--beam",
        dest="beam",
        type=int,
        default=1,
        metavar="K",
        help="beam size; 1 is greedy search (--beam: the same)",
    )
    parser.add_argument(
        "--length-penalty",
        type=float,
        default=0.0,
        metavar="ALPHA",
        help="GNMT length penalty of beam search; 0: none",
    )


def build_parser() -> argparse.ArgumentParser:
    """The `seq2seq` parser with its commands."""
    parser = argparse.ArgumentParser(
        prog="seq2seq",
        description="Train and use attention sequence-to-sequence models "
        "(keras-seq2seq). Backend: KERAS_BACKEND (default tensorflow).",
    )
    commands = parser.add_subparsers(
        dest="command", required=True, metavar="COMMAND"
    )
    _add_train(commands)
    _add_translate(commands)
    _add_evaluate(commands)
    _add_plot(commands)
    _add_average(commands)
    _add_serve(commands)
    return parser


def _add_train(commands):
    """The `train` command: its own flags and every config key."""
    dates = ", ".join(f"{k}={v}" for k, v in DATES_DEFAULTS.items())
    # No ArgumentDefaultsHelpFormatter: the config keys' help texts
    # already end with their defaults.
    train = commands.add_parser(
        "train",
        parents=[_debug_parent()],
        help="train a model (default: dates corpus)",
        description="Train a model and write runs/NAME/. With no options it "
        "trains on the built-in dates corpus (character level) and writes "
        "runs/dates/. Without --data these defaults replace the ones shown "
        f"below: {dates}. Continue a run with --resume --name NAME.",
    )
    train.add_argument(
        "--config",
        type=_path,
        metavar="FILE.yaml",
        help="YAML file of config keys; flags override it",
    )
    train.add_argument(
        "--resume",
        action="store_true",
        help="continue runs/NAME from its last checkpoint",
    )
    _add_config_flags(train)


def _add_translate(commands):
    """The `translate` command."""
    translate = _add_run_command(
        commands,
        "translate",
        help="translate sentences",
        description="Translate sentences given as arguments, in --input, "
        "or on stdin (one per line); writes one line per input, or with "
        "--n-best N, N lines 'INDEX ||| TRANSLATION ||| SCORE'. A blank "
        "input gives a blank translation. Inputs longer than the model's "
        "max_source_length tokens are truncated with a warning.",
    )
    translate.add_argument(
        "sentences",
        nargs="*",
        default=[],  # else argparse names SENTENCE among required arguments
        metavar="SENTENCE",
        help="sentences to translate; none: read --input or stdin",
    )
    translate.add_argument(
        "--input",
        type=_path,
        metavar="FILE",
        help="file of sentences, one per line ('-': stdin)",
    )
    _add_search_options(translate)
    translate.add_argument(
        "--n-best",
        type=int,
        default=1,
        metavar="N",
        help="hypotheses per input, distinct (at most --beam-size)",
    )
    _add_model_option(
        translate, help="model file inside RUN (e.g. averaged.keras)"
    )


def _add_evaluate(commands):
    """The `evaluate` command."""
    evaluate = _add_run_command(
        commands,
        "evaluate",
        help="score translations of a test corpus",
        description="Translate the sources of a corpus and score them "
        "against its targets: BLEU and chrF (sacreBLEU), exact match, "
        "sentences per second.",
        after_data=True,
    )
    evaluate.add_argument(
        "--data",
        nargs="+",
        action=_FilesOnce,
        type=_path,
        required=True,
        metavar="FILE",
        help="a TSV file or two aligned plain-text files",
    )
    # Unset: the data is read as the run read its corpus (`train
    # --reverse`, `--columns 1 0`), so a reversed run is scored in its own
    # direction.
    evaluate.add_argument(
        "--columns",
        nargs=2,
        type=int,
        default=None,
        metavar="N",
        help="TSV source and target columns (default: the run's, with "
        "its --reverse; else 0 1)",
    )
    evaluate.add_argument(
        "--reverse",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="swap source and target (default: as the run was trained, "
        "unless --columns is given)",
    )
    evaluate.add_argument(
        "--header",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="the first non-blank line of each file names the columns: skip "
        "it (default: as the run read a corpus of this layout, one TSV file "
        "or two files)",
    )
    _add_search_options(evaluate)
    _add_model_option(evaluate)
    evaluate.add_argument(
        "--json",
        type=_path,
        metavar="OUT",
        help="also write the scores to this JSON file ('-': stdout)",
    )
    evaluate.add_argument(
        "--output",
        type=_path,
        metavar="FILE",
        help="also write the translations, one per line ('-': stdout)",
    )


def _add_plot(commands):
    """The `plot` command."""
    plot = _add_run_command(
        commands,
        "plot",
        help="draw an attention heat map",
        description="Translate one sentence and draw its attention weights "
        "as a PNG heat map: source pieces across, output pieces down.",
    )
    plot.add_argument("sentence", metavar="SENTENCE", help="the sentence")
    plot.add_argument(
        "--output",
        default="attention.png",
        type=_path,
        metavar="FILE.png",
        help="where to write the PNG",
    )
    _add_search_options(plot)
    _add_model_option(plot)


def _add_average(commands):
    """The `average` command."""
    average = _add_run_command(
        commands,
        "average",
        help="average the last checkpoints of a run",
        description="Average the weights of a run's last N step "
        "checkpoints into one model file inside the run.",
    )
    average.add_argument(
        "--last",
        type=int,
        default=5,
        metavar="N",
        help="how many of the newest checkpoints",
    )
    average.add_argument(
        "--output",
        default="averaged.keras",
        metavar="FILE",
        help="model file written in RUN",
    )


def _add_serve(commands):
    """The `serve` command: where it listens and what a request may ask."""
    serve = _add_run_command(
        commands,
        "serve",
        help="serve a local web page and a JSON endpoint",
        description="Serve a run: a web page (type sentences, see the "
        "n-best translations with their scores and the attention heat "
        'map) and a JSON endpoint, POST /translate with {"sentences": '
        '[...], "beam": K, "n_best": N}, plus GET /health. Concurrent '
        "requests are batched; oversized or malformed requests get a 4xx "
        "with a JSON message. One log line per request on stderr. Ctrl-C "
        "stops.",
    )
    serve.add_argument(
        "--host",
        default="127.0.0.1",
        help="address to bind; 0.0.0.0 exposes the model to the network",
    )
    serve.add_argument(
        "--port", type=int, default=8000, help="TCP port; 0 picks a free one"
    )
    _add_model_option(serve)
    for flag, default, metavar, text in (
        ("--max-sentences", 32, "N", "most sentences per request"),
        ("--max-chars", 1000, "N", "most characters per sentence, in NFC"),
        ("--max-beam", 16, "K", "largest beam a request may ask for"),
        ("--max-body-bytes", 65536, "N", "largest request body"),
    ):
        serve.add_argument(
            flag, type=int, default=default, metavar=metavar, help=text
        )


def parse_args(argv=None) -> argparse.Namespace:
    """The parsed `argv` (default `sys.argv[1:]`); `--help` and usage
    errors exit (status 0 and 2) through argparse."""
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    # Sentences may follow translate's options: `translate RUN --beam 5 x`,
    # and after `--` they may start with "-": `--beam 5 -- -x`.
    before, after = extra, []
    if "--" in extra:
        cut = extra.index("--")
        before, after = extra[:cut], extra[cut + 1 :]
    if args.command == "translate" and not any(
        e.startswith("-") for e in before
    ):
        args.sentences.extend([*before, *after])
    elif extra:
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    return args


def missing_run_message(run) -> str:
    """The one line for a RUN that names nothing (`open_run`'s too)."""
    return f"run folder {run} not found; train one with `seq2seq train`"


def run_not_found(args: argparse.Namespace) -> str | None:
    """Why the command's RUN cannot be opened, when that needs no Keras: it
    names nothing (`open_run`'s own message). The launcher says it before
    it imports Keras, in a blink instead of the seconds the import takes;
    with `--debug` it leaves the error to the command, with its traceback.
    """
    run = getattr(args, "run", None)
    if run is None or args.debug or os.path.exists(run):
        return None
    return missing_run_message(run)
