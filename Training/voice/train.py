#!/usr/bin/env python3
"""Trains the voice activity model of VoiceCore and writes its weights as Swift source.

    make voice-model        # corpus, features, training, weights: about ten minutes

or by hand:

    python3 Training/voice/corpus.py --split train --out out/voice-corpus/train
    python3 Training/voice/corpus.py --split select --out out/voice-corpus/select
    swift build -c release --product voice-features
    .build/release/voice-features out/voice-corpus/features out/voice-corpus/train/*.wav out/voice-corpus/select/*.wav
    python3 Training/voice/train.py --corpus out/voice-corpus/train --select out/voice-corpus/select \\
        --features out/voice-corpus/features --output Sources/VoiceCore/VoiceActivityWeights.swift

The network is the one VoiceActivityModel.swift runs (keep the two in step): per frame,
features normalised and embedded through EMBEDDING ReLU units; the embeddings at
CONTEXT_OFFSETS around the frame (clamped to the clip, as the detector clamps to the stream)
through HIDDEN ReLU units; a gated recurrent unit of RECURRENT cells over those units, frame
after frame from the start of the stream; a logistic output over the HIDDEN units and the
cells. Trained in two stages: the frame network alone (plain numpy, Adam, binary
cross-entropy, on frames drawn at random from all clips), then the whole network with the
recurrent stage added (PyTorch on the CPU, on 6 s stretches of the clips), starting from the
frame network with the cells' output weights at zero, so that stage two begins where stage
one ended. The detector's default onset threshold is chosen here too, on the select split
(the training speakers laid out as the evaluation splits are: the lowest threshold whose false
alarms stay within FALSE_ALARM_BUDGET), never on an evaluation split. The training split never
contains the evaluation split's sentences, noise instances or held-out voices (see corpus.py).
A tenth of the training clips is held back to report how training went.
"""
import argparse
import csv
import os

import numpy as np

FEATURES = 43
EMBEDDING = 24
HIDDEN = 48
RECURRENT = 24
CONTEXT_OFFSETS = np.array([-50, -30, -20, -14, -10, -7, -5, -3, -2, -1, 0, 1, 2, 3])
CENTRE = int(np.nonzero(CONTEXT_OFFSETS == 0)[0][0])
# Missing a frame of speech costs less than flagging a frame of noise...
NOISE_WEIGHT = 1.5
# ...except the first frames of an utterance: a late onset is a patient's first word lost (and
# barge-in over the kiosk's reply waits for it).
ONSET_WEIGHT = 3.0
ONSET_FRAMES = 15
# The detector's decision rule (VoiceActivityDetector.swift): keep the two in step.
RELEASE_RATIO = 0.7
HANGOVER_FRAMES = 8
# Finer near 1, where a hard corpus pushes the choice (a grid that stops at 0.98 chose its edge).
ONSET_CANDIDATES = np.concatenate([np.round(np.arange(0.30, 0.97, 0.02), 2),
                                   [0.97, 0.98, 0.985, 0.99, 0.993, 0.995, 0.997, 0.998, 0.999]])
# Share of noise-only frames the default threshold may flag on the select split, averaged over
# the kinds of noise (each kind counts alike; the evaluation reports pool frames, where each
# kind also has about the same share): the 3% the product allows overall (issue 17). Chosen on
# the held-back tenth of the training clips instead (the training plan's extra babble and
# television, 10 clips a kind), it was 0.995, which flagged 1.4-1.6% on the real-speech
# evaluation splits and cost a tenth of their F1. (So this rule was chosen after looking at
# heldout and independent figures: they are not untouched by model selection; docs/VOICE.md.)
FALSE_ALARM_BUDGET = 0.03
# Stage two: 32 stretches of 6 s a step, 1 500 steps, Adam from 5e-4 down a cosine (the frame
# network is trained already; a faster rate undoes it).
RECURRENT_BATCH = 32
STRETCH_FRAMES = 600
RECURRENT_STEPS = 1500
RECURRENT_RATE = 5e-4
START_SHARE = 0.25


def load(corpus, features_dir):
    with open(os.path.join(corpus, "manifest.csv")) as f:
        rows = list(csv.DictReader(f))
    names = [row["name"] for row in rows]
    kinds = [row["noise"] for row in rows]
    feats, labels, contexts, start = [], [], [], 0
    for name in names:
        x = np.fromfile(os.path.join(features_dir, name + ".f32"), dtype="<f4").reshape(-1, FEATURES)
        y = np.array([c == "1" for c in open(os.path.join(corpus, name + ".labels")).read().strip()], dtype=np.float32)
        n = min(len(x), len(y))
        local = np.arange(n)[:, None] + CONTEXT_OFFSETS[None, :]
        contexts.append(start + np.clip(local, 0, n - 1))
        feats.append(x[:n])
        labels.append(y[:n])
        start += n
    return names, kinds, feats, labels, contexts


class Model:
    def __init__(self, rng, mean, scale):
        self.mean, self.scale = mean.astype(np.float32), scale.astype(np.float32)
        inputs = len(CONTEXT_OFFSETS) * EMBEDDING
        self.params = {
            "w1": rng.standard_normal((FEATURES, EMBEDDING)) * np.sqrt(2 / FEATURES),
            "b1": np.zeros(EMBEDDING),
            "w2": rng.standard_normal((inputs, HIDDEN)) * np.sqrt(2 / inputs),
            "b2": np.zeros(HIDDEN),
            "w3": rng.standard_normal(HIDDEN) * np.sqrt(1 / HIDDEN),
            "b3": np.zeros(1),
        }
        self.params = {k: v.astype(np.float32) for k, v in self.params.items()}

    def forward(self, frames):
        """frames: (batch, context, FEATURES) raw features."""
        p = self.params
        xn = (frames - self.mean) * self.scale
        z1 = xn @ p["w1"] + p["b1"]
        e = np.maximum(z1, 0)
        x = e.reshape(len(frames), -1)
        z2 = x @ p["w2"] + p["b2"]
        h = np.maximum(z2, 0)
        logit = h @ p["w3"] + p["b3"][0]
        return logit, (xn, z1, x, z2, h)

    def gradients(self, frames, y, weights):
        p = self.params
        logit, (xn, z1, x, z2, h) = self.forward(frames)
        prob = 1 / (1 + np.exp(-logit))
        loss = -np.mean(weights * (y * np.log(prob + 1e-7) + (1 - y) * np.log(1 - prob + 1e-7)))
        dz = weights * (prob - y) / len(y)
        grads = {"w3": h.T @ dz, "b3": np.array([dz.sum()])}
        dz2 = np.outer(dz, p["w3"]) * (z2 > 0)
        grads["w2"] = x.T @ dz2
        grads["b2"] = dz2.sum(0)
        dz1 = (dz2 @ p["w2"].T).reshape(z1.shape) * (z1 > 0)
        grads["w1"] = np.einsum("bkf,bke->fe", xn, dz1)
        grads["b1"] = dz1.sum((0, 1))
        return loss, grads

    def probability(self, frames):
        """Stage one's network: the probability of speech of each frame from its context alone."""
        return 1 / (1 + np.exp(-self.forward(frames)[0]))


class RecurrentModel:
    """The whole network (the frame network and the recurrent stage), in numpy, run over a clip
    frame after frame as VoiceActivityModel.swift runs it; its parameters come from stage two.
    Gates in PyTorch's order and form: reset, update, candidate."""

    def __init__(self, mean, scale, params):
        self.mean, self.scale, self.params = mean, scale, params

    def probability_of_clip(self, frames):
        """frames: (frames, context, FEATURES) raw features of one clip, from its start."""
        p = self.params
        e = np.maximum(((frames - self.mean) * self.scale) @ p["w1"] + p["b1"], 0)
        hidden = np.maximum(e.reshape(len(frames), -1) @ p["w2"] + p["b2"], 0)
        gate_inputs = hidden @ p["gate_input"] + p["gate_input_bias"]
        cells, out = np.zeros(RECURRENT, dtype=np.float32), np.empty(len(frames), dtype=np.float32)
        for t in range(len(frames)):
            i = gate_inputs[t]
            r = cells @ p["gate_recurrent"] + p["gate_recurrent_bias"]
            reset = 1 / (1 + np.exp(-(i[:RECURRENT] + r[:RECURRENT])))
            update = 1 / (1 + np.exp(-(i[RECURRENT:2 * RECURRENT] + r[RECURRENT:2 * RECURRENT])))
            candidate = np.tanh(i[2 * RECURRENT:] + reset * r[2 * RECURRENT:])
            cells = (1 - update) * candidate + update * cells
            out[t] = hidden[t] @ p["w3"][:HIDDEN] + cells @ p["w3"][HIDDEN:] + p["b3"][0]
        return 1 / (1 + np.exp(-out))

    def serialise(self):
        p = self.params
        values = np.concatenate([
            self.mean, self.scale, p["w1"].reshape(-1), p["b1"], p["w2"].reshape(-1), p["b2"],
            p["gate_input"].reshape(-1), p["gate_recurrent"].reshape(-1), p["gate_input_bias"], p["gate_recurrent_bias"],
            p["w3"], p["b3"],
        ]).astype("<f4")
        return values


def train_recurrent(model, features, y, context, frame_weights, clips, seed, steps,
                    length=STRETCH_FRAMES, batch=RECURRENT_BATCH):
    """Stage two: the frame network with the recurrent stage, fine-tuned on `batch` stretches
    of `length` frames a step (`stretch`) from the training clips (`clips`: each a range of
    rows), the recurrent cells zero at each stretch's start. Returns the RecurrentModel."""
    import torch
    from torch import nn

    torch.manual_seed(seed)
    torch.set_num_threads(max(1, os.cpu_count() or 1))
    rng = np.random.default_rng(seed)
    p = model.params

    class Network(nn.Module):
        def __init__(self):
            super().__init__()
            self.embed = nn.Linear(FEATURES, EMBEDDING)
            self.hidden = nn.Linear(len(CONTEXT_OFFSETS) * EMBEDDING, HIDDEN)
            self.gru = nn.GRU(HIDDEN, RECURRENT, batch_first=True)
            self.out = nn.Linear(HIDDEN + RECURRENT, 1)
            with torch.no_grad():
                self.embed.weight.copy_(torch.tensor(p["w1"].T))
                self.embed.bias.copy_(torch.tensor(p["b1"]))
                self.hidden.weight.copy_(torch.tensor(p["w2"].T))
                self.hidden.bias.copy_(torch.tensor(p["b2"]))
                self.out.weight.zero_()
                self.out.weight[0, :HIDDEN] = torch.tensor(p["w3"])
                self.out.bias.fill_(float(p["b3"][0]))

        def forward(self, normalised):
            """normalised: (batch, frames, context, FEATURES); returns logits (batch, frames)."""
            batch, frames = normalised.shape[:2]
            e = torch.relu(self.embed(normalised)).reshape(batch, frames, -1)
            h = torch.relu(self.hidden(e))
            cells, _ = self.gru(h)
            return self.out(torch.cat([h, cells], -1)).squeeze(-1)

    network = Network()
    mean, scale = torch.tensor(model.mean), torch.tensor(model.scale)

    def numpy_of(t):
        return t.detach().numpy().astype(np.float32)

    def numpy_twin(network):
        params = {
            "w1": numpy_of(network.embed.weight.T), "b1": numpy_of(network.embed.bias),
            "w2": numpy_of(network.hidden.weight.T), "b2": numpy_of(network.hidden.bias),
            "gate_input": numpy_of(network.gru.weight_ih_l0.T), "gate_recurrent": numpy_of(network.gru.weight_hh_l0.T),
            "gate_input_bias": numpy_of(network.gru.bias_ih_l0), "gate_recurrent_bias": numpy_of(network.gru.bias_hh_l0),
            "w3": numpy_of(network.out.weight[0]), "b3": numpy_of(network.out.bias),
        }
        return RecurrentModel(model.mean, model.scale, params)

    def check_twin(network, when):
        """The numpy forward pass (the Swift one's twin) must give what PyTorch's does."""
        first, end = clips[0]
        rows = np.arange(first, end)
        with torch.no_grad():
            expected = torch.sigmoid(network((torch.tensor(features[context[rows]])[None] - mean) * scale))[0].numpy()
        error = np.abs(numpy_twin(network).probability_of_clip(features[context[rows]]) - expected)
        if not np.all(error < 1e-4):  # NaN fails too
            raise SystemExit(f"the numpy network differs from PyTorch's {when}: largest difference {np.max(error)}")

    # Checked before training too, with the cells' output weights made non-zero so that the
    # recurrent stage counts: a mismatch shows in seconds, not after the training.
    probe = Network()
    probe.load_state_dict(network.state_dict())
    with torch.no_grad():
        probe.out.weight[0, HIDDEN:] = torch.randn(RECURRENT)
    check_twin(probe, "before training")
    optimiser = torch.optim.Adam(network.parameters(), lr=RECURRENT_RATE)
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimiser, lambda s: min(1, (s + 1) / 100) * (0.5 * (1 + np.cos(np.pi * s / steps)) * 0.95 + 0.05))
    for step in range(1, steps + 1):
        rows = np.stack([stretch(rng, clips, first_clip, length)
                         for first_clip in rng.integers(0, len(clips), batch)])
        x = (torch.tensor(features[context[rows]]) - mean) * scale
        logits = network(x)
        loss = (nn.functional.binary_cross_entropy_with_logits(logits, torch.tensor(y[rows]), reduction="none")
                * torch.tensor(frame_weights[rows])).mean()
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        schedule.step()
        if step % 500 == 0 or step == steps:
            print(f"stage two, step {step}: loss {loss.item():.3f}", flush=True)

    check_twin(network, "after training")
    return numpy_twin(network)


def stretch(rng, clips, first_clip, length):
    """The rows of one stretch of `length` frames for stage two, from clip `first_clip` on.
    START_SHARE of the stretches begin where their clip does: the stream's start (the noise
    floor not yet learnt, the cells at zero) is where the kiosk's listening begins. A stretch
    that fits in its clip lies inside it; a longer one starts anywhere in it and goes on through
    whole clips drawn at random, one after the other, as a kiosk hears one visit after another
    for hours (the features start afresh at each join)."""
    first, end = clips[first_clip]
    if rng.random() < START_SHARE:
        start = first
    elif length <= end - first:
        start = first + rng.integers(0, end - first - length + 1)
    else:
        start = first + rng.integers(0, end - first)
    pieces, total = [np.arange(start, end)], end - start
    while total < length:
        first, end = clips[int(rng.integers(0, len(clips)))]
        pieces.append(np.arange(first, end))
        total += end - first
    return np.concatenate(pieces)[:length]


def frame_weight(y):
    """The loss weight of each frame: NOISE_WEIGHT for noise, ONSET_WEIGHT for the first
    ONSET_FRAMES of speech after a pause of at least 300 ms, 1 for the rest of the speech."""
    weights = np.where(y > 0.5, 1.0, NOISE_WEIGHT).astype(np.float32)
    quiet = 30
    for i, speech in enumerate(y > 0.5):
        if speech and quiet >= 30:
            weights[i: i + ONSET_FRAMES] = np.where(y[i: i + ONSET_FRAMES] > 0.5, ONSET_WEIGHT, NOISE_WEIGHT)
        quiet = 0 if speech else quiet + 1
    return weights


def f1(prob, y, threshold=0.5):
    decided = prob >= threshold
    tp = np.sum(decided & (y > 0.5))
    return 2 * tp / max(1, decided.sum() + (y > 0.5).sum())


def decide(prob, onset):
    """The detector's hysteresis: speech from `onset` on, until HANGOVER_FRAMES below release."""
    release = onset * RELEASE_RATIO
    out = np.zeros(len(prob), dtype=bool)
    in_speech, quiet = False, 0
    for i, p in enumerate(prob):
        if in_speech:
            if p >= release:
                quiet = 0
            else:
                quiet += 1
                if quiet > HANGOVER_FRAMES:
                    in_speech = False
        elif p >= onset:
            in_speech, quiet = True, 0
        out[i] = in_speech
    return out


def choose_onset_threshold(model, features, labels, contexts, kinds):
    """The lowest onset threshold (the most speech caught) whose false-alarm rate on the
    select split is within FALSE_ALARM_BUDGET (false alarms: frames flagged in noise-only
    stretches, truth 0 and >= 0.5 s from speech; the mean of each kind of noise's rate); the
    highest candidate if none is."""
    probs = [model.probability_of_clip(features[c]) for c in contexts]
    truths = [y > 0.5 for y in labels]
    quiet = [np.convolve(t.astype(int), np.ones(101, dtype=int), mode="same") == 0 for t in truths]
    speech_frames = sum(t.sum() for t in truths)
    quiet_frames = {kind: sum(q.sum() for q, k in zip(quiet, kinds) if k == kind) for kind in sorted(set(kinds))}
    chosen = None
    for onset in ONSET_CANDIDATES:
        hits = flagged = 0
        alarms = dict.fromkeys(quiet_frames, 0)
        for p, t, q, kind in zip(probs, truths, quiet, kinds):
            d = decide(p, onset)
            hits += np.sum(d & t)
            flagged += d.sum()
            alarms[kind] += np.sum(d & q)
        f1_score = 2 * hits / max(1, flagged + speech_frames)
        false_alarms = float(np.mean([alarms[k] / max(1, quiet_frames[k]) for k in quiet_frames]))
        print(f"onset {onset:.3f}: select F1 {f1_score:.3f}, false alarms {false_alarms:.1%} (mean of the kinds)")
        if chosen is None and false_alarms <= FALSE_ALARM_BUDGET:
            chosen = float(onset)
    return chosen if chosen is not None else float(ONSET_CANDIDATES[-1])


# The reference input whose probabilities the generated source carries, for the test that the
# Swift network computes what this one does: REFERENCE_FRAMES frames whose normalised features
# are 2 sin(0.05 t + f) (t the frame, f the feature).
REFERENCE_FRAMES = 300


def reference_probabilities(model):
    t = np.arange(REFERENCE_FRAMES)[:, None]
    f = np.arange(FEATURES)[None, :]
    frames = (model.mean + 2 * np.sin(0.05 * t + f) / model.scale).astype(np.float32)
    context = np.clip(t + CONTEXT_OFFSETS[None, :], 0, REFERENCE_FRAMES - 1)
    return model.probability_of_clip(frames[context])


def write_swift(path, model, onset_threshold):
    values = model.serialise()
    hex_text = values.tobytes().hex()
    lines = [hex_text[i: i + 128] for i in range(0, len(hex_text), 128)]
    with open(path, "w") as f:
        f.write("// Generated by Training/voice/train.py (make voice-model): do not edit.\n\n")
        f.write("/// The trained parameters of ``VoiceActivityModel``, little-endian float32 in hex.\n")
        f.write("package enum VoiceActivityWeights {\n    static let hex = \"\"\"\n")
        for line in lines:
            f.write("        " + line + "\n")
        f.write("        \"\"\"\n\n")
        f.write("    /// The onset threshold at sensitivity 0.5, chosen on the select split (train.py).\n")
        f.write(f"    static let onsetThreshold: Float = {onset_threshold}\n\n")
        f.write("    /// What the trained network gives frames 0, 10, 20... of the reference input (normalised\n")
        f.write("    /// features 2 sin(0.05 t + f), frame t, feature f), for the test that Swift computes what\n")
        f.write("    /// training computed.\n")
        reference = reference_probabilities(model)[::10]
        f.write("    package static let referenceProbabilities: [Float] = [\n")
        for i in range(0, len(reference), 6):
            f.write("        " + ", ".join(f"{v:.7g}" for v in reference[i: i + 6]) + ",\n")
        f.write("    ]\n}\n")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", required=True, help="the train split")
    parser.add_argument("--select", required=True, help="the select split (for the onset threshold)")
    parser.add_argument("--features", required=True)
    parser.add_argument("--output", required=True)
    parser.add_argument("--steps", type=int, default=16000, help="stage one's steps")
    parser.add_argument("--recurrent-steps", type=int, default=RECURRENT_STEPS, help="stage two's steps")
    parser.add_argument("--stretch-seconds", type=float, default=STRETCH_FRAMES / 100,
                        help="stage two's stretches (longer than a clip: clips joined, docs/VOICE.md)")
    parser.add_argument("--stretch-batch", type=int, default=RECURRENT_BATCH, help="stage two's stretches a step")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()

    rng = np.random.default_rng(args.seed)
    names, _, feats, labels, contexts = load(args.corpus, args.features)
    held_back = set(range(0, len(names), 10))
    train_files = [i for i in range(len(names)) if i not in held_back]
    features = np.concatenate(feats).astype(np.float32)
    y = np.concatenate(labels)
    context = np.concatenate(contexts)
    train_rows = np.concatenate([contexts[i][:, CENTRE] for i in train_files])
    frame_weights = np.concatenate([frame_weight(labels[i]) for i in range(len(names))])
    check_rows = np.concatenate([contexts[i][:, CENTRE] for i in sorted(held_back)])
    mean = features[train_rows].mean(0)
    scale = 1 / (features[train_rows].std(0) + 1e-3)
    model = Model(rng, mean, scale)
    print(f"{len(train_rows)} training frames ({y[train_rows].mean():.0%} speech), {len(check_rows)} held back")

    moments = {k: (np.zeros_like(v), np.zeros_like(v)) for k, v in model.params.items()}
    beta1, beta2, batch = 0.9, 0.999, 1024
    for step in range(1, args.steps + 1):
        rate = 2e-3 * min(1, step / 500) * (0.5 * (1 + np.cos(np.pi * step / args.steps)) * 0.95 + 0.05)
        rows = train_rows[rng.integers(0, len(train_rows), batch)]
        loss, grads = model.gradients(features[context[rows]], y[rows], frame_weights[rows])
        for k, g in grads.items():
            if k.startswith("w"):
                g = g + 1e-4 * model.params[k]
            m, v = moments[k]
            m *= beta1
            m += (1 - beta1) * g
            v *= beta2
            v += (1 - beta2) * g * g
            mhat, vhat = m / (1 - beta1 ** step), v / (1 - beta2 ** step)
            model.params[k] -= (rate * mhat / (np.sqrt(vhat) + 1e-8)).astype(np.float32)
        if step % 2000 == 0 or step == args.steps:
            sample = check_rows[:: max(1, len(check_rows) // 50000)]
            prob = model.probability(features[context[sample]])
            print(f"step {step}: loss {loss:.3f}, held-back frame F1 {f1(prob, y[sample]):.3f}")

    clips = [(contexts[i][0, CENTRE], contexts[i][-1, CENTRE] + 1) for i in train_files]
    model = train_recurrent(model, features, y, context, frame_weights, clips, args.seed, args.recurrent_steps,
                            round(args.stretch_seconds * 100), args.stretch_batch)
    held_back_probs = [model.probability_of_clip(features[contexts[i]]) for i in sorted(held_back)]
    print(f"held-back frame F1 with the recurrent stage "
          f"{f1(np.concatenate(held_back_probs), np.concatenate([labels[i] for i in sorted(held_back)])):.3f}")

    _, select_kinds, select_feats, select_labels, select_contexts = load(args.select, args.features)
    onset = choose_onset_threshold(model, np.concatenate(select_feats).astype(np.float32), select_labels,
                                   select_contexts, select_kinds)
    print(f"onset threshold {onset}")
    write_swift(args.output, model, onset)
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
