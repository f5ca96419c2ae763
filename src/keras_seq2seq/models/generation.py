"""`Seq2Seq.generate`'s searches: the encoder, the prepared memory and a
search over the decoder's step, compiled once per method, options and
source shape and kept on the model."""

import numbers

from keras import ops

from keras_seq2seq.decoding.beam_search import beam_search
from keras_seq2seq.decoding.compile import (
    compiled_model_function,
    no_gradients,
)
from keras_seq2seq.decoding.greedy import greedy_search
from keras_seq2seq.decoding.sampling import check_seed, sample
from keras_seq2seq.models.checks import (
    check_bool,
    check_choice,
    check_hypotheses,
    check_ratio,
    check_source_ids,
)

# Compiled searches kept per model (one per method, options and shape).
CACHE_SIZE = 8
# TensorFlow's greedy search is one XLA program up to this many logits a
# step (rows x target vocabulary), a plain graph above.
XLA_GREEDY_LOGITS = 2**17


def compiled_search(model, method, options, rows=None):
    """The compiled search for these options and `rows` source rows, from
    `model`'s cache."""
    # On TensorFlow, a greedy search with a large output product per step
    # runs faster as a plain graph (oneDNN's matrix products), a smaller one
    # as one XLA program (its fused elementwise work); sampling and beam
    # search gain more from XLA at any size. Speed, XLA / graph, in turns in
    # one process: S2S-M (V = 8,000; `bench/tf_search_xla.py --rows`),
    # greedy 2.2-2.7x at 1 row, 1.0-1.3x at 4-16, 0.8-1.1x at 32, 0.9x at
    # 64; sampling 1.09x and beam-5 1.08x at 64. The dates model of `make
    # demo` (V = 15), greedy through `seq2seq translate`: 3.4-5.6x at 1
    # sentence, 2.1x at 20 and at 64.
    logits = None if rows is None else rows * model.target_vocab_size
    xla = method != "greedy" or (
        logits is not None and logits <= XLA_GREEDY_LOGITS
    )
    # A bool apart: `True == 1` (and hashes alike), so it found the search
    # compiled for 1 and skipped the check that refuses it.
    typed = tuple(
        (k, isinstance(v, bool), v) for k, v in sorted(options.items())
    )
    key = (method, typed, xla)
    cache = model.__dict__.setdefault("_generate_cache", {})
    if key not in cache:
        if len(cache) >= CACHE_SIZE:
            cache.pop(next(iter(cache)))  # The oldest entry.
        cache[key] = compiled_model_function(
            search_function(model, method, options), model, xla=xla
        )
    return cache[key]


def search_function(model, method, options):
    """`search(source_ids) -> dict`: encoder, memory, then the search."""
    search = {"greedy": greedy_search, "sample": sample}.get(
        method, beam_search
    )

    # Padding is no token the model says (its loss weighs padded targets
    # 0, and a pad input is no step), so no search chooses it, as in
    # fairseq; unless it ends a sentence (`eos_id == pad_id`). The other
    # tokens keep their log-probs: a score stays the model's.
    never = model.pad_id if model.pad_id != model.eos_id else None

    def step_fn(token_ids, state, memory):
        inputs = model.target_embedding(token_ids)
        output, state = model.decoder.step(inputs, state, memory)
        logits = ops.cast(model.output_layer(output), "float32")
        log_probs = ops.log_softmax(logits, axis=-1)
        if never is not None:
            ids = ops.arange(model.target_vocab_size, dtype="int32")
            log_probs = ops.where(ids == never, float("-inf"), log_probs)
        return log_probs, state, state.weights

    def run(source_ids):
        with no_gradients():
            memory, memory_mask, cell_state = model.encode(source_ids)
            step = model.decoder.step
            prepared = step.prepare(memory, value_mask=memory_mask)
            return search(
                step_fn,
                step.get_initial_state(prepared, cell_state),
                bos_id=model.bos_id,
                eos_id=model.eos_id,
                constants=prepared,
                **options,
            )

    return run


class GenerationMixin:
    """`Seq2Seq.generate`: the searches above, checked and compiled.

    Reads the model's `source_vocab_size`, `encode`, `decoder`,
    `target_embedding`, `output_layer`, `bos_id` and `eos_id`.
    """

    def generate(
        self,
        source_ids,
        method="greedy",
        max_length=2.0,
        beam_size=5,
        length_penalty=0.0,
        coverage_penalty=0.0,
        n_best=1,
        temperature=1.0,
        top_k=None,
        top_p=None,
        seed=None,
        stop_early=True,
        jit_compile=True,
        one_per_beam_at_end=False,
    ):
        """Translates a batch of source ids.

        The encoder runs once; the search drives the decoder's single step
        (`AttentionRNNCell`) with keys computed once per source. Beam search
        repeats the memory once and reorders only the decoder state.

        The whole call (encoder, memory, search) is compiled once per
        method, options and source shape (`decoding.compile`: XLA on
        TensorFlow, a plain graph for greedy search; `jax.jit` on JAX;
        PyTorch runs eagerly) and kept on the model: later calls with the
        same options and shapes reuse it, and read the current weights. A
        float `max_length` is resolved from the padded width `Ts`, so it
        stays fixed for a given shape. `generate` may itself run inside a
        function one compiles or exports (`tf.function`, `jax.jit`,
        `keras.export.ExportArchive`); ids traced there are not checked
        against the vocabulary, and ids of unknown width `Ts` need an int
        `max_length`.

        Args:
            source_ids: int `(B, Ts)`, padded with `pad_id`.
            method: str. `"greedy"`, `"sample"` or `"beam"`. Defaults to
                `"greedy"`.
            max_length: int, or float: a ratio of `Ts` (plus 2 for the end
                token). Defaults to `2.0`.
            beam_size: int. Beams for `"beam"`. Defaults to `5`.
            length_penalty: float. GNMT length penalty weight. Defaults to
                `0.0`.
            coverage_penalty: float. TFA's coverage penalty weight. Defaults
                to `0.0`.
            n_best: int. Hypotheses returned by `"beam"`. Defaults to `1`.
            temperature, top_k, top_p, seed: for `"sample"`. An int `seed`
                (in `[0, 2**32)`) is part of the compiled program;
                `seed=None` (Keras' global seed) and a
                `keras.random.SeedGenerator`, which advances at every call,
                run eagerly.
            stop_early: bool. Stop once every row has ended. Defaults to
                `True`.
            one_per_beam_at_end: bool, for `"beam"`. At the last step each
                beam adds only its best token, so hypotheses that reach
                `max_length` differ before it (see `beam_search`): for a
                caller that cuts them one token short. Defaults to
                `False`.
            jit_compile: bool. Compile and cache the search; `False` runs
                it eagerly (same results, except that TensorFlow's XLA
                draws other samples for `"sample"` than its eager ops, each
                as repeatable). Defaults to `True`.

        Returns:
            dict: `ids`, `scores`, `lengths` and `weights` (greedy and
            sampling: `(B, T)`, `(B,)`, `(B,)`, `(B, T, Ts)`; beam: with an
            `n_best` axis after `B`), and `steps`. Ids end with `eos_id`;
            no search chooses `pad_id` (unless it is `eos_id`).

        Raises:
            ValueError: for `source_ids` that are not integer ids `(B, Ts)`
                with `B, Ts >= 1`, a float `max_length` that is not a
                positive ratio (or on ids traced for any width `Ts`), or a
                bad search option.
        """
        check_choice("method", method, ("greedy", "sample", "beam"))
        check_bool("stop_early", stop_early)
        check_bool("jit_compile", jit_compile)
        check_bool("one_per_beam_at_end", one_per_beam_at_end)
        source_ids = check_source_ids(source_ids, self.source_vocab_size)
        # A float (NumPy's too: np.float32 is no Python float) is a ratio
        # of the source length; an int, a number of steps.
        if isinstance(max_length, numbers.Real) and not isinstance(
            max_length, numbers.Integral
        ):
            width = source_ids.shape[1]
            check_ratio("max_length", max_length, width)
            max_length = int(max_length * width) + 2
        options = {"max_length": max_length, "stop_early": stop_early}
        if method == "sample":
            seed = check_seed(seed)
            options.update(
                temperature=temperature, top_k=top_k, top_p=top_p, seed=seed
            )
            # A compiled search holds a `SeedGenerator`'s state as it was
            # traced (on JAX every call drew the same tokens): only an int
            # seed is compiled.
            jit_compile = jit_compile and isinstance(seed, int)
        if method == "beam":
            check_hypotheses(
                n_best,
                max_length,
                self.target_vocab_size,
                self.pad_id,
                self.eos_id,
            )
            options.update(
                beam_size=beam_size,
                length_penalty=length_penalty,
                coverage_penalty=coverage_penalty,
                n_best=n_best,
                one_per_beam_at_end=one_per_beam_at_end,
            )
        if not self.built:  # a model never called: build it, eager or not
            self.build()
        if not jit_compile:
            return search_function(self, method, options)(source_ids)
        search = compiled_search(self, method, options, source_ids.shape[0])
        return search(source_ids)
