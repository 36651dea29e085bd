"""Non-speech sounds a clinic kiosk microphone hears, to teach the voice detector not to fire on them.

    make_noise(kind, rng, n, speech_pool) -> n float64 samples at RATE (16 kHz), any scale

The caller rescales the result to the mean power it wants (corpus.py: for a signal-to-noise
ratio). Everything is drawn from `rng` (same generator state, same samples) and randomised per
call: levels, rates, spectra, timing, rooms. Every kind except white, pink and brown lies on a
quiet stationary room-tone bed (pink-ish noise of random tilt and bandwidth, 30-45 dB below the
loudest events, 18-35 dB for keyboard and mouse), so no stretch is digital silence. Sounds in
the room go through a small synthetic reverberation (`_impulse_response`: direct sound, a few
early reflections and a diffuse tail whose highs die sooner).

The kinds and what they model:
* white, pink, brown: stationary Gaussian noise with power spectrum ~ f^0, f^-1, f^-2, nothing
  below 20 Hz.
* ventilation: air-conditioning and equipment fans: low-passed airflow noise (random corner
  300-2000 Hz), sometimes grille hiss, the fan's blade-pass tone and harmonics with a slow
  wobble, sometimes a motor whine, 50/60 Hz mains hum with harmonics, slow swells.
* traffic: the street through a window: rumble below 300 Hz whose density drifts, passing cars,
  trucks, buses and motorbikes (3-8 s swells of tyre noise and Doppler-shifted engine
  harmonics), occasional horns and distant sirens (wail, yelp, hi-lo).
* keyboard: typing at a desk nearby (membrane, mechanical or laptop keyboards): bursts of
  1-6 s at 3-10 keys/s with irregular rhythm, each key a press click and a release click
  40-120 ms later (sharp broadband onset, 1-4 decaying case/keycap resonances at 1-8 kHz, a thud
  below 500 Hz), louder space bar (with stabiliser rattle) and enter, pauses, single clicks.
* mouse: button clicks (down/up 60-150 ms apart, double clicks, drags), scroll-wheel ratchets
  (trains of tiny clicks at 20-60 Hz for 0.2-1 s), faint friction of the mouse moving.
* doors: handle rattle, hinge creak, latch clicks, slams (low thump, broadband crack, frame
  ring, reverberant tail 0.3-0.8 s), soft closes, automatic sliding doors (motor whine).
* footsteps: people walking by at 1.6-2.2 steps/s, heel and toe impacts of shoes, heels (sharp
  clicks) or sneakers (soft, sometimes a squeak), approaching, receding or passing.
* coughs: 1-3 bursts of 150-400 ms (explosive glottal onset, turbulent noise through 2-3 broad
  resonances at 300-3000 Hz, decaying, sometimes voiced), throat clearing, sneezes.
* paper: handling forms and clipboards: rustling (crackle of many tiny impulses on fast random
  amplitude modulation, high-passed at 1-2 kHz), page turns of 0.3-1.5 s, crumpling, pen
  scratching.
* ringtones: phones: two-tone and trilled electronic ringers with harmonics in classic
  cadences (2 s on / 4 s off and others), mechanical bells, melodic polyphonic ringtones (FM or
  additive notes with envelopes), chirping desk phones; each stops after a few rings.
* beeps: barcode scanners, pulse-oximeter monitors, monitor alarms (3- and 5-pulse bursts),
  microwaves and keypads, card readers and door chimes, thermometers: short pure or
  square-ish tones of 500-4000 Hz, 50-500 ms, single and repeated patterns.
* music: background music from a speaker: styles ambient, piano, pop (kick, snare, hi-hat,
  bass), strings, and songs with a sung-like vowel melody with 5-6 Hz vibrato; 60-160 bpm,
  chord progressions, melodies; reverberated. Sung music is non-speech for our labels.
* tv: a television across the room: 1-3 voices from `speech_pool` taking turns (each voice a
  resampled, pitch- and formant-shifted talker), broadcast compression, music underneath,
  sometimes applause or audience laughter; a small loudspeaker (band-pass ~200-5000 Hz, slight
  distortion) far away (mostly reverberant energy).
* babble: a waiting room or café: 4-12 distant talkers from `speech_pool` in conversations of
  1-3, overlapping, levels varying, far (low direct-to-reverberant ratio); sometimes the
  clatter of cups, plates and cutlery.
"""
import numpy as np
from scipy import fft as sfft
from scipy import signal

RATE = 16000
NOISE_KINDS = ["white", "pink", "brown", "ventilation", "traffic", "keyboard", "mouse", "doors",
               "footsteps", "coughs", "paper", "ringtones", "beeps", "music", "tv", "babble"]

_NYQ = RATE / 2
_FMAX = 7600.0  # highest partial or resonance we synthesise
_FRAME = 160    # 10 ms
_TWO_PI = 2 * np.pi


def make_noise(kind: str, rng: np.random.Generator, n: int, speech_pool: list) -> np.ndarray:
    """`n` samples of noise `kind` at RATE, float64, unit RMS; deterministic given `rng`.

    `speech_pool` (16 kHz mono utterances) feeds babble and tv; the other kinds ignore it.
    Raises ValueError for an unknown kind, or for babble and tv with an empty pool.
    """
    if kind not in _GENERATORS:
        raise ValueError(f"unknown noise kind {kind!r}; expected one of {NOISE_KINDS}")
    n = int(n)
    if n <= 0:
        return np.zeros(0)
    if kind in ("white", "pink", "brown"):
        out = _coloured(rng, n, {"white": 0.0, "pink": 1.0, "brown": 2.0}[kind])
    else:
        out = _GENERATORS[kind](rng, n, speech_pool)
        out = _with_bed(rng, out, _BED_BELOW.get(kind, (30.0, 45.0)))
    out = np.nan_to_num(np.asarray(out, dtype=np.float64))
    rms = _rms(out)
    return out / rms if rms > 0 else out


# Basic tools ---------------------------------------------------------------------------------

def _db(x):
    return 10.0 ** (np.asarray(x) / 20.0)


def _rms(x):
    return float(np.sqrt(np.mean(np.square(x)))) if len(x) else 0.0


def _unit(x):
    r = _rms(x)
    return x / r if r > 0 else x


def _add(out, at, x):
    """out[at:at+len(x)] += x, clipped to out."""
    at = int(at)
    s, e = max(at, 0), min(at + len(x), len(out))
    if e > s:
        out[s:e] += x[s - at:e - at]


def _hz(freq):
    return float(np.clip(freq, 5.0, _NYQ * 0.97))


def _filter(x, btype, freq, order=2):
    if btype == "band":
        lo, hi = _hz(freq[0]), _hz(freq[1])
        if hi <= lo * 1.05:
            hi = min(lo * 1.2, _NYQ * 0.97)
        freq = [lo, hi]
    else:
        freq = _hz(freq)
    sos = signal.butter(int(order), freq, btype=btype, fs=RATE, output="sos")
    return signal.sosfilt(sos, x)


def _peak(x, freq, q):
    """A resonance (unit gain at `freq`)."""
    b, a = signal.iirpeak(_hz(freq), max(q, 0.3), fs=RATE)
    return signal.lfilter(b, a, x)


def _one_pole_lowpass(x, corner):
    a = np.exp(-_TWO_PI * _hz(corner) / RATE)
    return signal.lfilter([1 - a], [1, -a], x)


def _shaped(rng, n, gain):
    """Gaussian noise whose amplitude spectrum is gain(f) (f in Hz), by FFT."""
    m = sfft.next_fast_len(max(n, 16), real=True)
    f = np.fft.rfftfreq(m, 1.0 / RATE)
    spectrum = sfft.rfft(rng.standard_normal(m)) * gain(f)
    return sfft.irfft(spectrum, m)[:n]


def _coloured(rng, n, exponent):
    """Power spectrum ~ f^-exponent, zero below 20 Hz."""
    def gain(f):
        g = np.zeros_like(f)
        keep = f >= 20.0
        g[keep] = f[keep] ** (-exponent / 2.0)
        return g
    return _shaped(rng, n, gain)


def _smooth_random(rng, n, hz):
    """A smooth random curve (about unit variance) that changes about `hz` times a second."""
    step = max(1.0, RATE / max(hz, 1e-3))
    knots = int(np.ceil(n / step)) + 2
    values = rng.standard_normal(knots)
    # cosine blend between knots on a grid of 16 points per knot, then linear to every sample
    fine = np.arange(16 * (knots - 1) + 1) / 16.0
    i = np.minimum(fine.astype(np.int64), knots - 2)
    w = (1 - np.cos(np.pi * (fine - i))) / 2
    curve = values[i] * (1 - w) + values[i + 1] * w
    return np.interp(np.arange(n) / step, fine, curve)


def _partials(phase, fmax, amps):
    """sum_k amps[k-1] sin(k phase), leaving out partials above _FMAX (fmax: highest fundamental)."""
    out = np.zeros_like(phase)
    s1 = np.sin(phase)
    c2 = 2 * np.cos(phase)
    prev, cur = np.zeros_like(phase), s1
    for k, a in enumerate(amps, 1):
        if k * fmax >= _FMAX:
            break
        if a:
            out += a * cur
        prev, cur = cur, c2 * cur - prev  # sin((k+1)x) = 2 cos x sin(kx) - sin((k-1)x)
    return out


def _phase(freq, start=0.0):
    """Running phase of a tone whose frequency (Hz, array) varies."""
    return start + _TWO_PI * np.cumsum(freq) / RATE


def _modes(length, freqs, taus, amps, phases):
    """Sum of exponentially decaying sinusoids (struck resonances)."""
    t = np.arange(length) / RATE
    freqs = np.minimum(np.asarray(freqs, dtype=float), _FMAX)
    env = np.exp(-t[None, :] / np.asarray(taus, dtype=float)[:, None])
    osc = np.sin(_TWO_PI * freqs[:, None] * t[None, :] + np.asarray(phases, dtype=float)[:, None])
    return (np.asarray(amps, dtype=float)[:, None] * env * osc).sum(axis=0)


def _burst(rng, length, tau):
    """Decaying white-noise burst (a broadband crack or onset)."""
    return rng.standard_normal(length) * np.exp(-np.arange(length) / max(tau * RATE, 1.0))


def _fade(x, rise, fall):
    """Raised-cosine fade in over `rise` s and out over `fall` s, in place."""
    for length, at_end in ((int(rise * RATE), False), (int(fall * RATE), True)):
        length = min(length, len(x))
        if length > 1:
            ramp = (1 - np.cos(np.linspace(0, np.pi, length))) / 2
            if at_end:
                x[len(x) - length:] *= ramp[::-1]
            else:
                x[:length] *= ramp
    return x


def _event_times(rng, n, per_second, minimum=1, lead=0.0, tail=0.5):
    """Sorted start samples of a Poisson number of events (at least `minimum`)."""
    duration = n / RATE
    count = max(minimum, int(rng.poisson(per_second * duration)))
    starts = rng.uniform(-lead, max(duration - tail, 0.05), count)
    return np.sort((starts * RATE).astype(np.int64))


def _midi_hz(m):
    return 440.0 * 2.0 ** ((np.asarray(m, dtype=float) - 69) / 12)


# Rooms, loudspeakers and the bed ----------------------------------------------------------

def _impulse_response(rng, rt60, drr_db, direct=True):
    """Direct sound (1), 2-7 early reflections and a diffuse exponential tail whose energy is
    `drr_db` below the direct sound; the highs decay 1.5-3 times faster than the lows. Without
    `direct`: reflections and tail only, scaled to unit energy."""
    rt60 = float(np.clip(rt60, 0.1, 2.0))
    length = int(rt60 * 1.05 * RATE)
    t = np.arange(length) / RATE
    noise = rng.standard_normal(length)
    low = _filter(noise, "low", rng.uniform(1200, 4000), 1)
    high = noise - low
    tail = low * np.exp(-6.91 * t / rt60) + high * np.exp(-6.91 * t / (rt60 / rng.uniform(1.5, 3.0)))
    predelay = rng.uniform(0.003, 0.02)
    tail *= np.clip((t - predelay) / rng.uniform(0.005, 0.025), 0, 1)
    ir = tail / np.sqrt(np.sum(tail ** 2) + 1e-20) * _db(-drr_db)
    for _ in range(int(rng.integers(2, 8))):
        at = int(rng.uniform(0.002, predelay + 0.02) * RATE)
        if at < length:
            ir[at] += rng.uniform(0.15, 0.6) * rng.choice([-1.0, 1.0])
    if not direct:
        return ir / np.sqrt(np.sum(ir ** 2) + 1e-20)
    ir[0] += 1.0
    return ir


def _reverb(rng, x, rt60, drr_db):
    if len(x) == 0:
        return x
    return signal.fftconvolve(x, _impulse_response(rng, rt60, drr_db))[:len(x)]


def _loudspeaker(rng, x, low=(150.0, 350.0), high=(4000.0, 7000.0), drive=(0.4, 2.0)):
    """A small loudspeaker: band edges, a cone resonance and soft clipping."""
    y = _filter(x, "high", rng.uniform(*low), int(rng.integers(2, 5)))
    y = _filter(y, "low", rng.uniform(*high), int(rng.integers(2, 5)))
    y = y + rng.uniform(0.3, 1.2) * _peak(y, rng.uniform(low[1] * 1.3, 1500), rng.uniform(1.0, 4.0))
    scale = np.percentile(np.abs(y), 99.5) if len(y) > 100 else np.max(np.abs(y))
    if scale > 0:
        d = rng.uniform(*drive)
        y = np.tanh(d * y / scale) * scale / d
    return y


def _room_tone(rng, n):
    """A quiet room: pink-ish noise of random tilt and bandwidth, sometimes a faint hum."""
    tilt = rng.uniform(0.7, 1.8)
    hp = rng.uniform(20, 80)
    lp = rng.uniform(2500, 7500)
    order = rng.uniform(1, 3)

    def gain(f):
        f = np.maximum(f, 1.0)
        return f ** (-tilt / 2) * (f / hp) ** 2 / (1 + (f / hp) ** 2) / np.sqrt(1 + (f / lp) ** (2 * order))
    tone = _unit(_shaped(rng, n, gain))
    if rng.random() < 0.3:
        t = np.arange(n) / RATE
        mains = rng.choice([50.0, 60.0])
        hum = sum(rng.uniform(0.2, 1) * np.sin(_TWO_PI * mains * k * t + rng.uniform(0, 6.3)) for k in (1, 2, 3))
        tone += _unit(hum) * _db(rng.uniform(-20, -6))
    tone *= 1 + 0.1 * _smooth_random(rng, n, rng.uniform(0.05, 0.5))
    return _unit(tone)


def _with_bed(rng, x, below_db):
    """x plus a room-tone bed `below_db` (range) under the mean power of x's loudest 1% of 10 ms frames."""
    n = len(x)
    frames = n // _FRAME
    if frames >= 1:
        power = np.mean(x[:frames * _FRAME].reshape(frames, _FRAME) ** 2, axis=1)
        top = max(1, frames // 100)
        ref = float(np.mean(np.partition(power, frames - top)[frames - top:]))
    else:
        ref = float(np.mean(x ** 2))
    bed = _room_tone(rng, n)
    if ref <= 0:
        return bed
    return x + bed * np.sqrt(ref * 10 ** (-rng.uniform(*below_db) / 10))


# Ventilation and traffic ------------------------------------------------------------------

def _ventilation(rng, n, pool):
    t = np.arange(n) / RATE
    corner, order, tilt = rng.uniform(300, 2000), rng.uniform(1, 3), rng.uniform(0, 0.8)

    def airflow(f):
        f = np.maximum(f, 1.0)
        return f ** (-tilt / 2) * (f / 25) ** 2 / (1 + (f / 25) ** 2) / np.sqrt(1 + (f / corner) ** (2 * order))
    out = _unit(_shaped(rng, n, airflow))
    if rng.random() < 0.4:  # hiss of air through a grille
        hiss = _filter(rng.standard_normal(n), "band", (rng.uniform(1500, 3000), rng.uniform(4000, 7500)), 2)
        out += _unit(hiss) * _db(rng.uniform(-28, -12))
    if rng.random() < 0.85:  # fan: blade-pass tone and harmonics, slowly wobbling
        bpf = rng.uniform(40, 300)
        wobble = 1 + rng.uniform(0.002, 0.015) * _smooth_random(rng, n, rng.uniform(0.1, 1.0))
        count = int(rng.integers(2, 8))
        amps = rng.uniform(0.2, 1.0, count) / np.arange(1, count + 1) ** rng.uniform(0.3, 1.5)
        tone = _partials(_phase(bpf * wobble, rng.uniform(0, 6.3)), bpf * 1.03, amps)
        tone *= 1 + rng.uniform(0.05, 0.3) * _smooth_random(rng, n, rng.uniform(0.2, 2.0))
        out += _unit(tone) * _db(rng.uniform(-25, -3))
    if rng.random() < 0.3:  # motor whine
        whine = rng.uniform(400, 2500) * (1 + 0.003 * _smooth_random(rng, n, 0.3))
        out += _unit(np.sin(_phase(whine))) * _db(rng.uniform(-35, -18))
    if rng.random() < 0.6:  # mains hum, the even harmonics often strongest (transformers)
        mains = rng.choice([50.0, 60.0])
        amps = rng.uniform(0.05, 1.0, 8) / np.arange(1, 9) ** rng.uniform(0.3, 1.2)
        amps[1] *= rng.uniform(1, 4)
        hum = sum(a * np.sin(_TWO_PI * mains * k * t + rng.uniform(0, 6.3)) for k, a in enumerate(amps, 1))
        out += _unit(hum) * _db(rng.uniform(-30, -6))
    out *= np.exp(rng.uniform(0.05, 0.3) * _smooth_random(rng, n, rng.uniform(0.03, 0.3)))  # swells
    return out


def _traffic(rng, n, pool):
    duration = n / RATE
    tilt, corner = rng.uniform(1.0, 2.0), rng.uniform(80, 300)

    def rumble_gain(f):
        f = np.maximum(f, 1.0)
        return f ** (-tilt / 2) * (f / 20) ** 2 / (1 + (f / 20) ** 2) / (1 + (f / corner) ** 2)
    out = _unit(_shaped(rng, n, rumble_gain)) * np.exp(0.3 * _smooth_random(rng, n, 0.1)) * _db(rng.uniform(-8, 4))
    for start in _event_times(rng, n, rng.uniform(4, 20) / 60, lead=4.0, tail=-2.0):
        kind = rng.choice(["car", "car", "car", "truck", "bus", "motorbike"])
        length_s = rng.uniform(3, 8) * (1.3 if kind in ("truck", "bus") else 1.0)
        length = int(length_s * RATE)
        speed = rng.uniform(8, 20)
        tt = np.arange(length) / RATE - length_s / 2
        edge_db = rng.uniform(12, 25)
        closest = speed * length_s / 2 / np.sqrt(10 ** (edge_db / 10) - 1)
        along = speed * tt
        dist = np.sqrt(closest ** 2 + along ** 2)
        doppler = 343.0 / (343.0 + speed * along / dist)
        f0 = {"car": rng.uniform(25, 70), "truck": rng.uniform(15, 40), "bus": rng.uniform(18, 45),
              "motorbike": rng.uniform(50, 140)}[kind]
        f0 = f0 * (1 + 0.04 * _smooth_random(rng, length, 0.5)) * doppler
        count = int(rng.integers(5, 12))
        amps = rng.uniform(0.3, 1.0, count) / np.arange(1, count + 1) ** rng.uniform(0.5, 1.3)
        engine = _unit(_partials(_phase(f0, rng.uniform(0, 6.3)), f0.max(), amps))
        tyre = _filter(_filter(rng.standard_normal(length), "low", rng.uniform(500, 2500), 2), "high", 60, 1)
        vehicle = (engine * _db(rng.uniform(-12, 0)) + _unit(tyre)) * (closest / dist)
        vehicle = _fade(vehicle, 0.3, 0.3)
        level = rng.uniform(-4, 8) + (4 if kind in ("truck", "bus") else 0)
        _add(out, start, vehicle * _db(level))
    if rng.random() < 0.3:  # horns
        for start in _event_times(rng, n, 0.03):
            f1 = rng.uniform(350, 700)
            freqs = [f1] if rng.random() < 0.4 else [f1, f1 * rng.uniform(1.15, 1.3)]
            at = start
            for _ in range(int(rng.integers(1, 4))):
                length = int(rng.uniform(0.15, 1.0) * RATE)
                amps = 1 / np.arange(1, 16) ** rng.uniform(0.5, 1.0)
                toot = sum(_partials(_phase(np.full(length, f), rng.uniform(0, 6.3)), f, amps) for f in freqs)
                _add(out, at, _fade(_unit(toot), 0.01, 0.03) * _db(rng.uniform(0, 10)))
                at += length + int(rng.uniform(0.08, 0.3) * RATE)
    if rng.random() < 0.25:  # a distant siren
        length = int(min(rng.uniform(6, 15), duration + 2) * RATE)
        t = np.arange(length) / RATE
        style = rng.choice(["wail", "yelp", "hilo"])
        lo, hi = rng.uniform(500, 800), rng.uniform(1100, 1600)
        if style == "hilo":
            period = rng.uniform(0.9, 1.6)
            square = (np.floor(t / period * 2) % 2)
            f = lo + (hi * 0.75 - lo) * _one_pole_lowpass(square, 30)
        else:
            period = rng.uniform(3, 6) if style == "wail" else rng.uniform(0.15, 0.4)
            f = lo + (hi - lo) * (0.5 - 0.5 * np.cos(_TWO_PI * t / period))
        siren = _partials(_phase(f), hi, 1 / np.arange(1, 8) ** 1.2)
        siren = _filter(siren, "low", rng.uniform(1000, 3000), 2) * np.sin(np.pi * t / t[-1]) ** 2
        _add(out, int(rng.uniform(-3, duration) * RATE), _unit(siren) * _db(rng.uniform(-12, 0)))
    if rng.random() < 0.7:  # heard through a window
        out = _filter(out, "low", rng.uniform(1000, 5000), int(rng.integers(1, 3)))
    return _reverb(rng, out, rng.uniform(0.2, 0.6), rng.uniform(0, 10))


# Desk sounds -----------------------------------------------------------------------------

def _keyboard(rng, n, pool):
    out = np.zeros(n)
    duration = n / RATE
    style = rng.choice(["membrane", "mechanical", "laptop"], p=[0.45, 0.25, 0.3])
    band = {"membrane": (1000, 5500), "mechanical": (1500, 7800), "laptop": (1200, 7000)}[style]
    taus = {"membrane": (0.001, 0.005), "mechanical": (0.002, 0.012), "laptop": (0.001, 0.006)}[style]
    modes = rng.uniform(*band, int(rng.integers(3, 8)))
    thud_f, thud_level = rng.uniform(90, 420), rng.uniform(0.2, 0.9)
    length = int(0.06 * RATE)
    t = np.arange(length) / RATE

    def click(gain, thud=1.0, shift=1.0):
        k = int(rng.integers(1, 5))
        x = _modes(length, rng.choice(modes, k) * rng.uniform(0.92, 1.08, k) * shift, rng.uniform(*taus, k),
                   rng.uniform(0.3, 1.0, k), rng.uniform(0, _TWO_PI, k))
        m = int(rng.integers(3, 16))  # 0.2-1 ms broadband onset
        x[:m] += _burst(rng, m, m / 3 / RATE) * rng.uniform(0.5, 2.0)
        f = thud_f * shift * rng.uniform(0.85, 1.15)
        x += (thud_level * thud * rng.uniform(0.5, 1.5) * np.sin(_TWO_PI * f * t)
              * np.exp(-t / rng.uniform(0.004, 0.02)))
        return gain * x

    def key(at, gain, kind):
        if kind == "space":
            press = click(gain * rng.uniform(1.4, 2.5), 2.0, 0.75)
            _add(press, int(rng.uniform(0.003, 0.012) * RATE), click(gain * rng.uniform(0.2, 0.5), 0.5, 0.8))
            hold, release = rng.uniform(0.06, 0.15), click(gain * rng.uniform(0.4, 0.9), 1.5, 0.75)
        elif kind == "enter":
            press = click(gain * rng.uniform(1.3, 2.2), 1.6, 0.85)
            hold, release = rng.uniform(0.05, 0.14), click(gain * rng.uniform(0.3, 0.8), 1.2, 0.85)
        else:
            press = click(gain)
            hold, release = rng.uniform(0.04, 0.12), click(gain * rng.uniform(0.2, 0.7), 0.6)
        _add(out, at * RATE, press)
        _add(out, (at + hold) * RATE, release)

    at = rng.uniform(-1.0, 1.5)
    while at < duration:
        rate, shape = rng.uniform(3, 10), rng.uniform(1.5, 6)
        end = at + rng.uniform(1, 6)
        burst_gain = rng.lognormal(0, 0.3)
        letters, word = 0, int(rng.integers(2, 9))
        while at < end and at < duration:
            if letters >= word:
                kind, letters, word = "space", 0, int(rng.integers(2, 9))
            elif rng.random() < 0.02:
                kind = "enter"
            else:
                kind, letters = "letter", letters + 1
            key(at, burst_gain * rng.lognormal(0, 0.35), kind)
            at += rng.gamma(shape, 1 / (rate * shape))
        if rng.random() < 0.3:
            key(at + rng.uniform(0.1, 0.4), burst_gain, "enter")
        pause = rng.uniform(0.3, 2.0) if rng.random() < 0.6 else rng.uniform(2.0, 6.0)
        for _ in range(int(rng.poisson(pause * 0.3))):  # a lone key, a shortcut
            key(at + rng.uniform(0.2, pause), rng.lognormal(0, 0.4), "letter" if rng.random() < 0.8 else "space")
        at += pause
    if rng.random() < 0.4:
        out = _filter(out, "low", rng.uniform(2500, 7000), 1)
    return _reverb(rng, out, rng.uniform(0.2, 0.6), rng.uniform(0, 15))


def _mouse(rng, n, pool):
    out = np.zeros(n)
    duration = n / RATE
    button = rng.uniform(2000, 7800, int(rng.integers(2, 5)))
    button_tau = (0.0004, rng.uniform(0.001, 0.003))
    wheel = rng.uniform(1000, 6000, int(rng.integers(1, 4)))
    length = int(0.02 * RATE)
    t = np.arange(length) / RATE
    thud_f = rng.uniform(150, 450)

    def click(gain, modes, tau, thud):
        k = min(len(modes), int(rng.integers(1, 4)))
        x = _modes(length, rng.choice(modes, k, replace=False) * rng.uniform(0.95, 1.05, k), rng.uniform(*tau, k),
                   rng.uniform(0.4, 1.0, k), rng.uniform(0, _TWO_PI, k))
        m = int(rng.integers(2, 8))
        x[:m] += _burst(rng, m, m / 3 / RATE) * rng.uniform(0.5, 1.5)
        x += thud * np.sin(_TWO_PI * thud_f * t) * np.exp(-t / rng.uniform(0.002, 0.005))
        return gain * x

    def press(at, gain):
        _add(out, at * RATE, click(gain, button, button_tau, rng.uniform(0.1, 0.4)))
        up = at + rng.uniform(0.06, 0.15)
        _add(out, up * RATE, click(gain * rng.uniform(0.4, 0.9), button, button_tau, rng.uniform(0.05, 0.2)))
        return up

    mean_gap = rng.uniform(0.3, 3.0)
    moving = np.zeros(n)
    at = rng.uniform(0, 1.5)
    while at < duration:
        if rng.random() < 0.5:  # the mouse moves before the action
            move = rng.uniform(0.2, 1.5)
            seg = _fade(np.ones(int(move * RATE)), 0.05, 0.1) * rng.uniform(0.3, 1.0)
            _add(moving, (at - move) * RATE, seg)
        action = rng.choice(["click", "double", "scroll", "drag"], p=[0.45, 0.15, 0.3, 0.1])
        gain = rng.lognormal(0, 0.3)
        if action == "click":
            at = press(at, gain)
        elif action == "double":
            press(at, gain)
            at = press(at + rng.uniform(0.12, 0.25), gain * rng.uniform(0.8, 1.1))
        elif action == "drag":
            _add(out, at * RATE, click(gain, button, button_tau, 0.3))
            drag = rng.uniform(0.3, 2.0)
            _add(moving, at * RATE, _fade(np.ones(int(drag * RATE)), 0.05, 0.1))
            at += drag
            _add(out, at * RATE, click(gain * 0.7, button, button_tau, 0.15))
        else:
            for _ in range(int(rng.integers(1, 5))):  # flicks of the wheel
                span, rate = rng.uniform(0.2, 1.0), rng.uniform(20, 60)
                tick_gain = gain * rng.uniform(0.1, 0.35)
                end = at + span
                while at < end:
                    u = 1 - (end - at) / span
                    _add(out, at * RATE, click(tick_gain * rng.uniform(0.7, 1.3), wheel, (0.0003, 0.0015), 0.05))
                    speed = np.clip(rate * (0.7 + 0.5 * np.sin(np.pi * u)), 20, 60)  # the wheel speeds up, slows
                    at += rng.uniform(0.9, 1.1) / speed
                at += rng.uniform(0.1, 0.4)
        at += rng.exponential(mean_gap) + 0.1
    if rng.random() < 0.6:  # friction on the pad
        friction = _filter(rng.standard_normal(n), "band", (rng.uniform(200, 600), rng.uniform(1500, 4000)), 2)
        out += _unit(friction) * _one_pole_lowpass(np.minimum(moving, 1.0), 20) * _db(rng.uniform(-50, -35))
    return _reverb(rng, out, rng.uniform(0.15, 0.5), rng.uniform(3, 15))


# Doors, footsteps ------------------------------------------------------------------------

def _doors(rng, n, pool):
    out = np.zeros(n)
    for start in _event_times(rng, n, rng.uniform(0.08, 0.3), lead=1.0, tail=1.0):
        ep = np.zeros(int(5.0 * RATE))
        at = int(rng.uniform(0, 0.1) * RATE)
        metal = rng.uniform(1500, 6000, 4)
        if rng.random() < 0.2:  # an automatic sliding door: motor and gear whine, a soft stop
            span = int(rng.uniform(1.5, 3.5) * RATE)
            tt = np.arange(span) / RATE
            whine_f = rng.uniform(200, 800) * (1 + 0.15 * np.sin(np.pi * tt / tt[-1]))
            motor = _partials(_phase(whine_f), whine_f.max(), rng.uniform(0.2, 1, 5) / np.arange(1, 6))
            rumble = _filter(rng.standard_normal(span), "band", (80, rng.uniform(400, 1500)), 2)
            _add(ep, at, _fade(_unit(motor) * 0.3 + _unit(rumble), 0.3, 0.2) * _db(rng.uniform(-18, -8)))
            at += span
            _add(ep, at, _modes(int(0.3 * RATE), [rng.uniform(60, 150), rng.uniform(200, 500)], [0.05, 0.03],
                                [0.3, 0.15], [0, 0]))
        else:
            if rng.random() < 0.6:  # handle rattle
                for _ in range(int(rng.integers(3, 12))):
                    k = 2
                    _add(ep, at + int(rng.uniform(0, 0.35) * RATE),
                         _modes(int(0.1 * RATE), rng.choice(metal, k) * rng.uniform(0.97, 1.03, k),
                                rng.uniform(0.005, 0.03, k), rng.uniform(0.05, 0.25, k), rng.uniform(0, 6.3, k)))
                at += int(rng.uniform(0.2, 0.45) * RATE)
            _add(ep, at, _modes(int(0.15 * RATE), metal[:3] * rng.uniform(0.95, 1.05, 3), rng.uniform(0.01, 0.04, 3),
                                rng.uniform(0.2, 0.6, 3), rng.uniform(0, 6.3, 3)))  # latch released
            at += int(rng.uniform(0.2, 0.6) * RATE)
            if rng.random() < 0.25:  # hinge creak: stick-slip pulses through a resonance
                span = int(rng.uniform(0.3, 1.2) * RATE)
                tt = np.arange(span) / RATE
                f = rng.uniform(200, 900) * (1 + 0.3 * _smooth_random(rng, span, 6) * 0.5 + 0.2 * tt / tt[-1])
                saw = np.mod(_phase(f) / _TWO_PI, 1.0) - 0.5
                creak = _peak(saw, rng.uniform(800, 2500), rng.uniform(2, 6))
                creak *= np.abs(1 + 0.5 * _smooth_random(rng, span, 15))
                _add(ep, at, _fade(_unit(creak), 0.05, 0.1) * _db(rng.uniform(-20, -8)))
                at += span
            whoosh = int(rng.uniform(0.3, 1.0) * RATE)  # the air the door pushes
            _add(ep, at, _fade(_unit(_filter(rng.standard_normal(whoosh), "low", rng.uniform(200, 700), 2)),
                               0.2, 0.1) * _db(rng.uniform(-30, -18)))
            at += whoosh
            span = int(0.8 * RATE)
            if rng.random() < 0.45:  # slam: thump, crack, latch, frame ring
                thump = _modes(span, [rng.uniform(40, 120), rng.uniform(150, 300)], rng.uniform(0.04, 0.15, 2),
                               [1.0, rng.uniform(0.2, 0.6)], [0, 0])
                crack = np.zeros(span)
                crack_len = int(rng.uniform(0.005, 0.02) * RATE)
                crack[:crack_len] = _burst(rng, crack_len, crack_len / 3 / RATE) * rng.uniform(0.5, 1.5)
                ring = _modes(span, rng.uniform(200, 900, 3), rng.uniform(0.05, 0.2, 3), rng.uniform(0.05, 0.2, 3),
                              rng.uniform(0, 6.3, 3))
                _add(ep, at, (thump + crack + ring) * rng.uniform(2, 5))
                _add(ep, at + int(rng.uniform(-0.005, 0.01) * RATE),
                     _modes(int(0.1 * RATE), metal[1:] * rng.uniform(0.95, 1.05, 3), rng.uniform(0.01, 0.04, 3),
                            rng.uniform(0.3, 0.8, 3), rng.uniform(0, 6.3, 3)))
            else:  # soft close: a gentle bump and the latch, click-click
                _add(ep, at, _modes(span, [rng.uniform(60, 150)], [rng.uniform(0.02, 0.06)],
                                    [rng.uniform(0.1, 0.3)], [0]))
                for _ in range(int(rng.integers(1, 3))):
                    _add(ep, at, _modes(int(0.1 * RATE), metal[1:] * rng.uniform(0.95, 1.05, 3),
                                        rng.uniform(0.008, 0.03, 3), rng.uniform(0.2, 0.6, 3), rng.uniform(0, 6.3, 3)))
                    at += int(rng.uniform(0.04, 0.12) * RATE)
        ep = _reverb(rng, ep, rng.uniform(0.3, 0.8), rng.uniform(-5, 10))
        _add(out, start, ep * _db(rng.uniform(-10, 4)))
    return out


def _footsteps(rng, n, pool):
    out = np.zeros(n)
    for start in _event_times(rng, n, rng.uniform(0.08, 0.25), lead=4.0, tail=1.0):
        span = rng.uniform(3, 12)
        rate = rng.uniform(1.6, 2.2)
        shoe = rng.choice(["shoes", "heels", "sneakers"], p=[0.5, 0.25, 0.25])
        path = rng.choice(["approach", "recede", "pass", "steady"])
        near, far = rng.uniform(0.8, 2.5), rng.uniform(6, 15)
        d0, d1 = {"approach": (far, near), "recede": (near, far), "pass": (far, far),
                  "steady": (rng.uniform(2, 6),) * 2}[path]
        walk = np.zeros(int((span + 1.5) * RATE))
        scuff_lp = signal.butter(2, _hz(rng.uniform(800, 3000)), fs=RATE, output="sos")
        heel_modes = rng.uniform(1500, 6000, 4)
        thud_f = rng.uniform(60, 200)
        floor_bright = rng.uniform(0.3, 1.0)
        at, step = 0.0, 0
        while at < span:
            u = at / span
            dist = d0 + (d1 - d0) * u if path != "pass" else near + (far - near) * abs(2 * u - 1)
            gain = 1.0 / dist * (0.85 + 0.15 * (step % 2)) * rng.lognormal(0, 0.15)
            length = int(0.25 * RATE)
            t = np.arange(length) / RATE
            thud = np.sin(_TWO_PI * thud_f * rng.uniform(0.9, 1.1) * t) * np.exp(-t / rng.uniform(0.015, 0.04))
            if shoe == "heels":
                k = 3
                heel = _modes(length, rng.choice(heel_modes, k) * rng.uniform(0.95, 1.05, k),
                              rng.uniform(0.003, 0.015, k), rng.uniform(0.5, 1.0, k), rng.uniform(0, 6.3, k))
                heel[:8] += _burst(rng, 8, 0.0002) * 2
                hit = heel * rng.uniform(1.0, 2.0) + 0.3 * thud
                toe_gain, toe_delay = rng.uniform(0.15, 0.4), rng.uniform(0.06, 0.12)
                toe = _modes(length, rng.choice(heel_modes, 2), rng.uniform(0.002, 0.008, 2), [0.5, 0.3],
                             rng.uniform(0, 6.3, 2))
            else:
                scuff = signal.sosfilt(scuff_lp, _burst(rng, length, rng.uniform(0.01, 0.04)))
                soft = 0.4 if shoe == "sneakers" else 1.0
                hit = soft * (thud + floor_bright * 0.4 * scuff / (np.max(np.abs(scuff)) + 1e-9))
                toe_gain, toe_delay = rng.uniform(0.3, 0.6), rng.uniform(0.04, 0.12)
                toe = 0.2 * thud + floor_bright * 1.5 * signal.sosfilt(
                    scuff_lp, _burst(rng, length, rng.uniform(0.005, 0.02)))
                if shoe == "sneakers" and rng.random() < 0.1:  # squeak
                    sq_len = int(rng.uniform(0.05, 0.15) * RATE)
                    f = np.linspace(rng.uniform(1000, 2000), rng.uniform(1500, 3000), sq_len)
                    _add(hit, 0, _fade(np.sin(_phase(f)), 0.01, 0.02) * rng.uniform(0.2, 0.5))
            _add(walk, at * RATE, hit * gain)
            _add(walk, (at + toe_delay) * RATE, toe * toe_gain * gain)
            at += 1 / rate * (1 + 0.03 * rng.standard_normal())
            step += 1
        walk = _reverb(rng, walk, rng.uniform(0.4, 1.2), rng.uniform(-5, 8))
        _add(out, start, walk * _db(rng.uniform(-6, 6)))
    return out


# People: coughs ----------------------------------------------------------------------------

def _resonate(x, freqs, bws, gains):
    return sum(g * _peak(x, f, f / bw) for f, bw, g in zip(freqs, bws, gains))


def _coughs(rng, n, pool):
    out = np.zeros(n)
    for start in _event_times(rng, n, rng.uniform(0.08, 0.3), lead=0.5, tail=0.8):
        formants = np.sort([rng.uniform(300, 900), rng.uniform(900, 1800), rng.uniform(1800, 3000)])
        bws = rng.uniform(150, 600, 3)
        f0 = rng.uniform(90, 250)
        ep = np.zeros(int(3.5 * RATE))
        what = rng.choice(["cough", "clear", "sneeze"], p=[0.7, 0.2, 0.1])
        at = 0
        if what == "cough":
            if rng.random() < 0.3:  # a gasp before
                gasp = int(rng.uniform(0.15, 0.35) * RATE)
                g = _filter(rng.standard_normal(gasp), "high", rng.uniform(800, 2000), 2)
                _add(ep, at, _fade(g, 0.1, 0.05) * _db(rng.uniform(-24, -14)))
                at += gasp + int(rng.uniform(0.05, 0.2) * RATE)
            level = 1.0
            for _ in range(int(rng.integers(1, 4))):
                length = int(rng.uniform(0.15, 0.4) * RATE)
                t = np.arange(length) / RATE
                env = (np.minimum(1, t / rng.uniform(0.001, 0.003))
                       * np.exp(-t / (length / RATE * rng.uniform(0.25, 0.5))))
                body = _resonate(rng.standard_normal(length), formants * rng.uniform(0.9, 1.1, 3), bws,
                                 [1.0, rng.uniform(0.4, 1.0), rng.uniform(0.2, 0.7)])
                body = _unit(body + 0.15 * _unit(rng.standard_normal(length)))
                onset_len = int(rng.uniform(0.005, 0.02) * RATE)
                onset = np.zeros(length)
                onset[:onset_len] = _burst(rng, onset_len, onset_len / 3 / RATE) * rng.uniform(1.5, 3.0)
                burst = body * env + onset
                if rng.random() < 0.4:  # voiced
                    pitch = f0 * (1 + 0.05 * _smooth_random(rng, length, 20))
                    pulses = _partials(_phase(pitch), pitch.max(), 1 / np.arange(1, 40) ** 1.1)
                    voiced = _unit(_resonate(pulses, formants, bws, [1.0, 0.6, 0.3]))
                    burst += voiced * env * np.minimum(1, t / rng.uniform(0.03, 0.1)) * rng.uniform(0.3, 0.8)
                _add(ep, at, _fade(burst, 0, 0.02) * level)
                at += length + int(rng.uniform(0.08, 0.3) * RATE)
                level *= rng.uniform(0.5, 0.9)
        elif what == "clear":
            for _ in range(int(rng.integers(1, 3))):
                length = int(rng.uniform(0.3, 0.8) * RATE)
                t = np.arange(length) / RATE
                rattle = 1 + 0.8 * np.sin(_TWO_PI * rng.uniform(20, 40) * t + 0.3 * _smooth_random(rng, length, 10))
                noise = _resonate(rng.standard_normal(length), formants[:2] * rng.uniform(0.6, 0.9), bws[:2], [1, 0.5])
                pitch = rng.uniform(80, 150) * (1 + 0.08 * _smooth_random(rng, length, 15))
                pulses = _partials(_phase(pitch), pitch.max(), 1 / np.arange(1, 40))
                voiced = _resonate(pulses, formants, bws, [1, .5, .2])
                x = (_unit(noise) + rng.uniform(0.3, 1.0) * _unit(voiced)) * rattle ** 2
                _add(ep, at, _fade(x, 0.03, 0.08) * rng.uniform(0.4, 0.8))
                at += length + int(rng.uniform(0.05, 0.25) * RATE)
        else:  # sneeze: a voiced, breathy "ah" swelling, then the explosive "choo"
            length = int(rng.uniform(0.3, 0.8) * RATE)
            t = np.arange(length) / RATE
            pitch = f0 * (1 + 0.3 * t / t[-1])
            voiced = _resonate(_partials(_phase(pitch), pitch.max(), 1 / np.arange(1, 40)), [750, 1200, 2600],
                               [150, 200, 300], [1, .6, .3])
            breath = _filter(rng.standard_normal(length), "band", (500, 4000), 2)
            ah = (_unit(voiced) * rng.uniform(0.3, 0.8) + _unit(breath)) * (t / t[-1]) ** 2
            _add(ep, at, ah * 0.3)
            at += length + int(rng.uniform(0.0, 0.08) * RATE)
            length = int(rng.uniform(0.25, 0.45) * RATE)
            t = np.arange(length) / RATE
            choo = _resonate(rng.standard_normal(length), [rng.uniform(2000, 3500), rng.uniform(4000, 6500)],
                             [1500, 2000], [1.0, 0.8]) + 0.3 * rng.standard_normal(length)
            choo = _unit(choo) * np.minimum(1, t / 0.003) * np.exp(-t / rng.uniform(0.06, 0.15))
            _add(ep, at, choo * rng.uniform(2, 3))
        ep = _reverb(rng, ep, rng.uniform(0.3, 0.9), rng.uniform(-6, 10))
        _add(out, start, ep * _db(rng.uniform(-10, 4)))
    return out


# Paper -------------------------------------------------------------------------------------

def _crackle(rng, length, density, env, sharp):
    """Many tiny impulses (Poisson, heavy-tailed sizes), each a very short noise blip."""
    imp = np.zeros(length)
    count = int(rng.poisson(density * length / RATE))
    if count:
        pos = rng.integers(0, length, count)
        amp = np.minimum(rng.pareto(rng.uniform(1.3, 2.5), count) + 0.2, 30.0) * rng.choice([-1.0, 1.0], count)
        np.add.at(imp, pos, amp * env[pos])
    k = max(2, int(sharp * RATE))
    kernel = rng.standard_normal(3 * k) * np.exp(-np.arange(3 * k) / k)
    return np.convolve(imp, kernel)[:length]


def _rustle(rng, length, density, env):
    """Rustling: noise on fast random amplitude modulation plus crackle, high-passed at 1-2 kHz."""
    am = np.exp(rng.uniform(0.6, 1.3) * _unit(_one_pole_lowpass(rng.standard_normal(length), rng.uniform(30, 150))))
    body = _unit(rng.standard_normal(length) * am) * env * rng.uniform(0.2, 0.8)
    cr = _crackle(rng, length, density, env, rng.uniform(0.0001, 0.0008))
    cr = cr / (np.sqrt(np.mean(cr ** 2)) + 1e-12) * np.sqrt(np.mean(env ** 2))
    x = body + cr
    x = _filter(x, "high", rng.uniform(1000, 2000), int(rng.integers(2, 5)))
    return x


def _paper(rng, n, pool):
    out = np.zeros(n)
    for start in _event_times(rng, n, rng.uniform(0.15, 0.5), lead=0.5, tail=0.5):
        what = rng.choice(["rustle", "page", "crumple"], p=[0.45, 0.4, 0.15])
        if what == "page":  # lift, turn, flap down
            length = int(rng.uniform(0.3, 1.5) * RATE)
            u = np.arange(length) / length
            peak = rng.uniform(0.3, 0.7)
            env = np.where(u < peak, u / peak, (1 - u) / (1 - peak)) ** rng.uniform(0.5, 2.0)
            x = _rustle(rng, length, rng.uniform(300, 2000), env)
            flap_len = int(rng.uniform(0.08, 0.25) * RATE)
            flap = _fade(_filter(rng.standard_normal(flap_len), "low", rng.uniform(300, 900), 2), 0.04, 0.03)
            _add(x, length - flap_len, _unit(flap) * rng.uniform(0.1, 0.5))
        else:
            span = rng.uniform(0.5, 4.0) if what == "rustle" else rng.uniform(1.0, 3.0)
            length = int(span * RATE)
            env = np.maximum(0, 0.6 + 0.6 * _smooth_random(rng, length, rng.uniform(2, 8)))
            env = _fade(env, 0.05, 0.1)
            density = rng.uniform(200, 1500) if what == "rustle" else rng.uniform(1500, 5000)
            x = _rustle(rng, length, density, env) * (1.5 if what == "crumple" else 1.0)
        x = _reverb(rng, x, rng.uniform(0.2, 0.6), rng.uniform(0, 12))
        _add(out, start, x * _db(rng.uniform(-8, 4)))
    if rng.random() < 0.35:  # a pen scratching on a clipboard
        at = rng.uniform(0, n / RATE)
        end = at + rng.uniform(1, 6)
        band = (rng.uniform(1500, 3000), rng.uniform(4500, 7500))
        level = _db(rng.uniform(-14, -4))
        while at < end:
            length = int(rng.uniform(0.08, 0.4) * RATE)
            stroke = _filter(rng.standard_normal(length), "band", band, 2)
            stroke *= np.abs(1 + 0.7 * _smooth_random(rng, length, rng.uniform(15, 40)))
            _add(out, at * RATE, _fade(_unit(stroke), 0.01, 0.02) * level * rng.lognormal(0, 0.3))
            at += length / RATE + rng.uniform(0.02, 0.3)
    return out


# Tones: ringtones, beeps -------------------------------------------------------------------

def _square_ish(rng):
    """Partial amplitudes from a pure tone to a square-ish wave."""
    if rng.random() < 0.35:
        return np.array([1.0])
    count = int(rng.integers(3, 16))
    k = np.arange(1, count + 1)
    amps = 1 / k ** rng.uniform(0.8, 1.6)
    if rng.random() < 0.7:
        amps[1::2] *= rng.uniform(0.0, 0.3)  # odd harmonics dominate
    return amps


def _gated_tone(rng, freq, on, amps, attack=0.003, release=0.008):
    """A tone with `freq` (Hz, scalar or array), gated by the 0/1 array `on`, soft edges."""
    length = len(on)
    freq = np.broadcast_to(np.asarray(freq, dtype=float), (length,))
    gate = np.convolve(on.astype(float), np.ones(max(1, int(attack * RATE))) / max(1, int(attack * RATE)))[:length]
    if release > attack:
        gate = np.maximum(gate, _one_pole_lowpass(gate, 1 / (_TWO_PI * release)))
    return _partials(_phase(freq, rng.uniform(0, 6.3)), float(freq.max()), amps) * gate


def _cadence(length, pattern):
    """0/1 gate repeating `pattern` (alternating on/off seconds)."""
    period = sum(pattern)
    t = np.mod(np.arange(length) / RATE, period)
    on = np.zeros(length, dtype=bool)
    edge = 0.0
    for i, seconds in enumerate(pattern):
        if i % 2 == 0:
            on |= (t >= edge) & (t < edge + seconds)
        edge += seconds
    return on


def _fm_note(rng, freq, length, ratio, index, decay):
    t = np.arange(length) / RATE
    index = min(index, max(0.2, (_FMAX / freq - 1) / ratio - 1.5))
    mod = index * np.exp(-t / decay) * np.sin(_TWO_PI * ratio * freq * t)
    env = np.minimum(1, t / 0.004) * np.exp(-t / (decay * 2))
    return np.sin(_TWO_PI * freq * t + mod) * env


def _ringtones(rng, n, pool):
    out = np.zeros(n)
    for start in _event_times(rng, n, rng.uniform(0.03, 0.1), lead=2.0, tail=1.5):
        style = rng.choice(["classic", "trill", "bell", "melodic", "chirp"], p=[0.25, 0.2, 0.1, 0.35, 0.1])
        rings = int(rng.integers(2, 9))
        limit = max(n - int(start), 0) + RATE  # nothing is synthesised past the end of the clip
        if style in ("classic", "trill", "bell"):
            pattern = [[2.0, 4.0], [0.4, 0.2, 0.4, 2.0], [1.0, 2.0], [1.0, 3.0], [1.5, 3.5],
                       [rng.uniform(0.8, 2.0), rng.uniform(2.0, 4.0)]][int(rng.integers(0, 6))]
            length = min(int(sum(pattern) * rings * RATE), limit)
            on = _cadence(length, pattern)
            if style == "classic":
                f1 = rng.uniform(400, 1000)
                amps = _square_ish(rng)
                x = _gated_tone(rng, f1, on, amps) + _gated_tone(rng, f1 * rng.uniform(1.05, 1.3), on, amps)
            elif style == "trill":
                f1, f2 = rng.uniform(400, 1200), rng.uniform(1200, 2000)
                trill = np.mod(np.arange(length) / RATE * rng.uniform(8, 25), 1.0) < 0.5
                f = np.where(trill, f1, f2)
                x = _gated_tone(rng, f, on, _square_ish(rng))
            else:  # mechanical bell: hammer at 15-25 Hz on inharmonic bell modes
                base = rng.uniform(800, 1600)
                strike = np.zeros(length)
                hits = np.arange(0, length, int(RATE / rng.uniform(15, 25)))
                strike[hits[on[hits]]] = rng.uniform(0.7, 1.0, int(on[hits].sum()))
                bell = _modes(int(0.6 * RATE), base * np.array([1, 2.1, 2.9, 4.2]), rng.uniform(0.08, 0.3, 4),
                              [1, 0.6, 0.4, 0.2], rng.uniform(0, 6.3, 4))
                x = signal.fftconvolve(strike, bell)[:length]
        elif style == "chirp":  # desk phone: groups of short alternating beeps
            pattern = [rng.uniform(0.8, 1.5), rng.uniform(2.0, 4.0)]
            length = min(int(sum(pattern) * rings * RATE), limit)
            on = _cadence(length, pattern) & (np.mod(np.arange(length) / RATE, rng.uniform(0.08, 0.15) * 2) <
                                              rng.uniform(0.05, 0.08))
            f = np.where(np.mod(np.arange(length) / RATE, 0.4) < 0.2, rng.uniform(900, 1500), rng.uniform(1500, 2500))
            x = _gated_tone(rng, f, on, _square_ish(rng), attack=0.001, release=0.002)
        else:  # melodic polyphonic ringtone
            beat = 60 / rng.uniform(100, 180)
            root = rng.uniform(62, 76)
            scale = [0, 2, 4, 5, 7, 9, 11] if rng.random() < 0.6 else [0, 2, 4, 7, 9]
            count = int(rng.integers(4, 13))
            degrees = np.cumsum(rng.choice([-2, -1, 0, 1, 1, 2, 3, -3], count))
            notes = [root + 12 * (d // len(scale)) + scale[d % len(scale)] for d in degrees]
            durations = rng.choice([0.5, 0.5, 1.0, 0.25, 1.5], count) * beat
            phrase = sum(durations) + rng.uniform(0.5, 2.0)
            length = min(int(phrase * rings * RATE), limit)
            x = np.zeros(length)
            fm = rng.random() < 0.6
            ratio, index, decay = rng.choice([1.0, 2.0, 3.0, 0.5]), rng.uniform(0.5, 3.0), rng.uniform(0.1, 0.5)
            amps = _square_ish(rng)
            crescendo = rng.random() < 0.4
            for ring in range(rings):
                at = ring * phrase
                for m, d in zip(notes, durations):
                    if at * RATE >= length:
                        break
                    f = float(_midi_hz(m))
                    note_len = int(d * RATE * rng.uniform(0.8, 1.0))
                    if fm:
                        note = _fm_note(rng, f, note_len, ratio, index, decay)
                    else:
                        on = np.ones(note_len, dtype=bool)
                        on[-int(0.02 * RATE):] = False
                        note = (_gated_tone(rng, f, on, amps, 0.005, 0.03)
                                * np.exp(-np.arange(note_len) / RATE / decay / 3))
                    if rng.random() < 0.5:  # second voice a third or an octave below
                        note = note + 0.4 * _fm_note(rng, f / rng.choice([2.0, 1.26]), note_len, 1.0, 1.0, decay)
                    gain = (0.3 + 0.7 * ring / max(1, rings - 1)) if crescendo else 1.0
                    _add(x, at * RATE, note * gain)
                    at += d
        x = _loudspeaker(rng, x, low=(250, 800), high=(3500, 7000), drive=(0.3, 1.5))
        x = _reverb(rng, x, rng.uniform(0.3, 1.0), rng.uniform(-5, 10))
        _add(out, start, _unit(x) * _db(rng.uniform(-6, 6)))
    return out


def _beeps(rng, n, pool):
    out = np.zeros(n)
    duration = n / RATE
    devices = rng.choice(["scanner", "monitor", "alarm", "microwave", "door", "thermometer"],
                         int(rng.integers(1, 4)), replace=False)
    if duration < 3:
        devices = devices[:1]

    def beep(at, freq, length, amps, gain, shape=None):
        on = np.ones(int(length * RATE), dtype=bool)
        on[-max(1, int(0.004 * RATE)):] = False
        f = freq if shape is None else freq * shape(np.arange(len(on)) / len(on))
        tone = _gated_tone(rng, f, on, amps, attack=rng.uniform(0.001, 0.005), release=rng.uniform(0.002, 0.01))
        _add(track, at * RATE, tone * gain)

    for device in devices:
        track = np.zeros(n)
        amps = _square_ish(rng)
        if device == "scanner":
            f = rng.uniform(1500, 4000)
            for t0 in _event_times(rng, n, rng.uniform(0.2, 1.0), tail=0.2) / RATE:
                if rng.random() < 0.1:  # error: two lower beeps
                    beep(t0, f * 0.6, 0.12, amps, 1.0)
                    beep(t0 + 0.2, f * 0.6, 0.12, amps, 1.0)
                else:
                    beep(t0, f, rng.uniform(0.05, 0.15), amps, rng.uniform(0.8, 1.0))
        elif device == "monitor":  # pulse oximeter: a beep per heartbeat, pitch follows saturation
            interval = 60 / rng.uniform(50, 110)
            f, length = rng.uniform(500, 1000), rng.uniform(0.04, 0.12)
            t0 = rng.uniform(0, interval)
            end = rng.uniform(duration * 0.5, duration) if rng.random() < 0.3 else duration
            drift = rng.uniform(-0.002, 0.002)
            while t0 < end:
                beep(t0, f, length, amps, 1.0)
                f *= 1 + drift + 0.003 * rng.standard_normal()
                t0 += interval * (1 + 0.03 * rng.standard_normal())
        elif device == "alarm":  # monitor alarm bursts: 3 pulses (medium) or 3+2 (high), repeated
            f = rng.uniform(500, 1000)
            amps = 1 / np.arange(1, 8) ** rng.uniform(0.6, 1.2)  # alarms are harmonic-rich
            pulses = [0, 1, 2] if rng.random() < 0.6 else [0, 1, 2, 3.7, 4.7]
            spacing, length = rng.uniform(0.2, 0.3), rng.uniform(0.15, 0.25)
            period = rng.uniform(3, 10)
            t0 = rng.uniform(0, period)
            while t0 < duration:
                for p in pulses:
                    beep(t0 + p * spacing, f, length, amps, 1.0)
                t0 += period
        elif device == "microwave":  # keypad then, later, the end-of-cycle beeps
            f = rng.uniform(1800, 4000)
            t0 = rng.uniform(0, duration)
            if rng.random() < 0.5:
                for _ in range(int(rng.integers(2, 6))):
                    beep(t0, f, rng.uniform(0.05, 0.1), amps, 0.7)
                    t0 += rng.uniform(0.2, 0.8)
                t0 += rng.uniform(1, 8)
            repeat = rng.random() < 0.5
            while t0 < duration:
                for _ in range(int(rng.integers(3, 6))):
                    beep(t0, f, rng.uniform(0.2, 0.5), amps, 1.0)
                    t0 += rng.uniform(0.45, 0.9)
                if not repeat:
                    break
                t0 += rng.uniform(10, 30)
        elif device == "door":  # card reader beeps or a ding-dong chime
            for t0 in _event_times(rng, n, rng.uniform(0.05, 0.15), tail=1.5) / RATE:
                if rng.random() < 0.6:
                    f = rng.uniform(2000, 3000)
                    for i in range(int(rng.integers(1, 3))):
                        beep(t0 + i * rng.uniform(0.15, 0.3), f, rng.uniform(0.1, 0.3), amps, 1.0)
                else:
                    f = rng.uniform(500, 900)
                    for i, ratio in enumerate([1.26, 1.0]):
                        chime = _modes(int(1.2 * RATE), f * ratio * np.array([1, 2.76, 5.4]), [0.5, 0.25, 0.1],
                                       [1, 0.4, 0.15], rng.uniform(0, 6.3, 3))
                        _add(track, (t0 + i * rng.uniform(0.4, 0.7)) * RATE, chime * 1.5)
        else:  # thermometer / timer: quick triplets
            f = rng.uniform(2500, 4000)
            for t0 in _event_times(rng, n, rng.uniform(0.05, 0.15), tail=0.5) / RATE:
                for i in range(int(rng.integers(2, 5))):
                    beep(t0 + i * rng.uniform(0.1, 0.15), f, rng.uniform(0.05, 0.08), amps, 1.0)
        if not track.any():
            beep(rng.uniform(0, max(duration - 0.5, 0.01)), rng.uniform(500, 4000), rng.uniform(0.05, 0.5), amps, 1.0)
        if rng.random() < 0.5:  # piezo or small speaker
            track = _loudspeaker(rng, track, low=(300, 600), high=(4500, 7500), drive=(0.3, 1.0))
        track = _reverb(rng, track, rng.uniform(0.3, 0.9), rng.uniform(-3, 12))
        out += _unit(track) * _db(rng.uniform(-10, 0))
    return out


# Music -------------------------------------------------------------------------------------

_SCALES = [[0, 2, 4, 5, 7, 9, 11], [0, 2, 3, 5, 7, 8, 10], [0, 2, 3, 5, 7, 9, 10], [0, 2, 4, 5, 7, 9, 10]]
_PROGRESSIONS = [[0, 4, 5, 3], [0, 5, 3, 4], [5, 3, 0, 4], [0, 3, 4, 0], [1, 4, 0, 0], [0, 0, 3, 4],
                 [0, 6, 5, 4], [0, 3, 0, 4], [5, 4, 3, 4], [0, 2, 3, 4]]
_VOWELS = [(800, 1200, 2600), (500, 1900, 2600), (320, 2300, 3000), (500, 900, 2500), (350, 800, 2400),
           (650, 1700, 2500)]


def _instrument(rng, family):
    """Timbre of one part: partial amplitudes, envelope, decay of the low and the high partials."""
    count = int(rng.integers(6, 16))
    k = np.arange(1, count + 1)
    inst = {"family": family, "attack": 0.005, "release": 0.08, "decay": None, "vibrato": 0.0}
    if family == "piano":
        inst.update(amps=1 / k ** rng.uniform(1.2, 2.0), decay=rng.uniform(0.5, 1.5), attack=0.002)
    elif family == "pluck":
        inst.update(amps=1 / k ** rng.uniform(0.9, 1.6), decay=rng.uniform(0.2, 0.7), attack=0.002)
    elif family == "pad":
        inst.update(amps=1 / k[:6] ** rng.uniform(1.5, 3.0), attack=rng.uniform(0.1, 0.5),
                    release=rng.uniform(0.2, 0.6))
    elif family == "organ":
        amps = np.zeros(8)
        amps[[0, 1, 2, 3, 5, 7]] = rng.uniform(0, 1, 6)
        amps[0] = 1.0
        inst.update(amps=amps, attack=0.01, release=0.05)
    elif family == "strings":
        inst.update(amps=1 / k ** rng.uniform(1.0, 1.4), attack=rng.uniform(0.08, 0.3), release=rng.uniform(0.15, 0.4),
                    vibrato=rng.uniform(0.003, 0.006))
    elif family == "bass":
        inst.update(amps=1 / k[:6] ** rng.uniform(1.3, 2.5), decay=rng.uniform(0.3, 1.0), attack=0.004)
    elif family == "lead":
        inst.update(amps=_square_ish(rng), attack=0.01, release=0.05, vibrato=rng.uniform(0, 0.004))
    else:  # bell / electric piano
        inst.update(amps=np.array([1.0, 0.3, 0.5, 0.1, 0.2]), decay=rng.uniform(0.3, 1.0), attack=0.002)
    return inst


def _note(rng, inst, freq, length):
    total = length + int(inst["release"] * RATE)
    t = np.arange(total) / RATE
    f = np.full(total, freq)
    if inst["vibrato"]:
        f = f * (1 + inst["vibrato"] * np.sin(_TWO_PI * rng.uniform(5, 6.5) * t) * np.minimum(1, t / 0.3))
    phase = _phase(f, rng.uniform(0, 6.3))
    amps = inst["amps"]
    env = np.minimum(1, t / inst["attack"])
    env[length:] *= np.exp(-(t[length:] - t[length]) / (inst["release"] / 4))
    if inst["decay"]:  # the high partials die faster
        low = _partials(phase, freq, amps[:3]) * np.exp(-t / inst["decay"])
        high = np.zeros(total)
        if len(amps) > 3:
            high_amps = np.concatenate([np.zeros(3), amps[3:]])
            high = _partials(phase, freq, high_amps) * np.exp(-t / (inst["decay"] / 3))
        return (low + high) * env
    return _partials(phase, freq, amps) * env


def _sung(rng, notes, out, vowel_shift):
    """A sung line: glottal-like source with 5-6 Hz vibrato and portamento, through vowel formants."""
    rate, depth = rng.uniform(5, 6), rng.uniform(0.01, 0.025)
    previous = None
    for at, length, freq in notes:
        total = length + int(0.08 * RATE)
        t = np.arange(total) / RATE
        f = np.full(total, freq)
        if previous is not None:
            f += (previous - freq) * np.exp(-t / rng.uniform(0.02, 0.05))
        f *= 1 + depth * np.sin(_TWO_PI * rate * t) * np.clip((t - 0.12) / 0.2, 0, 1)
        f *= 1 + 0.003 * _smooth_random(rng, total, 8)
        phase = _phase(f, rng.uniform(0, 6.3))
        source = _partials(phase, float(f.max()), 1 / np.arange(1, 40) ** rng.uniform(1.0, 1.4))
        source += 0.03 * rng.standard_normal(total)
        vowel = np.array(_VOWELS[int(rng.integers(0, len(_VOWELS)))]) * vowel_shift
        voice = _resonate(source, vowel, [90, 120, 180], [1.0, 0.6, 0.3])
        env = np.minimum(1, t / rng.uniform(0.03, 0.08))
        env[length:] *= np.exp(-(t[length:] - t[length]) / 0.03)
        _add(out, at, voice * env * rng.uniform(0.8, 1.1))
        previous = freq


def _drum_kit(rng):
    def kick():
        L = int(0.35 * RATE)
        t = np.arange(L) / RATE
        f = rng.uniform(40, 65) + rng.uniform(60, 140) * np.exp(-t / rng.uniform(0.02, 0.06))
        x = np.sin(_phase(f)) * np.exp(-t / rng.uniform(0.08, 0.25))
        x[:32] += _burst(rng, 32, 0.0005) * 0.3
        return x

    def snare():
        L = int(0.3 * RATE)
        t = np.arange(L) / RATE
        noise = _filter(rng.standard_normal(L), "band", (rng.uniform(800, 1500), rng.uniform(4000, 7500)), 2)
        x = _unit(noise) * np.exp(-t / rng.uniform(0.05, 0.15)) * 0.5
        return x + 0.5 * np.sin(_TWO_PI * rng.uniform(160, 240) * t) * np.exp(-t / 0.05)

    def hat(open_hat):
        L = int((0.3 if open_hat else 0.08) * RATE)
        t = np.arange(L) / RATE
        x = _unit(_filter(rng.standard_normal(L), "high", rng.uniform(5000, 7000), 3))
        return x * np.exp(-t / (rng.uniform(0.1, 0.25) if open_hat else rng.uniform(0.01, 0.04))) * 0.3
    return {"kick": [kick() for _ in range(2)], "snare": [snare() for _ in range(2)],
            "hat": [hat(False) for _ in range(3)], "open": [hat(True)]}


def _music_track(rng, n, style=None):
    """Dry music (no room): chords, bass, melody or sung line, drums, by style."""
    style = style or rng.choice(["ambient", "piano", "pop", "vocal", "strings"], p=[0.15, 0.2, 0.3, 0.2, 0.15])
    tempo = {"ambient": (60, 90), "piano": (60, 120), "pop": (90, 160), "vocal": (70, 150),
             "strings": (60, 110)}[style]
    beat = 60 / rng.uniform(*tempo)
    meter = 3 if rng.random() < 0.15 else 4
    bar = beat * meter
    key = int(rng.integers(45, 57))
    scale = _SCALES[int(rng.integers(0, len(_SCALES)))]
    progression = _PROGRESSIONS[int(rng.integers(0, len(_PROGRESSIONS)))]
    bars_per_chord = int(rng.choice([1, 1, 2]))
    drums = style == "pop" or (style == "vocal" and rng.random() < 0.6) or (style == "piano" and rng.random() < 0.15)
    swing = rng.uniform(0.55, 0.67) if rng.random() < 0.3 else 0.5
    chord_inst = _instrument(rng, {"ambient": "pad", "piano": "piano", "strings": "strings"}.get(
        style, rng.choice(["pluck", "organ", "pad", "piano", "bell"])))
    melody_inst = _instrument(rng, {"ambient": rng.choice(["bell", "piano", "pad"]), "piano": "piano",
                                    "strings": "strings"}.get(style, rng.choice(["lead", "pluck", "bell", "strings"])))
    bass_inst = _instrument(rng, "bass")
    levels = {"chords": _db(rng.uniform(-6, 0)), "melody": _db(rng.uniform(-3, 3)), "bass": _db(rng.uniform(-6, 0)),
              "drums": _db(rng.uniform(-4, 3)), "voice": _db(rng.uniform(0, 6))}
    parts = {name: np.zeros(n) for name in levels}
    cache = {}

    def play(part, inst, midi, at, seconds, gain=1.0):
        length = max(int(seconds * RATE), 16)
        key_ = (id(inst), round(float(midi), 2), length)
        if key_ not in cache:
            cache[key_] = _note(rng, inst, float(_midi_hz(midi)), length)
        _add(parts[part], at * RATE, cache[key_] * gain)

    def degree_midi(d, base):
        return base + 12 * (d // len(scale)) + scale[d % len(scale)]

    def subdivide(pattern_choices):
        return pattern_choices[int(rng.integers(0, len(pattern_choices)))]

    rhythms = [[1, 1, 1, 1], [0.5] * 8, [1.5, 0.5, 1, 1], [2, 1, 1], [0.5, 0.5, 1, 0.5, 0.5, 1], [1, 0.5, 0.5, 2],
               [0.75, 0.25, 0.5, 0.5, 1, 1]]
    if meter == 3:
        rhythms = [[1, 1, 1], [0.5] * 6, [2, 1], [1.5, 0.5, 1]]
    motif = [subdivide(rhythms) for _ in range(2)]
    motif_steps = rng.choice([-2, -1, 0, 1, 1, 2, 3, -3], 16)
    kick_steps = [[0, 8], [0, 6, 8], [0, 3, 8, 10], [0, 4, 8, 12], [0, 10]][int(rng.integers(0, 5))]
    hat_every = int(rng.choice([2, 2, 4, 1]))
    sparse_melody = style in ("ambient",) or rng.random() < 0.2
    arpeggio = style == "piano" and rng.random() < 0.5
    vowel_shift = rng.uniform(0.95, 1.25)
    voice_octave = 12 if rng.random() < 0.5 else 24
    kit = _drum_kit(rng) if drums else None
    sung = []
    start = -rng.uniform(0, bar)
    bar_index = 0
    degree = int(rng.integers(0, 5))
    while start < n / RATE:
        chord = progression[(bar_index // bars_per_chord) % len(progression)]
        chord_degrees = [chord, chord + 2, chord + 4] + ([chord + 6] if rng.random() < 0.25 else [])
        base = key + 12
        if bar_index % bars_per_chord == 0:
            seconds = bar * bars_per_chord
            for i, d in enumerate(chord_degrees):
                if arpeggio:
                    for j in range(bars_per_chord * meter * 2):
                        if j % len(chord_degrees) == i:
                            play("chords", chord_inst, degree_midi(d, base), start + j * beat / 2, beat, 0.6)
                else:
                    play("chords", chord_inst, degree_midi(d, base), start, seconds * 0.95, 0.5)
        # bass on the beats
        for b in range(meter):
            if style in ("pop", "vocal") or b == 0:
                play("bass", bass_inst, degree_midi(chord, key - 12), start + b * beat, beat * 0.9)
        # melody: a two-bar motif, repeated over the chords with mutations
        rhythm = motif[bar_index % 2]
        at = start
        for i, dur in enumerate(rhythm):
            step = motif_steps[(i + 8 * (bar_index % 2)) % 16] if rng.random() > 0.25 else rng.integers(-2, 3)
            degree = int(np.clip(degree + step, -2, 11))
            if i == 0 and rng.random() < 0.6:  # land on a chord tone
                degree = min(chord_degrees, key=lambda c: abs(c - degree))
            if not (sparse_melody and rng.random() < 0.5) and rng.random() > 0.1:
                if style == "vocal":
                    if i < len(rhythm) - 1 or bar_index % 2 == 0:  # breathe at the end of a phrase
                        sung.append((int(at * RATE), int(dur * beat * RATE * 0.95),
                                     float(_midi_hz(degree_midi(degree, key + voice_octave)))))
                else:
                    play("melody", melody_inst, degree_midi(degree, key + 24), at, dur * beat * 0.9)
            at += dur * beat
        if kit is not None and not (rng.random() < 0.1):
            for s in range(meter * 4):
                t_step = start + s * beat / 4
                if s % 4 == 2 and swing != 0.5:
                    t_step += (swing - 0.5) * beat
                v = rng.uniform(0.8, 1.1)
                if s in kick_steps:
                    _add(parts["drums"], t_step * RATE, kit["kick"][s % 2] * v)
                if meter == 4 and s in (4, 12) or meter == 3 and s == 8:
                    _add(parts["drums"], t_step * RATE, kit["snare"][int(rng.integers(0, 2))] * v)
                if s % hat_every == 0:
                    which = kit["open"][0] if (s == 14 and rng.random() < 0.3) else kit["hat"][int(rng.integers(0, 3))]
                    _add(parts["drums"], t_step * RATE, which * v * (1.0 if s % 4 == 0 else 0.6))
        start += bar
        bar_index += 1
    if sung:
        _sung(rng, sung, parts["voice"], vowel_shift)
    mix = np.zeros(n)
    for name, x in parts.items():
        if x.any():
            mix += _unit(x) * levels[name]
    mix *= np.exp(0.15 * _smooth_random(rng, n, 0.1))  # dynamics
    peak = np.percentile(np.abs(mix), 99.9) if n > 1000 else np.max(np.abs(mix))
    if peak > 0:  # mastering: gentle compression
        mix = np.tanh(mix / peak * rng.uniform(0.8, 1.5)) * peak
    return mix


def _music(rng, n, pool):
    mix = _music_track(rng, n)
    if rng.random() < 0.6:  # ceiling speaker or radio
        mix = _loudspeaker(rng, mix, low=(80, 250), high=(5000, 7800), drive=(0.3, 1.2))
    return _reverb(rng, mix, rng.uniform(0.3, 1.5), rng.uniform(-6, 8))


# Voices: tv, babble ------------------------------------------------------------------------

_PERTURB = [(1, 1), (9, 10), (19, 20), (21, 20), (11, 10), (17, 20), (23, 20), (7, 8), (8, 7), (6, 5), (5, 6)]


def _usable(pool):
    pool = [np.asarray(p, dtype=np.float64).ravel() for p in pool]
    pool = [p for p in pool if len(p) > 0 and np.any(p)]
    if not pool:
        raise ValueError("babble and tv need a non-empty speech_pool of 16 kHz utterances")
    return pool


class _Voice:
    """A talker: utterances from the pool resampled by one factor (pitch and formants move)."""

    def __init__(self, rng, pool, cache):
        self.rng, self.pool, self.cache = rng, pool, cache
        self.up, self.down = _PERTURB[int(rng.integers(0, len(_PERTURB)))]

    def utterance(self):
        i = int(self.rng.integers(0, len(self.pool)))
        key = (i, self.up, self.down)
        if key not in self.cache:
            x = self.pool[i]
            if self.up != self.down:
                x = signal.resample_poly(x, self.down, self.up)  # longer and lower when up < down
            self.cache[key] = _unit(x)
        return self.cache[key]


def _compress(x, amount):
    """Broadcast-style compression: gain ~ (envelope)^-amount."""
    env = np.sqrt(_one_pole_lowpass(x ** 2, 15) + 1e-12)
    ref = np.percentile(env, 90) + 1e-12
    return x * np.minimum((env / ref + 0.05) ** -amount, 4.0)


def _applause(rng, length):
    t = np.arange(length) / RATE
    env = np.minimum(1, t / rng.uniform(0.2, 0.6)) * np.exp(-np.maximum(0, t - t[-1] * rng.uniform(0.3, 0.6))
                                                          / rng.uniform(0.5, 1.5))
    density = rng.uniform(20, 80) * rng.uniform(3, 6)
    clap = np.zeros(length)
    for _ in range(3):
        claps = _crackle(rng, length, density / 3, env, rng.uniform(0.001, 0.003))
        clap += _filter(claps, "band", (rng.uniform(600, 1200), rng.uniform(2500, 5000)), 2)
    return _unit(clap)


def _laughter(rng, length):
    t = np.arange(length) / RATE
    x = np.zeros(length)
    for _ in range(int(rng.integers(5, 25))):
        start = int(rng.uniform(0, 0.4) * length)
        span = length - start
        tt = t[:span]
        rate = rng.uniform(3.5, 6)
        ha = np.maximum(0, np.sin(_TWO_PI * rate * tt + rng.uniform(0, 6.3))) ** 2
        decay = np.exp(-tt / rng.uniform(0.8, 2.5))
        pitch = rng.uniform(150, 450) * (1 + 0.1 * _smooth_random(rng, span, 4))
        voiced = _partials(_phase(pitch), pitch.max(), 1 / np.arange(1, 20) ** 1.3)
        breath = rng.standard_normal(span)
        _add(x, start, (voiced * rng.uniform(0.3, 1.0) + breath) * ha * decay * rng.uniform(0.3, 1.0))
    return _unit(_resonate(x, [rng.uniform(600, 900), rng.uniform(1100, 1600), rng.uniform(2400, 3000)],
                           [250, 300, 400], [1.0, 0.6, 0.3]))


def _tv(rng, n, pool):
    pool = _usable(pool)
    cache = {}
    voices = [_Voice(rng, pool, cache) for _ in range(int(rng.integers(1, 4)))]
    gains = _db(rng.uniform(-4, 4, len(voices)))
    speech = np.zeros(n)
    at = int(rng.uniform(-1.0, 0.5) * RATE)
    current = int(rng.integers(0, len(voices)))
    while at < n:
        if len(voices) > 1 and rng.random() < 0.7:
            current = (current + int(rng.integers(1, len(voices)))) % len(voices)
        for _ in range(int(rng.integers(1, 4))):
            x = voices[current].utterance() * gains[current] * _db(rng.uniform(-3, 3))
            _add(speech, at, x)
            at += len(x) + int(rng.uniform(0.05, 0.35) * RATE)
        at += int(rng.uniform(-0.2, 0.8) * RATE)
        if rng.random() < 0.15:
            at += int(rng.uniform(1, 4) * RATE)  # music only
    if rng.random() < 0.7:
        speech = _compress(speech, rng.uniform(0.3, 0.6))
    mix = _unit(speech)
    if rng.random() < 0.8:
        music = _unit(_music_track(rng, n))
        if rng.random() < 0.5:  # only in stretches
            music *= np.clip(0.5 + _smooth_random(rng, n, 0.15), 0, 1)
        mix += music * _db(rng.uniform(-25, -8))
    if rng.random() < 0.4:
        for start in _event_times(rng, n, 0.05):
            length = int(rng.uniform(2, 6) * RATE)
            burst = _applause(rng, length) if rng.random() < 0.5 else _laughter(rng, length)
            _add(mix, start, burst * _db(rng.uniform(-8, 2)))
    mix = _loudspeaker(rng, mix, low=(150, 300), high=(4000, 6500), drive=(0.5, 2.5))
    return _reverb(rng, mix, rng.uniform(0.4, 1.0), rng.uniform(-10, 0))


def _clatter(rng, n):
    """Cups, plates and cutlery: impacts on a few high, inharmonic, ringing modes."""
    out = np.zeros(n)
    for start in _event_times(rng, n, rng.uniform(0.3, 3.0), minimum=1):
        hits = int(rng.integers(1, 5)) if rng.random() < 0.3 else 1
        at = start
        for _ in range(hits):
            what = rng.choice(["cup", "plate", "cutlery"])
            lo, hi, tau = {"cup": (2000, 4500, (0.05, 0.3)), "plate": (1500, 5000, (0.03, 0.15)),
                           "cutlery": (3500, 7500, (0.1, 0.4))}[what]
            k = int(rng.integers(2, 6))
            length = int(min(4 * tau[1], 1.2) * RATE)
            x = _modes(length, rng.uniform(lo, hi, k), rng.uniform(*tau, k), rng.uniform(0.2, 1, k),
                       rng.uniform(0, 6.3, k))
            x[:8] += _burst(rng, 8, 0.0003)
            _add(out, at, x * rng.lognormal(0, 0.5))
            at += int(rng.uniform(0.03, 0.15) * RATE)
    return out


def _babble(rng, n, pool):
    pool = _usable(pool)
    cache = {}
    talkers = int(rng.integers(4, 13))
    groups, left = [], talkers
    while left > 0:  # conversations of 1-3 people
        size = min(left, int(rng.integers(1, 4)))
        groups.append(size)
        left -= size
    rt60 = rng.uniform(0.4, 1.2)
    rooms = [_impulse_response(rng, rt60, 0.0, direct=False) for _ in range(2)]  # two spots in one room
    direct = np.zeros(n)
    wet = [np.zeros(n), np.zeros(n)]
    for size in groups:
        voices = [_Voice(rng, pool, cache) for _ in range(size)]
        levels = rng.uniform(-8, 4, size)
        tracks = [np.zeros(n) for _ in range(size)]
        at = int(rng.uniform(-3, 1) * RATE)
        who = int(rng.integers(0, size))
        while at < n:
            if size > 1 and rng.random() < 0.8:
                who = (who + int(rng.integers(1, size))) % size
            for _ in range(int(rng.integers(1, 3))):
                x = voices[who].utterance() * _db(rng.uniform(-3, 3))
                _add(tracks[who], at, x)
                at += len(x) + int(rng.uniform(0.05, 0.4) * RATE)
            at += int(rng.uniform(0.1, 1.5) * RATE) if size == 1 else int(rng.uniform(-0.3, 0.6) * RATE)
        for track, level in zip(tracks, levels):
            track *= _db(level) * np.exp(0.35 * _smooth_random(rng, n, 0.1))  # turning, moving
            track = _one_pole_lowpass(track, rng.uniform(2500, 7000))
            drr = rng.uniform(-12, 0)
            direct += track * _db(drr)
            wet[int(rng.integers(0, 2))] += track
    out = direct + sum(signal.fftconvolve(w, ir)[:n] for w, ir in zip(wet, rooms))
    if rng.random() < 0.35:
        clatter = _clatter(rng, n)
        clatter = _reverb(rng, clatter, rt60, rng.uniform(-6, 6))
        out += _unit(clatter) * _rms(out) * _db(rng.uniform(-18, -4))
    return out


_GENERATORS = {
    "white": None, "pink": None, "brown": None,
    "ventilation": _ventilation, "traffic": _traffic, "keyboard": _keyboard, "mouse": _mouse,
    "doors": _doors, "footsteps": _footsteps, "coughs": _coughs, "paper": _paper,
    "ringtones": _ringtones, "beeps": _beeps, "music": _music, "tv": _tv, "babble": _babble,
}
# How far below the loudest events the room-tone bed lies (dB).
_BED_BELOW = {"keyboard": (18.0, 35.0), "mouse": (18.0, 35.0)}
