"""Text as the tool reads it from files, stdin and arguments: its lines
(ended by `\n`, `\r\n` or `\r` only), UTF-8 without a byte-order mark,
and one-line errors for what is not (a line that is not UTF-8, a UTF-16
or compressed file, a lone surrogate)."""

import re

from keras_seq2seq.nmt.run_error import RunError

_LINE_END = re.compile(r"\r\n|\r|\n")  # where `split_lines` ends lines
_BYTES_LINE_END = re.compile(_LINE_END.pattern.encode())  # the same in bytes


def split_lines(text: str) -> list[str]:
    """The lines of `text`, ended by `\\n`, `\\r\\n` or `\\r` only.

    `str.splitlines` also ends a line at a form feed, U+0085, U+2028 and
    other separators that real sentences hold (web text, subtitles): one
    side of an aligned corpus then had a line more, which shifted every
    later pair, and `translate` wrote more output lines than it read.
    """
    lines = _LINE_END.split(text)
    if lines[-1] == "":
        lines.pop()  # the newline that ends the last line
    return lines


# The first bytes of compressed files, their kind and the tool that
# decompresses them: corpora are downloaded as `train.tsv.gz` (Tatoeba,
# OPUS), which no text encoding reads ("line 1 is not UTF-8; convert it"
# sent users to an encoding converter).
_COMPRESSED = {
    b"\x1f\x8b": ("gzip", "gunzip -k"),
    b"BZh": ("bzip2", "bunzip2 -k"),
    b"\xfd7zXZ\x00": ("xz", "unxz -k"),
    b"PK\x03\x04": ("zip", "unzip"),
    b"\x28\xb5\x2f\xfd": ("zstd", "unzstd"),
}


def decode_utf8(data: bytes, where: str, first_line: int = 1) -> str:
    """The text of `data`, without a byte-order mark (not part of the
    first line); a `RunError` naming `where` and the line that is not
    UTF-8, or saying that the file is UTF-16 (Windows "Unicode" text, as
    Windows PowerShell's `>` writes) or compressed (`_COMPRESSED`). `data`
    may be a part of the text that starts at line `first_line`; only the
    text's start holds a mark or a compressed file's first bytes.
    """
    try:
        text = data.decode("utf-8")
        return text.removeprefix("\ufeff") if first_line == 1 else text
    except UnicodeDecodeError as error:
        if first_line == 1 and data.startswith((b"\xff\xfe", b"\xfe\xff")):
            raise RunError(
                f"{where} is UTF-16 (it starts with a UTF-16 byte-order "
                "mark), not UTF-8; save it as UTF-8"
            ) from None
        for magic, (kind, tool) in _COMPRESSED.items():
            if first_line == 1 and data.startswith(magic):
                raise RunError(
                    f"{where} is {kind}-compressed, not text; decompress "
                    f"it first (e.g. with {tool}) and give the text"
                ) from None
        line = len(_BYTES_LINE_END.findall(data[: error.start])) + first_line
        raise RunError(
            f"{where} line {line} is not UTF-8; convert it to UTF-8"
        ) from None


def lone_surrogate(text: str) -> str | None:
    """The first lone surrogate (U+D800..U+DFFF) in `text`, or `None`.

    No text holds one, yet Python makes one of each byte of a
    command-line argument that is not UTF-8 (surrogateescape), and JSON
    may escape one (`"\\udce9"`); sentencepiece cannot read it (its C++
    code raised a bare `RuntimeError`).
    """
    found = re.search("[\ud800-\udfff]", text)
    return found[0] if found else None
