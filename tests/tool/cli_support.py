"""For the tool tests: the tiny model's flags and the shared corpus' lines
(`conftest.py` trains its run with them; they live here because a test
that imports `conftest` gets tests/lib's when both folders run in one
process), what `seq2seq` says on stderr (its error and warning prefixes,
the one-line error every bad input must give), and numbered TSV corpora
with the `train` command line that uses them."""

import itertools

from shared_data import DATA

TATOEBA = DATA / "tatoeba-eng-spa"
TINY = [
    "--embedding-dim", "8", "--encoder-units", "8", "--decoder-units", "16",
    "--attention-units", "8", "--attention-layer-size", "16",
    "--batch-size", "16", "--validation-size", "12", "--warmup-steps", "1",
]  # fmt: skip


def head_pairs(name, count, skip=0):
    """`count` lines of a shared corpus file, after `skip` lines."""
    with open(TATOEBA / name, encoding="utf-8") as lines:
        return list(itertools.islice(lines, skip, skip + count))


ERROR = "seq2seq: error: "
WARNING = "seq2seq: warning: "


def one_error_line(capsys, *words):
    """The one stderr line of a refused command: an error, no traceback,
    holding each of `words` (after any warning of cut translations)."""
    err = stderr_lines(capsys.readouterr().err)
    assert len(err) == 1 and err[0].startswith(ERROR), err
    assert "Traceback" not in err[0]
    for word in words:
        assert word in err[0], err
    return err[0]


CUT = "cut at the search's length limit"


def stderr_lines(err):
    """The lines of a command's stderr `err`, but for the warning of
    translations cut at the length limit: the tests' runs are trained for
    a few steps, so most of their translations are cut
    (`test_translate_limits.py` tests that warning)."""
    return [
        line
        for line in err.strip().splitlines()
        if not (line.startswith(WARNING) and CUT in line)
    ]


def warning_lines(capsys):
    """The warning lines of what the command wrote to stderr, but for the
    one of cut translations (`stderr_lines`)."""
    err = stderr_lines(capsys.readouterr().err)
    return [line for line in err if line.startswith(WARNING)]


def tsv_corpus(path, count, start=0):
    """Writes `count` numbered "word i." / "palabra i." pairs as TSV."""
    lines = (f"word {i}.\tpalabra {i}.\n" for i in range(start, start + count))
    path.write_text("".join(lines), encoding="utf-8")
    return path


def train_argv(tmp_path, *options):
    """`seq2seq train` with its runs under `tmp_path`, then `options`."""
    return ["train", "--runs-dir", str(tmp_path / "runs"), *options]


def translate_interrupted(run, folder, monkeypatch, interrupt):
    """`seq2seq translate RUN --input big.txt` over 3,000 numbered
    sentences, with `interrupt()` called while the chunk that would pass
    2,500 inputs translates. The translator is a stand-in that upper-cases
    each sentence (imported here: only the tests that call this load it).

    Returns:
        `(status, inputs translated before the interrupt)`; the output and
        the messages are in `capsys`.
    """
    from keras_seq2seq.cli import main
    from keras_seq2seq.nmt.translator import Hypothesis, Translator

    text = folder / "big.txt"
    text.write_text("".join(f"Sentence {i}.\n" for i in range(3000)))
    done = []

    def translate(self, sentences, **search):
        if len(done) + len(sentences) > 2500:
            interrupt()  # while these translate
        done.extend(sentences)
        return [[Hypothesis(s.upper(), 0.0, [], [], [])] for s in sentences]

    monkeypatch.setattr(Translator, "translate", translate)
    status = main(["translate", str(run), "--input", str(text)])
    return status, len(done)
