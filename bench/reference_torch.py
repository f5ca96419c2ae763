"""The S2S-M model written plainly in PyTorch, eager: the benchmark reference.

This is the model of `shared/bench/S2S-M.md` the way a competent PyTorch user
writes it, with nothing tuned: a Python loop over the target steps, one
`nn.GRUCell` call per step, default threading. Our backends are reported as
ratios to the figures this file measures in the same benchmark run.

The model, so that the Keras side can match it weight for weight:

- source and target `Embedding(8000, 256)`;
- encoder: 1-layer bidirectional `nn.GRU`, 256 units per direction, so the
  value (memory) has depth `Dv = 512`;
- decoder initial state: a bridge, `tanh(Linear(512 -> 512)([h_fw; h_bw]))`
  over the final forward and backward encoder states (with bias). Starting
  from zeros instead would drop its 262,656 parameters (12.01 M -> 11.75 M);
- decoder: `nn.GRUCell(256 + 512 -> 512)` with input feeding: the input at
  step t is `[embedding(y_{t-1}); attention_vector_{t-1}]`, and the first
  attention vector is zeros;
- Bahdanau attention, `U = 256`, in TFA's "luong" query order: the new cell
  output `h_t` is the query; `keys = W_k value` once per batch;
  `scores = v^T tanh(W_q h_t + keys)`; `weights = softmax(scores)`;
  `context = weights @ value`. `W_q`, `W_k` and `v` have no bias;
- `attention_vector = Linear(512 + 512 -> 512, no bias)([h_t; context_t])`;
- `logits = Linear(512 -> 8000)(attention_vector)`, applied once over all
  steps after the loop in training, once per step in decoding;
- float32, Adam (lr 1e-3), cross-entropy, no dropout.

Run `python bench/reference_torch.py [--quick]` to print the parameter count
and the measures; `bench/s2s_m.py` runs it next to the Keras backends.
"""

import argparse
import json

import numpy as np
import torch
from s2s_m import (
    BATCH_SIZE,
    BOS_ID,
    EOS_ID,
    FULL,
    QUICK,
    TARGET_LENGTH,
    VOCAB_SIZE,
    current_rss_mib,
    make_batch,
    peak_rss_mib,
    set_torch_matmul_precision,
)
from s2s_m import (
    time_calls as _time_calls,
)
from torch import nn
from torch.nn import functional as F

BEAM_SIZE = 5


class S2SM(nn.Module):
    """The S2S-M encoder-decoder (see the module docstring).

    Args:
        vocab_size: int. Source and target vocabulary size `V`.
        embedding_dim: int. Embedding depth on both sides.
        encoder_units: int. GRU units per encoder direction.
        decoder_units: int. Decoder GRU units.
        attention_units: int. Bahdanau depth `U`.
        attention_layer_size: int. Depth of the attention vector.
    """

    def __init__(
        self,
        vocab_size: int = VOCAB_SIZE,
        embedding_dim: int = 256,
        encoder_units: int = 256,
        decoder_units: int = 512,
        attention_units: int = 256,
        attention_layer_size: int = 512,
    ):
        super().__init__()
        value_depth = 2 * encoder_units
        self.attention_layer_size = attention_layer_size
        self.source_embedding = nn.Embedding(vocab_size, embedding_dim)
        self.target_embedding = nn.Embedding(vocab_size, embedding_dim)
        self.encoder = nn.GRU(
            embedding_dim, encoder_units, batch_first=True, bidirectional=True
        )
        self.bridge = nn.Linear(value_depth, decoder_units)
        self.cell = nn.GRUCell(
            embedding_dim + attention_layer_size, decoder_units
        )
        self.query_dense = nn.Linear(decoder_units, attention_units, bias=False)
        self.key_dense = nn.Linear(value_depth, attention_units, bias=False)
        self.attention_v = nn.Parameter(
            torch.empty(attention_units).uniform_(-0.1, 0.1)
        )
        self.attention_dense = nn.Linear(
            decoder_units + value_depth, attention_layer_size, bias=False
        )
        self.output_dense = nn.Linear(attention_layer_size, vocab_size)

    def encode(self, source_ids):
        """Encodes once per batch.

        Returns:
            `(value, keys, state)`: `(B, Ts, Dv)`, `(B, Ts, U)`, `(B, 512)`.
        """
        value, final = self.encoder(self.source_embedding(source_ids))
        # final: (2, B, 256), forward then backward direction.
        state = torch.tanh(self.bridge(torch.cat([final[0], final[1]], -1)))
        return value, self.key_dense(value), state

    def step(self, embedded, attention_vector, state, value, keys):
        """One decoder step.

        Returns:
            `(attention_vector, state)`, `(B, 512)` each.
        """
        state = self.cell(torch.cat([embedded, attention_vector], -1), state)
        query = self.query_dense(state)[:, None, :]  # (B, 1, U)
        scores = torch.tanh(query + keys) @ self.attention_v  # (B, Ts)
        weights = torch.softmax(scores, dim=-1)
        context = torch.bmm(weights[:, None, :], value)[:, 0]  # (B, Dv)
        attention_vector = self.attention_dense(torch.cat([state, context], -1))
        return attention_vector, state

    def initial_attention_vector(self, state):
        return state.new_zeros(state.shape[0], self.attention_layer_size)

    def forward(self, source_ids, target_in_ids):
        """Teacher forcing; returns logits `(B, Tt, V)`."""
        value, keys, state = self.encode(source_ids)
        attention_vector = self.initial_attention_vector(state)
        embedded = self.target_embedding(target_in_ids)  # (B, Tt, 256)
        attention_vectors = []
        for t in range(target_in_ids.shape[1]):
            attention_vector, state = self.step(
                embedded[:, t], attention_vector, state, value, keys
            )
            attention_vectors.append(attention_vector)
        return self.output_dense(torch.stack(attention_vectors, 1))


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def train_step(model, optimizer, source_ids, target_in_ids, target_out_ids):
    """Forward, loss, backward and Adam update; returns the loss."""
    optimizer.zero_grad(set_to_none=True)
    logits = model(source_ids, target_in_ids)
    loss = F.cross_entropy(
        logits.reshape(-1, logits.shape[-1]), target_out_ids.reshape(-1)
    )
    loss.backward()
    optimizer.step()
    return loss.item()


@torch.inference_mode()
def greedy_decode(model, source_ids, bos_id, max_length=TARGET_LENGTH):
    """Exactly `max_length` argmax steps, no early stop; returns ids `(B, T)`.

    A decoder step picks its argmax token, then feeds it to the next step.
    """
    value, keys, state = model.encode(source_ids)
    attention_vector = model.initial_attention_vector(state)
    token = torch.full_like(source_ids[:, 0], bos_id)
    ids = []
    for _ in range(max_length):
        attention_vector, state = model.step(
            model.target_embedding(token), attention_vector, state, value, keys
        )
        token = model.output_dense(attention_vector).argmax(-1)
        ids.append(token)
    return torch.stack(ids, 1)


@torch.inference_mode()
def beam_search(
    model, source_ids, bos_id, eos_id, beam_size, max_length=TARGET_LENGTH
):
    """Batched beam search, length penalty 0, all `max_length` steps.

    The state has `B * K` rows, beam-major within each sentence. Each step
    takes the top `K` of the `K * V` continuations of a sentence, and gathers
    the states by parent beam. A finished beam extends only with `eos_id` at
    log-probability 0, so its score stays put.

    Returns:
        `(ids, scores)` of the best beam: `(B, T)` and `(B,)`.
    """
    batch_size = source_ids.shape[0]
    value, keys, state = model.encode(source_ids)
    value, keys, state = (
        x.repeat_interleave(beam_size, 0) for x in (value, keys, state)
    )  # (B * K, ...)
    attention_vector = model.initial_attention_vector(state)
    on = {"device": source_ids.device}
    token = torch.full(
        (batch_size * beam_size,), bos_id, dtype=torch.long, **on
    )
    # Only beam 0 is live at first, so the K beams do not start identical.
    scores = torch.full((batch_size, beam_size), float("-inf"), **on)
    scores[:, 0] = 0.0
    finished = torch.zeros(batch_size * beam_size, dtype=torch.bool, **on)
    ids = torch.zeros(
        batch_size * beam_size, max_length, dtype=torch.long, **on
    )
    sentence_start = torch.arange(batch_size, **on)[:, None] * beam_size
    for t in range(max_length):
        attention_vector, state = model.step(
            model.target_embedding(token), attention_vector, state, value, keys
        )
        log_probs = F.log_softmax(model.output_dense(attention_vector), -1)
        eos_only = torch.full_like(log_probs[0], float("-inf"))
        eos_only[eos_id] = 0.0
        log_probs = torch.where(finished[:, None], eos_only, log_probs)
        vocab_size = log_probs.shape[-1]
        candidates = scores[:, :, None] + log_probs.view(
            batch_size, beam_size, vocab_size
        )  # (B, K, V)
        scores, index = candidates.view(batch_size, -1).topk(beam_size, -1)
        parent = (sentence_start + index // vocab_size).view(-1)  # (B * K,)
        token = (index % vocab_size).view(-1)
        state = state[parent]
        attention_vector = attention_vector[parent]
        ids = ids[parent]
        ids[:, t] = token
        finished = finished[parent] | (token == eos_id)
    best = ids.view(batch_size, beam_size, max_length)[:, 0]
    return best, scores[:, 0]


def _timed_on(device: str, autocast: bool):
    """`time_calls` for `device`: each call in bfloat16 autocast if asked,
    and, on a GPU, done only once the device has finished its work."""

    def timed(fn, warmup, steps):
        def call():
            if autocast:
                with torch.autocast(device, dtype=torch.bfloat16):
                    fn()
            else:
                fn()
            if device == "cuda":
                torch.cuda.synchronize()

        return _time_calls(call, warmup, steps)

    return timed


def measure(
    measures=("train", "greedy", "beam5"),
    warmup: int = 10,
    steps: int = 31,
    decode_warmup: int = 2,
    decode_steps: int = 5,
    dtype_policy: str = "float32",
    device: str = "cpu",
) -> dict:
    """Measures the reference model as `shared/bench/S2S-M.md` defines.

    Args:
        measures: names among "train", "greedy", "beam5".
        warmup: int. Untimed train steps before the timed ones.
        steps: int. Timed train steps (the median is reported).
        decode_warmup: int. Untimed decoding calls, per method.
        decode_steps: int. Timed decoding calls, per method.
        dtype_policy: "float32" (S2S-M), or "mixed_bfloat16": every call
            under `torch.autocast(device, torch.bfloat16)`, float32 weights.
        device: "cpu" or "cuda" (the first GPU; float32 matrix products
            in TF32 when `S2S_M_MATMUL` is "tf32", else in float32).

    Returns:
        dict with `train_tok_s`, `first_step_s` (for "train"),
        `greedy_sent_s`, `beam5_sent_s` and always `peak_rss_mib` and
        `import_rss_mib` (the resident set before the model exists); on a
        GPU also `peak_gpu_mib` (the most PyTorch allocated on it).
    """
    import_rss = current_rss_mib()
    if device == "cuda":
        set_torch_matmul_precision()
    torch.manual_seed(0)
    source, target_in, target_out = (
        torch.from_numpy(x.astype(np.int64)).to(device) for x in make_batch()
    )
    model = S2SM().to(device)
    result = {}
    time_calls = _timed_on(device, dtype_policy == "mixed_bfloat16")
    if "train" in measures:
        optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
        first, median = time_calls(
            lambda: train_step(model, optimizer, source, target_in, target_out),
            warmup,
            steps,
        )
        result["train_tok_s"] = target_out.numel() / median
        result["first_step_s"] = first
    if "greedy" in measures:
        _, median = time_calls(
            lambda: greedy_decode(model, source, BOS_ID),
            decode_warmup,
            decode_steps,
        )
        result["greedy_sent_s"] = BATCH_SIZE / median
    if "beam5" in measures:
        _, median = time_calls(
            lambda: beam_search(model, source, BOS_ID, EOS_ID, BEAM_SIZE),
            decode_warmup,
            decode_steps,
        )
        result["beam5_sent_s"] = BATCH_SIZE / median
    result["peak_rss_mib"] = peak_rss_mib()
    result["import_rss_mib"] = import_rss
    if device == "cuda":
        result["peak_gpu_mib"] = torch.cuda.max_memory_allocated() / 2**20
    return result


def describe() -> dict:
    """Versions and settings for the benchmark's `_meta`."""
    info = {
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "parameters": count_parameters(S2SM()),
    }
    if torch.cuda.is_available():
        info["gpu"] = torch.cuda.get_device_name()
        info["float32_matmul"] = torch.get_float32_matmul_precision()
    return info


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smoke test")
    args = parser.parse_args()
    print(f"parameters: {count_parameters(S2SM()):,}")
    print(json.dumps(measure(**(QUICK if args.quick else FULL)), indent=1))


if __name__ == "__main__":
    main()
