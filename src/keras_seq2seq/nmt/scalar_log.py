"""TensorBoard scalars on every backend, without TensorFlow.

Keras' `TensorBoard` callback writes through `tf.summary`, so on an install
with JAX or PyTorch and no TensorFlow, training failed at its first step.
The tool logs scalars only, and the `tensorboard` package writes those
itself (its event-file writer needs protobuf alone).
"""

import time

import keras
from tensorboard.compat.proto.event_pb2 import Event
from tensorboard.compat.proto.summary_pb2 import Summary
from tensorboard.summary.writer.event_file_writer import EventFileWriter


class ScalarLog(keras.callbacks.Callback):
    """Writes each period's logs and the learning rate to `folder/train`.

    The tags are Keras' (`epoch_loss`, `epoch_dev_bleu`, ...,
    `epoch_learning_rate`), at the step `on_epoch_end` is given: the
    training loop numbers a period by the step it ended on. Each period is
    flushed, so an interrupted run keeps what it plotted.
    """

    def __init__(self, folder):
        super().__init__()
        self.folder = str(folder)
        self._writer = None

    def on_train_begin(self, logs=None):
        self._writer = EventFileWriter(f"{self.folder}/train")

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
        self._writer.add_event(event)
        self._writer.flush()

    def on_train_end(self, logs=None):
        if self._writer is not None:
            self._writer.close()
            self._writer = None
