"""`Seq2Seq.generate`: compiled once, cached, and equal to the eager search."""

import keras
import numpy as np
import pytest
from keras import ops

from helpers import run_python, small_seq2seq

B, TS, V = 3, 5, 13
PAD, BOS, EOS = 0, 1, 2
BEAM = dict(method="beam", beam_size=3, n_best=2, length_penalty=0.6)
BACKEND = keras.backend.backend()
COMPILES = BACKEND != "torch"


@pytest.fixture(autouse=True)
def seed():
    keras.utils.set_random_seed(0)


@pytest.fixture(scope="module")
def model():
    """One model for the tests that only decode with it; the others build
    their own (they count its cached searches or change its weights)."""
    return small_seq2seq()


def source_ids():
    rng = np.random.default_rng(0)
    ids = rng.integers(3, 11, size=(B, TS)).astype("int32")
    ids[1, 3:] = PAD
    ids[2, 1:] = PAD
    return ids


def to_numpy(result):
    return {name: ops.convert_to_numpy(x) for name, x in result.items()}


@pytest.mark.parametrize(
    "options",
    [
        dict(method="greedy"),
        dict(BEAM, coverage_penalty=0.4),
        dict(BEAM, one_per_beam_at_end=True),
        dict(method="sample", top_k=4, seed=3),
    ],
    ids=["greedy", "beam", "beam-one-per-beam-at-end", "sample"],
)
def test_compiled_and_eager_generate_agree(options, model):
    eager = to_numpy(model.generate(source_ids(), jit_compile=False, **options))
    fast = to_numpy(model.generate(source_ids(), **options))
    if options["method"] == "sample" and BACKEND == "tensorflow":
        # Under XLA TensorFlow's stateless random ops draw other numbers
        # (see `compiled`): compare the compiled draws with themselves.
        eager = to_numpy(model.generate(source_ids(), **options))
    assert (eager["lengths"] < eager["ids"].shape[-1]).any()  # Some ended.
    assert fast.keys() == eager.keys()
    for name, want in eager.items():
        if want.dtype.kind in "biu":
            np.testing.assert_array_equal(fast[name], want, name)
        else:
            np.testing.assert_allclose(
                fast[name], want, rtol=1e-5, atol=1e-5, err_msg=name
            )


def test_greedy_gives_each_row_the_same_over_few_rows_and_many(model):
    # TensorFlow searches greedily as one XLA program over at most 16
    # rows and as a plain graph over more: both give each row the same.
    rng = np.random.default_rng(1)
    many = rng.integers(3, 11, size=(20, TS)).astype("int32")
    many[:3] = source_ids()
    few = to_numpy(model.generate(many[:3]))
    every = to_numpy(model.generate(many))
    for name in ("ids", "lengths", "scores", "weights"):
        np.testing.assert_allclose(every[name][:3], few[name], 1e-5, 1e-5, name)


def test_a_second_call_reuses_the_compiled_search():
    model = small_seq2seq()
    first = to_numpy(model.generate(source_ids(), **BEAM))
    second = to_numpy(model.generate(source_ids(), **BEAM))
    (search,) = model._generate_cache.values()
    # Compiled: the Python body ran once. Eager (torch): once per call.
    assert search.traces == (1 if COMPILES else 2)
    np.testing.assert_array_equal(second["ids"], first["ids"])
    # Other options compile another search; the first one stays cached.
    model.generate(source_ids(), **dict(BEAM, length_penalty=0.0))
    assert len(model._generate_cache) == 2
    assert search.traces == (1 if COMPILES else 2)


def test_the_compiled_search_reads_the_current_weights():
    model = small_seq2seq()
    # Eos impossible, then certain: no row ends, then every row at once.
    model.output_layer.bias.assign(np.eye(V)[EOS] * -1e3)
    before = to_numpy(model.generate(source_ids(), max_length=4))
    np.testing.assert_array_equal(before["lengths"], np.full(B, 4))
    model.output_layer.bias.assign(np.eye(V)[EOS] * 1e3)
    after = to_numpy(model.generate(source_ids(), max_length=4))
    np.testing.assert_array_equal(after["lengths"], np.ones(B))
    assert len(model._generate_cache) == 1


def test_greedy_ids_are_the_argmax_of_the_teacher_forced_model(model):
    # An independent path through the model: `call` on the generated ids.
    # (The default options: the search compiled for the test above.)
    r = to_numpy(model.generate(source_ids()))
    target_in = np.concatenate(
        [np.full((B, 1), BOS), r["ids"][:, :-1]], axis=1
    ).astype("int32")
    logits = ops.convert_to_numpy(model((source_ids(), target_in)))
    for b in range(B):
        length = r["lengths"][b]
        np.testing.assert_array_equal(
            logits[b, :length].argmax(-1), r["ids"][b, :length]
        )


def test_a_float_max_length_is_a_ratio_of_the_padded_source_width(model):
    r = model.generate(source_ids(), max_length=1.5, stop_early=False)
    assert tuple(r["ids"].shape) == (B, int(1.5 * TS) + 2)
    beam = model.generate(source_ids(), max_length=1.0, **BEAM)
    assert tuple(beam["ids"].shape) == (B, 2, TS + 2)
    assert tuple(beam["weights"].shape) == (B, 2, TS + 2, TS)


@pytest.mark.skipif(
    BACKEND != "torch", reason="only eager PyTorch records an autograd tape"
)
@pytest.mark.parametrize("jit_compile", [True, False])
def test_generate_records_no_gradients_on_torch(jit_compile, model):
    # Beam search over a real model kept ~1.2 GB of step activations alive
    # for a backward pass that never comes.
    result = model.generate(source_ids(), jit_compile=jit_compile, **BEAM)
    assert not result["scores"].requires_grad
    assert not result["weights"].requires_grad


@pytest.mark.skipif(BACKEND != "tensorflow", reason="AutoGraph is TF's")
def test_compiled_search_does_not_read_source():
    # AutoGraph re-reads a function's source while tracing and warns
    # ("could not transform") when it cannot match it, as after the file
    # changed on disk. The searches are graph code: no AutoGraph at all.
    # A fresh process: AutoGraph caches what it converted.
    program = """
import linecache
import numpy as np
from keras_seq2seq.models import Seq2Seq
model = Seq2Seq(source_vocab_size=9, target_vocab_size=9, embedding_dim=3,
                encoder_units=2, decoder_units=4, attention_units=3)
model.build()
linecache.getlines = lambda *args, **kwargs: []
ids = np.array([[3, 4, 5, 0]], "int32")
model.generate(ids, method="greedy")
model.generate(ids, method="beam", beam_size=2)
"""
    run = run_python(program)
    assert "AutoGraph" not in run.stderr + run.stdout
