"""Talkers in rooms at a distance from a cheap kiosk microphone, for the voice detector's corpus.

    h = rooms.room_response(rng, distance_m, rt60_s)   # impulse response at 16 kHz
    distance_m, rt60_s = rooms.random_room(rng)        # a training draw
    s = rooms.microphone_settings(rng)                 # a cheap microphone and its ADC chain...
    y = rooms.apply_microphone(s, x)                   # ...applied to a mix
    band = rooms.microphone_band(s, x)                 # ...its linear filters only (to set SNRs)

The room (room_response)
* A random shoebox: small consultation rooms (3-6 x 3-5 x 2.5-3 m) are likelier for short
  reverberation times, waiting rooms (5-12 x 3-8 x 2.7-3.5 m) and corridors (8-12 x 2.4-3.2 m)
  for long ones. The kiosk microphone is 1.2-1.5 m high, the talker's mouth 1.1-1.8 m, both
  at least 0.3 m from every wall, exactly `distance_m` apart; the talker faces the kiosk give
  or take about 20 degrees.
* Walls: the mean absorption comes from the room's volume V, surface S and the target
  reverberation time by Eyring, RT60 = 0.161 V / (-S ln(1 - a)); each of the six surfaces
  gets its own absorption around that mean (same area-weighted mean), as a
  frequency-independent reflection coefficient sqrt(1 - a_i).
* Early part, image-source method (Allen and Berkley): every image within 80 ms of travel
  (enumerated per axis, combined by broadcasting), amplitude = product of its wall reflection
  coefficients / path length, times a mild talker directivity (a blend of omni and cardioid:
  3-8 dB down behind the head, frequency independent), placed with a 16-tap Hann-windowed
  sinc fractional delay. Each reflection also passes a one-pole low-pass (0.15-0.6 dB down
  at 8 kHz, nothing much below 2 kHz): images are summed per reflection order and the orders
  are filtered Horner-wise, so an image of order k has been low-passed k times.
  A specular shoebox is not diffuse (images along its most reflective directions outlast
  Eyring's estimate), so the images' mean wall energy gain is fitted against time over
  10-80 ms and the difference from the target decay is applied as a uniform exponential,
  like air absorption (limited to half the target rate either way). All images add with
  the same sign, which biases the response with a DC component no mouth radiates: a 60 Hz
  second-order high-pass removes it (Allen and Berkley's high-pass).
* Late part, from 80 ms: Gaussian noise split into octave bands (125 Hz ... 8 kHz, raised-
  cosine crossovers summing to one), each band with an exponential decay. The decay at
  1 kHz and below is the requested RT60; above, each reflection's extra high-frequency loss
  (the same one-pole low-pass) at the mean reflection rate c S / 4V shortens it, so high
  frequencies die faster, consistently with the early part. Each band's level is set to the
  early part's energy in that band over the last 25 ms before the join, and the two cross-fade
  over 15 ms (equal power). The tail noise has the same 60 Hz high-pass. The response ends
  60 dB below the join level (t = 80 ms + RT60), with a 20 ms fade-out.
  So "RT60" is the reverberation time at 1 kHz and below; a broadband (white) Schroeder
  T20 of the response comes out some 10-20% shorter in live rooms, high frequencies dying
  faster.
* Normalisation: the direct path is a (fractionally delayed) unit impulse times 1 / distance,
  i.e. amplitude 1 at 1 m, arriving at distance / 343 s (a band-limited impulse: its peak
  sample is lower when the delay falls between samples). So farther talkers are quieter and,
  the reverberant field being about the same everywhere, relatively more reverberant: in a
  dry room the direct-to-reverberant ratio is a few dB positive at 0.5 m, in a live room
  well below zero at 2-3 m.
About 3-9 ms a response on one core (the image count grows as 1 / volume).

The microphone (microphone_settings, apply_microphone): a gentle random tilt (high shelf, -4..+5 dB) and often a
resonance (peak or dip at 1.5-6 kHz); a high-pass (capsule, coupling capacitor) at
80-300 Hz; sometimes an automatic gain control (level follower with fast attack and slow
release, gain limited to +-6..12 dB around the loud parts' level, so the noise floor swells
in pauses and drops at onsets); sometimes a preamp/ADC driven hot, hard or (asymmetric tanh)
soft clipping with the threshold 1-8 dB below the signal's 99.9th percentile; then the band
edge at 3.4-7.5 kHz (a steep Butterworth, as an ADC's decimation filter or a narrow-band
codec). Around 1 kHz the filters have about unity gain and the clipping drive is undone, so
the level stays about that of the input (speech: -1.4 dB on average); the caller sets levels.
microphone_settings(rng) draws one microphone, apply_microphone(settings, x) applies it, and
microphone_band(settings, x) applies its linear filters only.

Everything comes from the numpy Generator passed in: the same seed gives the same output.
"""
import numpy as np
from scipy import signal

RATE = 16000
SPEED_OF_SOUND = 343.0
EARLY_S = 0.080  # image method up to here, late tail after
CROSSFADE_S = 0.015  # image part fades out / tail fades in over the last 15 ms before EARLY_S
MATCH_S = 0.025  # tail level matched to the image part over the last 25 ms before EARLY_S
WALL_MARGIN = 0.3
SINC_HALF = 8  # fractional delay: 2 * SINC_HALF taps
BAND_CENTRES = 125.0 * 2.0 ** np.arange(7)  # 125 Hz ... 8 kHz
# Images all add with the same sign, which gives the early part a large DC bias a mouth cannot
# radiate: a high-pass removes it (Allen and Berkley's, here a second-order Butterworth).
HIGHPASS = signal.butter(2, 60, "highpass", fs=RATE, output="sos")


# The room ----------------------------------------------------------------------------------

def random_room(rng: np.random.Generator) -> tuple[float, float]:
    """A (distance_m, rt60_s) drawn for training: distance 0.5-2 m (some 0.3 and some up to 3 m),
    rt60 from small treated consultation rooms (0.2-0.4 s) to hard waiting rooms and corridors (0.6-1.0 s)."""
    u = rng.random()
    if u < 0.12:
        distance = rng.uniform(0.3, 0.5)
    elif u < 0.85:
        distance = rng.uniform(0.5, 2.0)
    else:
        distance = rng.uniform(2.0, 3.0)
    v = rng.random()
    if v < 0.45:
        rt60 = rng.uniform(0.2, 0.4)  # treated consultation rooms, offices
    elif v < 0.65:
        rt60 = rng.uniform(0.4, 0.6)
    else:
        rt60 = rng.uniform(0.6, 1.0)  # hard waiting rooms, corridors
    return float(distance), float(rt60)


def room_response(rng: np.random.Generator, distance_m: float, rt60_s: float) -> np.ndarray:
    """Impulse response from a talker distance_m (0.3-3 m) from the microphone in a random shoebox room whose
    reverberation time is about rt60_s (0.15-1.0 s). Normalised so the direct path has amplitude 1 at 1 m (1/r law),
    so farther talkers are quieter and relatively more reverberant."""
    distance = float(np.clip(distance_m, 0.2, 10.0))  # built for 0.3-3 m and 0.15-1 s; works wider
    rt60 = float(np.clip(rt60_s, 0.1, 3.0))
    dims = _room_dimensions(rng, distance, rt60)
    mic, talker = _positions(rng, dims, distance)
    facing = _facing(rng, talker, mic)
    betas = _reflection_coefficients(rng, dims, rt60)
    directivity = rng.uniform(0.3, 0.6)  # 0: omni; behind the head 1 - directivity
    loss_db = rng.uniform(0.15, 0.6)  # extra loss per reflection at 8 kHz
    g = 10 ** (-loss_db / 20)
    pole = (1 - g) / (1 + g)  # one-pole low-pass (1 - a) / (1 - a z^-1), gain g at Nyquist

    early = _image_method(dims, mic, talker, facing, betas, directivity, pole, rt60)
    volume = float(np.prod(dims))
    surface = 2 * (dims[0] * dims[1] + dims[0] * dims[2] + dims[1] * dims[2])
    reflections_per_s = SPEED_OF_SOUND * surface / (4 * volume)
    return _with_tail(rng, early, rt60, pole, reflections_per_s)


def _room_dimensions(rng, distance, rt60):
    large = rng.random() < np.clip((rt60 - 0.2) / 0.6, 0.1, 0.9)
    if not large:
        length = rng.uniform(3.0, 6.0)
        width = rng.uniform(3.0, min(length, 5.0))
        height = rng.uniform(2.5, 3.0)
    elif rng.random() < 0.2:  # corridor
        length = rng.uniform(8.0, 12.0)
        width = rng.uniform(2.4, 3.2)
        height = rng.uniform(2.5, 3.2)
    else:
        length = rng.uniform(5.0, 12.0)
        width = rng.uniform(3.0, min(length, 8.0))
        height = rng.uniform(2.7, 3.5)
    # Room for the talker: the usable floor's longer side at least the distance plus a little.
    need = distance + 0.25 + 2 * WALL_MARGIN
    if length < need:
        length = need
    return np.array([length, width, height])


def _positions(rng, dims, distance):
    """Microphone and talker, both WALL_MARGIN inside the room, `distance` apart."""
    mic_z = rng.uniform(1.2, 1.5)
    low, high = max(1.1, mic_z - 0.9 * distance), min(1.8, mic_z + 0.9 * distance)
    talker_z = rng.uniform(low, high)
    horizontal = np.sqrt(max(distance ** 2 - (talker_z - mic_z) ** 2, 0.0))
    lo, hi = WALL_MARGIN, dims[:2] - WALL_MARGIN
    for _ in range(20):
        xy = rng.uniform(lo, hi, size=(256, 2))
        angle = rng.uniform(0, 2 * np.pi, 256)
        other = xy + horizontal * np.stack([np.cos(angle), np.sin(angle)], axis=1)
        ok = np.nonzero(np.all((other >= lo) & (other <= hi), axis=1))[0]
        if len(ok):
            i = ok[0]
            return np.array([*xy[i], mic_z]), np.array([*other[i], talker_z])
    # Fallback (not reached with the dimensions above): along the room's length, centred.
    x0 = (dims[0] - horizontal) / 2
    return np.array([x0, dims[1] / 2, mic_z]), np.array([x0 + horizontal, dims[1] / 2, talker_z])


def _facing(rng, talker, mic):
    """Unit vector the talker faces: toward the microphone, give or take ~20 degrees of yaw."""
    to_mic = mic - talker
    yaw = rng.normal(0, np.radians(20))
    c, s = np.cos(yaw), np.sin(yaw)
    v = np.array([c * to_mic[0] - s * to_mic[1], s * to_mic[0] + c * to_mic[1], to_mic[2]])
    return v / np.linalg.norm(v)


def _reflection_coefficients(rng, dims, rt60):
    """(3, 2) reflection coefficients: walls x=0, x=Lx; y=0, y=Ly; floor, ceiling (Eyring mean)."""
    lx, ly, lz = dims
    volume = lx * ly * lz
    areas = np.array([[ly * lz] * 2, [lx * lz] * 2, [lx * ly] * 2])
    surface = areas.sum()
    mean = 1 - np.exp(-0.161 * volume / (surface * rt60))
    alpha = np.clip(mean * rng.uniform(0.6, 1.4, size=(3, 2)), 0.01, 0.98)
    alpha = np.clip(alpha * mean * surface / (alpha * areas).sum(), 0.01, 0.98)
    return np.sqrt(1 - alpha)


def _axis_images(source, mic, length, reach, beta_low, beta_high):
    """Image coordinates along one axis: offset from the microphone, wall gain, reflections, mirror sign."""
    n_max = int(np.ceil((reach + length) / (2 * length))) + 1
    n = np.tile(np.arange(-n_max, n_max + 1), 2)
    p = np.repeat([0, 1], 2 * n_max + 1)
    sign = 1 - 2 * p
    offset = sign * source + 2 * n * length - mic
    low, high = np.abs(n - p), np.abs(n)
    keep = np.abs(offset) <= reach
    gain = beta_low ** low * beta_high ** high
    return offset[keep], gain[keep], (low + high)[keep], sign[keep]


def _image_method(dims, mic, talker, facing, betas, directivity, pole, rt60):
    """Early response up to EARLY_S (plus the sinc's reach), direct path 1/distance."""
    reach = SPEED_OF_SOUND * (EARLY_S + 0.001)
    axes = [_axis_images(talker[i], mic[i], dims[i], reach, betas[i, 0], betas[i, 1]) for i in range(3)]
    (dx, gx, ox, sx), (dy, gy, oy, sy), (dz, gz, oz, sz) = axes
    dist2 = dx[:, None, None] ** 2 + dy[None, :, None] ** 2 + dz[None, None, :] ** 2
    i, j, k = np.nonzero(dist2 <= reach ** 2)
    dist = np.sqrt(dist2[i, j, k])
    order = ox[i] + oy[j] + oz[k]
    # Direction the talker emitted this ray in: image-to-microphone, un-mirrored.
    cos_emit = -(sx[i] * dx[i] * facing[0] + sy[j] * dy[j] * facing[1] + sz[k] * dz[k] * facing[2]) / dist
    direct_distance = np.linalg.norm(mic - talker)
    cos_direct = np.dot(mic - talker, facing) / direct_distance

    def pattern(c):
        return 1 - directivity / 2 + directivity / 2 * c

    walls = gx[i] * gy[j] * gz[k]
    amplitude = walls / dist * pattern(cos_emit) / pattern(cos_direct) * _decay_correction(walls, dist, rt60)

    delay = dist / SPEED_OF_SOUND * RATE
    base = np.floor(delay).astype(np.int64)
    taps = np.arange(-SINC_HALF + 1, SINC_HALF + 1)
    x = taps[None, :] - (delay - base)[:, None]
    kernel = np.sinc(x) * 0.5 * (1 + np.cos(np.pi * x / SINC_HALF))
    kernel /= kernel.sum(axis=1, keepdims=True)
    index = base[:, None] + taps[None, :]

    length = int(np.ceil((EARLY_S + 0.001) * RATE)) + 2 * SINC_HALF
    orders = int(order.max()) + 1
    flat = (order[:, None] * length + index).ravel()
    rows = np.bincount(flat, weights=(amplitude[:, None] * kernel).ravel(),
                       minlength=orders * length)[: orders * length].reshape(orders, length)
    # Horner: sum_k L^k rows[k], L the per-reflection low-pass.
    b, a = [1 - pole], [1, -pole]
    acc = rows[-1]
    for k in range(orders - 2, -1, -1):
        acc = signal.lfilter(b, a, acc) + rows[k]
    return signal.sosfilt(HIGHPASS, acc)


def _decay_correction(walls, dist, rt60):
    """Amplitude factor making the images' energy decay the target's, like uniform air absorption.

    A specular shoebox is not diffuse: the images along its most reflective directions outlast
    Eyring's estimate. The mean wall energy gain of the images, in 10 ms bins from 10 ms to
    EARLY_S, gives their decay rate; the difference from -60 dB per RT60 (limited to half of it
    either way) is applied as exp(-k t) from the direct path on."""
    t = dist / SPEED_OF_SOUND
    t0 = t.min()
    edges = np.arange(0.010, EARLY_S + 1e-9, 0.010)
    which = np.digitize(t, edges) - 1
    inside = (which >= 0) & (which < len(edges) - 1)
    counts = np.bincount(which[inside], minlength=len(edges) - 1)
    power = np.bincount(which[inside], weights=walls[inside] ** 2, minlength=len(edges) - 1)
    used = counts > 0
    if used.sum() < 3:
        return np.ones_like(t)
    centres = (edges[:-1] + edges[1:]) / 2
    level = 10 * np.log10(power[used] / counts[used] + 1e-30)
    slope = np.polyfit(centres[used], level, 1, w=np.sqrt(counts[used]))[0]  # dB/s
    target = -60 / rt60
    extra = np.clip(target - slope, target / 2, -target / 2)
    return 10 ** (extra * (t - t0) / 20)


def _band_masks(freqs):
    """Octave-band masks on `freqs` (raised cosine in log frequency), summing to one."""
    octaves = np.log2(np.maximum(freqs, 1.0) / BAND_CENTRES[0])
    masks = []
    for b in range(len(BAND_CENTRES)):
        u = octaves - b
        m = np.where(np.abs(u) < 1, np.cos(np.pi / 2 * u) ** 2, 0.0)
        if b == 0:
            m[u <= 0] = 1.0
        if b == len(BAND_CENTRES) - 1:
            m[u >= 0] = 1.0
        masks.append(m)
    return np.array(masks)


def _with_tail(rng, early, rt60, pole, reflections_per_s):
    """Early response joined to an exponentially decaying noise tail, band by band."""
    join = int(round(EARLY_S * RATE))
    fade = int(round(CROSSFADE_S * RATE))
    match = int(round(MATCH_S * RATE))
    # Decay per band: RT60 at low and mid frequencies, faster where each reflection loses more.
    w = 2 * np.pi * BAND_CENTRES / RATE
    per_reflection_db = -20 * np.log10(np.abs((1 - pole) / (1 - pole * np.exp(-1j * w))))
    band_rt60 = 60 / (60 / rt60 + per_reflection_db * reflections_per_s)

    # Early energy per band just before the join.
    n_fft = 2 * len(early)
    spectrum = np.fft.rfft(early, n_fft)
    masks = _band_masks(np.fft.rfftfreq(n_fft, 1 / RATE))
    early_bands = np.fft.irfft(spectrum[None, :] * masks, n_fft, axis=1)[:, join - match: join]
    band_power = (early_bands ** 2).mean(axis=1)
    t_ref = join - match / 2  # samples

    total = int(np.ceil((EARLY_S + rt60) * RATE))
    start = join - fade
    n_tail = total - start
    n_fft = 1 << int(np.ceil(np.log2(n_tail)))
    noise = np.fft.rfft(rng.standard_normal(n_tail), n_fft)
    freqs = np.fft.rfftfreq(n_fft, 1 / RATE)
    masks = _band_masks(freqs) * np.abs(signal.sosfreqz(HIGHPASS, worN=freqs, fs=RATE)[1])
    bands = np.fft.irfft(noise[None, :] * masks, n_fft, axis=1)[:, :n_tail]
    bands /= np.sqrt((bands ** 2).mean(axis=1, keepdims=True)) + 1e-20
    t = (np.arange(start, total) - t_ref) / RATE
    envelopes = np.sqrt(band_power)[:, None] * np.exp(-3 * np.log(10) * t[None, :] / band_rt60[:, None])
    tail = (bands * envelopes).sum(axis=0)

    response = np.zeros(total)
    ramp = np.sin(np.pi / 2 * (np.arange(fade) + 0.5) / fade)
    response[:start] = early[:start]
    response[start:join] = early[start:join] * ramp[::-1] + tail[:fade] * ramp
    response[join:] = tail[fade:]
    end_fade = int(0.02 * RATE)
    response[-end_fade:] *= np.cos(np.pi / 2 * (np.arange(end_fade) + 0.5) / end_fade)
    return response


# The microphone ----------------------------------------------------------------------------

def microphone_settings(rng):
    """The random choices of one microphone (a dict; `apply_microphone` uses it)."""
    s = {
        "tilt_hz": rng.uniform(1000, 3000), "tilt_db": rng.uniform(-4, 5),
        "resonance": rng.random() < 0.7,
        "resonance_hz": rng.uniform(1500, 6000), "resonance_db": rng.uniform(-4, 8),
        "resonance_q": rng.uniform(1.0, 4.0),
        "highpass_hz": float(np.exp(rng.uniform(np.log(80), np.log(300)))),
        "highpass_order": int(rng.integers(1, 3)),
        "lowpass_hz": rng.uniform(3400, 3800) if rng.random() < 0.25 else rng.uniform(3800, 7500),
        "lowpass_order": int(rng.integers(4, 9)),
        "agc": rng.random() < 0.4,
        "agc_range_db": rng.uniform(6, 12), "agc_attack_s": rng.uniform(0.01, 0.05),
        "agc_release_s": rng.uniform(0.4, 2.0), "agc_offset_db": rng.uniform(0, 6),
        "clip": rng.random() < 0.25,
        "clip_over_db": rng.uniform(1, 8), "clip_soft": rng.random() < 0.5,
        "clip_bias": rng.uniform(0.0, 0.3),
    }
    return s


def _biquad(kind, f0, gain_db, q):
    """RBJ cookbook peaking or high-shelf biquad as second-order sections."""
    A = 10 ** (gain_db / 40)
    w = 2 * np.pi * f0 / RATE
    alpha = np.sin(w) / (2 * q)
    c = np.cos(w)
    if kind == "peak":
        b = [1 + alpha * A, -2 * c, 1 - alpha * A]
        a = [1 + alpha / A, -2 * c, 1 - alpha / A]
    else:  # high shelf
        r = 2 * np.sqrt(A) * alpha
        b = [A * ((A + 1) + (A - 1) * c + r), -2 * A * ((A - 1) + (A + 1) * c), A * ((A + 1) + (A - 1) * c - r)]
        a = [(A + 1) - (A - 1) * c + r, 2 * ((A - 1) - (A + 1) * c), (A + 1) - (A - 1) * c - r]
    return signal.tf2sos(np.array(b) / a[0], np.array(a) / a[0])


def apply_microphone(s, x):
    """The microphone `s` (from microphone_settings) applied to the 16 kHz signal x."""
    if len(x) == 0:
        return x.copy()
    y = signal.sosfilt(_capsule(s), x)
    if s["agc"]:
        y = _agc(y, s["agc_range_db"], s["agc_attack_s"], s["agc_release_s"], s["agc_offset_db"])
    if s["clip"]:
        peak = np.percentile(np.abs(y), 99.9)
        if peak > 0:
            drive = 10 ** (s["clip_over_db"] / 20) / peak
            if s["clip_soft"]:
                bias = s["clip_bias"]
                y = (np.tanh(y * drive + bias) - np.tanh(bias)) / drive
            else:
                y = np.clip(y * drive, -1, 1) / drive
    y = signal.sosfilt(_band_edge(s), y)
    return y


def microphone_band(s, x):
    """Only the linear filters of microphone `s` (tilt, resonance, high-pass, band edge) applied
    to x: what the microphone lets through of one part of a mix, to set SNRs as they are heard."""
    if len(x) == 0:
        return x.copy()
    return signal.sosfilt(np.concatenate([_capsule(s), _band_edge(s)]), x)


def _capsule(s):
    """The capsule's tilt, resonance and high-pass as second-order sections."""
    sos = [_biquad("shelf", s["tilt_hz"], s["tilt_db"], 0.707)]
    if s["resonance"]:
        sos.append(_biquad("peak", s["resonance_hz"], s["resonance_db"], s["resonance_q"]))
    sos.append(signal.butter(s["highpass_order"], s["highpass_hz"], "highpass", fs=RATE, output="sos"))
    return np.concatenate(sos)


def _band_edge(s):
    """The ADC's band edge (a steep low-pass) as second-order sections."""
    return signal.butter(s["lowpass_order"], s["lowpass_hz"], "lowpass", fs=RATE, output="sos")


def _agc(y, range_db, attack_s, release_s, offset_db):
    """Gain that follows the level (fast attack, slow release) toward the loud parts' level, within +-range_db."""
    frame = RATE // 100
    n = int(np.ceil(len(y) / frame))
    padded = np.concatenate([y, np.zeros(n * frame - len(y))])
    level_db = 10 * np.log10((padded.reshape(n, frame) ** 2).mean(axis=1) + 1e-20)
    target = np.percentile(level_db, 95) - offset_db
    up = 1 - np.exp(-0.01 / attack_s)
    down = 1 - np.exp(-0.01 / release_s)
    followed = np.empty(n)
    current = target
    for i, value in enumerate(level_db.tolist()):
        current += (up if value > current else down) * (value - current)
        followed[i] = current
    gain_db = np.clip(target - followed, -range_db, range_db)
    centres = np.arange(n) * frame + frame / 2
    return y * 10 ** (np.interp(np.arange(len(y)), centres, gain_db) / 20)
