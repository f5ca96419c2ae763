"""What `translate`, `evaluate` and `plot` say of a search: its inputs or
translations cut at a length limit, a length penalty greedy search
ignores, and a search that runs out of memory."""

import contextlib
import sys

from keras_seq2seq.nmt.run_error import RunError, is_out_of_memory
from keras_seq2seq.nmt.translator import MAX_LENGTH_PENALTY


def warn_cut(found, translator, what="input", lines=None, where=None):
    """A warning line for the inputs cut to the model's source tokens, and
    one for the translations cut at the search's length limit: how many,
    and the first few of their numbers: 1-based, or `lines`, the numbers
    of the lines of the file `where` they were read from."""
    numbers = lines or range(1, len(found) + 1)
    say_cut(*cut_numbers(found, numbers), translator, what, where)


def cut_numbers(found, numbers) -> tuple[list[int], list[int]]:
    """`(inputs, translations)`: the numbers, of `numbers` (one per input
    of `found`), of the inputs cut to the model's source tokens and of
    those whose best translation is cut at the search's length limit.
    `translate` keeps these, not the hypotheses it has written."""

    def of(attribute):
        return [
            number
            for number, hypotheses in zip(numbers, found, strict=True)
            if hypotheses and getattr(hypotheses[0], attribute)
        ]

    return of("truncated"), of("at_length_limit")


def say_cut(inputs, translations, translator, what="input", where=None):
    """`warn_cut`'s warnings, given the numbers of the cut `inputs` and
    `translations` (`cut_numbers`)."""

    def which(cut, noun, nouns):
        """`"N nouns (numbers) are"` of the numbers `cut`."""
        if len(cut) == 1:
            if where is not None:
                return f"the {noun} on {where} line {cut[0]} is"
            return f"{noun} {cut[0]} is"
        shown = ", ".join(map(str, cut[:5]))
        more = f" and {len(cut) - 5} more" if len(cut) > 5 else ""
        if where is not None:
            shown = f"{where} lines {shown}"
        return f"{len(cut)} {nouns} ({shown}{more}) are"

    if inputs:
        limit = translator.max_source_length
        count = len(inputs)
        each = f"its first {limit}" if count == 1 else f"the first {limit}"
        print(
            f"seq2seq: warning: {which(inputs, what, f'{what}s')} longer "
            f"than the model's {limit} source tokens; translated {each}"
            f"{' of each' * (count > 1)}",
            file=sys.stderr,
        )
    nouns = ("translation", "translations")
    if where is not None:
        nouns = (f"translation of the {what}", f"translations of the {what}s")
    if translations:
        print(
            f"seq2seq: warning: {which(translations, *nouns)} cut at the "
            "search's length limit, with no end token by then (the run's "
            f"max_target_length, {translator.max_target_length} tokens, or "
            "for a short input 2 x its padded width + 10 if less)",
            file=sys.stderr,
        )


def check_search_flags(args, vocab_size: int | None = None) -> None:
    """A `RunError` naming the flag (`--beam-size`, `--n-best`,
    `--length-penalty`) whose value no search takes: the translator's
    own check names its Python arguments, which the user did not type.
    The beam's bound, the target vocabulary's size `vocab_size`, is
    checked once the run is loaded; the rest before, at once."""
    beam, n_best = args.beam, getattr(args, "n_best", 1)
    if beam < 1:
        raise RunError(
            f"--beam-size must be an integer >= 1 (1: greedy search); "
            f"got {beam}"
        )
    if n_best < 1:
        raise RunError(f"--n-best must be an integer >= 1; got {n_best}")
    if n_best > beam:  # `--n-best 3` alone: greedy search keeps one
        raise RunError(
            f"--n-best {n_best} is more than --beam-size {beam}, the most "
            f"hypotheses a search keeps; give --beam-size {n_best} or "
            "more, or a smaller --n-best"
        )
    penalty = args.length_penalty
    if not 0 <= penalty <= MAX_LENGTH_PENALTY:  # NaN too
        raise RunError(
            f"--length-penalty must be a number in "
            f"[0, {MAX_LENGTH_PENALTY:g}] (0.6 to 1 is usual); got {penalty}"
        )
    # Each beam step keeps `beam` distinct tokens of one hypothesis.
    if vocab_size is not None and beam > vocab_size:
        raise RunError(
            f"--beam-size {beam} is wider than the target vocabulary "
            f"({vocab_size} pieces); give --beam-size {vocab_size} or less"
        )


def warn_unused_penalty(args) -> None:
    """One warning line for a length penalty that greedy search ignores."""
    if args.beam == 1 and args.length_penalty != 0:
        print(
            f"seq2seq: warning: --length-penalty {args.length_penalty:g} "
            "ranks beam search's hypotheses; with --beam-size 1 (greedy "
            "search) it changes nothing",
            file=sys.stderr,
        )


@contextlib.contextmanager
def memory_of_search(beam: int):
    """Says what to lower when a search runs out of memory: a beam of K
    keeps K hypotheses of each of a batch's inputs (up to 64), so `--beam
    1000` over a vocabulary of 4000 pieces asks for gigabytes at once."""
    try:
        yield
    except Exception as error:
        if not is_out_of_memory(error):
            raise
        fix = (
            f"lower --beam-size {beam}"
            if beam > 1
            else "lower the input lengths, or free memory"
        )
        raise RunError(
            f"out of memory translating with --beam-size {beam} "
            f"({type(error).__name__}); {fix}"
        ) from error
