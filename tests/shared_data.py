"""Paths to `../shared` (corpora, TFA fixtures) and the fixture helpers."""

import functools
import json
import os
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("SEQ2SEQ_SHARED", REPO.parent / "shared"))
FIXTURES = SHARED / "fixtures" / "tfa"
DATA = SHARED / "data"

# Tolerances from fixtures/tfa/README.md ("Tolerances").
TOLERANCE = {
    "attention": 1e-5,
    "attention_wrapper": 1e-5,
    "loss": 1e-5,
    "beam_ops": 0,
    "basic_decoder": 1e-4,
    "beam_search": 1e-4,
}


@functools.cache
def manifest():
    return json.loads((FIXTURES / "manifest.json").read_text())


def case_ids(group, name_filter=lambda name: True):
    """Ids of every fixture case of `group` (both seeds) passing the filter."""
    return sorted(
        cid
        for cid, case in manifest()["cases"].items()
        if case["group"] == group and name_filter(case["name"])
    )


def load_case(cid):
    """Returns `(case, arrays)`: the manifest entry and its `.npz` arrays."""
    case = manifest()["cases"][cid]
    with np.load(FIXTURES / case["file"]) as data:
        arrays = {name: data[name] for name in data.files}
    return case, arrays


def assert_outputs(case, arrays, got, names=None):
    """Compares `got[name]` with every output array of the case.

    Integer and boolean outputs must match exactly, floats within the group's
    tolerance; `-inf` compares equal to `-inf`.
    """
    tol = TOLERANCE[case["group"]]
    outputs = [
        name
        for name, meta in case["arrays"].items()
        if meta["role"] == "output" and (names is None or name in names)
    ]
    assert outputs, f"no outputs to compare in {case['name']}"
    for name in outputs:
        want = arrays[name]
        have = np.asarray(got[name])
        assert have.shape == want.shape, (name, have.shape, want.shape)
        if want.dtype.kind in "biu":
            np.testing.assert_array_equal(have, want, err_msg=name)
        else:
            np.testing.assert_allclose(
                have, want, rtol=tol, atol=tol, err_msg=name
            )
