"""Translating with a trained run: the API under `translate`, `evaluate`,
`plot` and `serve`.

    translator = Translator.load("runs/dates")
    [[best]] = translator.translate(["saturday 9 may 2018"])
    best.text  # "2018-05-09"

Inputs longer than the model's `max_source_length` tokens are truncated to
it (the tool's documented policy) and their hypotheses say so
(`truncated=True`). A translation that reaches the search's length limit
without its end token is kept to the limit and says so
(`at_length_limit=True`). The command-line tool counts each kind in one
warning line.
"""

import dataclasses
import os
import threading
import weakref

import keras
import numpy as np

from keras_seq2seq.decoding.beam_step import length_penalty_of
from keras_seq2seq.nmt import run_folder
from keras_seq2seq.nmt.run_error import RunError
from keras_seq2seq.nmt.tokenizer import PAD_ID

# A compiled search is compiled once per input shape, which costs far more
# than a few padded positions: a batch's width comes from this short list
# (or is `max_source_length`), and its rows are `batch_size`, or for a
# call with fewer sentences the power of two that holds them (one
# sentence is one row, not 64 rows' work and memory).
WIDTHS = (16, 32, 64, 128, 256, 512)
MAX_LENGTH_PENALTY = 10.0  # as serve's bound


class _Loaded:
    """A model file's loaded model and the lock of its translators."""

    def __init__(self, model):
        self.model = model
        self.lock = threading.Lock()


# The models `Translator.from_run` loaded, by file (path, inode, size,
# modification time), while a translator holds one: loading the same
# unchanged file again gives the same model, whose searches are compiled
# already (a search's first call traces and compiles it: seconds per batch
# shape). Such translators share one lock, as they share the model.
_LOADED = weakref.WeakValueDictionary()


@dataclasses.dataclass
class Hypothesis:
    """One translation of one sentence.

    Args:
        text: str. The translation, detokenised.
        score: float. Sum of the tokens' log-probs (beam: with the length
            penalty), end token included; at the length limit, of the
            tokens kept (the search's own score also counts the token it
            wrote past the limit).
        source_tokens: list of str. Pieces the model read (after any
            truncation).
        target_tokens: list of str. Pieces the model wrote, end token
            excluded.
        attention: list of lists of float. `len(target_tokens)` rows of
            `len(source_tokens)` weights.
        truncated: bool. The input was longer than `max_source_length`
            and was cut. Defaults to `False`.
        at_length_limit: bool. The search stopped at its length limit
            before the model wrote the end token: the translation may be
            cut short. It keeps the limit's number of tokens. Defaults to
            `False`.
    """

    text: str
    score: float
    source_tokens: list[str]
    target_tokens: list[str]
    attention: list[list[float]]
    truncated: bool = False
    at_length_limit: bool = False


class Translator:
    """A trained model with its vocabularies, translating batches of text.

    Build one with `Translator.load(run_dir)`. Calls are serialised by a
    lock, so one instance can be shared by threads. Translators loaded
    from the same unchanged model file share its model, with its compiled
    searches, and that lock.

    Args:
        model: a built `keras_seq2seq.Seq2Seq`.
        source_tokenizer, target_tokenizer: `nmt.tokenizer.Tokenizer`s
            whose vocabulary sizes match the model.
        max_source_length: int. Longer inputs are truncated.
        max_target_length: int. Most output tokens, end token excluded;
            for inputs of width `w` (`WIDTHS`), at most `2 * w + 10`.
        batch_size: int. Most sentences per model call. Defaults to `64`.
    """

    def __init__(
        self,
        model,
        source_tokenizer,
        target_tokenizer,
        max_source_length,
        max_target_length,
        batch_size=64,
    ):
        self.model = model
        self.source_tokenizer = source_tokenizer
        self.target_tokenizer = target_tokenizer
        self.max_source_length = max_source_length
        self.max_target_length = max_target_length
        self.batch_size = batch_size
        self._lock = threading.Lock()

    @classmethod
    def load(
        cls, run_dir: str | os.PathLike, model_file: str = "model.keras"
    ) -> "Translator":
        """Reads a run folder; a `RunError` if it is missing or broken."""
        return cls.from_run(run_folder.open_run(run_dir), model_file)

    @classmethod
    def from_run(
        cls, run: run_folder.Run, model_file: str = "model.keras"
    ) -> "Translator":
        """The translator of the opened run `run` (`run_folder.open_run`)."""
        path = run.path / model_file
        if model_file != "model.keras" and not path.is_file():
            models = [p.name for p in sorted(run.path.glob("*.keras"))]
            models += [
                f"checkpoints/{p.name}"
                for p in run_folder.checkpoints(run.path)
            ]
            raise RunError(
                f"no model file {path}; --model names a file in the run: "
                + (", ".join(models) or "it has none yet")
            )
        found = run_folder.checkpoints(run.path)
        if model_file == "model.keras" and not path.is_file() and found:
            # Deleted, or left out of a copy: "no checkpoint yet" was wrong.
            newest = found[-1].relative_to(run.path)
            raise RunError(
                f"no model file {path} (the run's best model), but the run "
                f"has checkpoints; give --model {newest} (the newest), or "
                f"average them (`seq2seq average {run.path}`) and give "
                "--model averaged.keras"
            )
        run_folder.check_model_of_run(run.path, path)
        loaded = _load(path)
        run_folder.check_vocabularies(loaded.model, run.source, run.target)
        translator = cls(
            loaded.model,
            run.source,
            run.target,
            run.config.max_source_length,
            run.config.max_target_length,
        )
        translator._loaded = loaded  # holds the model in `_LOADED`
        translator._lock = loaded.lock
        return translator

    def translate(
        self,
        sentences: list[str],
        beam: int = 1,
        n_best: int = 1,
        length_penalty: float = 0.0,
    ) -> list[list[Hypothesis]]:
        """Translates `sentences`: greedy for `beam=1`, else beam search.

        Outer whitespace is dropped, as training drops it from each pair.
        A blank sentence (empty, only spaces, or nothing the source
        vocabulary reads, such as a zero-width space that sentencepiece
        drops) is not given to the model, which would invent a translation
        of nothing: its hypotheses have an empty text, no tokens and score
        0.

        Returns:
            One list per sentence, of `n_best` hypotheses, best first,
            no two of the same tokens.

        Raises:
            RunError: for `beam < 1`, a beam wider than the target
                vocabulary, `n_best < 1`, `n_best > beam`, or a length
                penalty outside [0, 10] (or NaN).
        """
        _check_search(
            beam, n_best, length_penalty, self.target_tokenizer.vocab_size
        )
        encoded = [self._encode(s) for s in sentences]
        results: list[list[Hypothesis]] = [
            [Hypothesis("", 0.0, [], [], []) for _ in range(n_best)]
            for _ in sentences
        ]
        # Sorted by length, so that a batch holds inputs of similar width.
        order = sorted(
            (
                i
                for i, s in enumerate(sentences)
                if _given_to_model(s, encoded[i][0])
            ),
            key=lambda i: len(encoded[i][0]),
        )
        rows = self._rows(len(order))
        with self._lock:
            for start in range(0, len(order), self.batch_size):
                chunk = order[start : start + self.batch_size]
                batch = [encoded[i] for i in chunk]
                found = self._translate_batch(
                    batch, rows, beam, n_best, length_penalty
                )
                for i, hypotheses in zip(chunk, found, strict=True):
                    results[i] = hypotheses
        return results

    def warm_up(self, sentences: list[str], **search) -> None:
        """Compiles the search for every batch shape `sentences` will use.

        Translates one batch per width class, as many rows as
        `translate(sentences, **search)` will give the model, so that it
        measures translation, not compilation.
        """
        by_width = {}
        for sentence in sentences:
            ids = self._encode(sentence)[0]
            if _given_to_model(sentence, ids):
                by_width.setdefault(self._width(len(ids)), []).append(sentence)
        count = min(sum(map(len, by_width.values())), self.batch_size)
        for sentence, *_ in by_width.values():
            self.translate([sentence] * count, **search)

    def _rows(self, count: int) -> int:
        """Rows of each batch of a call translating `count` sentences: the
        power of two that holds them, at most `batch_size`."""
        return min(1 << max(count - 1, 0).bit_length(), self.batch_size)

    def _width(self, longest: int) -> int:
        fitting = [w for w in WIDTHS if w >= longest]
        limit = max(self.max_source_length, longest)
        return min(fitting[0] if fitting else longest, limit)

    def _encode(self, sentence: str) -> tuple[list[int], bool]:
        # Training strips each side of a pair: a character model never saw
        # a space or tab around a sentence.
        ids = self.source_tokenizer.encode(sentence.strip())
        truncated = len(ids) > self.max_source_length
        return ids[: self.max_source_length], truncated

    def _translate_batch(self, batch, rows, beam, n_best, length_penalty):
        longest = max(1, max(len(ids) for ids, _ in batch))
        width = self._width(longest)
        source = np.full((rows, width), PAD_ID, dtype="int32")
        for row, (ids, _) in enumerate(batch):
            source[row, : len(ids)] = ids
        source[len(batch) :, 0] = self.model.eos_id  # filler rows: one token
        limit = min(self.max_target_length, 2 * width + 10)
        max_length = limit + 1
        if beam == 1:
            out = self.model.generate(source, max_length=max_length)
            out = {
                k: np.asarray(keras.ops.convert_to_numpy(v))[:, None]
                for k, v in out.items()
                if k != "steps"
            }
        else:
            out = self.model.generate(
                source,
                method="beam",
                beam_size=beam,
                # Every beam: a cut one is scored anew (its kept tokens),
                # and the best `n_best` by those scores are kept.
                n_best=beam,
                max_length=max_length,
                # The step past the limit adds one token per beam: beams
                # cut to the limit stay distinct.
                one_per_beam_at_end=True,
                length_penalty=length_penalty,
            )
            out = {
                k: np.asarray(keras.ops.convert_to_numpy(v))
                for k, v in out.items()
                if k != "steps"
            }
        penalty = length_penalty if beam > 1 else 0.0
        found = [
            [
                self._hypothesis(out, row, k, ids, truncated, limit, penalty)
                for k in range(out["ids"].shape[1])
            ]
            for row, (ids, truncated) in enumerate(batch)
        ]
        for hypotheses in found:
            if any(h.at_length_limit for h in hypotheses):
                hypotheses.sort(key=lambda h: -h.score)
        return [hypotheses[:n_best] for hypotheses in found]

    def _hypothesis(
        self, out, row, k, source_ids, truncated, limit, length_penalty
    ):
        ids = out["ids"][row, k, : out["lengths"][row, k]].tolist()
        # The search's `max_length` is `limit + 1`, room for the end token;
        # a row without one used it for a token past the limit.
        at_length_limit = ids[-1] != self.model.eos_id
        ids = ids[:limit] if at_length_limit else ids[:-1]
        weights = out["weights"][row, k, : len(ids), : len(source_ids)]
        score = float(out["scores"][row, k])
        if at_length_limit:
            # The search's score also counts the token past the limit: the
            # translation's is that of the tokens it keeps (with the
            # search's GNMT penalty at their length).
            kept = out["token_log_probs"][row, k, :limit]
            score = float(kept.astype("float64").sum())
            if length_penalty:
                score /= float(length_penalty_of(float(limit), length_penalty))
        return Hypothesis(
            text=self.target_tokenizer.decode(ids),
            score=score,
            source_tokens=self.source_tokenizer.tokens(source_ids),
            target_tokens=self.target_tokenizer.tokens(ids),
            attention=weights.astype(float).tolist(),
            truncated=truncated,
            at_length_limit=at_length_limit,
        )


def _load(path) -> _Loaded:
    """The model of the file `path`, loaded once while a translator holds
    it (`_LOADED`)."""
    try:
        stat = os.stat(path)
    except OSError:
        return _Loaded(run_folder.load_model(path))  # says what is wrong
    key = (os.path.realpath(path), stat.st_ino, stat.st_size, stat.st_mtime_ns)
    loaded = _LOADED.get(key)
    if loaded is None:
        loaded = _Loaded(run_folder.load_model(path))
        _LOADED[key] = loaded
    return loaded


def _given_to_model(sentence: str, ids: list[int]) -> bool:
    """Whether `translate` gives the model `sentence` (read as `ids`): not
    a blank one, nor one the source vocabulary reads nothing of."""
    return bool(sentence.strip() and ids)


def _check_search(beam, n_best, length_penalty, vocab_size):
    if not isinstance(beam, int) or beam < 1:
        raise RunError(f"beam must be an integer >= 1; got {beam!r}")
    # Each beam step keeps `beam` distinct tokens of one hypothesis.
    if beam > vocab_size:
        raise RunError(
            f"beam {beam} is wider than the target vocabulary "
            f"({vocab_size} pieces); give a beam <= {vocab_size}"
        )
    if not isinstance(n_best, int) or n_best < 1:
        raise RunError(f"n_best must be an integer >= 1; got {n_best!r}")
    if n_best > beam:  # n_best=3 alone: greedy search keeps one
        raise RunError(
            f"n_best {n_best} is more than beam {beam}, the most "
            f"hypotheses a search keeps; give a beam of at least {n_best}, "
            "or a smaller n_best"
        )
    # GNMT's ((5 + length) / 6) ** alpha overflows float32 from alpha 33
    # at 80 tokens: every hypothesis then scored -inf and came out empty.
    if not 0 <= length_penalty <= MAX_LENGTH_PENALTY:
        raise RunError(
            f"length_penalty must be a number in [0, {MAX_LENGTH_PENALTY:g}]"
            f" (0.6 to 1 is usual); got {length_penalty}"
        )
