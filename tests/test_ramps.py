"""The ramp reader: raw 16-bit ramps decoded straight from the file must give astropy's values.

astropy's ``section`` is the reference here (what every section read before the direct decoder):
the decoder byte-swaps, adds BZERO by flipping the top bit and turns 65535 into NaN, so the test
data hold every awkward value -- 0, 1, 32767, 32768 (the sign boundary of the stored integers),
65534 and 65535 (saturated) -- besides random ones, and the comparison is exact (equal_nan).
"""

from __future__ import annotations

import os
import threading

import numpy as np
import pytest
from astropy.io import fits

from core.io.ramps import Ramp, direct_data_offset
from core.io.simulate import simulate_ramp, write_uncal

EDGE_VALUES = np.array([0, 1, 255, 256, 32767, 32768, 32769, 65280, 65534, 65535], np.uint16)


def _edge_ramp(tmp_path, nints=2, ngroups=5):
    """A SUB160 ramp (nints, ngroups, 160, 160) of random uint16 with every edge value planted."""
    _, _, layout = simulate_ramp("NRCA1", ngroups=2, subarray="SUB160", seed=1)
    rng = np.random.default_rng(7)
    data = rng.integers(0, 65536, size=(nints, ngroups, 160, 160), dtype=np.uint16)
    flat = data.reshape(-1)
    flat[rng.choice(flat.size, EDGE_VALUES.size * 40, replace=False)] = np.repeat(EDGE_VALUES, 40)
    return write_uncal(tmp_path / "edge_nrca1_uncal.fits", data, layout, "SUB160"), data


@pytest.mark.parametrize("sel", [
    dict(y0=0, y1=160),
    dict(y0=37, y1=38),
    dict(y0=5, y1=101, groups=slice(1, 4)),
    dict(y0=0, y1=160, groups=slice(3, 4), ints=slice(1, 2)),
    dict(y0=150, y1=160, groups=slice(0, 5, 2)),
])
def test_direct_decoder_equals_astropy(tmp_path, sel):
    path, data = _edge_ramp(tmp_path)
    assert all((data == v).any() for v in EDGE_VALUES)
    with Ramp(path) as direct, Ramp(path, direct=False) as ref:
        assert direct._fd is not None, "the direct decoder must be the one under test"
        got, nbad = direct.read_stripe(**sel)
        want, nbad_ref = ref.read_stripe(**sel)
    assert got.dtype == np.float32 and got.shape == want.shape
    assert np.array_equal(got, want, equal_nan=True)
    # and both are the written values, 65535 -> NaN
    sub = data[sel.get("ints", slice(None)), sel.get("groups", slice(None)), sel["y0"]:sel["y1"]]
    assert nbad == nbad_ref == int((sub == 65535).sum())
    assert np.array_equal(got, np.where(sub == 65535, np.nan, sub.astype(np.float32)), equal_nan=True)


def test_reads_from_two_threads_at_once_are_those_read_alone(tmp_path):
    # os.preadv has no shared file position: no lock, and no interleaving either.
    path, _ = _edge_ramp(tmp_path, nints=1, ngroups=8)
    with Ramp(path) as r:
        alone = [r.read_stripe(y0, y0 + 20)[0] for y0 in range(0, 160, 20)]
        out: dict = {}

        def work(ys):
            for y0 in ys:
                for _ in range(5):
                    out.setdefault(y0, []).append(r.read_stripe(y0, y0 + 20)[0])

        threads = [threading.Thread(target=work, args=(range(s, 160, 40),)) for s in (0, 20)]
        [t.start() for t in threads]
        [t.join() for t in threads]
    for i, y0 in enumerate(range(0, 160, 20)):
        assert all(np.array_equal(a, alone[i], equal_nan=True) for a in out[y0])


def test_other_encodings_keep_astropys_reader(tmp_path):
    path, data = _edge_ramp(tmp_path, nints=1, ngroups=2)
    floats = data.astype(np.float32)
    floats[0, 1, 3, 4] = np.nan
    with fits.open(path) as h:
        h["SCI"].data = floats
        h.writeto(tmp_path / "float_nrca1_uncal.fits")
    with fits.open(path) as h:
        h["SCI"] = fits.ImageHDU(data.astype(np.int16), name="SCI")  # signed, no BZERO
        h.writeto(tmp_path / "int16_nrca1_uncal.fits")
    with Ramp(tmp_path / "float_nrca1_uncal.fits") as r:
        assert r._fd is None
        got, nbad = r.read_stripe(0, 160)
    assert nbad == 1 and np.isnan(got[0, 1, 3, 4])
    with Ramp(tmp_path / "int16_nrca1_uncal.fits") as r:
        assert r._fd is None
        assert r._sci.header["BITPIX"] == 16 and "BZERO" not in r._sci.header
        got, _ = r.read_stripe(0, 160)
    assert np.array_equal(got, data.astype(np.int16).astype(np.float32))


def test_short_file_is_not_decoded_directly(tmp_path):
    path, _ = _edge_ramp(tmp_path, nints=1, ngroups=2)
    size = path.stat().st_size
    with open(path, "r+b") as f:
        f.truncate(size - 2880 * 4)
    fd = os.open(path, os.O_RDONLY)
    try:
        with fits.open(path, lazy_load_hdus=True) as h:
            assert direct_data_offset(fd, h["SCI"]) is None
    finally:
        os.close(fd)
    with Ramp(path) as r:
        assert r._fd is None


def test_file_truncated_while_open_gives_a_clear_error(tmp_path):
    path, _ = _edge_ramp(tmp_path, nints=1, ngroups=4)
    with Ramp(path) as r:
        r.read_stripe(0, 160)
        with open(path, "r+b") as f:
            f.truncate(path.stat().st_size // 2)
        with pytest.raises(OSError, match="ends inside its SCI data") as e:
            r.read_stripe(0, 160)
    assert e.value.filename == str(path)
