"""Sparse contamination of simulated darks (cosmic rays, hot pixels, RTS pixels), the simulated
exposure that carries them (:class:`Simulation`: clean twin, GROUPDQ, PIXELDQ) and its truth lists.

Each component is drawn up front from a generator of its own (``np.random.default_rng([seed,
k])``), never from the noise stream of :mod:`core.io.simulate`: a spec with all of them off gives
bit for bit the data it gave before they existed, and a *clean twin* (the same exposure without
them) shares every other sample exactly.  Only active pixels are contaminated (reference pixels
have no photodiode).

Time runs in *frames* of one integration in readout order, ``i = 0 .. F-1`` with
``F = ngroups x (NFRAMES + GROUPGAP) - GROUPGAP``; group ``g`` averages frames
``g (NFRAMES + GROUPGAP) + [0, NFRAMES)``.

* cosmic ray: each active pixel is hit in each group with probability ``cr_rate``, at a frame
  drawn uniformly from the frames since the previous group's last read (the dropped GROUPGAP
  frames and the group's own reads); the jump, log-uniform in ``cr_amplitude`` DN, persists in
  every later frame of the integration;
* hot pixel: each active pixel with probability ``hot_fraction``, a dark current log-uniform in
  ``hot_rate`` DN per group (``rate / (NFRAMES + GROUPGAP)`` per frame, accumulating from the
  reset), until it saturates;
* RTS pixel: each active pixel with probability ``rts_fraction``, a two-level telegraph signal
  (0 or ``rts_amplitude`` DN) that changes level with probability ``rts_switch`` per frame, one
  chain through all integrations.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import numpy as np

from core.io.geometry import Layout
from core.io.simwrite import DO_NOT_USE, HOT, JUMP_DET, REFERENCE_PIXEL, SATURATED

CR_STREAM, HOT_STREAM, RTS_STREAM, FLAG_STREAM = 1, 2, 3, 4


def stream(seed: int, k: int) -> np.random.Generator:
    """The generator of contamination component ``k`` (independent of the noise stream ``seed``)."""
    return np.random.default_rng([int(seed), k])


def log_uniform(rng: np.random.Generator, lo: float, hi: float, n: int) -> np.ndarray:
    return np.exp(rng.uniform(np.log(lo), np.log(hi), n))


def bernoulli_pixels(rng: np.random.Generator, candidates: np.ndarray, p: float) -> np.ndarray:
    """Each of ``candidates`` (flat indices) with probability ``p``; sorted."""
    if p <= 0 or candidates.size == 0:
        return np.zeros(0, np.int64)
    k = rng.binomial(candidates.size, min(p, 1.0))
    return np.sort(rng.choice(candidates, k, replace=False)).astype(np.int64)


@dataclass
class Defects:
    """Every injected defect of one exposure, on the sorted union ``pixels`` of their flat indices."""

    ngroups: int
    nframes: int
    groupgap: int
    pixels: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    hot: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    hot_rate: np.ndarray = field(default_factory=lambda: np.zeros(0))  # DN per group
    rts: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    rts_amplitude: float = 0.0
    rts_state: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), bool))  # (nints * F, n_rts)
    # cosmic rays, one row per hit: integration, group, flat pixel, frame, amplitude (DN)
    cr: np.ndarray = field(default_factory=lambda: np.zeros((0, 5)))

    @property
    def frames_per_integration(self) -> int:
        return self.ngroups * (self.nframes + self.groupgap) - self.groupgap

    @property
    def empty(self) -> bool:
        return self.pixels.size == 0

    def group_frames(self, g: int) -> range:
        start = g * (self.nframes + self.groupgap)
        return range(start, start + self.nframes)

    def finish(self):
        """Index every component into ``pixels`` (call once after drawing)."""
        self.pixels = np.unique(np.concatenate([self.hot, self.rts, self.cr[:, 2].astype(np.int64)]))
        self._hot_pos = np.searchsorted(self.pixels, self.hot)
        self._rts_pos = np.searchsorted(self.pixels, self.rts)
        self._cr_pos = np.searchsorted(self.pixels, self.cr[:, 2].astype(np.int64))
        self._hot_per_frame = self.hot_rate / (self.nframes + self.groupgap)
        return self

    def add(self, it: int, i: int) -> np.ndarray:
        """DN added to each of ``pixels`` in frame ``i`` of integration ``it`` (float64)."""
        out = np.zeros(self.pixels.size)
        out[self._hot_pos] += self._hot_per_frame * (i + 1)
        if self.rts.size:
            out[self._rts_pos] += self.rts_amplitude * self.rts_state[it * self.frames_per_integration + i]
        if self.cr.size:
            hit = (self.cr[:, 0] == it) & (self.cr[:, 3] <= i)
            out += np.bincount(self._cr_pos[hit], weights=self.cr[hit, 4], minlength=self.pixels.size)
        return out

    def jump_groups(self) -> np.ndarray:
        """(integration, group, flat pixel) of every cosmic ray after the first group (what a jump
        step can flag: the group in which the jump first appears)."""
        cr = self.cr[self.cr[:, 1] >= 1]
        return cr[:, :3].astype(np.int64)


def draw_defects(spec, active_idx: np.ndarray, nints: int, ngroups: int, nframes: int, groupgap: int,
                 seed: int) -> Defects:
    """Draw the cosmic rays, hot pixels and RTS pixels of ``spec`` on the active pixels."""
    d = Defects(ngroups, nframes, groupgap)
    nframes_int = d.frames_per_integration
    if spec.hot_fraction > 0:
        rng = stream(seed, HOT_STREAM)
        d.hot = bernoulli_pixels(rng, active_idx, spec.hot_fraction)
        d.hot_rate = log_uniform(rng, *spec.hot_rate, d.hot.size)
    if spec.rts_fraction > 0:
        rng = stream(seed, RTS_STREAM)
        d.rts = bernoulli_pixels(rng, active_idx, spec.rts_fraction)
        d.rts_amplitude = float(spec.rts_amplitude)
        n = nints * nframes_int
        flips = rng.random((n, d.rts.size)) < spec.rts_switch
        flips[0] = rng.random(d.rts.size) < 0.5  # the starting level
        d.rts_state = (np.cumsum(flips, axis=0) % 2).astype(bool)
    if spec.cr_rate > 0:
        rng = stream(seed, CR_STREAM)
        rows = []
        for it in range(nints):
            for g in range(ngroups):
                pix = bernoulli_pixels(rng, active_idx, spec.cr_rate)
                last = g * (nframes + groupgap) + nframes - 1  # the group's last read frame
                first = 0 if g == 0 else last - nframes - groupgap + 1
                frame = rng.integers(first, last + 1, pix.size)
                amp = log_uniform(rng, *spec.cr_amplitude, pix.size)
                rows.append(np.column_stack([np.full(pix.size, it), np.full(pix.size, g), pix, frame, amp]))
        d.cr = np.concatenate(rows) if rows else d.cr
    return d.finish()


def defect_lists(d: Defects, shape: tuple[int, int], sat_group: dict) -> dict:
    """Compact truth lists ([y, x, ...] rows) of the injected defects.

    ``sat_group`` maps a flat pixel to its first saturated group in integration 0 (absent: never).
    """
    ny, nx = shape

    def yx(flat):
        y, x = np.unravel_index(np.asarray(flat, np.int64), (ny, nx))
        return [int(v) for v in y], [int(v) for v in x]

    hy, hx = yx(d.hot)
    ry, rx = yx(d.rts)
    cy, cx = yx(d.cr[:, 2])
    switches = (np.count_nonzero(np.diff(d.rts_state, axis=0), axis=0) if d.rts_state.shape[0] > 1
                else np.zeros(d.rts.size, int))
    return {
        "hot_pixels": [[y, x, round(float(r), 3), int(sat_group.get(int(f), -1))]
                       for y, x, r, f in zip(hy, hx, d.hot_rate, d.hot)],
        "rts_pixels": [[y, x, d.rts_amplitude, int(s)] for y, x, s in zip(ry, rx, switches)],
        "cosmic_rays": [[int(it), int(g), y, x, round(float(a), 3), int(f)]
                        for (it, g, _, f, a), y, x in zip(d.cr, cy, cx)],
    }


DEFECT_COLUMNS = {
    "hot_pixels": "[y, x, dark current DN per group, first saturated group of integration 0 or -1]",
    "rts_pixels": "[y, x, amplitude DN, number of level changes over all frames]",
    "cosmic_rays": "[integration, group, y, x, amplitude DN, frame of arrival]",
    "saturated": "[integration, y, x, first group at the saturation level]",
    "partially_saturated": "[integration, group, y, x]: a frame of the group saturated, the average did not",
    "flagged_pixels": "[y, x, PIXELDQ bits] (reference pixels, flagged REFERENCE_PIXEL, not listed)",
}


# -- the simulated exposure, its DQ and truth ---------------------------------------------------
@dataclass
class Simulation:
    """A simulated exposure: raw counts, its truth, and what the files beside it need.

    ``data`` is uint16 (nints, ngroups, ny, nx) with every defect; :meth:`clean` the same noise
    without them; ``bias`` the per-pixel bias (the superbias; kTC comes on top per integration).
    """

    data: np.ndarray
    truth: dict
    layout: Layout
    bias: np.ndarray
    pixeldq: np.ndarray
    defects: Defects
    clean_at: np.ndarray  # (nints, ngroups, n defect pixels) uint16: the clean values there
    partial_clean: np.ndarray  # [it, g, flat] groups with a saturated frame but an unsaturated average
    partial_defect: np.ndarray  # the same on the defect pixels of the contaminated data
    saturation: float = 65535.0

    def clean(self) -> np.ndarray:
        """The clean twin: the same noise realisation without cosmic rays, hot or RTS pixels."""
        out = self.data.copy()
        if self.defects.pixels.size:
            flat = out.reshape(out.shape[0], out.shape[1], -1)
            flat[:, :, self.defects.pixels] = self.clean_at
        return out

    def saturated(self, clean: bool = False) -> np.ndarray:
        """Bool (nints, ngroups, ny, nx): at the saturation level in this group or an earlier one."""
        data = self.clean() if clean else self.data
        return np.maximum.accumulate(data >= self.saturation, axis=1)

    def partial_rows(self, clean: bool = False) -> np.ndarray:
        """[it, g, flat] of the groups whose average stayed below saturation though a frame reached it."""
        rows = self.partial_clean
        if not clean and self.defects.pixels.size:
            rows = np.concatenate([rows[~np.isin(rows[:, 2], self.defects.pixels)], self.partial_defect])
        return rows

    def groupdq(self, clean: bool = False, flag_jumps: bool = False) -> np.ndarray:
        """GROUPDQ as the saturation step leaves it: SATURATED from the first group at the saturation
        level on, DO_NOT_USE on a group whose average stayed below it although a frame reached it;
        with ``flag_jumps`` JUMP_DET where a cosmic ray first appears (groups after the first)."""
        sat = self.saturated(clean)
        gdq = np.where(sat, np.uint8(SATURATED), np.uint8(0))
        flat = gdq.reshape(gdq.shape[0], gdq.shape[1], -1)
        rows = self.partial_rows(clean)
        flat[rows[:, 0], rows[:, 1], rows[:, 2]] |= np.uint8(DO_NOT_USE)
        if flag_jumps and not clean:
            j = self.defects.jump_groups()
            flat[j[:, 0], j[:, 1], j[:, 2]] |= np.uint8(JUMP_DET)
        return gdq

    def clean_truth(self) -> dict:
        """The truth of the clean twin: the same noise, none of the defects."""
        t = json.loads(json.dumps(self.truth))
        empty = Defects(self.defects.ngroups, self.defects.nframes, self.defects.groupgap).finish()
        t["defects"] = defect_truth(self, empty, clean=True)
        return t


def stack_rows(parts: list) -> np.ndarray:
    return np.concatenate(parts).astype(np.int64) if parts else np.zeros((0, 3), np.int64)


def pixel_dq(spec, refmask: np.ndarray, defects: Defects, active_idx: np.ndarray, seed: int) -> np.ndarray:
    """PIXELDQ: REFERENCE_PIXEL on reference pixels, HOT | DO_NOT_USE on hot pixels of at least
    ``spec.hot_flag_rate``, DO_NOT_USE on a random ``spec.dnu_fraction`` of the active pixels
    (drawn from a stream of their own)."""
    pdq = np.where(refmask, np.uint32(REFERENCE_PIXEL), np.uint32(0))
    pdq.reshape(-1)[defects.hot[defects.hot_rate >= spec.hot_flag_rate]] |= np.uint32(HOT | DO_NOT_USE)
    if spec.dnu_fraction > 0:
        dnu = bernoulli_pixels(stream(seed, FLAG_STREAM), active_idx, spec.dnu_fraction)
        pdq.reshape(-1)[dnu] |= np.uint32(DO_NOT_USE)
    return pdq


def defect_truth(sim: Simulation, defects: Defects, clean: bool) -> dict:
    """Truth lists of the defects, what saturated, and the flagged pixels."""
    sat = sim.saturated(clean)
    it, g, y, x = np.nonzero(sat & ~np.concatenate([np.zeros_like(sat[:, :1]), sat[:, :-1]], axis=1))
    first0 = {int(y_ * sim.layout.nx + x_): int(g_) for i_, g_, y_, x_ in zip(it, g, y, x) if i_ == 0}
    out = defect_lists(defects, (sim.layout.ny, sim.layout.nx), first0)
    out["saturated"] = [[int(a), int(b), int(c), int(e)] for a, e, b, c in zip(it, g, y, x)]
    rows = sim.partial_rows(clean)
    py, px = np.unravel_index(rows[:, 2], (sim.layout.ny, sim.layout.nx))
    out["partially_saturated"] = [[int(a), int(b), int(c), int(e)] for a, b, c, e in zip(rows[:, 0], rows[:, 1], py, px)]
    fy, fx = np.nonzero(sim.pixeldq & ~np.uint32(REFERENCE_PIXEL))
    out["flagged_pixels"] = [[int(a), int(b), int(sim.pixeldq[a, b])] for a, b in zip(fy, fx)]
    out["columns"] = DEFECT_COLUMNS
    return out


def dump_truth(truth: dict) -> str:
    """JSON of a truth dict, indented, with the defect lists one [y, x, ...] row per line."""
    defects = truth.get("defects")
    if not defects:
        return json.dumps(truth, indent=1)
    marks = {}
    short = dict(truth, defects={})
    for k, v in defects.items():
        if isinstance(v, list):
            marks[k] = "[" + ",\n  ".join(json.dumps(row) for row in v) + "]"
            short["defects"][k] = f"@@{k}@@"
        else:
            short["defects"][k] = v
    text = json.dumps(short, indent=1)
    for k, v in marks.items():
        text = text.replace(f'"@@{k}@@"', v)
    return text
