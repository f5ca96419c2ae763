"""Config files as YAML: PyYAML's safe loader, with a float's exponent
read as a number and a repeated key refused, and every problem one
`RunError` that names the file and the line."""

import re
from pathlib import Path

import yaml

from keras_seq2seq.nmt.run_error import RunError
from keras_seq2seq.nmt.text import decode_utf8


class _Loader(yaml.SafeLoader):
    """PyYAML's safe loader that also reads `1e-3` as a float and refuses
    a key written twice.

    PyYAML follows YAML 1.1, where a float needs a dot (`1.0e-3`), so
    `learning_rate: 1e-3` came back as a string; YAML 1.2 and most YAML
    tools read it as a number. Quoted values stay strings. YAML 1.2 says
    a mapping's keys are unique, but PyYAML keeps the last of two equal
    keys, so a forgotten earlier `batch_size:` silently lost to a later one.
    """

    def construct_mapping(self, node, deep=False):
        if isinstance(node, yaml.MappingNode):
            first_lines = {}
            for key_node, _ in node.value:
                if (
                    not isinstance(key_node, yaml.ScalarNode)
                    or key_node.tag == "tag:yaml.org,2002:merge"
                ):
                    continue  # `<<:` merges are meant to be overridden
                key = (key_node.tag, key_node.value)
                line = key_node.start_mark.line + 1
                if key in first_lines:
                    raise _DuplicateKey(key_node.value, first_lines[key], line)
                first_lines[key] = line
        return super().construct_mapping(node, deep)


class _DuplicateKey(Exception):
    def __init__(self, key, first_line, line):
        super().__init__(
            f"line {line} repeats the key {key!r} of line {first_line}; "
            "keep one of them"
        )


_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?[0-9][0-9_]*(?:\.[0-9_]*)?[eE][-+]?[0-9]+$"),
    list("-+0123456789"),
)


def load_mapping(path: Path) -> dict:
    """The mapping in a YAML file (`{}` when empty), read as configs are:
    `1e-3` is a float, a repeated key is an error; a `RunError` names the
    file and the line of any problem."""
    try:
        # Read as a corpus is: its line numbers count "\r" and "\r\n"
        # ends too (old Mac and Windows files), and UTF-16 is named.
        text = decode_utf8(path.read_bytes(), f"config file {path}")
        values = yaml.load(text, Loader=_Loader)
    except FileNotFoundError:
        raise RunError(f"config file {path} not found") from None
    except IsADirectoryError:
        raise RunError(f"config file {path} is a folder; give a file") from None
    except _DuplicateKey as error:
        raise RunError(f"config file {path} {error}") from None
    except yaml.MarkedYAMLError as error:
        # The problem and where it is, not the first of several lines.
        mark = error.problem_mark or error.context_mark
        where = ""
        if mark is not None:
            where = f" line {mark.line + 1} column {mark.column + 1}"
        what = error.problem or error.context
        raise RunError(
            f"config file {path}{where} is not valid YAML ({what}); "
            "fix it there (one `key: value` per line)"
        ) from None
    except (OSError, yaml.YAMLError) as error:
        first = str(error).splitlines()[0] if str(error) else ""
        raise RunError(f"cannot read config file {path}: {first}") from None
    if values is None:
        return {}
    if not isinstance(values, dict):
        raise RunError(f"config file {path} must hold a mapping of keys")
    return values
