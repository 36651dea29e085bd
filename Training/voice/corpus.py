#!/usr/bin/env python3
"""Labelled voice activity corpora: speech, synthetic and real, in rooms and in clinic noise.

    python3 Training/voice/corpus.py --split train       --out out/voice-corpus/train
    python3 Training/voice/corpus.py --split select      --out out/voice-corpus/select
    python3 Training/voice/corpus.py --split eval        --out out/voice-corpus/eval
    python3 Training/voice/corpus.py --split heldout     --out out/voice-corpus/heldout
    python3 Training/voice/corpus.py --split independent --out out/voice-corpus/independent
    python3 Training/voice/corpus.py --split acted       --out out/voice-corpus/acted

Each clip is about 20 s: a stretch of noise only, then utterances (one to six sentences or
prompts from one speaker, short pauses inside, at varying loudness) separated by pauses, all
over one kind of noise (noises.py) at a set signal-to-noise ratio. The talker stands in a room
(rooms.py: image-method early reflections and a late tail) at 0.3 to 3 m from the microphone,
or close and nearly dry; the mix goes through a cheap microphone (band edges, pumping gain,
clipping). Kind "reverb-2m" puts the talker at 2 m in a live room over quiet noise; kind
"monologue" (the evaluation splits; train only with --monologue) a talker who reads on, barely
pausing, at 0.5-2.5 m in a quiet live room. For each
clip NAME the split folder gets NAME.wav, NAME.labels (one character per 10 ms frame, 1 where
the clean dry speech, delayed by the direct path, is active) and a row in manifest.csv.

The splits and their speech:
* train: espeak-ng (TRAIN_VOICES) and the real speakers whose role is "train" in
  speech_sources.py, speed-perturbed (other pitches and formants);
* select: the training speakers again (other espeak-ng sentences and noise instances; the same
  real recordings as train, without its speed changes), laid out as the evaluation splits are
  but twice over: where train.py chooses the detector's onset threshold;
* eval: espeak-ng only, adding voices training never heard (HELD_OUT_VOICES); what the unit
  tests read (fast to make);
* heldout: the real speakers we keep out of training and model selection ("held-out");
* independent: the recordings reserved for independent evaluation ("independent":
  PocketSphinx and Codec2 test data, Asterisk's US English prompts);
* acted: the acted dialogue we keep out of training and model selection ("acted": the game
  Drascula's voice actors in English, Spanish and Italian).
Only train and select are used to fit or select anything. The evaluation splits share no
sentence text, recording or noise instance with train and select.

Truth: a frame is speech when the clean, dry speech in it, delayed by the direct path from
the talker to the microphone, is within 35 dB of the loudest frame of its utterance; gaps of
less than 200 ms between speech frames (the short pauses inside a sentence) count as speech too.

SNR: active speech power as the microphone hears it (over the speech frames, through the
microphone's band when the clip has one) against the mean noise power of the clip through the
same band: a high-pass at 300 Hz removes most of a rumble, so the rumble's level is set after it.

Sample rates: every seventh clip (from the fourth) is written at 48 kHz stereo and every seventh
(from the seventh) at 8 kHz; seven is prime to the four SNRs of a kind, so each SNR gets both.

Distant talkers (babble, television) speak utterances the patient never speaks: a third of the
split's pool is set aside for them.

Everything is seeded: the same command on the same Debian packages makes the same files.
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

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import noises  # noqa: E402
import rooms  # noqa: E402
import speech_sources  # noqa: E402

RATE = 16000
FRAME = speech_sources.FRAME  # 10 ms
# Besides the kinds of noise, two talkers whose room is the difficulty: reverb-2m, at 2 m in a
# live room; monologue, a talker who reads on, barely pausing, at 0.5-2.5 m in a quiet live room.
NOISES = noises.NOISE_KINDS + ["reverb-2m", "monologue"]
EVAL_SNRS = [20, 10, 5, 0]
REVERB_SNRS = [30, 25, 20, 15]  # the talker at 2 m: the room is the difficulty, the noise is quiet
MONOLOGUE_SNRS = [40, 35, 30, 20]

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


def speech_frames(clean):
    """Truth for one dry utterance: frames within 35 dB of its loudest, 200 ms gaps filled."""
    power = speech_sources.frame_power(np.concatenate([clean, np.zeros(-len(clean) % FRAME)]))
    if power.max() <= 0:
        return np.zeros(len(power), dtype=bool)
    active = power > power.max() * 10 ** (-35 / 10)
    idx = np.nonzero(active)[0]
    for a, b in zip(idx[:-1], idx[1:]):
        if 1 < b - a <= 20:
            active[a:b] = True
    return active


# Clips ------------------------------------------------------------------------------------

def utterance_pool(seed, voices, count):
    """`count` espeak-ng sentences from `voices`, as (audio, voice name)."""
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


# Speed factors for real speech in training (resampled, so pitch and formants move together,
# as between speakers): up/down of scipy's resample_poly.
PERTURBATIONS = [(4, 5), (17, 20), (9, 10), (19, 20), (1, 1), (1, 1), (21, 20), (11, 10), (6, 5)]


def real_pool(seed, role, perturb, extra=()):
    """Every utterance of the real speech sources with `role` and then of the sources named in
    `extra`, as (audio, speaker)."""
    rng = np.random.default_rng(seed)
    pool = []
    for name in speech_sources.sources(role) + list(extra):
        for audio, speaker in speech_sources.utterances(name):
            if perturb:
                up, down = PERTURBATIONS[int(rng.integers(0, len(PERTURBATIONS)))]
                if up != down:
                    audio = signal.resample_poly(audio, up, down)
            pool.append((audio, speaker))
    return pool


def utterance(rng, speech_pool, voices):
    """One to six recordings of one speaker, with the short pauses of continuous speech."""
    first, speaker = speech_pool[int(rng.integers(0, len(speech_pool)))]
    same = [i for i, (_, v) in enumerate(speech_pool) if v == speaker] if rng.random() < 0.7 else None
    pieces = [first]
    for _ in range(int(rng.integers(0, 6))):
        index = int(rng.choice(same)) if same else int(rng.integers(0, len(speech_pool)))
        pieces.append(np.zeros(int(rng.uniform(0.08, 0.5) * RATE)))
        pieces.append(speech_pool[index][0])
    voices.add(speaker)
    return np.concatenate([p / (np.sqrt((p ** 2).mean()) + 1e-9) if p.any() else p for p in pieces])


def choose_room(rng, kind):
    """(distance m, RT60 s) of the talker, or None for a close talker in a dry corner."""
    if kind == "reverb-2m":
        return float(rng.uniform(1.8, 2.2)), float(rng.uniform(0.5, 0.9))
    if kind == "monologue":
        return float(rng.uniform(0.5, 2.5)), float(rng.uniform(0.3, 1.0))
    if rng.random() < 0.35:
        return None
    return rooms.random_room(rng)


def make_clip(rng, kind, snr_db, speech_pool, noise_pool, duration=20.0, speech=True, microphone=0.5, speech_first=False):
    n = int(duration * RATE)
    clean = np.zeros(n)
    truth = np.zeros(n // FRAME, dtype=bool)
    voices = set()
    room = choose_room(rng, kind) if speech else None
    lag = np.zeros(int(round(room[0] / 343 * RATE)) if room else 0)  # the direct path's travel time
    quiet_then_loud = rng.random() < 0.3
    continuous = rng.random() < 0.3  # little pause between utterances: the noise floor rises
    # A monologue's level never drops to the noise for long, as a television's does not either.
    monologue = kind == "monologue"
    # A stretch of noise only first, unless the clip starts with speech (as many recordings do:
    # the features' noise floor is then first set on speech).
    at = int((rng.uniform(0, 0.3) if speech_first else rng.uniform(1.5, 3.5)) * RATE)
    while speech and at < n - 2 * RATE:
        gain_db = rng.uniform(-4, 4)
        if quiet_then_loud:
            gain_db += -10 if at < n / 2 else 4
        piece = utterance(rng, speech_pool, voices) * 10 ** (gain_db / 20)
        piece = piece[: n - RATE - at]
        start_frame = at // FRAME
        at = start_frame * FRAME
        active = speech_frames(np.concatenate([lag, piece]))
        truth[start_frame: start_frame + len(active)] |= active[: len(truth) - start_frame]
        clean[at: at + len(piece)] += piece
        pause = rng.uniform(0.15, 0.6) if monologue else rng.uniform(0.3, 1.0) if continuous else rng.uniform(0.8, 4.0)
        at += len(piece) + int(pause * RATE)
    wet = signal.fftconvolve(clean, rooms.room_response(rng, *room))[:n] if room else clean
    background_kind = kind if kind not in ("reverb-2m", "monologue") else str(rng.choice(["pink", "ventilation", "brown"]))
    background = noises.make_noise(background_kind, rng, n, noise_pool)
    mic = rooms.microphone_settings(rng) if rng.random() < microphone else None
    heard = (lambda x: rooms.microphone_band(mic, x)) if mic else (lambda x: x)
    if speech and truth.any():
        speech_power = (speech_sources.frame_power(heard(wet))[truth]).mean()
    else:
        speech_power = 1.0
    background *= np.sqrt(speech_power / 10 ** (snr_db / 10) / ((heard(background) ** 2).mean() + 1e-20))
    mix = wet + background
    level = 10 ** (rng.uniform(-40, -14) / 20) / np.sqrt(speech_power)  # speech at -40…-14 dBFS
    mix *= level
    if mic:
        mix = rooms.apply_microphone(mic, mix)
    peak = np.abs(mix).max()
    if peak > 0.99:  # too hot: the ADC clips, or (as often) the recording was normalised
        mix = np.clip(mix, -0.99, 0.99) if rng.random() < 0.5 else mix * (0.95 / peak)
    return mix, truth, room, sorted(voices)


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


SPLITS = {
    # split: (base seed, espeak-ng voices ("train" or "eval" set, or none), real speech role or none)
    "train": (7, "train", "train"),
    "select": (5150, "train", "train"),
    "eval": (2026, "eval", None),
    "heldout": (3031, None, "held-out"),
    "independent": (4041, None, "independent"),
    "acted": (6061, None, "acted"),
}

_POOLS = {}


def _clip_job(job):
    out, name, index, kind, snr, speech, duration, rate, channels, base_seed, microphone, speech_first = job
    clip_rng = np.random.default_rng([base_seed, index])
    mix, truth, room, clip_voices = make_clip(clip_rng, kind, snr, _POOLS["speech"], _POOLS["noise"],
                                              duration=duration, speech=speech, microphone=microphone,
                                              speech_first=speech_first)
    store(out, name, mix, truth, rate, channels, clip_rng)
    distance = f"{room[0]:.1f}" if room else ""
    rt60 = f"{room[1]:.2f}" if room else ""
    return [name, kind, "" if not speech else round(snr, 1), int(room is not None), rate, channels,
            "speech" if speech else "noise-only", " ".join(clip_voices), distance, rt60]


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--split", choices=list(SPLITS), required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--clips", type=int, default=None, help="train: speech clips per noise kind (default 40)")
    parser.add_argument("--steady", type=lambda v: [k for k in v.split(",") if k], default=[],
                        help="train: noise kinds (comma-separated) to add eight 60 s noise-only clips of each, "
                             "all through a cheap microphone (default: none)")
    parser.add_argument("--extra-speech", type=lambda v: [k for k in v.split(",") if k], default=[],
                        help="train and select: sources of role \"optional\" in speech_sources.py (comma-separated) "
                             "to add to the training speakers (default: none)")
    parser.add_argument("--distant-factor", type=float, default=1.5,
                        help="train: clips of kind reverb-2m (the talker at 2 m in a live room) per clip of a "
                             "plain noise kind (default 1.5)")
    parser.add_argument("--monologue", type=float, default=0.0,
                        help="train: clips of kind monologue (one talker reading on at 0.5-2.5 m in a quiet live "
                             "room, 15-45 dB SNR) per clip of a plain noise kind (default 0)")
    parser.add_argument("--speech-first", type=float, default=0.0,
                        help="train: the share of speech clips that start with speech (0-0.3 s in) instead of "
                             "1.5-3.5 s of noise only (default 0)")
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)

    base_seed, synthetic, real_role = SPLITS[args.split]
    training = args.split == "train"
    speech_pool = []
    if synthetic:
        voices = TRAIN_VOICES if synthetic == "train" else TRAIN_VOICES + HELD_OUT_VOICES
        speech_pool += utterance_pool(base_seed, voices, 500 if training else 160)
    extra = args.extra_speech if real_role == "train" else []
    for name in extra:
        if name not in speech_sources.sources("optional"):
            raise SystemExit(f"--extra-speech {name}: not an optional source of speech_sources.py")
    if real_role:
        speech_pool += real_pool(base_seed, real_role, perturb=training, extra=extra)
    # Distant talkers (babble, television) speak with the split's own voices, utterances the
    # patient never speaks.
    noise_pool = [a for a, _ in speech_pool[1::3]]
    speech_pool = [entry for i, entry in enumerate(speech_pool) if i % 3 != 1]

    rng = np.random.default_rng(base_seed + 2)
    copies = 2 if args.split == "select" else 1
    if training:
        per_kind = args.clips or 40
        harder = {"babble": 2.0, "tv": 1.5, "music": 1.5, "keyboard": 1.5, "reverb-2m": args.distant_factor,
                  "monologue": args.monologue}
        snr_range = {"reverb-2m": (10, 30), "monologue": (15, 45)}
        plan = [(kind, float(rng.uniform(*snr_range.get(kind, (-5, 25)))))
                for kind in NOISES for _ in range(int(per_kind * harder.get(kind, 1.0)))]
        noise_only = [(k, 0) for k in noises.NOISE_KINDS
                      for _ in range({"babble": 16, "tv": 12, "music": 10, "keyboard": 10}.get(k, 6))]
        noise_seconds = 20
        # With --steady: eight minutes of steady noise per kind named, through a cheap microphone
        # whose band colours it (a steady hiss or rumble), for recurrent cells that must stay
        # quiet however long it lasts (tried in docs/VOICE.md, "Steady noise"; off by default).
        steady_only = [(k, 0) for k in args.steady for _ in range(8)]
    else:
        # Select stays as it was before the monologue kind, so make voice-model reproduces the
        # committed threshold choice.
        kinds = [k for k in NOISES if not (args.split == "select" and k == "monologue")]
        plan = [(kind, snr) for _ in range(copies) for kind in kinds
                for snr in {"reverb-2m": REVERB_SNRS, "monologue": MONOLOGUE_SNRS}.get(kind, EVAL_SNRS)]
        noise_only = [(k, copy_number) for copy_number in range(copies) for k in noises.NOISE_KINDS]
        noise_seconds = 30
        steady_only = []
    if len(plan) >= 1000:  # the noise-only clips' seeds start at 1000
        raise SystemExit(f"{len(plan)} speech clips: at most 999 (lower --clips)")
    jobs = []
    for index, (kind, snr) in enumerate(plan):
        # Some clips exercise conversion: 48 kHz stereo or 8 kHz. Seven is prime to the four
        # SNRs of a kind, so every SNR gets converted and unconverted clips.
        rate, channels = RATE, 1
        if index % 7 == 3:
            rate, channels = 48000, 2
        elif index % 7 == 6:
            rate = 8000
        suffix = "-b" if index >= len(plan) // copies else ""
        name = f"train-{index:04d}" if training else f"{kind}-{'%g' % round(snr)}db{suffix}"
        # Drawn apart from the clip's own generator, so the other clips are as without the option.
        speech_first = training and np.random.default_rng([base_seed, index, 1]).random() < args.speech_first
        jobs.append((args.out, name, index, kind, snr, True, 20.0, rate, channels, base_seed, 0.5, speech_first))
    for index, (kind, copy_number) in enumerate(noise_only):
        name = f"train-noise-{index:03d}" if training else f"{kind}-noise-only{'-b' if copy_number else ''}"
        jobs.append((args.out, name, 1000 + index, kind, 5, False, noise_seconds, RATE, 1, base_seed, 0.5, False))
    for index, (kind, _) in enumerate(steady_only):  # their seeds start at 2000
        jobs.append((args.out, f"train-steady-{index:03d}", 2000 + index, kind, 5, False, 60.0, RATE, 1, base_seed, 1.0, False))
    _POOLS["speech"], _POOLS["noise"] = speech_pool, noise_pool
    with ProcessPoolExecutor(max_workers=os.cpu_count()) as pool:
        rows = list(pool.map(_clip_job, jobs, chunksize=4))
    with open(os.path.join(args.out, "manifest.csv"), "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["name", "noise", "snr_db", "reverb", "sample_rate", "channels", "kind", "voices",
                         "distance_m", "rt60_s"])
        writer.writerows(rows)
    print(f"{len(rows)} clips in {args.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
