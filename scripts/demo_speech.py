#!/usr/bin/env python3
"""Writes the demo's microphone track: a patient's question (espeak-ng) at 12 s, once the kiosk
has a heart rate to quote, over quiet room noise, 16 kHz mono 16-bit.
Usage: demo_speech.py OUT.wav SECONDS"""
import subprocess
import sys
import tempfile
import wave

import numpy as np

out, seconds = sys.argv[1], float(sys.argv[2])
rate = 16000
rng = np.random.default_rng(7)
track = rng.normal(0, 0.003, int(seconds * rate))
for start, text in [(12.0, "What is my heart rate?")]:
    with tempfile.NamedTemporaryFile(suffix=".wav") as raw:
        subprocess.run(["espeak-ng", "-v", "en-us", "-s", "150", "-w", raw.name, text], check=True)
        with wave.open(raw.name) as w:
            voice = np.frombuffer(w.readframes(w.getnframes()), dtype=np.int16) / 32768.0
            native = w.getframerate()
    voice = np.interp(np.arange(0, len(voice) * rate / native) * native / rate, np.arange(len(voice)), voice)
    at = int(start * rate)
    track[at:at + len(voice)] += 0.5 * voice[: len(track) - at]
with wave.open(out, "wb") as w:
    w.setnchannels(1)
    w.setsampwidth(2)
    w.setframerate(rate)
    w.writeframes((np.clip(track, -1, 1) * 32767).astype(np.int16).tobytes())
