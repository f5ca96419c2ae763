"""What `translate`, `evaluate` and `plot` say of a search: its inputs or
translations cut at a length limit, a length penalty greedy search
ignores, and a search that runs out of memory."""

import contextlib
import sys

from keras_seq2seq.nmt.run_error import RunError, is_out_of_memory


def warn_cut(found, translator, what="input", lines=None, where=None):
    """A warning line for the inputs cut to the model's source tokens, and
    one for the translations cut at the search's length limit: how many,
    and the first few of their numbers: 1-based, or `lines`, the numbers
    of the lines of the file `where` they were read from."""
    numbers = lines or range(1, len(found) + 1)

    def which(attribute, noun, nouns):
        """`(count, "N nouns (numbers) are")`."""
        cut = [
            number
            for number, hypotheses in zip(numbers, found, strict=True)
            if hypotheses and getattr(hypotheses[0], attribute)
        ]
        if not cut:
            return 0, ""
        if len(cut) == 1:
            if where is not None:
                return 1, f"the {noun} on {where} line {cut[0]} is"
            return 1, f"{noun} {cut[0]} is"
        shown = ", ".join(map(str, cut[:5]))
        more = f" and {len(cut) - 5} more" if len(cut) > 5 else ""
        if where is not None:
            shown = f"{where} lines {shown}"
        return len(cut), f"{len(cut)} {nouns} ({shown}{more}) are"

    count, inputs = which("truncated", what, f"{what}s")
    if count:
        limit = translator.max_source_length
        each = f"its first {limit}" if count == 1 else f"the first {limit}"
        print(
            f"seq2seq: warning: {inputs} longer than the model's {limit} "
            f"source tokens; translated {each}{' of each' * (count > 1)}",
            file=sys.stderr,
        )
    nouns = ("translation", "translations")
    if where is not None:
        nouns = (f"translation of the {what}", f"translations of the {what}s")
    count, translations = which("at_length_limit", *nouns)
    if count:
        print(
            f"seq2seq: warning: {translations} cut at the search's length "
            "limit, with no end token by then (the run's max_target_length, "
            f"{translator.max_target_length} tokens, or for a short input "
            "2 x its padded width + 10 if less)",
            file=sys.stderr,
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
