"""TFA's `BeamSearchDecoder`, over the native beam step."""

import keras
from keras import ops

from keras_seq2seq.decoding.beam_ops import gather_tree
from keras_seq2seq.decoding.beam_step import (
    beam_step,
    initial_beams,
    reorder_beams,
)
from keras_seq2seq.tfa.alignment_history import stack_histories
from keras_seq2seq.tfa.attention_wrapper import AttentionWrapperState
from keras_seq2seq.tfa.batch_sizes import as_batch_size
from keras_seq2seq.tfa.beam_search_mixin import (
    BeamSearchDecoderMixin,
    attention_probs,
)
from keras_seq2seq.tfa.beam_search_outputs import (
    BeamSearchDecoderOutput,
    BeamSearchDecoderState,
    FinalBeamSearchDecoderOutput,
)
from keras_seq2seq.tfa.cell_decoder import CellDecoder
from keras_seq2seq.tfa.functions import gather_tree_from_array
from keras_seq2seq.tfa.samplers.sampler import (
    available_dtype,
    start_and_end_tokens,
)
from keras_seq2seq.tfa.scalars import python_float, python_int


@keras.saving.register_keras_serializable(package="keras_seq2seq.tfa")
class BeamSearchDecoder(BeamSearchDecoderMixin, CellDecoder):
    """TFA's `BeamSearchDecoder`: beam search over a cell, step by step.

    Each step merges the beams into `B * K` rows, runs `cell` and
    `output_layer`, and calls `keras_seq2seq.decoding.beam_step.beam_step`
    (the step of the native `beam_search`): TFA's log-probs, GNMT length
    penalty `((5 + length) / 6) ** length_penalty_weight`, coverage
    penalty, frozen finished beams and top-`K` selection. The cell state
    follows the selected parents. As in TFA the caller tiles the memory and
    the initial state with `tile_batch` (`B * K` rows). The log-probs and
    scores are float64 for a float64 cell state (as TFA's, which took the
    state's dtype), float32 otherwise; the length penalty is float32, as
    TFA's. The state's `lengths` are int64, as TFA's (int32 on JAX
    without x64, which has no int64); `dynamic_decode` returns them as
    int32, as TFA did.

    Args:
        cell: a Keras RNN cell or an `AttentionWrapper` set up on the tiled
            memory.
        beam_width: int `K >= 1`.
        embedding_fn: optional callable `ids -> vectors`; else the
            `embedding` given to `initialize` (a `(V, E)` matrix or a
            callable). Defaults to `None`.
        output_layer: optional Keras layer mapping the cell output to
            logits (`Dense(V)`). Defaults to `None`.
        length_penalty_weight: float >= 0. Defaults to `0.0`.
        coverage_penalty_weight: float >= 0; needs an `AttentionWrapper`.
            Defaults to `0.0`.
        reorder_tensor_arrays: bool. At the end, reorder the wrapper's
            `alignment_history` along the final hypotheses with TFA's
            `gather_tree_from_array` and return it stacked, as TFA does: a
            tensor `(T, B*K, Ts)`. Entry `j` of step `t` is then the row of
            the slot hypothesis `j` holds after step `t`, TFA's rule; the
            alignments its own beam computed at step `t` are in the row of
            its parent's slot (where beams swap, the two differ;
            `Seq2Seq.generate` returns each hypothesis' own). Else it stays
            an `AlignmentHistory` (TFA's `TensorArray`) in the order the
            beams ran. Defaults to `True`.
        output_all_scores: bool. `scores` of every candidate `(B, T, K, V)`
            instead of the selected ones `(B, T, K)`. Defaults to `False`.
        **kwargs: `BaseDecoder` arguments (`maximum_iterations`, ...).

    Call arguments:
        embedding: the embedding matrix `(V, E)`, a callable, or `None`
            with `embedding_fn`.
        start_tokens: int `(B,)`.
        end_token: int.
        initial_state: the cell state, tiled to `B * K` rows.

    Returns:
        `(FinalBeamSearchDecoderOutput, BeamSearchDecoderState, lengths)`:
        `predicted_ids` `(B, T, K)` (best beam first), the per-step
        `BeamSearchDecoderOutput`, the final state and lengths `(B, K)`.
    """

    def __init__(
        self,
        cell,
        beam_width,
        embedding_fn=None,
        output_layer=None,
        length_penalty_weight=0.0,
        coverage_penalty_weight=0.0,
        reorder_tensor_arrays=True,
        output_all_scores=False,
        **kwargs,
    ):
        beam_width = python_int(beam_width)
        length_penalty_weight = python_float(length_penalty_weight)
        coverage_penalty_weight = python_float(coverage_penalty_weight)
        check_arguments(
            beam_width,
            embedding_fn,
            length_penalty_weight,
            coverage_penalty_weight,
        )
        super().__init__(cell, output_layer=output_layer, **kwargs)
        self.beam_width = beam_width
        self.embedding_fn = embedding_fn
        self.length_penalty_weight = length_penalty_weight
        self.coverage_penalty_weight = coverage_penalty_weight
        self.reorder_tensor_arrays = reorder_tensor_arrays
        self.output_all_scores = output_all_scores
        self._embed = None
        self._end_token = None
        self._start_tokens = None
        self._scores_dtype = "float32"

    OBJECT_KEYS = ("cell", "embedding_fn", "output_layer")

    def get_config(self):
        config = {
            "beam_width": self.beam_width,
            "length_penalty_weight": self.length_penalty_weight,
            "coverage_penalty_weight": self.coverage_penalty_weight,
            "reorder_tensor_arrays": self.reorder_tensor_arrays,
            "output_all_scores": self.output_all_scores,
        }
        return {**super().get_config(), **config}

    def __call__(
        self,
        embedding,
        start_tokens=None,
        end_token=None,
        initial_state=None,
        training=None,
        **kwargs,
    ):
        # TFA's `call(embedding, start_tokens, end_token, initial_state,
        # training=None)`: its arguments may be given by position.
        return super().__call__(
            embedding,
            initial_state=initial_state,
            training=training,
            start_tokens=start_tokens,
            end_token=end_token,
            **kwargs,
        )

    @property
    def batch_size(self):
        # TFA's is `None` until `initialize` has set it.
        if self._start_tokens is None:
            return None
        return as_batch_size(ops.shape(self._start_tokens)[0])

    @property
    def output_size(self):
        scores = (self.beam_width,)
        if self.output_all_scores:
            scores = (self.beam_width, self._rnn_output_size())
        return BeamSearchDecoderOutput(
            scores=scores,
            predicted_ids=(self.beam_width,),
            parent_ids=(self.beam_width,),
        )

    @property
    def output_dtype(self):
        return BeamSearchDecoderOutput(
            scores=self._scores_dtype, predicted_ids="int32", parent_ids="int32"
        )

    @property
    def tracks_own_finished(self):
        return True

    def initialize(
        self, embedding, start_tokens=None, end_token=None, initial_state=None
    ):
        """Returns `(finished (B, K), start_inputs (B, K, E), state)`."""
        self._new_dropout_masks()
        self._embed = embedding_function(self.embedding_fn, embedding)
        if start_tokens is None or end_token is None or initial_state is None:
            raise ValueError(
                "BeamSearchDecoder needs `start_tokens`, `end_token` and "
                "`initial_state`."
            )
        self._start_tokens, self._end_token = start_and_end_tokens(
            start_tokens, end_token
        )
        batch_size = ops.shape(self._start_tokens)[0]
        check_tiled(initial_state, batch_size, self.beam_width)
        self._scores_dtype = scores_dtype(initial_state)
        coverage = None
        if self.coverage_penalty_weight > 0:
            alignments = attention_probs(initial_state)
            if alignments is None:
                raise ValueError(
                    "`coverage_penalty_weight` > 0 needs an AttentionWrapper "
                    "cell state (or a tuple of cell states holding one). "
                    f"Received: {type(initial_state).__name__}"
                )
            coverage = self._split(alignments)
        beams = initial_beams(
            batch_size, self.beam_width, coverage, self._scores_dtype
        )
        state = BeamSearchDecoderState(
            cell_state=map_rows(self._split, initial_state),
            log_probs=beams["log_probs"],
            finished=beams["finished"],
            # TFA's int64; int32 on JAX without x64.
            lengths=ops.cast(beams["lengths"], available_dtype("int64")),
            accumulated_attention_probs=beams.get("coverage", ()),
        )
        return beams["finished"], self._start_inputs(), state

    def step(self, time, inputs, state, training=None, name=None):
        """One beam step: `(outputs, next_state, next_inputs, finished)`.

        `name` (TFA's op scope) has no effect.
        """
        del name
        outputs, cell_state = self._cell_step(
            self._merge(inputs),
            map_rows(self._merge, state.cell_state),
            training,
        )
        log_probs = ops.log_softmax(
            ops.cast(outputs, self._scores_dtype), axis=-1
        )
        # The beam step counts in int32.
        beams = {
            "log_probs": state.log_probs,
            "finished": state.finished,
            "lengths": ops.cast(state.lengths, "int32"),
        }
        weights = None
        if self.coverage_penalty_weight > 0:
            beams["coverage"] = state.accumulated_attention_probs
            weights = self._split(attention_probs(cell_state))
        beams, chosen = beam_step(
            beams,
            self._split(log_probs),
            weights,
            self._end_token,
            self.length_penalty_weight,
            self.coverage_penalty_weight,
        )
        parents = chosen["parent_ids"]
        cell_state = map_rows(
            lambda x: self._split(reorder_beams(x, parents)), cell_state
        )
        next_state = BeamSearchDecoderState(
            cell_state=cell_state,
            log_probs=beams["log_probs"],
            finished=beams["finished"],
            lengths=ops.cast(beams["lengths"], ops.dtype(state.lengths)),
            accumulated_attention_probs=beams.get("coverage", ()),
        )
        scores = chosen["all_scores" if self.output_all_scores else "scores"]
        output = BeamSearchDecoderOutput(
            scores=scores,
            predicted_ids=chosen["token_ids"],
            parent_ids=parents,
        )
        # TFA feeds the start tokens again once every beam has finished.
        next_inputs = ops.where(
            ops.all(beams["finished"]),
            self._start_inputs(),
            self._embed(chosen["token_ids"]),
        )
        return output, next_state, next_inputs, beams["finished"]

    def finalize(self, outputs, final_state, sequence_lengths):
        """Backtracks the beams; reorders the alignment history.

        `outputs` are time-major `(T, B, K)`, as `dynamic_decode` gives.
        """
        del sequence_lengths  # The state's lengths follow the beams.
        longest = ops.cast(ops.max(final_state.lengths, axis=1), "int32")
        predicted_ids = gather_tree(
            outputs.predicted_ids, outputs.parent_ids, longest, self._end_token
        )
        if self.reorder_tensor_arrays:

            def reorder(wrapper_state):
                history = keras.tree.map_structure(
                    lambda h: gather_tree_from_array(
                        h, outputs.parent_ids, final_state.lengths
                    ),
                    stack_histories(wrapper_state.alignment_history),
                )
                return wrapper_state._replace(alignment_history=history)

            final_state = final_state._replace(
                cell_state=map_wrapper_states(reorder, final_state.cell_state)
            )
        final = FinalBeamSearchDecoderOutput(
            predicted_ids=predicted_ids, beam_search_decoder_output=outputs
        )
        return final, final_state

    def _start_inputs(self):
        tokens = ops.repeat(self._start_tokens[:, None], self.beam_width, 1)
        return self._embed(tokens)  # (B, K, E)

    def _merge(self, x):
        """`(B, K, ...)` -> `(B*K, ...)`."""
        # `ops.shape`: a graph's unknown source length is a tensor there.
        return ops.reshape(x, (-1,) + tuple(ops.shape(x)[2:]))

    def _split(self, x):
        """`(B*K, ...)` -> `(B, K, ...)`."""
        return ops.reshape(x, (-1, self.beam_width) + tuple(ops.shape(x)[1:]))


def check_arguments(beam_width, embedding_fn, length_penalty, coverage_penalty):
    """Raises `ValueError` for a bad `BeamSearchDecoder` argument."""
    if isinstance(beam_width, bool) or not (
        isinstance(beam_width, int) and beam_width >= 1
    ):
        raise ValueError(
            f"`beam_width` must be an int >= 1. Received: {beam_width!r}"
        )
    if embedding_fn is not None and not callable(embedding_fn):
        raise ValueError(
            f"`embedding_fn` must be callable or None. Received: "
            f"{embedding_fn!r}"
        )
    for name, value in [
        ("length_penalty_weight", length_penalty),
        ("coverage_penalty_weight", coverage_penalty),
    ]:
        if not value >= 0:
            raise ValueError(f"`{name}` must be >= 0. Received: {value!r}")


def check_tiled(initial_state, batch_size, beam_width):
    """Raises TFA's ValueError unless every state tensor has `B * K` rows.

    Row counts that are not known statically are not compared.
    """
    initial_state = map_wrapper_states(
        lambda s: s._replace(alignment_history=()), initial_state
    )
    expected = batch_size * beam_width if isinstance(batch_size, int) else None
    for x in keras.tree.flatten(initial_state):
        rows = tuple(ops.shape(x))[0] if len(ops.shape(x)) else None
        if isinstance(rows, int) and expected is not None and rows != expected:
            raise ValueError(
                f"BeamSearchDecoder needs an initial state of batch_size * "
                f"beam_width = {batch_size} * {beam_width} rows, not {rows}: "
                "tile the memory and the state with tile_batch(x, beam_width)"
                " and pass batch_size * beam_width to get_initial_state."
            )


def scores_dtype(initial_state):
    """The dtype of the log-probs and scores: float64 for a float64 cell
    state (TFA's took the state's dtype), else float32 (log-probs of a
    float16 or bfloat16 model are summed in float32)."""
    first = keras.tree.flatten(initial_state)[0]
    dtype = keras.backend.standardize_dtype(getattr(first, "dtype", None))
    return "float64" if dtype == "float64" else "float32"


def embedding_function(embedding_fn, embedding):
    """`ids -> vectors`: `embedding_fn`, else from `embedding` (TFA's rule)."""
    if embedding_fn is not None:
        if embedding is not None:
            raise ValueError(
                "Give `embedding_fn` to the constructor or `embedding` to "
                "the call, not both."
            )
        return embedding_fn
    if embedding is None:
        raise ValueError(
            "BeamSearchDecoder needs `embedding` or an `embedding_fn`."
        )
    if callable(embedding):
        # A plain function, not the callable itself: the decoder keeps it
        # between calls, and a built layer refuses to track a new layer
        # (an `Embedding` given to the call) as an attribute.
        return lambda ids: embedding(ids)
    return lambda ids: ops.take(embedding, ids, axis=0)


def map_wrapper_states(fn, cell_state):
    """`cell_state` with `fn(s)` in place of each `AttentionWrapperState`
    `s` in it, at any depth (a wrapper in `StackedRNNCells`)."""
    return keras.tree.traverse(
        lambda x: fn(x) if isinstance(x, AttentionWrapperState) else None,
        cell_state,
    )


def map_rows(fn, cell_state):
    """`fn` on every leaf with one row per beam; not on the time-major
    alignment histories of the wrapper states in it, which grow by one
    step per call (TFA's `TensorArray`s, which TFA's beam search leaves in
    place too)."""

    def visit(x):
        if isinstance(x, AttentionWrapperState):
            history = x.alignment_history
            rows = keras.tree.map_structure(
                fn, x._replace(alignment_history=())
            )
            return rows._replace(alignment_history=history)
        return None if keras.tree.is_nested(x) else fn(x)

    return keras.tree.traverse(visit, cell_state)
