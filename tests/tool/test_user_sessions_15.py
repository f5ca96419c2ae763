"""What a demanding user meets, fifteenth round: requests aiohttp refuses
before serve's handlers, answered in text/plain where every other error
of the API is JSON; the page naming a bad line by its index among the
non-blank lines; a run folder moved with `mv` still naming its old place
in the config.yaml its resume saved. (Scores a hair apart across batches
are documented in README.md, not tested.)

Each test pins one defect, on the tiny run of `conftest.py`, a copy of
it, or a stand-in translator; none trains a model.
"""

import asyncio
import importlib.resources
import json
import shutil
import subprocess

import pytest
import yaml
from aiohttp import web
from serve_support import EchoTranslator

from keras_seq2seq.cli import main
from keras_seq2seq.nmt.serve import make_app, make_runner

# --- 1. serve: requests aiohttp refuses itself ---


def _raw_answers(requests):
    """`(status line, headers, body)` of each raw HTTP request, sent on a
    connection of its own to serve's runner over `EchoTranslator`."""

    async def send():
        runner = make_runner(make_app(EchoTranslator()))
        await runner.setup()
        answers = []
        try:
            site = web.TCPSite(runner, "127.0.0.1", 0)
            await site.start()
            port = runner.addresses[0][1]
            for raw in requests:
                reader, writer = await asyncio.open_connection(
                    "127.0.0.1", port
                )
                writer.write(raw)  # each closes its connection
                await writer.drain()
                head, _, body = (await reader.read()).partition(b"\r\n\r\n")
                writer.close()
                await writer.wait_closed()
                status, *headers = head.decode().split("\r\n")
                answers.append((status, "\n".join(headers).lower(), body))
        finally:
            await runner.cleanup()
        return answers

    return asyncio.run(send())


def test_serve_answers_in_json_the_requests_aiohttp_refuses(caplog):
    # A body in Content-Encoding br (Brotli, which aiohttp decodes only
    # with a package installed) or a malformed header got a text/plain
    # 400 of aiohttp's, "Please install `Brotli`" or a three-line picture
    # of the bad header, and a traceback in the log; a client parsing
    # every error as JSON failed on them.
    post = b"POST /translate HTTP/1.1\r\nHost: x\r\n"
    body = json.dumps({"sentences": ["hola"]}).encode()
    length = f"Content-Length: {len(body)}\r\n".encode()
    requests = [
        post + b"Content-Encoding: br\r\n" + length + b"\r\n" + body,
        post + b"Content-Length: abc\r\n\r\n" + body,
        post + b"Transfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n",
        post + b"Connection: close\r\n" + length + b"\r\n" + body,
    ]
    answers = _raw_answers(requests)
    for status, headers, text in answers[:3]:
        assert status.split()[1] == "400", (status, text)
        assert "content-type: application/json" in headers, headers
        (message,) = json.loads(text).values()
        assert "\n" not in message and "install" not in message.lower()
    errors = [json.loads(text)["error"] for _, _, text in answers[:3]]
    assert errors[0] == (
        "Content-Encoding br is not one this server decodes; send the "
        "body plain or gzip-compressed"
    )
    assert errors[1].startswith("malformed HTTP request: ")
    assert "Content-Length" in errors[1]
    assert "chunk" in errors[2]
    status, _, text = answers[3]
    assert status.split()[1] == "200"
    assert json.loads(text)["translations"][0][0]["text"] == "hola"
    assert "Traceback" not in caplog.text
    assert "Error handling request" not in caplog.text


# --- 3. A run folder moved ---


def test_a_moved_run_resumes_and_its_config_names_where_it_is(
    trained_run, tmp_path, monkeypatch, capsys
):
    # `mv runs/tsv elsewhere/moved`: the resume trained, but config.yaml
    # (saved again with every checkpoint) went on saying `name: tsv` and
    # the old runs_dir, so `--config moved/config.yaml` or a reader of it
    # pointed to the old place.
    runs = tmp_path / "elsewhere"
    moved = runs / "moved"
    shutil.copytree(trained_run, moved)
    before = yaml.safe_load((moved / "config.yaml").read_text())
    assert (before["name"], before["runs_dir"]) == (
        "tsv",
        str(trained_run.parent),
    )
    trained = []

    def stopped(run, model, encoded, dev, state):
        trained.append((run.config.name, run.config.runs_dir))
        raise KeyboardInterrupt  # before the first checkpoint, as Ctrl-C

    monkeypatch.setattr("keras_seq2seq.nmt.train._fit", stopped)
    argv = ["train", "--resume", "--name", "moved", "--runs-dir", str(runs)]
    assert main(argv) == 130
    err = capsys.readouterr().err
    assert "corpus is now" not in err  # its corpus did not move
    # It trained as the run where it is now, which its checkpoints write.
    assert trained == [("moved", str(runs))]
    # Stopped before that checkpoint, the folder is as it was
    # (test_user_sessions_12).
    assert yaml.safe_load((moved / "config.yaml").read_text()) == before


# --- 2. The page names a bad line by its line in the text box ---

# Runs the page's script in Node with a stand-in document and a fetch that
# answers 422 naming `sentences[1]`; prints what the page shows and sent.
_PAGE_DRIVER = """
const elements = {};
const element = (id) => elements[id] ??= {
  id, value: "", textContent: "", addEventListener() {},
  replaceChildren() {}, append() {},
};
globalThis.document = { getElementById: element };
element("source").value = process.argv.at(-1);
element("beam").value = "1";
element("nbest").value = "1";
let sent = null;
globalThis.fetch = async (url, options) => {
  sent = JSON.parse(options.body).sentences;
  return { ok: false, statusText: "Unprocessable Entity", json: async () =>
    ({ error: "sentences[1] has 1200 characters; the limit is 1000" }) };
};
eval(require("fs").readFileSync(0, "utf8") + "\\ntranslate()").then(() =>
  console.log(JSON.stringify([element("error").textContent, sent])));
"""


def test_the_page_names_a_bad_sentence_by_its_line_in_the_text_box():
    # The API's "sentences[1] has 1200 characters" came to the page's user
    # as is: an index counting the non-blank lines from 0, where the user
    # sees the text box's lines, counted from 1 with the blank ones.
    node = shutil.which("node")
    if node is None:
        pytest.skip("no Node.js to run the page's script")
    page = importlib.resources.files("keras_seq2seq.nmt") / "static"
    html = (page / "index.html").read_text(encoding="utf-8")
    script = html.split("<script>", 1)[1].split("</script>", 1)[0]
    typed = "hola\n\n   \n" + "x" * 1200 + "\nadiós"
    done = subprocess.run(
        [node, "-e", _PAGE_DRIVER, typed],
        input=script,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 0, done.stderr
    shown, sent = json.loads(done.stdout)
    assert sent == ["hola", "x" * 1200, "adiós"]  # blank lines left out
    assert shown == "Error: line 4 has 1200 characters; the limit is 1000"
