"""`translate` reading a pipe or a terminal answers each line as it comes.

Before, it read stdin to its end first: a co-process (a program that
writes a sentence and waits for its translation), `tail -f | seq2seq
translate`, or a person typing sentences got nothing until stdin closed.
"""

import os
import sys
import threading

from keras_seq2seq.cli import main


class _Output:
    """A stdout that keeps its lines and says when the first is out."""

    def __init__(self):
        self.text = ""
        self.first_line = threading.Event()

    def write(self, text):
        self.text += text
        if "\n" in self.text:
            self.first_line.set()
        return len(text)

    def flush(self):
        pass


def _translate_a_pipe(run, monkeypatch, first, second):
    """Writes `first` into a pipe on stdin, waits (at most 60 s) for its
    translation, then writes `second` and closes the pipe. Returns the
    output and whether the first answer came before the pipe closed."""
    read_end, write_end = os.pipe()
    stdin = os.fdopen(read_end, encoding="utf-8")
    monkeypatch.setattr(sys, "stdin", stdin)
    output = _Output()
    monkeypatch.setattr(sys, "stdout", output)
    answered = []

    def writer():
        with os.fdopen(write_end, "wb") as pipe:
            pipe.write(first)
            pipe.flush()
            answered.append(output.first_line.wait(timeout=60))
            pipe.write(second)

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        assert main(["translate", str(run)]) == 0
    finally:
        thread.join()
        stdin.close()
    return output.text.splitlines(), answered == [True]


def test_each_line_of_a_pipe_is_answered_before_the_next_comes(
    trained_run, trained_translator, monkeypatch
):
    lines, answered = _translate_a_pipe(
        trained_run, monkeypatch, b"Go.\n", b"I am happy.\r\n\n"
    )
    assert answered, "no translation before stdin was closed"
    want = trained_translator.translate(["Go.", "I am happy.", ""])
    assert lines == [hypotheses[0].text for hypotheses in want]


def test_a_line_split_across_writes_and_characters_stay_whole(
    trained_run, trained_translator, monkeypatch
):
    # The first write ends inside a line, and inside "é" (two bytes).
    text = "Tom est là.\nJ'ai été ici.\n".encode()
    cut = text.index("é".encode()) + 1
    lines, _ = _translate_a_pipe(
        trained_run, monkeypatch, b"\xef\xbb\xbf" + text[:cut], text[cut:]
    )
    want = trained_translator.translate(["Tom est là.", "J'ai été ici."])
    assert lines == [hypotheses[0].text for hypotheses in want]
