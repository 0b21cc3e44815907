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


# -- files are paths; grouping by folder, processing state, timing ------------------------------------
def _copies(good, tmp_path, folders, **header):
    out = []
    for folder in folders:
        (tmp_path / folder).mkdir(parents=True, exist_ok=True)
        out.append(with_header(good, tmp_path / folder / good.name, **header))
    return out


def test_same_names_in_two_folders_are_two_groups_named_by_folder(good, tmp_path):
    paths = _copies(good, tmp_path, ("ground", "flight"))
    groups, rejected = group_by_detector(inventory(paths))
    assert not rejected
    assert sorted(g.key for g in groups) == ["NRCA1_SUBGRISM64 · flight", "NRCA1_SUBGRISM64 · ground"]
    assert sorted(str(g.paths[0]) for g in groups) == sorted(str(p) for p in paths)  # both files, once each
    assert all(g.slug.endswith(("__flight", "__ground")) and "·" not in g.slug for g in groups)
    merged, _ = group_by_detector(inventory(paths), merge_folders=True)
    assert [g.key for g in merged] == ["NRCA1_SUBGRISM64"] and len(merged[0].files) == 2


def test_folders_of_the_same_name_are_told_apart(good, tmp_path):
    paths = _copies(good, tmp_path, ("a/ground", "b/ground"))
    groups, _ = group_by_detector(inventory(paths))
    assert sorted(g.key for g in groups) == ["NRCA1_SUBGRISM64 · a/ground", "NRCA1_SUBGRISM64 · b/ground"]


def test_one_folder_per_detector_keeps_plain_keys_and_labels_the_folder(good, tmp_path):
    (tmp_path / "epoch").mkdir()
    p = with_header(good, tmp_path / "epoch" / good.name)
    groups, _ = group_by_detector(inventory([p]))
    assert groups[0].key == "NRCA1_SUBGRISM64" and groups[0].label == "NRCA1_SUBGRISM64"
    other = simulate_exposure(tmp_path / "other" / "b_nrcb1_uncal.fits", "NRCB1", ngroups=4, subarray="SUBGRISM64",
                              seed=2).path
    groups, _ = group_by_detector(inventory([p, other]))  # two folders, two detectors: no clash
    assert [g.key for g in groups] == ["NRCA1_SUBGRISM64", "NRCB1_SUBGRISM64"]
    assert [g.label for g in groups] == ["NRCA1_SUBGRISM64 · epoch", "NRCB1_SUBGRISM64 · other"]


def test_processing_states_are_never_stacked(good, tmp_path):
    raw = with_header(good, tmp_path / "raw_nrca1_uncal.fits")
    done = with_header(good, tmp_path / "lin_nrca1_linearitystep.fits", S_DQINIT="COMPLETE", S_SATURA="COMPLETE",
                       S_SUPERB="COMPLETE", S_REFPIX="COMPLETE", S_LINEAR="COMPLETE", S_DARK="SKIPPED")
    infos = inventory([raw, done])
    assert infos[0].processing == "raw"
    assert infos[1].processing == "dq_init+saturation+superbias+refpix+linearity"
    groups, _ = group_by_detector(infos)
    assert len(groups) == 2 and {len(g.files) for g in groups} == {1}
    assert any("processing states" in n and "never stacked" in n for n in infos[0].notes)


def test_long_span_of_exposure_starts_gets_a_note(good, tmp_path):
    a = with_header(good, tmp_path / "a_nrca1_uncal.fits", EXPSTART=60000.0)
    b = with_header(good, tmp_path / "b_nrca1_uncal.fits", EXPSTART=60045.0)
    groups, _ = group_by_detector(inventory([a, b]))
    assert any("span 45 days" in n for f in groups[0].files for n in f.notes)
    groups, _ = group_by_detector(inventory([a, b]), max_span_days=60)
    assert not any("span" in n for f in groups[0].files for n in f.notes)


def test_start_time_is_expstart_and_a_disagreeing_date_obs_is_said(good, tmp_path):
    p = with_header(good, tmp_path / "d_nrca1_uncal.fits", EXPSTART=60000.0, **{"DATE-OBS": "2021-02-24"})
    info = inspect_file(p)
    assert info.date_obs.startswith("2023-02-25")  # MJD 60000
    assert any("disagree with EXPSTART" in n for n in info.notes)


def test_noutputs_derived_and_timing_read(good, tmp_path):
    p = with_header(good, tmp_path / "n_nrca1_uncal.fits", NOUTPUTS=None, NFRAMES=8, GROUPGAP=2, READPATT="MEDIUM8",
                    TGROUP=None)
    info = inspect_file(p)
    assert info.ok, info.reason
    assert info.noutputs == 4 and any("NOUTPUTS missing" in n for n in info.notes)
    # SUBGRISM64 frame: (512 + 12) x 65 + 1 clocks of 10 us; TGROUP = (NFRAMES + GROUPGAP) x TFRAME
    assert info.tframe == pytest.approx(((512 + 12) * 65 + 1) * 1e-5, rel=1e-3)
    assert (info.nframes, info.groupgap) == (8, 2) and info.tgroup == pytest.approx(10 * info.tframe)
    bad = with_header(good, tmp_path / "t_nrca1_uncal.fits", TFRAME=10.737)
    assert any("TFRAME = 10.74 s disagrees" in n for n in inspect_file(bad).notes)
