"""The body of a `POST /translate` request to `seq2seq serve`, checked:
each bad request is a `RequestError` carrying its HTTP status and a
one-line message (400 for malformed JSON or wrong types, 422 for values
out of bounds)."""

import dataclasses
import json
import math
import unicodedata

from keras_seq2seq.nmt.text import lone_surrogate

# `beam_size` is the library's word for `beam`; a request may use either.
FIELDS = ("sentences", "beam", "beam_size", "n_best", "length_penalty")


@dataclasses.dataclass(frozen=True)
class Limits:
    """What a server accepts (`serve`'s `--max-*` flags) and how it
    batches."""

    max_body_bytes: int = 65536  # 413 above
    max_sentences: int = 32  # sentences per request
    max_chars: int = 1000  # characters per sentence, in NFC
    max_beam: int = 16
    batch_wait_ms: float = 5.0  # how long a batch waits for more requests
    max_batch: int = 64  # sentences per model call


class RequestError(Exception):
    """A bad request: its HTTP `status` and its message."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


def parse_request(body: bytes, limits, translator) -> tuple:
    """Checks a `/translate` body; returns `(sentences, beam, n_best,
    length_penalty)` or raises an error carrying its HTTP status."""
    if not body.strip():
        raise RequestError(
            400, "the body is empty; send a JSON object with 'sentences'"
        )
    try:
        # JSON may start with a byte-order mark (RFC 8259 lets a reader
        # ignore it), as some Windows tools write one.
        request = json.loads(
            body.decode("utf-8").removeprefix("\ufeff"),
            object_pairs_hook=_object_of_distinct_keys,
        )
    except _KeyTwice as twice:  # JSON would keep the last value, silently
        raise RequestError(
            400, f"field {twice.key!r} is given twice; give it once"
        ) from None
    except UnicodeDecodeError:
        raise RequestError(400, "the body is not UTF-8") from None
    except json.JSONDecodeError as error:
        raise RequestError(400, f"malformed JSON: {error}") from None
    except ValueError:  # no int of over 4300 digits: int_max_str_digits
        raise RequestError(
            400, "malformed JSON: a number has too many digits"
        ) from None
    except RecursionError:
        raise RequestError(400, "malformed JSON: nested too deeply") from None
    if not isinstance(request, dict):
        raise RequestError(
            400, "the body must be a JSON object with 'sentences'"
        )
    unknown = sorted(set(request) - set(FIELDS))
    if unknown:
        raise RequestError(
            400, f"unknown field {unknown[0]!r}; fields are {', '.join(FIELDS)}"
        )
    sentences = _sentences(request, limits, translator)
    if "beam" in request and "beam_size" in request:
        raise RequestError(400, "give 'beam' or 'beam_size', not both")
    beam_name = "beam_size" if "beam_size" in request else "beam"
    beam = _integer(request, beam_name, 1, limits.max_beam)
    # Checked here, not left to the translator, to name the field given.
    width = translator.target_tokenizer.vocab_size
    if beam > width:  # each step keeps `beam` distinct tokens of one
        raise RequestError(
            422,
            f"{beam_name!r} {beam} is wider than the target vocabulary "
            f"({width} pieces); ask for a {beam_name!r} of at most {width}",
        )
    n_best = _integer(request, "n_best", 1, limits.max_beam)
    if n_best > beam:  # "between 1 and 1; got 3" said what, not how
        raise RequestError(
            422,
            f"'n_best' {n_best} is more than {beam_name!r} {beam}, the most "
            f"hypotheses a search keeps; ask for a {beam_name!r} of at "
            f"least {n_best}",
        )
    penalty = request.get("length_penalty", 0.0)
    if isinstance(penalty, bool) or not isinstance(penalty, (int, float)):
        raise RequestError(400, "'length_penalty' must be a number")
    if not 0 <= penalty <= 10 or not math.isfinite(penalty):
        raise RequestError(422, "'length_penalty' must be in [0, 10]")
    return sentences, beam, n_best, float(penalty)


class _KeyTwice(Exception):
    def __init__(self, key: str):
        super().__init__(key)
        self.key = key


def _object_of_distinct_keys(pairs: list) -> dict:
    """A JSON object's dict; `_KeyTwice` for a key written twice, which
    `json` would resolve by dropping the first value (a client's sentences
    lost without a word)."""
    found = {}
    for key, value in pairs:
        if key in found:
            raise _KeyTwice(key)
        found[key] = value
    return found


def _sentences(request, limits, translator):
    if "sentences" not in request:
        raise RequestError(400, "missing field 'sentences' (a list of strings)")
    sentences = request["sentences"]
    if not isinstance(sentences, list) or not sentences:
        raise RequestError(
            400, "'sentences' must be a non-empty list of strings"
        )
    if len(sentences) > limits.max_sentences:
        raise RequestError(
            422,
            f"too many sentences: {len(sentences)}; "
            f"the limit is {limits.max_sentences}",
        )
    longest = translator.max_source_length
    for i, sentence in enumerate(sentences):
        if not isinstance(sentence, str):
            raise RequestError(400, f"sentences[{i}] is not a string")
        if not sentence.strip():
            raise RequestError(400, f"sentences[{i}] is empty")
        bad = lone_surrogate(sentence)
        if bad is not None:  # JSON may escape one: "\udce9"
            raise RequestError(
                400,
                f"sentences[{i}] holds a lone surrogate (U+{ord(bad):04X}), "
                "which is not text; send UTF-8 text",
            )
        # Characters as shown: an accent typed as a combining mark (text
        # from macOS, NFD) counts with its letter, as the composed one.
        chars = len(unicodedata.normalize("NFC", sentence))
        if chars > limits.max_chars:
            raise RequestError(
                422,
                f"sentences[{i}] has {chars} characters; the limit is "
                f"{limits.max_chars}",
            )
        tokens = len(translator.source_tokenizer.encode(sentence.strip()))
        if not tokens:  # only characters the vocabulary drops: U+200B
            raise RequestError(
                400, f"sentences[{i}] has nothing the model reads"
            )
        if tokens > longest:
            raise RequestError(
                422,
                f"sentences[{i}] has {tokens} tokens; "
                f"the model reads at most {longest}",
            )
    return sentences


def _integer(request, name, low, high):
    value = request.get(name, 1)
    # 2.0 is 2: JSON has one number type, and some clients (Python's
    # json.dumps of a float) write a whole number with a point.
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise RequestError(400, f"{name!r} must be an integer")
    if not low <= value <= high:
        raise RequestError(
            422, f"{name!r} must be between {low} and {high}; got {value}"
        )
    return value
