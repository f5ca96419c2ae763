"""TFA's beam search namedtuples: the state, the step and final outputs."""

import collections


class BeamSearchDecoderState(
    collections.namedtuple(
        "BeamSearchDecoderState",
        (
            "cell_state",
            "log_probs",
            "finished",
            "lengths",
            "accumulated_attention_probs",
        ),
    )
):
    """The state of `BeamSearchDecoder` between steps.

    Fields:
        cell_state: the cell's state, leaves `(B, K, ...)` (an
            `AttentionWrapper`'s alignment history stays time-major,
            `(T, B*K, Ts)` rows).
        log_probs: float32 `(B, K)`, each beam's summed log-probs.
        finished: bool `(B, K)`.
        lengths: int64 `(B, K)` (as TFA's; int32 on JAX without x64),
            tokens, end token counted.
        accumulated_attention_probs: float32 `(B, K, Ts)`, the coverage
            sums, or `()` without a coverage penalty.
    """


class BeamSearchDecoderOutput(
    collections.namedtuple(
        "BeamSearchDecoderOutput", ("scores", "predicted_ids", "parent_ids")
    )
):
    """What `BeamSearchDecoder.step` emits at each step.

    Fields:
        scores: float32 `(B, K)`, the selected beams' penalised scores
            (`(B, K, V)`, every candidate's, with `output_all_scores`).
        predicted_ids: int32 `(B, K)`, the token each beam added.
        parent_ids: int32 `(B, K)`, the beam each one extended.
    """


class FinalBeamSearchDecoderOutput(
    collections.namedtuple(
        "FinalBeamSearchDecoderOutput",
        ("predicted_ids", "beam_search_decoder_output"),
    )
):
    """The outputs of a finished beam search.

    Fields:
        predicted_ids: int32 `(B, T, K)`, the hypotheses backtracked with
            `gather_tree`, best first; end tokens after each one's end.
        beam_search_decoder_output: the `BeamSearchDecoderOutput` of every
            step, stacked `(B, T, ...)`.
    """
