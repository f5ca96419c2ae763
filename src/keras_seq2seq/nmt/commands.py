"""What each `seq2seq` command does, given its parsed arguments.

Each function returns the exit status. Results go to stdout, logs and
warnings to stderr; files are written atomically.
"""

import json
import sys
import time
from pathlib import Path

from keras_seq2seq.nmt import config as config_lib
from keras_seq2seq.nmt import corpus, run_folder, scoring
from keras_seq2seq.nmt.data import (
    TooFewColumns,
    read_numbered_pairs,
    tab_separated,
)
from keras_seq2seq.nmt.interrupts import sigterm_as_ctrl_c
from keras_seq2seq.nmt.line_stream import chunks_of, line_chunks
from keras_seq2seq.nmt.outputs import (
    check_outputs,
    write_lines,
    write_output,
    writing_stdout,
)
from keras_seq2seq.nmt.run_error import RunError
from keras_seq2seq.nmt.text import decode_utf8, lone_surrogate, split_lines
from keras_seq2seq.nmt.translation_notes import (
    check_search_flags,
    cut_numbers,
    memory_of_search,
    say_cut,
    warn_cut,
    warn_unused_penalty,
)
from keras_seq2seq.nmt.translator import Translator


def train(args) -> int:
    """`seq2seq train`: resolve the config (file, then flags) and train."""
    from keras_seq2seq.nmt.train import train as train_run

    file_values = config_lib.read_yaml(args.config) if args.config else {}
    flags = {
        name: getattr(args, name)
        for name in config_lib.FIELDS
        if getattr(args, name, None) is not None
    }
    path = train_run(
        file_values, flags, resume=args.resume, config_file=args.config
    )
    print(path)
    return 0


def _sentences(args) -> list[str] | None:
    """The sentences of the arguments or of `--input FILE`; `None` for
    stdin, which `translate` reads chunk by chunk (`line_chunks`)."""
    if args.sentences and args.input:
        raise RunError("give sentences as arguments or --input, not both")
    if args.sentences:
        for number, sentence in enumerate(args.sentences, start=1):
            _check_utf8_argument(sentence, f"sentence {number}")
        return list(args.sentences)
    if args.input in (None, "-"):  # `-`: stdin, as for most tools
        return None
    path = Path(args.input)
    if path.is_dir():
        raise RunError(f"input file {path} is a folder; give a file")
    if not path.exists():  # a pipe, <(cut -f1 test.tsv), is read
        raise RunError(f"input file {path} not found")
    # A byte-order mark (Windows editors write one) is not text: a
    # character model would read it as an unknown piece.
    return split_lines(decode_utf8(path.read_bytes(), args.input))


def _check_utf8_argument(text: str, what: str) -> None:
    """A `RunError` for a command-line argument that was not UTF-8 (a
    terminal or script in Latin-1): Python keeps each such byte as a lone
    surrogate, which sentencepiece cannot read."""
    bad = lone_surrogate(text)
    if bad is None:
        return
    what_it_was = f"U+{ord(bad):04X}"
    if 0xDC80 <= ord(bad) <= 0xDCFF:  # the byte it stands for
        what_it_was = f"byte 0x{ord(bad) - 0xDC00:02x}"
    raise RunError(
        f"{what} is not UTF-8 ({what_it_was}): the terminal or script "
        "that gave it uses another encoding; give it in UTF-8"
    )


def translate(args) -> int:
    """`seq2seq translate`: one line per input (n-best: N lines each)."""
    if sys.stdout is None:  # `>&-`: else found after the translating
        raise RunError(
            "stdout is closed, so the translations have nowhere to go; "
            "send them to a file: > FILE"
        )
    check_search_flags(args)  # before the model takes seconds to load
    warn_unused_penalty(args)
    reads_stdin = not args.sentences and args.input in (None, "-")
    if reads_stdin and sys.stdin is None:  # `<&-`: Python has no stdin
        raise RunError(
            "stdin is closed, so there is nothing to translate; give "
            "sentences as arguments or --input FILE"
        )
    if reads_stdin and sys.stdin.isatty():
        # Else a forgotten sentence looks like a hang.
        print(
            "seq2seq: reading sentences from the terminal, one per line; "
            "end with Ctrl-D",
            file=sys.stderr,
            flush=True,
        )
    sentences = _sentences(args)  # a missing file: said before the load
    translator = Translator.load(args.run, args.model)
    check_search_flags(args, translator.target_tokenizer.vocab_size)
    if sentences is None:
        chunks = line_chunks(sys.stdin.buffer, CHUNK, "the input")
    else:
        chunks = chunks_of(sentences, CHUNK)
    search = {
        "beam": args.beam,
        "n_best": args.n_best,
        "length_penalty": args.length_penalty,
    }
    # Of what is written, only the numbers of the cut inputs are kept:
    # the hypotheses, with their attention, would grow with the input.
    done, given, inputs_cut, translations_cut = 0, 0, [], []
    with sigterm_as_ctrl_c():  # `timeout`, a scheduler: as Ctrl-C
        try:
            for inputs in chunks:
                if not given and not args.sentences:
                    _warn_if_tsv(inputs, args.input)
                given += len(inputs)
                with memory_of_search(args.beam):
                    chunk = translator.translate(inputs, **search)
                numbers = range(done + 1, done + len(chunk) + 1)
                cut, cut_short = cut_numbers(chunk, numbers)
                inputs_cut += cut
                translations_cut += cut_short
                # Counted first: an interrupt held while the lines are
                # written is raised once they are out.
                start, done = done, done + len(chunk)
                write_lines(_output_lines(chunk, start, args.n_best))
                del chunk  # not held while the next chunk translates
        except KeyboardInterrupt:
            if sentences is None:
                said = f"translated {done} of the {given} inputs read"
            else:
                said = f"translated {done} of {len(sentences)} inputs"
            kept = "; the output holds their lines" if done else ""
            print(
                f"seq2seq: {said} before the interrupt{kept}", file=sys.stderr
            )
            raise
    if not given:  # else an empty file looked like a silent failure
        where = args.input if args.input not in (None, "-") else "stdin"
        print(
            f"seq2seq: {where} is empty: no lines to translate",
            file=sys.stderr,
        )
    say_cut(inputs_cut, translations_cut, translator)
    return 0


def _warn_if_tsv(lines: list[str], name: str | None) -> None:
    """A warning when most of the first `lines` read from the file `name`
    (or stdin) hold a tab, as a TSV corpus' do: each whole line is
    translated, its other columns (a reference translation) too."""
    if tab_separated(lines):
        where = name if name not in (None, "-") else "stdin"
        print(
            f"seq2seq: warning: the lines of {where} hold a tab, as a TSV "
            "corpus' do: each whole line is translated, every column of "
            "it; give the source column alone (e.g. cut -f1 FILE)",
            file=sys.stderr,
        )


# Inputs translated, then written, at a time: Ctrl-C keeps the lines of
# the chunks done (a long file's hour of work), and a pipe gets them as
# they come. Each chunk is sorted by length into batches, so a chunk of
# 16 batches loses little to padding. From a pipe or a terminal a chunk
# also ends where the lines waiting do.
CHUNK = 1024


def _output_lines(found, first: int, n_best: int) -> list[str]:
    """The output lines of `found`, the hypotheses of inputs `first`,
    `first + 1`, ...: one per input, or `n_best` lines `INDEX ||| TEXT
    ||| SCORE` with 0-based input indices."""
    if n_best == 1:
        return [hypotheses[0].text for hypotheses in found]
    return [
        f"{number} ||| {h.text} ||| {h.score:.4f}"
        for number, hypotheses in enumerate(found, start=first)
        for h in hypotheses
    ]


def _direction(args, config) -> tuple[list[int], bool]:
    """`(columns, reverse)` of `evaluate`'s data: as given, or, with
    neither `--columns` nor `--reverse`, as the run (of `config`) read its
    corpus files (a run trained `--reverse` translates the other way: its
    test file, read forward, was scored as translations of the target
    language). Two aligned files take the run's `reverse`; its columns are
    a TSV's."""
    if args.columns is not None or args.reverse is not None:
        return args.columns or [0, 1], bool(args.reverse)
    if not config.data:  # the built-in corpus is read as it is
        return [0, 1], False
    columns = list(config.columns) if len(args.data) == 1 else [0, 1]
    return columns, config.reverse


def evaluate(args) -> int:
    """`seq2seq evaluate`: translate a corpus' sources and score them."""
    check_search_flags(args)
    warn_unused_penalty(args)
    if args.columns is not None:
        if min(args.columns) < 0:  # as `train` says; Python would count back
            shown = " ".join(map(str, args.columns))
            raise RunError(
                f"--columns must be two indices >= 0 (0 is the first "
                f"column); got {shown}"
            )
        config_lib.check_columns_differ(args.columns)
        config_lib.check_columns_of_files(args.columns, args.data)
    if "-" in args.data:  # as `translate --input -`: "- not found"
        raise RunError(
            "--data - (stdin) is not read: give the corpus' file, or a pipe "
            "as --data /dev/stdin or --data <(cut -f1,2 test.tsv)"
        )
    # Checked first: a typo would otherwise cost the whole translation.
    check_outputs(args)
    run = run_folder.open_run(args.run)
    corpus.warn_if_test_is_seen(run.config, run.path, args.data)
    columns, reverse = _direction(args, run.config)
    translator = Translator.from_run(run, args.model)
    check_search_flags(args, translator.target_tokenizer.vocab_size)
    header = args.header
    if header is None:  # as the run read a corpus of the same layout
        same = run.config.data and len(run.config.data) == len(args.data)
        header = bool(same) and run.config.header
    skipped = []
    try:
        numbered = read_numbered_pairs(
            args.data, columns, reverse, header, skipped=skipped
        )
    except TooFewColumns as error:
        if args.columns is not None:
            raise
        # The columns were the run's: "--columns needs 3" named no flag given.
        raise RunError(
            f"{error.where}, but the run's --columns "
            f"{error.columns[0]} {error.columns[1]} (its config.yaml) need "
            f"{max(error.columns) + 1}; give --columns for this file"
        ) from None
    if args.header is None:  # the run's choice, which the user may not know
        _warn_header_skipped(skipped)
    pairs = [pair for _, pair in numbered]
    sources = [source for source, _ in pairs]
    search = {"beam": args.beam, "length_penalty": args.length_penalty}
    with memory_of_search(args.beam):
        start = time.perf_counter()
        translator.warm_up(sources, **search)  # compiling: not translating
        warm_up = time.perf_counter() - start
        start = time.perf_counter()
        found = translator.translate(sources, **search)
        seconds = time.perf_counter() - start
    # The line a user can open: blank lines and a header are not pairs.
    warn_cut(
        found,
        translator,
        "source",
        lines=[number for number, _ in numbered],
        where=args.data[-1 if reverse else 0],
    )
    texts = [hypotheses[0].text for hypotheses in found]
    scores = scoring.score(texts, [target for _, target in pairs])
    scores["sentences_per_second"] = len(pairs) / seconds
    scores["warm_up_seconds"] = warm_up
    # What was scored, so that two files of scores can be told apart
    # (the best model against `--model averaged.keras`, two penalties).
    scores["beam"] = args.beam
    scores["length_penalty"] = args.length_penalty
    scores["model"] = args.model
    scores["data"] = list(args.data)
    if args.output:
        text = "".join(t + "\n" for t in texts)
        write_output(args.output, text, "the translations")
    if args.json:
        text = json.dumps(scores, indent=1) + "\n"  # a text file's last line
        write_output(args.json, text, "the scores")
    count = scores["n"]
    with writing_stdout("the scores"):
        print(
            f"{count} sentence{'s' if count != 1 else ''}, beam {args.beam}: "
            f"BLEU {scores['bleu']:.2f}  chrF {scores['chrf']:.2f}  "
            f"exact match {100 * scores['exact_match']:.2f}%  "
            f"{scores['sentences_per_second']:.1f} sentences/s "
            f"(after {warm_up:.1f} s compiling)\n"
            f"  {scores['bleu_signature']}\n  {scores['chrf_signature']}"
        )
    return 0


def _warn_header_skipped(skipped) -> None:
    """A warning for each line `evaluate` skipped as a header because the
    run was trained `--header`: a test file without one lost its first
    pair from the scores without a word."""
    for where, number, columns in skipped:
        print(
            f"seq2seq: warning: skipped {where} line {number} {columns!r} "
            "as column names, as the run read its corpus (--header); give "
            "--no-header to score it as a pair, --header to skip it "
            "without this warning",
            file=sys.stderr,
        )


def plot(args) -> int:
    """`seq2seq plot`: the attention heat map of one translation."""
    from keras_seq2seq.nmt.plot import save_attention_png

    check_search_flags(args)
    warn_unused_penalty(args)
    if not args.sentence.strip():
        raise RunError("the sentence is empty; give one to translate and plot")
    _check_utf8_argument(args.sentence, "the sentence")
    output = Path(args.output)
    if output.suffix.lower() != ".png":
        raise RunError(f"--output must end in .png; got {output}")
    run_folder.check_can_write("--output", output)
    translator = Translator.load(args.run, args.model)
    check_search_flags(args, translator.target_tokenizer.vocab_size)
    with memory_of_search(args.beam):
        [[best, *_]] = translator.translate(
            [args.sentence], beam=args.beam, length_penalty=args.length_penalty
        )
    if not best.source_tokens:  # only characters the vocabulary drops
        raise RunError(
            "the sentence has nothing the model reads (its characters are "
            "dropped by the source vocabulary); give one to translate"
        )
    warn_cut([[best]], translator)
    missing = save_attention_png(best, output)
    print(best.text)
    if missing:
        print(
            f"seq2seq: warning: the heat map's font has no glyph for "
            f"{' '.join(missing)}, drawn as boxes (the translation above is "
            "whole); `seq2seq serve` draws its map with the browser's fonts",
            file=sys.stderr,
        )
    print(f"attention heat map: {output}", file=sys.stderr)
    return 0


def average(args) -> int:
    """`seq2seq average`: the mean of the run's last checkpoints."""
    from keras_seq2seq.nmt.averaging import average_checkpoints

    output = average_checkpoints(args.run, args.last, args.output)
    print(output)
    return 0


def serve(args) -> int:
    from keras_seq2seq.nmt.serve import serve as serve_run

    serve_run(
        args.run,
        args.host,
        args.port,
        args.model,
        max_sentences=args.max_sentences,
        max_chars=args.max_chars,
        max_beam=args.max_beam,
        max_body_bytes=args.max_body_bytes,
    )
    return 0
