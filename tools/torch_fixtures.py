#!/usr/bin/env python3
"""torch_fixtures.py - the PyTorch side of the parity test (tests/test_torch_parity.c).

Builds the report's network in PyTorch the way the report wrote it (a module with
lstm1 = nn.LSTMCell(D, H), lstm2 = nn.LSTMCell(H, H), dropout between them, fc = nn.Linear(H, D),
and a Python loop over the time steps carrying (h, c) of each layer), runs one batch through it
for each of groovybee's two presets, and writes what the C side must reproduce to
tests/fixtures/torch_<preset>.safetensors:

    lstm1.weight_ih ... fc.bias      the initial parameters, PyTorch's own names and layouts
    x, target                        (T, B, D) the batch and its targets (the next step)
    y                                (T, B, D) the model's outputs (evaluation, no dropout)
    loss                             scalar, mean reduction over the steps the preset covers
    grad.<param>                     d loss / d param for every parameter
    losses_adam                      (5) the loss before each of 5 Adam steps on the same batch
    adam5.<param>                    the parameters after those 5 steps

A fourth preset, events, is the token model of issue 12 (Performance RNN's shape): each step's
input is a token id in 0..V-1 (V = 388, note_seq's PerformanceOneHotEncoding size), fed to
lstm1 = nn.LSTMCell(V, H) as its one-hot vector (one-hot times W_ih is the embedding groovybee
gathers: column k of W_ih), fc = nn.Linear(H, V) gives the logits of the next token, and the
loss is nn.CrossEntropyLoss (mean over the real steps of windows with lengths: the padding's
targets are ignore_index). x is (T, B, 1) (the ids as floats, groovybee's input row), target
(T, B) the next ids, mask (T, B), nll (T, B) the per-step cross-entropy (reduction 'none').

A third preset, nade, puts an RNN-NADE head (Boulanger-Lewandowski et al. 2012, section 4) on
the same LSTMCell stack: the input has E = 20 meter columns after the D pitches (x is
(T, B, D + E)), fc = nn.Linear(H, D + Hn) is the conditioner (its output is [bv (D) | bh (Hn)]),
the NADE's own weights are nade.W (D, Hn) and nade.V (D, Hn) (row k: pitch k's, the layout of
groovybee's parameter block), windows have lengths (mask, T x B), and the file also holds
mask (T, B), p (T, B, D) (the NADE's conditionals under teacher forcing) and nll (T, B) (nats
per step); y is the conditioner's output (T, B, D + Hn). See NADE below and
tests/fixtures/README.md.

Dropout is 0 in these runs: a dropout mask is random, and PyTorch's generator and groovybee's
(xoshiro256**) cannot draw the same masks, so with p > 0 the two sides would compute different
(equally right) numbers. The C API has no way to be handed an external mask, so there is no
fixture with p > 0; dropout is covered by the finite-difference tests of tests/test_lstm.c.

Everything is float32, as in the C code. The same computation is repeated in float64 from the
same initial weights, and the float32-vs-float64 differences (the rounding noise of float32 on
this very problem) are printed and stored in the metadata (noise.*), so that the C test's
tolerances can be judged against them.

The file is written by the safetensors spec (docs/formats.md) by hand: Debian's torch 1.13 has
no `safetensors` module. Run by developers, not by CI (the fixtures are committed):

    /usr/bin/python3 tools/torch_fixtures.py [OUT_DIR [PRESET...]]   (default tests/fixtures,
                                                                       every preset)

The output is deterministic for a given torch build (fixed seeds, one thread).
"""
import json
import math
import os
import struct
import sys

import numpy as np
import torch
import torch.nn as nn

COMMAND = "/usr/bin/python3 tools/torch_fixtures.py"
ADAM = dict(lr=1e-3, betas=(0.9, 0.999), eps=1e-8)
ADAM_STEPS = 5

# The presets at small but non-trivial sizes. paper: the report's encoding (velocities / 127,
# MSE on the last step's prediction); roll: binary rolls with onsets (D = 256), BCE with logits
# on every step; nade: binary rolls plus E meter columns, an RNN-NADE head of Hn hidden units,
# windows of lengths lens (the NADE's NLL on every real step).
PRESETS = {
    "paper": dict(D=128, H=32, L=2, T=12, B=4, loss="mse", loss_on="last", density=0.08,
                  seed=20180301),
    "roll": dict(D=256, H=32, L=2, T=16, B=4, loss="bce", loss_on="all", density=0.06,
                 seed=20180302),
    "nade": dict(D=128, E=20, Hn=16, H=32, L=2, T=8, B=3, lens=(8, 8, 5), loss="nade",
                 loss_on="mask", density=0.07, seed=20180303),
    "events": dict(D=388, V=388, H=32, L=2, T=16, B=3, lens=(16, 16, 9), loss="ce",
                   loss_on="mask", density=0.0, seed=20180304),
}

# The meter columns of the nade preset: two one-hots, E = POS + BEATS. Step s of a piece is at
# in-beat position (s % 4) * 2 (of POS) and beat (s // 4) % 3 (of BEATS): 4 steps a beat, 3/4.
METER_POS, METER_BEATS = 8, 12
METER_START_MAX = 48  # each window starts at a random step in [0, 48) (4 bars)


class NADE(nn.Module):
    """RNN-NADE's output distribution (Boulanger-Lewandowski et al. 2012, section 4) over D
    binary pitches, in pitch order, given the conditioner's output y = [bv (D) | bh (Hn)]:

        a = bh
        for k in 0..D-1:
            h_k = sigmoid(a);  logit_k = bv[k] + V[k] . h_k;  a = a + W[k] * v[k]

    Written as that loop over k (the summation order of a is the C code's). W and V are both
    (D, Hn), row k for pitch k, as groovybee stores them (nade.h); W is made first."""

    def __init__(self, D, Hn):
        super().__init__()
        self.W = nn.Parameter(torch.empty(D, Hn).uniform_(-1 / math.sqrt(D), 1 / math.sqrt(D)))
        self.V = nn.Parameter(torch.empty(D, Hn).uniform_(-1 / math.sqrt(Hn), 1 / math.sqrt(Hn)))

    def forward(self, y, v):  # y (..., D + Hn), v (..., D) binary -> logits (..., D)
        D = self.V.shape[0]
        bv, a = y[..., :D], y[..., D:]
        logits = []
        for k in range(D):
            logits.append(bv[..., k] + torch.sigmoid(a) @ self.V[k])
            a = a + self.W[k] * v[..., k:k + 1]
        return torch.stack(logits, -1)


def nade_nll(logits, v):
    """Per-step NLL in nats, summed over the pitches: sum_k softplus(l_k) - v_k l_k."""
    return (nn.functional.softplus(logits) - v * logits).sum(-1)


class Net(nn.Module):
    """The report's network: two LSTMCells, dropout between them, a linear head; with Hn, the
    linear head is the conditioner of an RNN-NADE over the first D columns; with V, the input
    is a token id a step, fed to lstm1 as its one-hot vector of V (then E extras)."""

    def __init__(self, D, H, dropout, E=0, Hn=0, V=0):
        super().__init__()
        self.V = V
        self.lstm1 = nn.LSTMCell((V or D) + E, H)
        self.lstm2 = nn.LSTMCell(H, H)
        self.dropout = nn.Dropout(dropout)
        self.fc = nn.Linear(H, D + Hn)
        if Hn:
            self.nade = NADE(D, Hn)
        self.H = H

    def forward(self, x):  # x (T, B, D + E) or (T, B, 1 + E) -> y (T, B, D + Hn)
        if self.V:  # the token's one-hot vector, then the extras
            onehot = nn.functional.one_hot(x[..., 0].long(), self.V).to(x.dtype)
            x = torch.cat([onehot, x[..., 1:]], -1)
        T, B, _ = x.shape
        z = x.new_zeros(B, self.H)
        h1, c1, h2, c2 = z, z, z, z
        out = []
        for t in range(T):
            h1, c1 = self.lstm1(x[t], (h1, c1))
            h2, c2 = self.lstm2(self.dropout(h1), (h2, c2))
            out.append(self.fc(h2))
        return torch.stack(out)


def make_net(cfg):
    return Net(cfg["D"], cfg["H"], dropout=0.0, E=cfg.get("E", 0), Hn=cfg.get("Hn", 0),
               V=cfg.get("V", 0))


def loss_fn(cfg, net, y, batch):
    """The preset's loss of the outputs y, and what else the fixture stores of it (nade: p,
    nll)."""
    target = batch["target"]
    if cfg["loss"] == "ce":  # CrossEntropyLoss, mean over the real steps (padding ignored)
        V, logits = cfg["D"], y.reshape(-1, cfg["D"])
        ids = target.long().reshape(-1)
        ignore = ids.masked_fill(batch["mask"].reshape(-1) == 0, -100)
        loss = nn.CrossEntropyLoss(ignore_index=-100)(logits, ignore)
        nll = nn.functional.cross_entropy(logits, ids, reduction="none").reshape(target.shape)
        return loss, {"nll": nll}
    if cfg["loss"] == "nade":
        logits = net.nade(y, target)
        nll = nade_nll(logits, target)  # (T, B)
        mask = batch["mask"]
        loss = (mask * nll).sum() / (cfg["D"] * mask.sum())  # mean over real steps and pitches
        return loss, {"p": torch.sigmoid(logits), "nll": nll}
    if cfg["loss_on"] == "last":
        y, target = y[-1], target[-1]
    if cfg["loss"] == "mse":
        return nn.functional.mse_loss(y, target), {}  # mean reduction
    return nn.functional.binary_cross_entropy_with_logits(y, target), {}  # mean reduction


def meter(steps):
    """The E meter columns of piano-roll steps (any shape of ints) -> (..., E) one-hots."""
    pos = nn.functional.one_hot((steps % 4) * 2, METER_POS)
    beat = nn.functional.one_hot((steps // 4) % 3, METER_BEATS)
    return torch.cat([pos, beat], -1).float()


def make_batch(cfg, gen):
    """A sequence of T + 1 steps per window: x is steps 0..T-1, the target steps 1..T. With E,
    x has the meter columns of each step after its D pitches (windows start at random steps);
    with lens, window b is real for t < lens[b] (mask) and zeros after."""
    T, B, D = cfg["T"], cfg["B"], cfg["D"]
    if cfg.get("V"):  # tokens uniform in 0..V-1; x the ids as (T, B, 1), target (T, B)
        seq = torch.randint(0, cfg["V"], (T + 1, B), generator=gen).float()
        mask = (torch.arange(T)[:, None] < torch.tensor(cfg["lens"])[None, :]).float()
        return {"x": (seq[:T] * mask)[..., None].contiguous(),
                "target": (seq[1:] * mask).contiguous(), "mask": mask}
    on = torch.rand(T + 1, B, D, generator=gen) < cfg["density"]
    if cfg["loss"] == "mse":  # velocities 1..127, / 127
        vel = torch.randint(1, 128, (T + 1, B, D), generator=gen).float() / 127.0
        seq = torch.where(on, vel, torch.zeros(()))
    else:
        seq = on.float()
    batch = {"x": seq[:T].contiguous(), "target": seq[1:].contiguous()}
    if cfg.get("E"):
        assert cfg["E"] == METER_POS + METER_BEATS
        start = torch.randint(0, METER_START_MAX, (B,), generator=gen)
        steps = start[None, :] + torch.arange(T)[:, None]  # (T, B)
        batch["x"] = torch.cat([batch["x"], meter(steps)], -1)
        batch["start"] = start.tolist()
    if cfg.get("lens"):
        mask = (torch.arange(T)[:, None] < torch.tensor(cfg["lens"])[None, :]).float()
        batch["x"] = batch["x"] * mask[:, :, None]
        batch["target"] = batch["target"] * mask[:, :, None]
        batch["mask"] = mask
    return batch


def batch_tensors(batch, dtype):
    return {k: v.to(dtype) for k, v in batch.items() if torch.is_tensor(v)}


def run(net, cfg, batch):
    """Forward, loss, gradients; then ADAM_STEPS Adam steps on the same batch."""
    net.eval()  # no dropout (p = 0 anyway)
    names = [n for n, _ in net.named_parameters()]
    net.zero_grad()
    y = net(batch["x"])
    loss, extra = loss_fn(cfg, net, y, batch)
    loss.backward()
    grads = {n: p.grad.detach().clone() for n, p in net.named_parameters()}
    opt = torch.optim.Adam(net.parameters(), **ADAM)
    losses = []
    for _ in range(ADAM_STEPS):
        opt.zero_grad()
        l, _ = loss_fn(cfg, net, net(batch["x"]), batch)
        l.backward()
        opt.step()
        losses.append(l.item())
    adam5 = {n: p.detach().clone() for n, p in net.named_parameters()}
    extra = {k: v.detach() for k, v in extra.items()}
    return names, y.detach(), loss.detach(), extra, grads, torch.tensor(losses), adam5


def write_safetensors(path, tensors, meta):
    """By the spec: u64 LE header length, JSON header (padded with spaces to a multiple of 8),
    then each tensor's little-endian float32 data, contiguous, in the header's order."""
    header = {"__metadata__": meta}
    blobs, at = [], 0
    for name, t in tensors:
        a = np.asarray(t.detach().cpu().numpy(), dtype="<f4")  # 0-d stays 0-d
        b = a.tobytes(order="C")
        header[name] = {"dtype": "F32", "shape": list(a.shape), "data_offsets": [at, at + len(b)]}
        blobs.append(b)
        at += len(b)
    h = json.dumps(header, separators=(",", ":")).encode("utf-8")
    h += b" " * (-len(h) % 8)
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)
    os.replace(tmp, path)


def read_back(path):
    """An independent parse of what was written, to check the file."""
    raw = open(path, "rb").read()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + n])
    header.pop("__metadata__")
    data = raw[8 + n:]
    return {k: np.frombuffer(data[v["data_offsets"][0]:v["data_offsets"][1]], dtype="<f4")
            .reshape(v["shape"]) for k, v in header.items()}


def maxabs(a, b):
    return float((a.double() - b.double()).abs().max())


def main(out_dir, only):
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    os.makedirs(out_dir, exist_ok=True)
    for preset, cfg in PRESETS.items():
        if only and preset not in only:
            continue
        torch.manual_seed(cfg["seed"])
        net = make_net(cfg)
        gen = torch.Generator().manual_seed(cfg["seed"] + 1)
        batch = make_batch(cfg, gen)
        init = {n: p.detach().clone() for n, p in net.named_parameters()}
        net64 = make_net(cfg).double()
        net64.load_state_dict({k: v.double() for k, v in net.state_dict().items()})

        data = batch_tensors(batch, torch.float32)
        names, y, loss, extra, grads, losses, adam5 = run(net, cfg, data)
        _, y64, loss64, extra64, grads64, losses64, adam64 = run(
            net64, cfg, batch_tensors(batch, torch.float64))

        # float32 rounding noise on this problem: float32 torch against float64 torch
        gmax = max(float(g.abs().max()) for g in grads64.values())
        noise = {
            "noise.y_maxabs": maxabs(y, y64),
            "noise.loss_rel": abs(float(loss) - float(loss64)) / abs(float(loss64)),
            "noise.grad_maxabs_over_maxgrad": max(maxabs(grads[n], grads64[n]) for n in names)
            / gmax,
            "noise.losses_adam_rel": float(((losses.double() - losses64) / losses64).abs().max()),
            "noise.adam5_maxabs": max(maxabs(adam5[n], adam64[n]) for n in names),
        }
        noise.update({"noise.%s_maxabs" % k: maxabs(v, extra64[k]) for k, v in extra.items()})
        meta = {
            "generator": COMMAND,
            "torch_version": torch.__version__,
            "numpy_version": np.__version__,
            "preset": preset,
            "D": str(cfg["D"]), "H": str(cfg["H"]), "L": str(cfg["L"]),
            "T": str(cfg["T"]), "B": str(cfg["B"]),
            "loss": cfg["loss"], "loss_on": cfg["loss_on"],
            "dropout": "0 (random masks cannot match between frameworks)",
            "input_density": str(cfg["density"]),
            "seed": str(cfg["seed"]),
            "adam": "lr=%g betas=(%g,%g) eps=%g steps=%d" % (
                ADAM["lr"], ADAM["betas"][0], ADAM["betas"][1], ADAM["eps"], ADAM_STEPS),
            "model": "lstm1=LSTMCell(D,H), dropout, lstm2=LSTMCell(H,H), fc=Linear(H,D); "
                     "per-step loop, zero initial (h,c)",
        }
        if cfg["loss"] == "nade":
            meta.update({
                "E": str(cfg["E"]), "Hn": str(cfg["Hn"]),
                "lens": ",".join(str(n) for n in cfg["lens"]),
                "window_start": ",".join(str(n) for n in batch["start"]),
                "meter": "x[..., D:D+%d] one-hot (s%%4)*2, x[..., D+%d:D+E] one-hot (s//4)%%3, "
                         "step s = window_start + t" % (METER_POS, METER_POS),
                "model": "lstm1=LSTMCell(D+E,H), dropout, lstm2=LSTMCell(H,H), "
                         "fc=Linear(H,D+Hn) -> [bv|bh], RNN-NADE nade.W (D,Hn), nade.V (D,Hn) "
                         "over the D pitches in order; per-step loop, zero initial (h,c)",
                "loss_def": "sum_tb mask[t,b] nll[t,b] / (D sum mask), nll[t,b] = sum_k "
                            "softplus(l_k) - target_k l_k",
            })
        if cfg["loss"] == "ce":
            meta.update({
                "vocab": str(cfg["V"]), "E": "0",
                "lens": ",".join(str(n) for n in cfg["lens"]),
                "input_density": "tokens uniform in 0..V-1",
                "model": "lstm1=LSTMCell(V,H) on one_hot(x, V), dropout, lstm2=LSTMCell(H,H), "
                         "fc=Linear(H,V) -> logits of the next token; per-step loop, zero "
                         "initial (h,c)",
                "loss_def": "CrossEntropyLoss(ignore_index=-100) of y against target, the "
                            "padded steps' targets -100 (mean over the real steps); nll[t,b] = "
                            "cross_entropy(y[t,b], target[t,b]) (reduction 'none')",
            })
        meta.update({k: "%.3g" % v for k, v in noise.items()})

        tensors = [(n, init[n]) for n in names]
        tensors += [(k, data[k]) for k in ("x", "target", "mask") if k in data]
        tensors += [("y", y)] + list(extra.items()) + [("loss", loss)]
        tensors += [("grad." + n, grads[n]) for n in names]
        tensors += [("losses_adam", losses)]
        tensors += [("adam5." + n, adam5[n]) for n in names]
        path = os.path.join(out_dir, "torch_%s.safetensors" % preset)
        write_safetensors(path, tensors, meta)

        back = read_back(path)
        for n, t in tensors:
            assert np.array_equal(back[n], t.numpy()), n
        size = os.path.getsize(path)
        assert size < 1 << 20, "%s is %d bytes: keep fixtures under 1 MB" % (path, size)
        print("%s: %d bytes, %d tensors; loss %.6g, losses_adam %s" % (
            path, size, len(tensors), float(loss), ["%.6g" % v for v in losses.tolist()]))
        print("  float32 vs float64 (torch): " + ", ".join(
            "%s %.2g" % (k[6:], v) for k, v in noise.items()))


if __name__ == "__main__":
    for name in sys.argv[2:]:
        if name not in PRESETS:
            sys.exit("unknown preset %s (%s)" % (name, ", ".join(PRESETS)))
    main(sys.argv[1] if len(sys.argv) > 1 else "tests/fixtures", set(sys.argv[2:]))
