"""`Seq2Seq.generate`'s searches: the encoder, the prepared memory and a
search over the decoder's step, compiled once per method, options and
source shape and kept on the model."""

from keras import ops

from keras_seq2seq.decoding.beam_search import beam_search
from keras_seq2seq.decoding.compile import (
    compiled_model_function,
    no_gradients,
)
from keras_seq2seq.decoding.greedy import greedy_search
from keras_seq2seq.decoding.sampling import sample

# Compiled searches kept per model (one per method, options and shape).
CACHE_SIZE = 8


def compiled_search(model, method, options):
    """The compiled search for these options, from `model`'s cache."""
    key = (method, tuple(sorted(options.items())))
    cache = model.__dict__.setdefault("_generate_cache", {})
    if key not in cache:
        if not model.built:
            model.build()
        if len(cache) >= CACHE_SIZE:
            cache.pop(next(iter(cache)))  # The oldest entry.
        # On TensorFlow, greedy search runs faster as a plain graph
        # (oneDNN's products); sampling and beam search gain more from
        # XLA's fusion of their (N, V) arithmetic. S2S-M, in turns in
        # one process (bench/tf_search_xla.py): graph / XLA = 1.09x
        # greedy, 0.92x sampling, 0.93x beam-5.
        cache[key] = compiled_model_function(
            search_function(model, method, options),
            model,
            xla=method != "greedy",
        )
    return cache[key]


def search_function(model, method, options):
    """`search(source_ids) -> dict`: encoder, memory, then the search."""
    search = {"greedy": greedy_search, "sample": sample}.get(
        method, beam_search
    )

    def step_fn(token_ids, state, memory):
        inputs = model.target_embedding(token_ids)
        output, state = model.decoder.step(inputs, state, memory)
        logits = ops.cast(model.output_layer(output), "float32")
        return ops.log_softmax(logits, axis=-1), state, state.weights

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
