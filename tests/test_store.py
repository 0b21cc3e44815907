"""The on-disk result store: keyed by identity and parameters, atomic, survives a restart."""

from __future__ import annotations

import os
import pickle

import numpy as np
import pytest

from core.io.ramps import FileId
from core.pipeline.store import ResultStore, result_key
from core.readnoise import ReadnoiseParams


@pytest.fixture()
def files(tmp_path):
    p = tmp_path / "a_uncal.fits"
    p.write_bytes(b"x" * 100)
    return (FileId.of(p),)


def test_put_get_and_keys_depend_on_params_and_file(tmp_path, files):
    store = ResultStore(tmp_path / "store")
    res = {"map": np.arange(6.0).reshape(2, 3)}
    assert store.get("readnoise", files, ReadnoiseParams()) is None
    store.put("readnoise", files, ReadnoiseParams(), res, label="NRCA1")
    got = ResultStore(tmp_path / "store").get("readnoise", files, ReadnoiseParams())  # a "restarted" store
    assert np.array_equal(got["map"], res["map"])
    assert store.get("readnoise", files, ReadnoiseParams(clipping_sigma=4.0)) is None
    # a changed file (new size/mtime) is a new key
    p = files[0].path
    with open(p, "ab") as f:
        f.write(b"more")
    os.utime(p, ns=(files[0].mtime_ns + 10**9, files[0].mtime_ns + 10**9))
    assert store.get("readnoise", (FileId.of(p),), ReadnoiseParams()) is None
    entries = store.entries()
    assert len(entries) == 1 and entries[0]["label"] == "NRCA1" and entries[0]["files"] == ["a_uncal.fits"]


def test_interrupted_write_leaves_nothing_that_loads(tmp_path, files, monkeypatch):
    store = ResultStore(tmp_path / "store")

    class Boom:
        def __reduce__(self):
            raise KeyboardInterrupt("tab closed mid-write")

    with pytest.raises(KeyboardInterrupt):
        store.put("readnoise", files, ReadnoiseParams(), {"x": Boom()})
    assert store.get("readnoise", files, ReadnoiseParams()) is None
    assert store.entries() == []
    assert not list((tmp_path / "store").glob("??/.tmp-*"))


def test_corrupt_entry_is_dropped_not_loaded(tmp_path, files):
    store = ResultStore(tmp_path / "store")
    key = store.put("readnoise", files, ReadnoiseParams(), {"ok": 1})
    (store.root / key[:2] / key / "result.pkl").write_bytes(b"garbage")
    assert store.get("readnoise", files, ReadnoiseParams()) is None
    assert store.entries() == []


def test_delete_only_accepts_keys(tmp_path, files):
    store = ResultStore(tmp_path / "store")
    key = store.put("readnoise", files, ReadnoiseParams(), {"ok": 1})
    assert not store.delete("../../etc")
    assert store.delete(key)
    assert store.get("readnoise", files, ReadnoiseParams()) is None
    assert result_key("a", files, ReadnoiseParams()) != result_key("b", files, ReadnoiseParams())
    assert pickle.loads(pickle.dumps(ReadnoiseParams())) == ReadnoiseParams()
