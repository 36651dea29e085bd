#!/usr/bin/env python3
"""Labelled voice activity corpus: espeak-ng speech mixed with clinic-like noise.

    python3 Training/voice/corpus.py --split eval  --out out/voice-corpus/eval
    python3 Training/voice/corpus.py --split train --out out/voice-corpus/train

Each clip is about 20 s: a stretch of noise only, then utterances (one to three sentences
from one synthetic speaker, at varying loudness) separated by pauses, all over one kind of
noise at a set signal-to-noise ratio, some in a reverberant room. For each clip NAME the
split folder gets NAME.wav, NAME.labels (one character per 10 ms frame, 1 where the clean
dry speech is active) and a row in manifest.csv.

Truth: a frame is speech when the clean, dry speech in it is within 35 dB of the loudest
frame of its utterance; gaps of less than 200 ms between speech frames (the short pauses
inside a sentence) count as speech too.

SNR: active-speech power (over the speech frames) against the mean noise power of the clip.

The splits share no sentence text, no noise instance and not every voice: the eval split
adds voices the training split never hears (HELD_OUT_VOICES). Everything is seeded:
the same command makes the same files.
"""
import argparse
import csv
import os
import subprocess
import sys
import tempfile
from concurrent.futures import ProcessPoolExecutor

import numpy as np
from scipy import signal

RATE = 16000
FRAME = 160  # 10 ms
NOISES = ["white", "pink", "brown", "babble", "hum", "clicks", "music"]
EVAL_SNRS = [20, 10, 5, 0]

# (espeak-ng voice, language key for the word lists)
TRAIN_VOICES = [
    ("en", "en"), ("en+m3", "en"), ("en+f2", "en"), ("en-us", "en"), ("en-us+f3", "en"),
    ("en+m7", "en"), ("de", "de"), ("de+f3", "de"), ("fr", "fr"), ("fr+m4", "fr"),
    ("es", "es"), ("es+f1", "es"), ("it+m2", "it"), ("nl", "nl"), ("pt+f4", "pt"),
]
HELD_OUT_VOICES = [("en+f4", "en"), ("en-gb-x-rp+m1", "en"), ("de+m5", "de"), ("es+f5", "es"), ("it+f2", "it")]

WORDS = {
    "en": "please sit down the nurse will see you soon your heart rate looks fine breathe slowly "
          "how are you feeling today any pain in your chest take a deep breath we measure blood "
          "pressure now thank you wait here doctor appointment morning evening medicine water "
          "headache fever cough tired dizzy yesterday tomorrow family history allergy tablet".split(),
    "de": "bitte setzen sie sich die schwester kommt gleich wie fühlen sie sich heute haben sie "
          "schmerzen atmen sie tief ein wir messen jetzt den blutdruck danke warten arzt termin "
          "morgen abend medikament wasser kopfschmerzen fieber husten müde schwindlig gestern".split(),
    "fr": "asseyez vous s'il vous plaît l'infirmière arrive bientôt comment allez vous aujourd'hui "
          "avez vous mal respirez profondément nous mesurons la tension merci attendez médecin "
          "rendez vous matin soir médicament eau fièvre toux fatigué vertige hier demain".split(),
    "es": "por favor siéntese la enfermera vendrá pronto cómo se siente hoy tiene dolor respire "
          "profundamente ahora medimos la presión gracias espere médico cita mañana tarde "
          "medicina agua fiebre tos cansado mareado ayer familia alergia pastilla".split(),
    "it": "per favore si sieda l'infermiera arriva presto come si sente oggi ha dolore respiri "
          "profondamente misuriamo la pressione grazie aspetti medico appuntamento mattina sera "
          "medicina acqua febbre tosse stanco ieri domani famiglia allergia".split(),
    "nl": "gaat u zitten de verpleegster komt zo hoe voelt u zich vandaag heeft u pijn adem "
          "diep in we meten nu de bloeddruk dank u wacht dokter afspraak ochtend avond water".split(),
    "pt": "por favor sente se a enfermeira vem logo como se sente hoje tem dor respire fundo "
          "agora medimos a pressão obrigado espere médico consulta manhã noite remédio água".split(),
}


def sentence(rng, language):
    words = WORDS[language]
    count = int(rng.integers(4, 13))
    text = " ".join(words[int(i)] for i in rng.integers(0, len(words), count))
    if rng.random() < 0.4:
        cut = int(rng.integers(2, count - 1))
        parts = text.split(" ")
        text = " ".join(parts[:cut]) + ", " + " ".join(parts[cut:])
    return text + rng.choice([".", "?", "."])


def speak(voice, text, speed, pitch):
    with tempfile.NamedTemporaryFile(suffix=".wav") as f:
        subprocess.run(["espeak-ng", "-v", voice, "-s", str(speed), "-p", str(pitch), "-w", f.name, text],
                       check=True, capture_output=True)
        rate, audio = read_wav(f.name)
    audio = signal.resample_poly(audio, RATE, rate) if rate != RATE else audio
    active = np.nonzero(np.abs(audio) > 1e-3)[0]
    if len(active) == 0:
        return np.zeros(0)
    return audio[max(0, active[0] - 80): active[-1] + 80]


def read_wav(path):
    import wave
    with wave.open(path, "rb") as w:
        data = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").astype(np.float64) / 32768
        return w.getframerate(), data


def write_wav(path, audio, rate, channels):
    import wave
    pcm = np.clip(np.round(audio * 32767), -32768, 32767).astype("<i2")
    with wave.open(path, "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(pcm.tobytes())


def frame_power(x):
    n = len(x) // FRAME
    return (x[: n * FRAME].reshape(n, FRAME) ** 2).mean(axis=1)


def speech_frames(clean):
    """Truth for one dry utterance: frames within 35 dB of its loudest, 200 ms gaps filled."""
    power = frame_power(np.concatenate([clean, np.zeros(-len(clean) % FRAME)]))
    if power.max() <= 0:
        return np.zeros(len(power), dtype=bool)
    active = power > power.max() * 10 ** (-35 / 10)
    idx = np.nonzero(active)[0]
    for a, b in zip(idx[:-1], idx[1:]):
        if 1 < b - a <= 20:
            active[a:b] = True
    return active


# Noise ------------------------------------------------------------------------------------

def coloured(rng, n, exponent):
    spectrum = np.fft.rfft(rng.standard_normal(n))
    f = np.fft.rfftfreq(n, 1 / RATE)
    f[0] = f[1]
    spectrum *= f ** (-exponent / 2)
    spectrum[f < 20] = 0
    return np.fft.irfft(spectrum, n)


def room_impulse(rng, rt60):
    length = int(rt60 * RATE)
    t = np.arange(length) / RATE
    tail = rng.standard_normal(length) * np.exp(-6.9 * t / rt60)
    tail = signal.lfilter([1], [1, -0.6], tail)  # walls absorb the highs
    ir = 0.4 * tail / np.sqrt((tail ** 2).sum())
    ir[0] = 1.0
    return ir


def reverberate(rng, x, rt60):
    return signal.fftconvolve(x, room_impulse(rng, rt60))[: len(x)]


def babble(rng, n, pool):
    out = np.zeros(n)
    for _ in range(int(rng.integers(6, 11))):
        track = np.zeros(n)
        at = int(rng.integers(-RATE, RATE))
        while at < n:
            utterance = pool[int(rng.integers(0, len(pool)))]
            utterance = utterance / (np.sqrt((utterance ** 2).mean()) + 1e-9) * rng.uniform(0.5, 1.5)
            start = max(at, 0)
            piece = utterance[start - at: start - at + n - start]
            track[start: start + len(piece)] += piece
            at += len(utterance) + int(rng.uniform(0.1, 0.8) * RATE)
        out += track
    return reverberate(rng, out, rng.uniform(0.4, 0.9))


def hum(rng, n):
    t = np.arange(n) / RATE
    mains = rng.choice([50.0, 60.0])
    tone = sum(rng.uniform(0.2, 1.0) / k * np.sin(2 * np.pi * mains * k * t + rng.uniform(0, 6.3)) for k in range(1, 8))
    blade = rng.uniform(80, 300)
    tone += 0.5 * np.sin(2 * np.pi * blade * t) * (1 + 0.3 * np.sin(2 * np.pi * rng.uniform(0.5, 3) * t))
    b, a = signal.butter(2, rng.uniform(400, 1500) / (RATE / 2))
    air = signal.lfilter(b, a, rng.standard_normal(n)) * 3
    swell = 1 + 0.25 * np.sin(2 * np.pi * rng.uniform(0.05, 0.4) * t + rng.uniform(0, 6.3))
    return (0.6 * tone / np.std(tone) + air / np.std(air)) * swell


def clicks(rng, n):
    out = 0.02 * rng.standard_normal(n)
    at = 0
    while at < n:  # typing bursts
        burst_end = at + int(rng.uniform(1.5, 5) * RATE)
        while at < min(burst_end, n):
            length = int(rng.uniform(0.004, 0.015) * RATE)
            click = rng.standard_normal(length) * np.exp(-np.arange(length) / (length / 4))
            b, a = signal.butter(2, [rng.uniform(1500, 3000) / 8000, rng.uniform(3500, 7000) / 8000], "band")
            click = signal.lfilter(b, a, click) * rng.uniform(0.5, 1.5)
            out[at: at + length] += click[: n - at]
            at += int(rng.uniform(0.06, 0.3) * RATE)
        at += int(rng.uniform(0.5, 3) * RATE)
    for _ in range(int(rng.integers(2, 6))):  # footsteps
        at = int(rng.integers(0, n))
        for _ in range(int(rng.integers(3, 10))):
            length = int(0.12 * RATE)
            tt = np.arange(length) / RATE
            step = np.sin(2 * np.pi * rng.uniform(60, 150) * tt) * np.exp(-tt / 0.03) * rng.uniform(0.5, 1.2)
            out[at: at + length] += step[: max(0, n - at)]
            at += int(rng.uniform(0.45, 0.6) * RATE)
            if at >= n:
                break
    for _ in range(int(rng.integers(0, 3))):  # a door
        at = int(rng.integers(0, n))
        length = int(0.4 * RATE)
        tt = np.arange(length) / RATE
        slam = rng.standard_normal(length) * np.exp(-tt / 0.07) * 2.5
        slam = signal.lfilter(*signal.butter(2, 2000 / 8000), slam)
        out[at: at + length] += slam[: max(0, n - at)]
    return out


def music(rng, n):
    t_total = n / RATE
    out = np.zeros(n)
    root = rng.uniform(110, 220)
    scale = [0, 2, 4, 5, 7, 9, 11, 12]
    at = 0.0
    while at < t_total:  # chords and a melody, harmonic tones with envelopes
        duration = rng.choice([0.25, 0.5, 0.5, 1.0])
        start, length = int(at * RATE), int(duration * RATE)
        tt = np.arange(length) / RATE
        envelope = np.minimum(1, tt / 0.02) * np.exp(-tt / rng.uniform(0.2, 0.8))
        notes = [root * 2 ** (scale[int(rng.integers(0, 8))] / 12) * 2 ** int(rng.integers(0, 3)) for _ in range(3)]
        tone = sum(sum(np.sin(2 * np.pi * f * k * tt) / k ** 1.3 for k in range(1, 7)) for f in notes)
        out[start: start + length] += (tone * envelope)[: max(0, n - start)]
        if rng.random() < 0.5:  # percussion
            kick = np.sin(2 * np.pi * 55 * tt) * np.exp(-tt / 0.08) * 2
            out[start: start + length] += kick[: max(0, n - start)]
        at += duration
    return reverberate(rng, out, 0.4)


def noise(kind, rng, n, babble_pool):
    if kind == "white":
        return rng.standard_normal(n)
    if kind == "pink":
        return coloured(rng, n, 1)
    if kind == "brown":
        return coloured(rng, n, 2)
    if kind == "babble":
        return babble(rng, n, babble_pool)
    if kind == "hum":
        return hum(rng, n)
    if kind == "clicks":
        return clicks(rng, n)
    if kind == "music":
        return music(rng, n)
    raise ValueError(kind)


# Clips ------------------------------------------------------------------------------------

def utterance_pool(seed, voices, count):
    rng = np.random.default_rng(seed)
    jobs = []
    for _ in range(count):
        voice, language = voices[int(rng.integers(0, len(voices)))]
        text = sentence(rng, language)
        jobs.append((voice, text, int(rng.integers(120, 211)), int(rng.integers(25, 75))))
    with ProcessPoolExecutor(max_workers=os.cpu_count()) as pool:
        audio = list(pool.map(_speak_job, jobs))
    return [(a, voice) for a, (voice, *_rest) in zip(audio, jobs) if len(a) > RATE // 4]


def _speak_job(job):
    return speak(*job)


def make_clip(rng, kind, snr_db, speech_pool, babble_pool, duration=20.0, speech=True):
    n = int(duration * RATE)
    clean = np.zeros(n)
    truth = np.zeros(n // FRAME, dtype=bool)
    voices = set()
    quiet_then_loud = rng.random() < 0.3
    at = int(rng.uniform(1.5, 3.5) * RATE)
    while speech and at < n - 2 * RATE:
        gain_db = rng.uniform(-4, 4)
        if quiet_then_loud:
            gain_db += -10 if at < n / 2 else 4
        pieces = []
        for k in range(int(rng.integers(1, 4))):
            audio, voice = speech_pool[int(rng.integers(0, len(speech_pool)))]
            voices.add(voice)
            if k:
                pieces.append(np.zeros(int(rng.uniform(0.15, 0.4) * RATE)))
            pieces.append(audio / (np.sqrt((audio ** 2).mean()) + 1e-9))
        utterance = np.concatenate(pieces) * 10 ** (gain_db / 20)
        utterance = utterance[: n - RATE - at]
        start_frame = at // FRAME
        at = start_frame * FRAME
        active = speech_frames(utterance)
        truth[start_frame: start_frame + len(active)] |= active[: len(truth) - start_frame]
        clean[at: at + len(utterance)] += utterance
        at += len(utterance) + int(rng.uniform(1.0, 3.5) * RATE)
    reverb = speech and rng.random() < 0.35
    wet = reverberate(rng, clean, rng.uniform(0.25, 0.7)) if reverb else clean
    background = noise(kind, rng, n, babble_pool)
    if speech and truth.any():
        speech_power = (frame_power(clean)[truth]).mean()
    else:
        speech_power = 1.0
    background *= np.sqrt(speech_power / 10 ** (snr_db / 10) / (background ** 2).mean())
    mix = wet + background
    level = 10 ** (rng.uniform(-36, -16) / 20) / np.sqrt(speech_power)  # speech at -36…-16 dBFS
    mix *= level
    peak = np.abs(mix).max()
    if peak > 0.95:
        mix *= 0.95 / peak
    return mix, truth, reverb, sorted(voices)


def store(out, name, mix, truth, rate, channels, rng):
    if rate != RATE:
        mix = signal.resample_poly(mix, rate, RATE)
    if channels == 2:
        delay = int(rng.integers(1, 20))
        right = np.concatenate([np.zeros(delay), mix[:-delay]]) * rng.uniform(0.7, 1.0)
        mix = np.stack([mix, right], axis=1).reshape(-1)
    write_wav(os.path.join(out, name + ".wav"), mix, rate, channels)
    with open(os.path.join(out, name + ".labels"), "w") as f:
        f.write("".join("1" if v else "0" for v in truth) + "\n")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--split", choices=["train", "eval"], required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--clips", type=int, default=None, help="train: clips per noise kind (default 40)")
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)

    eval_split = args.split == "eval"
    base_seed = 2026 if eval_split else 7
    voices = TRAIN_VOICES + HELD_OUT_VOICES if eval_split else TRAIN_VOICES
    speech_pool = utterance_pool(base_seed, voices, 160 if eval_split else 500)
    babble_pool = [a for a, _ in utterance_pool(base_seed + 1, voices, 60 if eval_split else 150)]

    rows = []
    rng = np.random.default_rng(base_seed + 2)
    if eval_split:
        plan = [(kind, snr, i) for kind in NOISES for snr in EVAL_SNRS for i in range(2)]
    else:
        per_kind = args.clips or 40
        # Babble and music are the hardest: half as many clips again.
        plan = [(kind, float(rng.uniform(-5, 25)), i) for kind in NOISES
                for i in range(per_kind * 3 // 2 if kind in ("babble", "music") else per_kind)]
    for index, (kind, snr, i) in enumerate(plan):
        clip_rng = np.random.default_rng([base_seed, index])
        mix, truth, reverb, clip_voices = make_clip(clip_rng, kind, snr, speech_pool, babble_pool)
        # Every fourth eval clip (and some training clips) exercise conversion: 48 kHz stereo or 8 kHz.
        rate, channels = RATE, 1
        if index % 8 == 3:
            rate, channels = 48000, 2
        elif index % 8 == 7:
            rate = 8000
        name = f"{kind}-{'%g' % round(snr)}db-{i}" if eval_split else f"train-{index:04d}"
        store(args.out, name, mix, truth, rate, channels, clip_rng)
        rows.append([name, kind, round(snr, 1), int(reverb), rate, channels, "speech", " ".join(clip_voices)])
    # Noise only: in eval 60 s of each kind (false triggers per minute); in train 20 s clips,
    # 4 of each kind and more of the two that sound most like speech (babble, music).
    noise_only = {"babble": 24, "music": 12}
    for index, (kind, i) in enumerate([(k, i) for k in NOISES for i in range(1 if eval_split else noise_only.get(k, 4))]):
        clip_rng = np.random.default_rng([base_seed, 1000 + index])
        mix, truth, _, _ = make_clip(clip_rng, kind, 5, speech_pool, babble_pool, duration=60 if eval_split else 20, speech=False)
        name = f"{kind}-noise-only" if eval_split else f"train-noise-{index:03d}"
        store(args.out, name, mix, truth, RATE, 1, clip_rng)
        rows.append([name, kind, "", 0, RATE, 1, "noise-only", ""])
    with open(os.path.join(args.out, "manifest.csv"), "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["name", "noise", "snr_db", "reverb", "sample_rate", "channels", "kind", "voices"])
        writer.writerows(rows)
    print(f"{len(rows)} clips in {args.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
