"""TensorBoard scalars on every backend, without TensorFlow.

Keras' `TensorBoard` callback writes through `tf.summary`, so on an install
with JAX or PyTorch and no TensorFlow, training failed at its first step.
The tool logs scalars only, as records of the `tensorboard` package's
`Event` protobufs in a file it opens itself: the package's
`EventFileWriter` opens its file through TensorFlow where TensorFlow is
installed, which imported it into a JAX or PyTorch run (seconds, and its
log lines on stderr).
"""

import os
import socket
import time
from pathlib import Path

import keras
from tensorboard.compat.proto.event_pb2 import Event
from tensorboard.compat.proto.summary_pb2 import Summary
from tensorboard.summary.writer.record_writer import RecordWriter


class ScalarLog(keras.callbacks.Callback):
    """Writes each period's logs and the learning rate to `folder/train`.

    The tags are Keras' (`epoch_loss`, `epoch_dev_bleu`, ...,
    `epoch_learning_rate`), at the step `on_epoch_end` is given: the
    training loop numbers a period by the step it ended on.
    """

    def __init__(self, folder):
        super().__init__()
        self.folder = str(folder)
        self._path = None  # the event file, named when training begins

    def on_train_begin(self, logs=None):
        folder = Path(self.folder) / "train"
        folder.mkdir(parents=True, exist_ok=True)
        # TensorBoard reads the files named so, in the order of the time.
        name = (
            f"events.out.tfevents.{int(time.time()):010d}."
            f"{socket.gethostname()}.{os.getpid()}"
        )
        self._path = folder / name
        self._write(Event(wall_time=time.time(), file_version="brain.Event:2"))

    def on_epoch_end(self, epoch, logs=None):
        optimizer = self.model.optimizer
        optimizer = getattr(optimizer, "inner_optimizer", optimizer)
        learning_rate = keras.ops.convert_to_numpy(optimizer.learning_rate)
        scalars = {**(logs or {}), "learning_rate": learning_rate}
        summary = Summary(
            value=[
                Summary.Value(tag=f"epoch_{name}", simple_value=float(value))
                for name, value in scalars.items()
            ]
        )
        event = Event(wall_time=time.time(), step=int(epoch), summary=summary)
        self._write(event)

    def _write(self, event):
        """Appends `event` to the file, closed after: an interrupted run
        keeps what it plotted, and leaves no file open."""
        with open(self._path, "ab") as file:
            RecordWriter(file).write(event.SerializeToString())
