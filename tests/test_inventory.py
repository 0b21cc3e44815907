"""File discovery under the data root, header inventory and validation with specific reasons."""

from __future__ import annotations

import os

import numpy as np
import pytest
from astropy.io import fits

from core.errors import InputError
from core.io.inventory import find_files, group_by_detector, inspect_file, inventory, resolve_under_root
from core.io.simulate import simulate_exposure
from tests.conftest import with_header


@pytest.fixture(scope="module")
def good(tmp_path_factory):
    d = tmp_path_factory.mktemp("good")
    return simulate_exposure(d / "good_nrca1_uncal.fits", "NRCA1", ngroups=4, subarray="SUBGRISM64", seed=1).path




def test_good_file_inventory_from_headers(good):
    info = inspect_file(good)
    assert info.ok, info.reason
    assert (info.detector, info.exp_type, info.readpatt) == ("NRCA1", "NRC_DARK", "RAPID")
    assert (info.nints, info.ngroups, info.ny, info.nx) == (1, 4, 64, 2048)
    assert info.subarray == "SUBGRISM64" and info.noutputs == 4
    assert info.row()["start (UTC)"].startswith("2023-02-25")


def test_rejections_name_the_problem(good, tmp_path):
    cases = {}
    p = tmp_path / "text_uncal.fits"
    p.write_text("hello, not a FITS file")
    cases[p] = "not a FITS file"
    p = tmp_path / "empty_uncal.fits"
    p.write_bytes(b"")
    cases[p] = "empty"
    p = tmp_path / "trunc_uncal.fits"
    p.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    cases[p] = "truncated"
    p = tmp_path / "rate.fits"
    with fits.open(good) as h:
        h["SCI"].data = np.zeros((64, 2048), np.float32)
        h.writeto(p)
    cases[p] = "2-D image"
    p = tmp_path / "cube.fits"
    with fits.open(good) as h:
        h["SCI"].data = np.zeros((4, 64, 2048), np.uint16)
        h.writeto(p)
    cases[p] = "3-D cube"
    p = tmp_path / "one_uncal.fits"
    one = simulate_exposure(tmp_path / "one_src_uncal.fits", "NRCB1", ngroups=1, subarray="SUBGRISM64", seed=2).path
    os.rename(one, p)
    cases[p] = "only 1 group"
    cases[with_header(good, tmp_path / "miri_uncal.fits", INSTRUME="MIRI")] = "not a NIRCam file (INSTRUME = MIRI)"
    cases[with_header(good, tmp_path / "nodet_uncal.fits", DETECTOR=None)] = "missing header keyword(s): DETECTOR"
    cases[with_header(good, tmp_path / "noread_uncal.fits", READPATT=None)] = "READPATT"
    cases[tmp_path / "gone_uncal.fits"] = "no longer exists"
    infos = inventory([good, *cases])
    assert infos[0].ok
    for info, (path, needle) in zip(infos[1:], cases.items()):
        assert not info.ok, path.name
        assert needle in info.reason, (path.name, info.reason)


def test_unreadable_file_is_reported(good, tmp_path):
    if os.geteuid() == 0:
        pytest.skip("root reads files whatever their permissions")
    p = tmp_path / "locked_uncal.fits"
    p.write_bytes(good.read_bytes())
    p.chmod(0)
    assert "permission denied" in inspect_file(p).reason


def test_groups_split_geometries_and_say_so(good, tmp_path):
    full = simulate_exposure(tmp_path / "full_nrca1_uncal.fits", "NRCA1", ngroups=2, seed=3).path
    # the two files lie in two folders: merged, so that only the geometry tells them apart
    groups, rejected = group_by_detector(inventory([good, full]), merge_folders=True)
    assert [g.key for g in groups] == ["NRCA1", "NRCA1_SUBGRISM64"]
    assert not rejected
    assert any("2 geometries" in n for g in groups for f in g.files for n in f.notes)


# -- the data root is a hard boundary ------------------------------------------------------------
@pytest.fixture()
def root(tmp_path, good):
    r = tmp_path / "root"
    (r / "epoch1").mkdir(parents=True)
    (r / "epoch1" / good.name).write_bytes(good.read_bytes())
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret_uncal.fits").write_bytes(good.read_bytes())
    (r / "escape").symlink_to(outside)
    (r / "epoch1" / "link_uncal.fits").symlink_to(outside / "secret_uncal.fits")
    return r


def test_paths_inside_root_resolve(root):
    assert resolve_under_root(root, "epoch1") == (root / "epoch1").resolve()
    assert [p.name for p in find_files(root, "epoch1", "*_uncal.fits")] == ["good_nrca1_uncal.fits"]


@pytest.mark.parametrize("bad, message", [
    ("../outside", r"'\.\.' is not allowed"),
    ("epoch1/../../outside", r"'\.\.' is not allowed"),
    ("/etc", "absolute paths are not allowed"),
    ("escape", "outside the data root"),
])
def test_traversal_is_refused(root, bad, message):
    with pytest.raises(InputError, match=message):
        resolve_under_root(root, bad)


@pytest.mark.parametrize("pattern", ["../*.fits", "*/x.fits", "..\\*.fits", "epoch1/*"])
def test_glob_with_separators_is_refused(root, pattern):
    with pytest.raises(InputError, match="path separators"):
        find_files(root, "", pattern)


def test_symlinked_file_pointing_out_is_dropped(root):
    names = [p.name for p in find_files(root, "epoch1", "*.fits")]
    assert "secret_uncal.fits" not in names and "link_uncal.fits" not in names
