"""What a demanding user meets, twelfth round: a resume's new
`--max-steps` (or `--patience`, ...) missing from the run's config.yaml;
an out-of-range value of a `--config` file that did not name the file; a
translation in composed accents scored against references in decomposed
ones; a server's first request of a few sentences compiling its search
again; `evaluate` reading the run folder twice; a test file without the
columns the run read; a resume refusing a `--config` file's value;
output written to a full disk; `--data -`.

Each test pins one defect, on the tiny run of `conftest.py`, a copy of
it, or files the test writes; none trains a model (the training loop or
its step is replaced where it would start).
"""

import errno
import io
import os
import shutil

import yaml
from cli_support import ERROR, one_error_line, stderr_lines, train_argv

from keras_seq2seq.cli import main
from keras_seq2seq.nmt import run_folder, scoring, serve

# --- 1. What a resume changed, in config.yaml ---


def _config_of(run):
    return yaml.safe_load((run / "config.yaml").read_text(encoding="utf-8"))


def test_a_resumes_new_options_are_what_config_yaml_says(
    trained_run, tmp_path, monkeypatch, capsys
):
    # The run folder said max_steps 4 and patience 5 after a resume that
    # trained it to step 6 with patience 9: config.yaml no longer said
    # how the run was trained. Now the checkpoint writes them with it.
    run = shutil.copytree(trained_run, tmp_path / "runs" / "copy")
    before = _config_of(run)
    seen = []

    def one_validation(run_, model, encoded, dev, state):
        seen.append(run_.config.max_steps)
        state["step"] = 6
        validator = _Checkpoint(run_, state)
        validator.save(model)

    monkeypatch.setattr("keras_seq2seq.nmt.train._fit", one_validation)
    argv = train_argv(tmp_path, "--name", "copy", "--resume")
    assert main([*argv, "--max-steps", "6", "--patience", "9"]) == 0
    assert seen == [6]
    after = _config_of(run)
    assert (after["max_steps"], after["patience"]) == (6, 9)
    # The copy's config names where it is (test_user_sessions_15).
    assert (after["name"], after["runs_dir"]) == ("copy", str(run.parent))
    # Everything else is as the run saved it.
    for key in ("max_steps", "patience", "name", "runs_dir"):
        before.pop(key), after.pop(key)
    assert after == before


class _Checkpoint:
    """The files a validation writes, without scoring dev."""

    def __init__(self, run, state):
        from keras_seq2seq.nmt.validator import Validator

        self.validator = Validator(run, [], state, progress=None)

    def save(self, model):
        row = dict.fromkeys(("step", "seconds", "loss"), 0)
        self.validator.set_model(model)
        self.validator._save(self.validator.state["step"], row, best=False)


def test_a_resume_interrupted_before_its_checkpoint_keeps_config_yaml(
    trained_run, tmp_path, capsys, no_training
):
    # Nothing trained with the new values: the run is as it was.
    run = shutil.copytree(trained_run, tmp_path / "runs" / "copy")
    before = (run / "config.yaml").read_bytes()
    argv = train_argv(tmp_path, "--name", "copy", "--resume")
    assert main([*argv, "--max-steps", "6"]) == 130
    assert (run / "config.yaml").read_bytes() == before
    assert "--max-steps 6" in capsys.readouterr().err  # the command to go on


# --- 2. A config file's value out of range names the file ---


def test_a_config_files_value_out_of_range_names_the_file_and_key(
    corpus, tmp_path, capsys
):
    # "batch_size must be >= 1; got 0": from the file or the command line?
    config = tmp_path / "run.yaml"
    config.write_text("dropout: 0.1\nbatch_size: 0\n", encoding="utf-8")
    argv = train_argv(tmp_path, "--data", str(corpus / "train.tsv"))
    assert main([*argv, "--config", str(config)]) == 1
    one_error_line(capsys, f"config file {config}: batch_size", "got 0")
    # A flag overrides the file: the flag is what is out of range.
    assert main([*argv, "--config", str(config), "--batch-size", "-1"]) == 1
    line = one_error_line(capsys, "batch_size must be >= 1; got -1")
    assert str(config) not in line
    # A flag in range wins over the file's value out of range.
    config.write_text("dropout: 1.5\nbatch_size: 0\n", encoding="utf-8")
    assert main([*argv, "--config", str(config), "--batch-size", "4"]) == 1
    one_error_line(capsys, f"config file {config}: dropout", "got 1.5")
    assert not (tmp_path / "runs").exists()


# --- 3. Composed and decomposed accents score alike ---


def test_scores_read_composed_and_decomposed_accents_alike():
    # A model writes "é" as one character (NFC); a reference file saved
    # on macOS may hold "e" + U+0301 (NFD): exact match 0, BLEU 0.
    hypotheses = ["el caf\u00e9 del ni\u00f1o est\u00e1 fr\u00edo ."]
    references = ["el cafe\u0301 del nin\u0303o esta\u0301 fri\u0301o ."]
    scores = scoring.score(hypotheses, references)
    assert scores["exact_match"] == 1.0
    assert round(scores["bleu"], 6) == 100.0
    assert round(scores["chrf"], 6) == 100.0
    assert scoring.score(references, hypotheses)["exact_match"] == 1.0


# --- 4. serve compiles the shapes of a typical request before it ---


def test_serve_compiles_every_batch_size_of_short_sentences_first(
    trained_run, monkeypatch
):
    # serve translated ["0"] (a batch of one row) before its first
    # request; a request of 3 sentences (4 rows) compiled the search again.
    loaded = []

    def app_of(translator, **limits):
        loaded.append(translator)
        return "app"

    async def no_serving(app, host, port, run_dir):
        return None

    monkeypatch.setattr(serve, "make_app", app_of)
    monkeypatch.setattr(serve, "_run_until_stopped", no_serving)
    monkeypatch.setattr(serve, "_log_to_stderr", lambda: None)
    serve.serve(trained_run, port=0, max_batch=4)
    [translator] = loaded
    before = _traces(translator)
    for count in (3, 1, 4, 2):  # rows 4, 1, 4, 2
        translator.translate(["hola."] * count)
    assert _traces(translator) == before


def _traces(translator):
    """How often the model's compiled searches were traced."""
    cache = translator.model.__dict__.get("_generate_cache", {})
    return sum(search.traces for search in cache.values())


# --- 5. evaluate reads the run folder once ---


def test_evaluate_opens_the_run_once(corpus, trained_run, monkeypatch, capsys):
    opened = []
    open_run = run_folder.open_run

    def counted(path):
        opened.append(path)
        return open_run(path)

    monkeypatch.setattr(run_folder, "open_run", counted)
    test = str(corpus / "test.tsv")
    assert main(["evaluate", str(trained_run), "--data", test]) == 0
    assert len(opened) == 1


# --- 6. evaluate on a file without the run's columns ---


def test_evaluate_names_the_runs_columns_a_test_file_lacks(
    trained_run, corpus, tmp_path, capsys
):
    # A run trained on a 3-column file with --columns 2 0, evaluated on a
    # 2-column test file, said "line 1 has 2 columns but --columns needs
    # 3": no --columns was given; the columns were the run's.
    run = shutil.copytree(trained_run, tmp_path / "run")
    config = (run / "config.yaml").read_text(encoding="utf-8")
    config = config.replace("columns:\n- 0\n- 1", "columns:\n- 2\n- 0")
    (run / "config.yaml").write_text(config, encoding="utf-8")
    test = str(corpus / "test.tsv")
    assert main(["evaluate", str(run), "--data", test]) == 1
    one_error_line(
        capsys,
        f"{test} line 1 has 2 columns",
        "the run's --columns 2 0",
        "give --columns",
    )
    # Given on the command line, the flag is named as before.
    assert (
        main(["evaluate", str(run), "--data", test, "--columns", "0", "3"]) == 1
    )
    line = one_error_line(capsys, "line 1 has 2 columns but --columns needs 4")
    assert "the run's" not in line


def test_a_resume_refusing_a_config_files_value_names_the_file(
    trained_run, tmp_path, capsys, no_training
):
    # `train --config run.yaml --resume` after an edit of run.yaml said
    # "--resume cannot change batch_size 32 (the run's: 16)": no
    # --batch-size was typed.
    shutil.copytree(trained_run, tmp_path / "runs" / "copy")
    config = tmp_path / "run.yaml"
    config.write_text("batch_size: 32\n", encoding="utf-8")
    argv = train_argv(tmp_path, "--name", "copy", "--resume")
    assert main([*argv, "--config", str(config)]) == 1
    one_error_line(
        capsys, "cannot change batch_size 32", f"config file {config}", "16"
    )
    assert main([*argv, "--batch-size", "8"]) == 1
    line = one_error_line(capsys, "cannot change batch_size 8 (the run's: 16)")
    assert "config file" not in line


# --- 7. Translations into a full disk ---


class _FullDisk(io.StringIO):
    """stdout sent to a file on a full disk (`> /mnt/full/out.txt`)."""

    def write(self, text):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    flush = write


class _FullDiskBuffered(io.StringIO):
    """The same, but a write only fills the buffer: the flush fails."""

    def flush(self):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


def test_output_into_a_full_disk_says_stdout(
    trained_run, corpus, tmp_path, monkeypatch, capsys
):
    # "OSError: [Errno 28] No space left on device; rerun with --debug
    # for the traceback": a bug to debug, and no word of what was written.
    monkeypatch.setattr("sys.stdout", _FullDisk())
    assert main(["translate", str(trained_run), "Go.", "Hi."]) == 1
    one_error_line(
        capsys, "cannot write the translations to stdout", "No space left"
    )
    evaluate = [
        "evaluate",
        str(trained_run),
        "--data",
        str(corpus / "test.tsv"),
    ]
    assert main([*evaluate, "--json", "-"]) == 1
    one_error_line(capsys, "cannot write the scores to stdout", "No space left")
    assert main(evaluate) == 1  # the scores' lines
    one_error_line(capsys, "cannot write the scores to stdout", "No space left")
    # What a command printed into the buffer fails at its end.
    monkeypatch.setattr("sys.stdout", _FullDiskBuffered())
    png = str(tmp_path / "map.png")
    assert main(["plot", str(trained_run), "Go.", "--output", png]) == 1
    *_, said = stderr_lines(capsys.readouterr().err)
    assert said == (
        f"{ERROR}cannot write to stdout: No space left on device; check "
        "where stdout goes and its free disk space"
    )


# --- 8. `--data -` ---


def test_data_dash_says_how_to_give_a_pipe(trained_run, tmp_path, capsys):
    # `cut ... | seq2seq evaluate RUN --data -` (as `translate --input -`)
    # said "corpus file - not found; check the path".
    assert main(["evaluate", str(trained_run), "--data", "-"]) == 1
    one_error_line(capsys, "--data -", "stdin", "/dev/stdin", "<(")
    assert main(train_argv(tmp_path, "--data", "-")) == 1
    one_error_line(capsys, "--data -", "stdin", "--resume")
    assert not (tmp_path / "runs").exists()
