"""The training progress line: step, loss, tokens/s and time left."""

import shutil
import sys
import time

import keras

BAR_WIDTH = 20


class Progress(keras.callbacks.Callback):
    """Shows training progress on stderr.

    On a terminal, one line redrawn twice a second; otherwise nothing
    between validations (`Validator` prints one line each), so logs stay
    clean.

    Args:
        max_steps: int. The last step.
        deadline: optional float. `time.monotonic()` when the time budget
            ends. Defaults to `None`.
        token_counts: list of int. Target tokens of each batch so far, in
            order (filled by the batch generator). Defaults to `None`.
        stream: a text stream. Defaults to `sys.stderr`.
    """

    def __init__(
        self, max_steps, deadline=None, token_counts=None, stream=None
    ):
        super().__init__()
        self.max_steps = max_steps
        self.deadline = deadline
        self.token_counts = token_counts if token_counts is not None else []
        self.stream = stream or sys.stderr
        self.interactive = self.stream.isatty()
        self._start = self._shown = None
        self._first_step = self._period_step = 0
        self._period_start = None
        self.tokens_per_second = 0.0

    def on_train_begin(self, logs=None):
        self._start = time.monotonic()
        self._first_step = int(
            keras.ops.convert_to_numpy(self.model.optimizer.iterations)
        )

    def on_epoch_begin(self, epoch, logs=None):
        # tokens/s is measured over the current period, validations apart
        self._period_start = time.monotonic()
        self._period_step = int(
            keras.ops.convert_to_numpy(self.model.optimizer.iterations)
        )

    def on_train_batch_end(self, batch, logs=None):
        now = time.monotonic()
        step = int(keras.ops.convert_to_numpy(self.model.optimizer.iterations))
        done = step - self._first_step
        elapsed = max(now - self._start, 1e-9)
        tokens = sum(self.token_counts[self._period_step : step])
        self.tokens_per_second = tokens / max(now - self._period_start, 1e-9)
        if self.deadline is not None and now >= self.deadline:
            self.model.stop_training = True
        if not self.interactive or (self._shown and now - self._shown < 0.5):
            return
        self._shown = now
        left = (self.max_steps - step) * elapsed / max(done, 1)
        if self.deadline is not None:
            left = min(left, max(self.deadline - now, 0))
        loss = (logs or {}).get("loss", float("nan"))
        # Done: the larger of the step share and the time-budget share.
        fraction = min(
            1.0, max(step / self.max_steps, elapsed / (elapsed + left))
        )
        text = (
            f"step {step}/{self.max_steps}  loss {float(loss):.4f}  "
            f"{self.tokens_per_second:,.0f} tok/s  {_clock(left)} left"
        )
        # A line as wide as the terminal wraps, and `\r` redraws only its
        # last row: a new row would scroll up at every redraw. The bar
        # gives way first.
        room = shutil.get_terminal_size().columns - 1
        width = min(BAR_WIDTH, room - len(text) - 3)
        if width >= 5:
            filled = int(width * fraction)
            text = f"[{'#' * filled}{'.' * (width - filled)}] {text}"
        self.stream.write(f"\r{text[:room]}\x1b[K")
        self.stream.flush()

    def clear(self):
        """Ends the redrawn line before another line is printed."""
        if self.interactive and self._shown:
            self.stream.write("\r\x1b[K")
            self._shown = None


def _clock(seconds: float) -> str:
    seconds = int(seconds)
    hours, rest = divmod(seconds, 3600)
    return (
        f"{hours}:{rest // 60:02}:{rest % 60:02}"
        if hours
        else (f"{rest // 60:02}:{rest % 60:02}")
    )
