"""For the tool tests: what `seq2seq` says on stderr (its error and
warning prefixes, the one-line error every bad input must give), and
numbered TSV corpora with the `train` command line that uses them."""

ERROR = "seq2seq: error: "
WARNING = "seq2seq: warning: "


def one_error_line(capsys, *words):
    """The one stderr line of a refused command: an error, no traceback,
    holding each of `words`."""
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(ERROR), err
    assert "Traceback" not in err[0]
    for word in words:
        assert word in err[0], err
    return err[0]


def warning_lines(capsys):
    """The warning lines of what the command wrote to stderr."""
    err = capsys.readouterr().err.splitlines()
    return [line for line in err if line.startswith(WARNING)]


def tsv_corpus(path, count, start=0):
    """Writes `count` numbered "word i." / "palabra i." pairs as TSV."""
    lines = (f"word {i}.\tpalabra {i}.\n" for i in range(start, start + count))
    path.write_text("".join(lines), encoding="utf-8")
    return path


def train_argv(tmp_path, *options):
    """`seq2seq train` with its runs under `tmp_path`, then `options`."""
    return ["train", "--runs-dir", str(tmp_path / "runs"), *options]
