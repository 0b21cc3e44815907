"""The simulator writes valid DMS files whose noise sits where the hardware would put it."""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pytest
from astropy.io import fits

from core.io.geometry import Layout
from core.io.inventory import inspect_file
from core.io.ramps import Ramp, cds_frames, layout_from_header
from core.io.simulate import SUBARRAY_SHAPES, NoiseSpec, simulate, simulate_exposure, simulate_ramp
from core.io.simwrite import DO_NOT_USE, HOT, JUMP_DET, REFERENCE_PIXEL, SATURATED


def test_file_is_level1b_that_jwst_opens(tmp_path):
    import jwst.datamodels

    p = simulate_exposure(tmp_path / "a_uncal.fits", "NRCB1", ngroups=3, nints=2, subarray="SUBGRISM64", seed=1).path
    with jwst.datamodels.open(str(p)) as m:
        assert type(m).__name__ in ("Level1bModel", "RampModel")
        assert m.data.shape == (2, 3, 64, 2048)
        assert m.meta.instrument.detector == "NRCB1"
        assert m.meta.exposure.type == "NRC_DARK"
        assert m.meta.subarray.fastaxis == 1 and m.meta.subarray.slowaxis == -2
    h = fits.getheader(p)
    assert h["NOUTPUTS"] == 4 and h["TFRAME"] == pytest.approx(Layout("NRCB1", ny=64).frame_time)
    assert fits.getheader(p, "SCI")["BZERO"] == 32768
    assert (tmp_path / "a_uncal_truth.json").exists()


def test_full_frame_time_is_10_73677_s():
    assert Layout("NRCA1").frame_time == pytest.approx(10.73677, abs=1e-6)


@pytest.mark.parametrize("det, expected_amp", [("NRCA1", 0), ("NRCA2", 3), ("NRCB1", 3), ("NRCB2", 0)])
def test_per_output_noise_lands_in_the_right_science_quadrant(det, expected_amp):
    """Inject white noise 12 DN on output 3 only (2 DN elsewhere): it must appear in science amp
    0 for x-flipped detectors and amp 3 for y-flipped ones."""
    data, truth, layout = simulate_ramp(det, ngroups=4, subarray="SUBGRISM64",
                                        spec=NoiseSpec(white_read=[2, 2, 2, 12], noisy_fraction=0), seed=3)
    cds = cds_frames(data.astype(np.float32), "consecutive")
    per_amp = [np.std(cds[:, 8:-8, a.x0 + 8:a.x1 - 8]) for a in layout.amps()]
    assert int(np.argmax(per_amp)) == expected_amp
    assert per_amp[expected_amp] == pytest.approx(12 * np.sqrt(2), rel=0.03)


def test_correlated_onef_is_mirrored_for_outputs_read_right_to_left():
    """Correlated 1/f alone: in read order (Layout.channel_images) all outputs carry the same
    series; in detector columns, outputs 1 and 3 are mirror images of 0 and 2."""
    spec = NoiseSpec(white_read=0.0, corr_1f=5.0, ktc=0.0, noisy_fraction=0, ref_ratio=1.0)
    data, truth, layout = simulate_ramp("NRCA1", ngroups=3, subarray="SUBGRISM64", spec=spec, seed=4)
    cds = cds_frames(data.astype(np.float32), "consecutive")
    chans = layout.channel_images(cds - np.median(cds, axis=0))
    rounding = 0.5  # integer DN rounding of each read
    for k in (1, 2, 3):
        assert np.max(np.abs(chans[:, k] - chans[:, 0])) <= 2 * rounding + 1e-3
    assert truth["correlated_1f_cds"] == pytest.approx(5.0)


def test_ramp_reader_streams_stripes_in_dn(tmp_path):
    data, _, layout = simulate_ramp("NRCA3", ngroups=3, subarray="SUBGRISM64", seed=5)
    from core.io.simulate import write_uncal
    p = write_uncal(tmp_path / "r_uncal.fits", data, layout, "SUBGRISM64")
    with Ramp(p) as r:
        stripe, nbad = r.read_stripe(10, 20)
    assert stripe.dtype == np.float32 and nbad == 0
    assert np.array_equal(stripe, data[:, :, 10:20].astype(np.float32))


# -- the simulator grows what real files contain (cosmic rays, hot / RTS pixels, readout patterns,
#    subarrays, RampModel files, clean twins).  Each test states the injected value, its tolerance
#    and why; binomial counts are allowed 4 standard deviations (a false failure ~1 in 16 000).

# sha256 (first 16 hex digits) of simulate_ramp(...).data, recorded on this machine with the code of
# commit 59a78d1, *before* cosmic rays, hot / RTS pixels and readout patterns were added: a spec
# without them must give bit for bit the same data (new components use generators of their own).
# (numpy / scipy versions that change np.exp or the FFT would change these too.)
DEFAULT_CHECKSUMS = {
    "default_sg64": (dict(detector="NRCA1", ngroups=3, subarray="SUBGRISM64", seed=0), "c02ff14f3cd1c10c"),
    "full_b1": (dict(detector="NRCB1", ngroups=2, subarray="FULL", seed=3), "40fd1f480d39e5da"),
    "sub160_2ints": (dict(detector="NRCA2", ngroups=4, nints=2, subarray="SUB160", seed=7), "452ef21c5b650f4d"),
    "all_on": (dict(detector="NRCB4", ngroups=5, nints=2, subarray="SUBGRISM128", seed=11,
                    spec=dict(white_read=[4.6, 4.9, 4.4, 5.1], corr_1f=4.0, unc_1f=[1.4, 1.2, 1.6, 1.3],
                              ref_instability=[0, 1.5, 0, 0.5], unstable_ref_pixels=6, dark_current=0.3)),
               "233bf7de57933d93"),
}


def binomial_ok(count, n, p, nsigma=4.0) -> bool:
    return abs(count - n * p) <= nsigma * np.sqrt(n * p * (1 - p))


def n_active(subarray: str, detector: str = "NRCB1") -> int:
    xs, ys, x0, y0, nout = SUBARRAY_SHAPES[subarray]
    return int((~Layout(detector, xs, ys, x0, y0, nout).reference_mask()).sum())


@pytest.mark.parametrize("case", sorted(DEFAULT_CHECKSUMS))
def test_default_outputs_unchanged(case):
    """Bit-identical data for specs without the new components (checksums recorded before the change)."""
    kw, want = DEFAULT_CHECKSUMS[case]
    kw = dict(kw)
    if "spec" in kw:
        kw["spec"] = NoiseSpec(**kw["spec"])
    data, truth, _ = simulate_ramp(**kw)
    assert hashlib.sha256(data.tobytes()).hexdigest()[:16] == want
    assert truth["readpatt"] == "RAPID" and truth["nframes"] == 1 and truth["groupgap"] == 0
    assert truth["defects"]["cosmic_rays"] == truth["defects"]["hot_pixels"] == truth["defects"]["rts_pixels"] == []


def test_cosmic_rays_rate_amplitudes_and_persistence():
    """cr_rate 0.001 per active pixel per group, 20-3000 DN log-uniform, RAPID SUB400P x 10 groups.
    Measured from the data (contaminated - clean twin): a jump shows in the group difference where it
    arrives, within +-2 DN (two uint16 roundings); the count over the 9 visible group differences is
    binomial (n = active pixels x 9, p = 0.001, 4 sigma); half the amplitudes lie below the log-midpoint
    sqrt(20 x 3000) = 245 DN (binomial, 4 sigma); the jump persists in every later group (+-1 DN)."""
    sim = simulate("NRCB1", ngroups=10, subarray="SUB400P", spec=NoiseSpec(cr_rate=0.001), seed=21)
    excess = sim.data.astype(np.int32) - sim.clean().astype(np.int32)
    jumps = np.diff(excess, axis=1)
    it, g, y, x = np.nonzero(jumps > 10)
    found = {(int(a), int(b) + 1, int(c), int(d)) for a, b, c, d in zip(it, g, y, x)}
    rows = sim.truth["defects"]["cosmic_rays"]
    injected = {(r[0], r[1], r[2], r[3]): r[4] for r in rows}
    assert found == {k for k in injected if k[1] >= 1}
    assert binomial_ok(len(found), n_active("SUB400P") * 9, 0.001)
    for (i, gg, yy, xx), amp in injected.items():
        if gg >= 1:
            assert abs(jumps[i, gg - 1, yy, xx] - amp) <= 2
        later = excess[i, gg:, yy, xx]
        assert np.all(later >= amp - 1)  # persists (further hits only add)
    amps = np.array(list(injected.values()))
    assert amps.min() >= 20 and amps.max() <= 3000
    assert binomial_ok(int((amps < np.sqrt(20 * 3000)).sum()), amps.size, 0.5)
    assert not excess[:, :, sim.layout.reference_mask()].any()  # reference pixels have no photodiode


@pytest.fixture(scope="module")
def hot_files(tmp_path_factory):
    """hot_fraction 0.003 (2-20000 DN/group log-uniform), dnu_fraction 0.001, cosmic rays 0.001:
    an uncal and a RampModel file (JUMP_DET flagged) of one simulation, each with its clean twin."""
    d = tmp_path_factory.mktemp("hot")
    spec = NoiseSpec(hot_fraction=0.003, dnu_fraction=0.001, cr_rate=0.001)
    kw = dict(detector="NRCB1", ngroups=10, subarray="SUB400P", spec=spec, seed=22, twin=True)
    uncal = simulate_exposure(d / "h_nrcb1_uncal.fits", **kw)
    ramp = simulate_exposure(d / "h_nrcb1_uncal.fits", kind="ramp", flag_jumps=True, **kw)
    return uncal, ramp


def test_hot_pixel_rates_and_saturation_in_uint16_files(hot_files):
    """Hot pixels: the count is binomial (active pixels, p = 0.003, 4 sigma); half the rates lie below the
    log-midpoint 200 DN/group (binomial, 4 sigma).  In the uint16 file, a hot pixel (without a cosmic ray)
    is its clean-twin value plus rate x (group + 1), capped at 65535, within 1 DN (one rounding); it sits
    at 65535 exactly from the truth's saturation group on, and some saturate partway up the ramp."""
    uncal, _ = hot_files
    data = fits.getdata(uncal.path, "SCI").astype(np.float64)
    clean = fits.getdata(uncal.twin, "SCI").astype(np.float64)
    truth = json.loads(uncal.path.with_name(uncal.path.name.replace(".fits", "_truth.json")).read_text())
    hot = truth["defects"]["hot_pixels"]
    assert binomial_ok(len(hot), n_active("SUB400P"), 0.003)
    rates = np.array([h[2] for h in hot])
    assert rates.min() >= 2 and rates.max() <= 20000
    assert binomial_ok(int((rates < np.sqrt(2 * 20000)).sum()), rates.size, 0.5)
    cr_pixels = {(r[2], r[3]) for r in truth["defects"]["cosmic_rays"]}
    partway = checked = 0
    for y, x, rate, sat in hot:
        raw = data[0, :, y, x]
        if sat >= 0:
            assert np.all(raw[sat:] == 65535) and (sat == 0 or raw[sat - 1] < 65535)
            partway += 0 < sat < 9
        else:
            assert np.all(raw < 65535)
        if (y, x) in cr_pixels:
            continue
        want = np.minimum(clean[0, :, y, x] + rate * np.arange(1, 11), 65535)
        assert np.all(np.abs(raw - want) <= 1.0)
        checked += 1
    assert partway > 0 and checked > 0.9 * len(hot)


def test_rampmodel_file_dq_and_frozen_saturated_values(hot_files):
    """The RampModel ``*_linearitystep.fits``: opens with stdatamodels RampModel; SCI float32 (nints,
    ngroups, ny, nx) bias-subtracted (median within 3 x kTC = 66 DN of 0); GROUPDQ uint8 of SCI's shape
    with SATURATED exactly from each truth saturation group on and the SCI value frozen there (constant,
    65535 - bias, never 65535); JUMP_DET exactly at the truth's cosmic rays after group 0; PIXELDQ uint32
    with HOT | DO_NOT_USE on the hot pixels of >= 100 DN/group, REFERENCE_PIXEL on the reference mask and
    DO_NOT_USE alone on a binomial 0.1% of the active pixels (4 sigma); the step keywords of a
    linearity-step file."""
    from stdatamodels.jwst.datamodels import RampModel

    _, ramp = hot_files
    assert ramp.path.name.endswith("_linearitystep.fits")
    assert inspect_file(ramp.path).ok
    truth = ramp.truth["defects"]
    with RampModel(str(ramp.path)) as m:
        sci, gdq, pdq = np.asarray(m.data), np.asarray(m.groupdq), np.asarray(m.pixeldq)
        assert m.meta.exposure.nframes == 1 and m.meta.cal_step.linearity == "COMPLETE"
    assert sci.dtype.newbyteorder("=") == np.float32 and sci.shape == (1, 10, 400, 400)  # FITS is big-endian
    assert gdq.dtype == np.uint8 and gdq.shape == sci.shape
    assert pdq.dtype.newbyteorder("=") == np.uint32 and pdq.shape == (400, 400)
    assert abs(np.median(sci)) < 3 * 22
    h = fits.getheader(ramp.path)
    assert [h[k] for k in ("S_DQINIT", "S_SATURA", "S_SUPERB", "S_LINEAR", "S_REFPIX", "S_DARK", "S_JUMP")] == \
        ["COMPLETE"] * 4 + ["SKIPPED", "SKIPPED", "COMPLETE"]
    sat = {(s[1], s[2]): s[3] for s in truth["saturated"] if s[0] == 0}
    assert sat and {(h_[0], h_[1]) for h_ in truth["hot_pixels"] if h_[3] >= 0} <= set(sat)
    is_sat = (gdq & SATURATED) != 0
    want_sat = np.zeros_like(is_sat)
    for (y, x), g in sat.items():
        want_sat[0, g:, y, x] = True
        frozen = sci[0, g:, y, x]
        assert np.all(frozen == frozen[0]) and frozen[0] != 65535 and frozen[0] > 65535 - 14000
    assert np.array_equal(is_sat, want_sat)
    jumps = {tuple(int(v) for v in j) for j in zip(*np.nonzero(gdq & JUMP_DET))}
    assert jumps == {(r[0], r[1], r[2], r[3]) for r in truth["cosmic_rays"] if r[1] >= 1}
    refmask = Layout("NRCB1", 400, 400, 1649, 1649, 1).reference_mask()
    assert np.array_equal((pdq & REFERENCE_PIXEL) != 0, refmask)
    hot_flag = {(y, x) for y, x, rate, _ in truth["hot_pixels"] if rate >= 100}
    assert {tuple(int(v) for v in p) for p in zip(*np.nonzero(pdq & HOT))} == hot_flag
    assert all(pdq[y, x] & DO_NOT_USE for y, x in hot_flag)
    dnu_only = ((pdq & DO_NOT_USE) != 0) & ((pdq & HOT) == 0)
    assert binomial_ok(int(dnu_only.sum()), n_active("SUB400P"), 0.001)
    assert {(f[0], f[1]) for f in truth["flagged_pixels"]} == {tuple(int(v) for v in p)
                                                            for p in zip(*np.nonzero(pdq & ~np.uint32(REFERENCE_PIXEL)))}


def test_twin_files_share_the_noise_outside_the_contaminated_pixels(hot_files):
    """The clean twin (``*_clean.fits``) holds the same noise sample for sample: raw and RampModel twins
    equal their contaminated files exactly except on the truth's hot / cosmic-ray pixels, where every
    hot pixel differs; the twin's truth lists no defects; ``*_uncal.fits`` does not match the twin."""
    from stdatamodels.jwst.datamodels import RampModel

    for exp in hot_files:
        if exp.path.name.endswith("_uncal.fits"):
            a, b = fits.getdata(exp.path, "SCI"), fits.getdata(exp.twin, "SCI")
            assert [p.name for p in exp.path.parent.glob("*_uncal.fits")] == [exp.path.name]
        else:
            with RampModel(str(exp.path)) as ma, RampModel(str(exp.twin)) as mb:
                a, b = np.asarray(ma.data), np.asarray(mb.data)
        d = exp.truth["defects"]
        touched = np.zeros(a.shape[-2:], bool)
        for r in d["hot_pixels"]:
            touched[r[0], r[1]] = True
        for r in d["cosmic_rays"]:
            touched[r[2], r[3]] = True
        differs = (a != b).any(axis=(0, 1))
        assert not (differs & ~touched).any()
        assert all(differs[r[0], r[1]] for r in d["hot_pixels"])
        twin = json.loads(exp.twin.with_name(exp.twin.name.replace(".fits", "_truth.json")).read_text())
        assert twin["clean_twin_of"] == exp.path.name and exp.truth["clean_twin"] == exp.twin.name
        assert twin["defects"]["hot_pixels"] == twin["defects"]["cosmic_rays"] == []
        assert twin["amps"] == exp.truth["amps"]


def test_rts_pixels_two_levels_rate_and_switching():
    """RTS: rts_fraction 0.0005, 40 DN, switching probability 0.05 per frame, RAPID SUB640 x 20 groups.
    The count is binomial (active pixels, p = 0.0005, 4 sigma); data - clean twin takes only the two
    levels 0 and 40 DN (+-1 rounding); the level changes seen in the data equal the truth's, and their
    number is binomial in (RTS pixels x 19 frame steps, p = 0.05, 4 sigma)."""
    spec = NoiseSpec(rts_fraction=0.0005, rts_amplitude=40.0, rts_switch=0.05)
    sim = simulate("NRCA1", ngroups=20, subarray="SUB640", spec=spec, seed=23)
    rts = sim.truth["defects"]["rts_pixels"]
    assert binomial_ok(len(rts), n_active("SUB640", "NRCA1"), 0.0005)
    excess = sim.data.astype(np.int32) - sim.clean().astype(np.int32)
    ys, xs = np.array([r[0] for r in rts]), np.array([r[1] for r in rts])
    e = excess[0][:, ys, xs]  # (groups, n_rts)
    assert np.all((np.abs(e) <= 1) | (np.abs(e - 40) <= 1))
    level = e > 20
    switches = np.count_nonzero(np.diff(level, axis=0), axis=0)
    assert list(switches) == [r[3] for r in rts]
    assert binomial_ok(int(switches.sum()), len(rts) * 19, 0.05)
    outside = np.ones(excess.shape[-2:], bool)
    outside[ys, xs] = False
    assert not excess[:, :, outside].any()


def test_medium8_group_difference_white_noise_and_dark_through_the_gaps():
    """MEDIUM8 (8 frames averaged, 2 dropped): white 5 DN per frame, no 1/f, SUB400P x 6 groups, 3
    independent group differences per pixel.  Their variance over the active pixels must be the truth's
    (per-frame white x sqrt(2/8))^2 + 2/12 DN^2 (uint16 rounding of two groups) within 4 statistical
    standard deviations (relative sqrt(2/N), N ~ 470 000 samples: 0.8%); the sqrt(2/8) is what averaging
    8 frames gives (RAPID would be sqrt(2)).  Dark current 0.5 DN/s runs through the dropped frames: the
    mean difference is 0.5 x TGROUP = 0.5 x 10 x TFRAME within 4 standard errors."""
    spec = NoiseSpec(white_read=5.0, noisy_fraction=0.0, dark_current=0.5)
    sim = simulate("NRCB1", ngroups=6, subarray="SUB400P", spec=spec, seed=24, readpatt="MEDIUM8")
    t = sim.truth
    assert (t["nframes"], t["groupgap"], t["frames_per_integration"]) == (8, 2, 6 * 10 - 2)
    assert t["tgroup"] == pytest.approx(10 * sim.layout.frame_time)
    amp = t["amps"][0]
    assert amp["white_group_cds_rms"] == pytest.approx(amp["white_read_rms"] * np.sqrt(2 / 8))
    g = sim.data.astype(np.float64)
    d = (g[:, 1::2] - g[:, 0::2])[..., ~sim.layout.reference_mask()].ravel()
    n = d.size
    mean_want = 0.5 * t["tgroup"]
    assert abs(d.mean() - mean_want) <= 4 * d.std() / np.sqrt(n)
    var_want = amp["white_group_cds_rms"] ** 2 + 2 / 12
    assert abs(d.var() / var_want - 1) <= 4 * np.sqrt(2 / n)


def test_medium8_group_onef_in_the_truth_is_what_the_data_hold():
    """Correlated 1/f 5 DN (per CDS of single frames) only, MEDIUM8, SUB160: the group-difference 1/f
    recorded in the truth (``correlated_1f_group_cds``, from the same realisation, so no statistical
    error) is what the data's group differences hold after the per-frame median removal.  Between them
    only uint16 rounding: + 2/12 DN^2 (two groups), and the median of integer differences being quantised
    (a shift of up to 0.5 DN: + 0 to 0.25 DN^2); 0.02 DN^2 slack for the rounding's own scatter."""
    spec = NoiseSpec(white_read=0.0, noisy_fraction=0.0, ktc=0.0, corr_1f=5.0, ref_ratio=1.0)
    sim = simulate("NRCA1", ngroups=6, subarray="SUB160", spec=spec, seed=25, readpatt="MEDIUM8")
    assert sim.truth["correlated_1f_cds"] == pytest.approx(5.0)
    d = np.diff(sim.data.astype(np.float64), axis=1)[0]
    d -= np.median(d, axis=(-2, -1), keepdims=True)
    excess = np.mean(d**2) - sim.truth["correlated_1f_group_cds"] ** 2
    assert 2 / 12 - 0.02 <= excess <= 2 / 12 + 0.25 + 0.02
    assert sim.truth["correlated_1f_group_cds"] < 0.5 * 5.0  # 1/f above 1/TFRAME averages down


def test_partial_saturation_in_averaged_groups_is_flagged_do_not_use():
    """MEDIUM8 with hot pixels: a group in which some frames reached 65535 but the average did not is
    DO_NOT_USE in GROUPDQ (stcal's saturation step does the same), its raw value is below 65535, and the
    next group is SATURATED."""
    spec = NoiseSpec(hot_fraction=0.003, hot_rate=(5000.0, 20000.0))
    sim = simulate("NRCB1", ngroups=4, subarray="SUB400P", spec=spec, seed=26, readpatt="MEDIUM8")
    gdq = sim.groupdq()
    rows = sim.truth["defects"]["partially_saturated"]
    assert rows
    for it, g, y, x in rows:
        assert sim.data[it, g, y, x] < 65535 and gdq[it, g, y, x] & DO_NOT_USE
        if g + 1 < 4:
            assert gdq[it, g + 1, y, x] & SATURATED and sim.data[it, g + 1, y, x] == 65535
    flagged = {tuple(int(v) for v in p) for p in zip(*np.nonzero(gdq & DO_NOT_USE))}
    assert flagged == {tuple(r) for r in rows}


@pytest.mark.parametrize("readpatt, nframes, groupgap", [("RAPID", 1, 0), ("BRIGHT1", 1, 1), ("MEDIUM8", 8, 2),
                                                         ("DEEP8", 8, 12)])
@pytest.mark.parametrize("kind", ["uncal", "ramp"])
def test_headers_carry_the_readout_pattern(tmp_path, readpatt, nframes, groupgap, kind):
    """NFRAMES / GROUPGAP of the pattern, TFRAME = the Layout frame time, TGROUP = (NFRAMES + GROUPGAP)
    x TFRAME, READPATT, in raw and RampModel files alike."""
    e = simulate_exposure(tmp_path / "p_nrca1_uncal.fits", "NRCA1", ngroups=2, subarray="SUB160", seed=27,
                          readpatt=readpatt, kind=kind)
    h = fits.getheader(e.path)
    tframe = Layout("NRCA1", 160, 160, 1, 1, 1).frame_time
    assert (h["READPATT"], h["NFRAMES"], h["GROUPGAP"]) == (readpatt, nframes, groupgap)
    assert h["TFRAME"] == pytest.approx(tframe) and h["TGROUP"] == pytest.approx((nframes + groupgap) * tframe)
    assert e.truth["tgroup"] == pytest.approx(h["TGROUP"])


def test_unknown_readout_pattern_is_refused():
    with pytest.raises(ValueError, match="readout pattern"):
        simulate_ramp("NRCA1", 2, subarray="SUB160", readpatt="FAST")


@pytest.mark.parametrize("det, subarray, rows, cols", [
    ("NRCB1", "SUB400P", ([], [396, 397, 398, 399]), ([], [396, 397, 398, 399])),  # top right corner
    ("NRCA1", "SUB160", ([0, 1, 2, 3], []), ([0, 1, 2, 3], [])),  # bottom left corner
    ("NRCA2", "SUBGRISM64", ([0, 1, 2, 3], []), ([0, 1, 2, 3], [2044, 2045, 2046, 2047])),  # a 4-output stripe
])
def test_reference_pixels_only_where_the_subarray_touches_the_edge(tmp_path, det, subarray, rows, cols):
    """The written file opens as ok through inspect_file with its NOUTPUTS; the Layout of its header has
    reference rows / columns exactly on the edges it touches; TFRAME = (nx/noutputs + 12) x (ny + 1) x
    10 us (+1 pixel; SUB400P 1.652 s per the docs); and in the data the low white noise of reference pixels
    (ref_ratio 0.2) sits on exactly those rows and columns (row / column mean variance below half the
    median: the active level is 25x higher, the row means are good to a few %)."""
    spec = NoiseSpec(ref_ratio=0.2, noisy_fraction=0.0)
    e = simulate_exposure(tmp_path / f"s_{det.lower()}_uncal.fits", det, ngroups=5, subarray=subarray, spec=spec,
                          seed=28)
    info = inspect_file(e.path)
    nout = SUBARRAY_SHAPES[subarray][4]
    assert info.ok and info.noutputs == nout and info.subarray == subarray
    h = fits.getheader(e.path)
    lay = layout_from_header(h)
    assert [list(r) for r in lay.reference_rows()] == [rows[0], rows[1]]
    assert [list(c) for c in lay.reference_columns()] == [cols[0], cols[1]]
    assert h["TFRAME"] == pytest.approx(((lay.nx // nout + 12) * (lay.ny + 1) + 1) * 1e-5)
    if subarray == "SUB400P":
        assert h["TFRAME"] == pytest.approx(1.652, abs=1e-3) and (h["SUBSTRT1"], h["SUBSTRT2"]) == (1649, 1649)
    data = fits.getdata(e.path, "SCI").astype(np.float64)
    var = np.diff(data, axis=1)[0].var(axis=0)
    low_rows = np.flatnonzero(var.mean(axis=1) < 0.5 * np.median(var))
    low_cols = np.flatnonzero(var.mean(axis=0) < 0.5 * np.median(var))
    assert list(low_rows) == rows[0] + rows[1] and list(low_cols) == cols[0] + cols[1]
