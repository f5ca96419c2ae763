"""The progress line: redrawn on a terminal, silent otherwise."""

import io
import types

from keras_seq2seq.nmt import progress as progress_lib
from keras_seq2seq.nmt.progress import Progress


class _Terminal(io.StringIO):
    def isatty(self):
        return True


def _drive(stream, clock, steps=3, deadline=None):
    model = types.SimpleNamespace(
        optimizer=types.SimpleNamespace(iterations=0), stop_training=False
    )
    counts = [100] * steps
    progress = Progress(
        10, deadline=deadline, token_counts=counts, stream=stream
    )
    progress.set_model(model)
    progress.on_train_begin()
    progress.on_epoch_begin(0)
    for step in range(1, steps + 1):
        clock[0] += 1.0  # one second per step
        model.optimizer.iterations = step
        progress.on_train_batch_end(step - 1, {"loss": 2.5})
    return progress, model


def test_terminal_line_shows_step_loss_tokens_per_second_and_time_left(
    monkeypatch,
):
    clock = [0.0]
    monkeypatch.setattr(progress_lib.time, "monotonic", lambda: clock[0])
    stream = _Terminal()
    progress, _ = _drive(stream, clock)
    last = stream.getvalue().split("\r")[-1]
    # 3 of 10 steps, or 3 s of about 10 s: 30 % of the bar
    assert last.startswith(
        "[######..............] step 3/10  loss 2.5000  100 tok/s  00:07 left"
    )
    assert progress.tokens_per_second == 100.0
    progress.clear()
    assert stream.getvalue().endswith("\r\x1b[K")


def test_no_output_when_not_a_terminal(monkeypatch):
    clock = [0.0]
    monkeypatch.setattr(progress_lib.time, "monotonic", lambda: clock[0])
    stream = io.StringIO()
    _drive(stream, clock)
    assert stream.getvalue() == ""


def test_time_budget_stops_training_and_bounds_time_left(monkeypatch):
    clock = [0.0]
    monkeypatch.setattr(progress_lib.time, "monotonic", lambda: clock[0])
    stream = _Terminal()
    _, model = _drive(stream, clock, steps=2, deadline=2.5)
    last = stream.getvalue().split("\r")[-1]
    # 2 s of a 2.5 s budget: 80 % of the bar, whatever the step count
    assert last.startswith("[" + "#" * 16 + "....] step 2/10")
    assert "00:00 left" in last
    assert not model.stop_training
    clock[0] = 0.0
    _, model = _drive(_Terminal(), clock, steps=3, deadline=2.5)
    assert model.stop_training
