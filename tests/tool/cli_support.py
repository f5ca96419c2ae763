"""For the tool tests that read what `seq2seq` says on stderr: its error
and warning prefixes, and the one-line error every bad input must give."""

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
