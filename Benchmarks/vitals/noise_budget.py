#!/usr/bin/env python3
"""Where the noise in a face's colour comes from, on a video whose pulse is known.

    .build/release/hh-simulate --out /tmp/v.y4m --duration 30 --skin 6 --camera kiosk-webcam --lux 400
    python3 Benchmarks/vitals/noise_budget.py /tmp/v.y4m

Reads a 4:2:0 Y4M (as hh-simulate writes, limited range) and its truth CSV, and splits what is
left in the face's colour after the camera's changes are fitted out (the scene's brightness
around the face, on frame-to-frame differences, as `ColourRegression` does) into:

* the pixels' own noise, measured, not modelled: the face's skin cells are split like a
  chessboard into two halves whose camera noise is independent; half their difference has the
  noise of the whole face's mean and none of what the halves share (pulse, light, motion);
* what the halves share beyond the pulse: the whole mean's power over that floor, per quarter
  hertz (the "excess"; the pulse's own quarter stands out by it too);
* each cell's power just below the heart-rate band (0.45-0.7 Hz, where there is no pulse)
  against its own high-frequency noise (5-10 Hz): a map of the cells where something other than
  noise moves the colour (edges and features that move with the head);
* and the 10 s windows' SNR (the engine's definition: power within 0.1 Hz of the peak against
  the rest of 42-240 bpm, leaving out the harmonic) of a PBV mix of the fitted colours: for every
  cell, for the cells of least power below the band, for the per-pixel skin mask's mean against
  the mean of all pixels of the cells that stay skin.

The skin mask here is the default `SkinModel` box, not dimmed with the exposure as the kiosk's
is; the cells are 16 px, a cell counted as the face's when over 70% of it is skin on average
and never under 40%. A diagnosis tool (docs/VITALS.md, "Where the noise is"), not the engine.
"""
import argparse

import numpy as np
from scipy import signal

FS = 30
CELL = 16
BLOOD = np.array([0.43, 1.0, 0.69])


def read_y4m(path):
    with open(path, "rb") as f:
        header = f.readline().split()
        width = int(next(h[1:] for h in header if h.startswith(b"W")))
        height = int(next(h[1:] for h in header if h.startswith(b"H")))
        if not any(h.startswith(b"C420") for h in header):
            raise SystemExit(f"{path}: only 4:2:0 Y4M is read")
        luma, chroma = width * height, (width // 2) * (height // 2)
        ys, us, vs = [], [], []
        while f.readline():
            frame = f.read(luma + 2 * chroma)
            if len(frame) < luma + 2 * chroma:
                break
            ys.append(np.frombuffer(frame[:luma], np.uint8).reshape(height, width))
            us.append(np.frombuffer(frame[luma:luma + chroma], np.uint8).reshape(height // 2, width // 2))
            vs.append(np.frombuffer(frame[luma + chroma:], np.uint8).reshape(height // 2, width // 2))
    up = lambda c: np.array(c, np.float32).repeat(2, 1).repeat(2, 2)
    return np.array(ys, np.float32), up(us), up(vs)


def rgb(y, u, v):
    """Limited-range BT.601 to RGB code values."""
    y = 1.164 * (y - 16)
    return np.stack([y + 1.596 * (v - 128), y - 0.392 * (u - 128) - 0.813 * (v - 128), y + 2.017 * (u - 128)], -1)


def skin_mask(y, u, v):
    """The default SkinModel's box in limited-range codes (luma 20-250, Cb 77-127, Cr 133-173, red ≤ 240)."""
    def luma(c):
        return 16 + (c * 219 + 127) // 255

    def chroma(c):
        return 128 + ((c - 128) * 224 + (127 if c >= 128 else -127)) // 255
    return ((y >= luma(20)) & (y <= luma(250)) & (u >= chroma(77)) & (u <= chroma(127))
            & (v >= chroma(133)) & (v <= chroma(173)) & (8 * y + 11 * v <= int((240 + 222.9) * 6.875)))


def relative(x):
    return x / x.mean(0) - 1


def fitted(colours, *regressors):
    """Relative colours with the regressors' relative changes (the scene's brightness, the skin
    pixels' count) fitted out on frame differences."""
    c, r = relative(colours), np.stack([relative(x) for x in regressors], 1)
    beta = np.linalg.lstsq(np.diff(r, axis=0), np.diff(c, axis=0), rcond=None)[0]
    return c - r @ beta


def window_snrs(colours, band):
    """The PBV mix of fitted colours (one band-limited covariance), then each 10 s window's peak."""
    s = signal.sosfiltfilt(band, colours, axis=0).T
    w = np.linalg.solve(s @ s.T / s.shape[1], BLOOD)
    pulse = (w / (BLOOD @ w)) @ s
    out = []
    for start in range(0, len(pulse) - 10 * FS + 1, 5 * FS):
        f, p = signal.periodogram(pulse[start:start + 10 * FS] * np.hanning(10 * FS), FS, nfft=4096)
        inside = (f >= 0.7) & (f <= 4)
        peak = np.argmax(p * inside)
        near = inside & (abs(f - f[peak]) <= 0.1)
        rest = inside & ~near & ~(abs(f - 2 * f[peak]) <= 0.1)
        out.append(f"{f[peak] * 60:.0f} bpm at {10 * np.log10(p[near].sum() / p[rest].sum()):+.1f} dB")
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("video", help="a 4:2:0 Y4M from hh-simulate (its truth CSV beside it)")
    args = parser.parse_args()
    y, u, v = read_y4m(args.video)
    frames, height, width = y.shape
    truth = np.loadtxt(args.video.removesuffix(".y4m") + ".truth.csv", delimiter=",", skiprows=1)[:, 1]
    band = signal.butter(4, [0.7, 4], btype="band", fs=FS, output="sos")

    mask = skin_mask(y, u, v)
    share = mask.reshape(frames, height // CELL, CELL, width // CELL, CELL).mean((2, 4))
    face = (share.mean(0) > 0.7) & (share.min(0) > 0.4)
    pixels = lambda cells: np.kron(cells, np.ones((CELL, CELL), bool))
    lattice = np.zeros((height, width), bool)
    lattice[::8, ::8] = True
    scene = y[:, lattice & ~pixels(share.mean(0) > 0.05)].mean(1)

    def mean_of(cells):
        inside = pixels(cells)
        return rgb(y[:, inside].mean(1), u[:, inside].mean(1), v[:, inside].mean(1))

    rows, columns = np.indices(face.shape)
    white, black = face & ((rows + columns) % 2 == 0), face & ((rows + columns) % 2 == 1)
    a, b = fitted(mean_of(white), scene), fitted(mean_of(black), scene)
    whole, floor = (a + b) / 2, (a - b) / 2
    print(f"{args.video}: {frames} frames, heart rate {truth.min():.0f}-{truth.max():.0f} bpm, {face.sum()} face cells")
    inband = lambda x: signal.sosfiltfilt(band, x, axis=0).std(0) * 100
    print(f"in-band RMS, % of the colour (R, G, B): after the fit {np.round(inband(whole), 4)}, "
          f"the pixels' own noise {np.round(inband(floor), 4)}")
    f, p_whole = signal.welch(whole[:, 1], FS, nperseg=10 * FS)
    _, p_floor = signal.welch(floor[:, 1], FS, nperseg=10 * FS)
    print("green over the pixels' noise, per quarter hertz:")
    for low in np.arange(0.5, 3.0, 0.25):
        q = (f >= low) & (f < low + 0.25)
        print(f"  {low:.2f}-{low + 0.25:.2f} Hz ({low * 60:.0f}-{(low + 0.25) * 60:.0f} bpm): "
              f"{10 * np.log10(p_whole[q].mean() / p_floor[q].mean()):+.1f} dB")

    cells = np.argwhere(face)
    below = np.zeros(len(cells))
    for k, (r, c) in enumerate(cells):
        block = (slice(None), slice(r * CELL, (r + 1) * CELL), slice(c * CELL, (c + 1) * CELL))
        g = fitted(rgb(y[block].mean((1, 2)), u[block].mean((1, 2)), v[block].mean((1, 2))), scene)[:, 1]
        fc, pc = signal.welch(g, FS, nperseg=10 * FS)
        below[k] = 10 * np.log10(pc[(fc >= 0.45) & (fc < 0.7)].mean() / pc[(fc >= 5) & (fc < 10)].mean())
    print("each face cell's power at 0.45-0.7 Hz over its own 5-10 Hz noise, dB:")
    grid = np.full(face.shape, np.nan)
    grid[tuple(cells.T)] = below
    for r in np.where(face.any(1))[0]:
        print("  " + " ".join(" . " if np.isnan(grid[r, c]) else f"{grid[r, c]:3.0f}" for c in np.where(face.any(0))[0]))

    print("10 s windows, every 5 s:")
    for keep in (1.0, 0.8, 0.6):
        kept = np.zeros(face.shape, bool)
        kept[tuple(cells[np.argsort(below)[:int(len(cells) * keep)]].T)] = True
        print(f"  all pixels, {keep:.0%} of the cells (least below the band): {window_snrs(fitted(mean_of(kept), scene), band)}")
    inside = mask & pixels(face)[None]
    count = inside.sum((1, 2))
    masked = rgb(*[(x * inside).sum((1, 2)) / count for x in (y, u, v)])
    print(f"  the skin mask's pixels of the same cells (their count fitted too): "
          f"{window_snrs(fitted(masked, scene, count.astype(float)), band)}")


if __name__ == "__main__":
    main()
