#!/usr/bin/python3
"""lstm_torch.py - training-step throughput of the report's LSTM in PyTorch on the CPU, the
counterpart of bench/lstm_train.c: D=128, H=512, L=2, T=12, dropout 0.2, a linear head applied
at every step (as groovybee computes y for all T steps), MSE on the last step only, global-norm
clipping to 1.0, Adam lr 1e-3. One step = zero_grad + forward + loss + backward + clip + Adam.

    /usr/bin/python3 bench/lstm_torch.py [-c paper|roll|events] [--form lstm|cell] [-B 64]
                                         [-t SECONDS] [--threads 1] [--head all|last] [-v]

Forms:
  lstm  nn.LSTM(128, 512, num_layers=2, dropout=0.2) + nn.Linear(512, 128) (the faster one)
  cell  the report's loop: for each step lstm1 = nn.LSTMCell(128, 512), dropout,
        lstm2 = nn.LSTMCell(512, 512), fc = nn.Linear(512, 128); h and c carried through time
--threads sets torch.set_num_threads (intra-op); default 1, PyTorch's best on this 2-core
machine, where its OpenBLAS (libblas.so.3 -> openblas-pthread) still runs its own 2 threads.
-v prints every step's milliseconds, in order, to stderr.
-c events: the events preset's network (bench_lstm_train -c events): token ids in 0..387 fed as
their one-hot vectors (one-hot @ W_ih^T: the column groovybee gathers) to nn.LSTM(388, 512,
num_layers=2, dropout=0.2) (--form cell: the LSTMCell stack, dropout 0.2 between), nn.Linear(512,
388), nn.CrossEntropyLoss on every step, T=128, clipping to 3.0.
--head last applies the head to the last step only (what loss-on-last needs; default all, the
work groovybee does).

Each step is timed on its own (time.perf_counter) after 5 warm-up steps, until SECONDS have
passed (at least 5 steps). Prints one key=value line, with the keys of build/bench_lstm_train:
ms_step/windows_s/gflop_s at the median step, best_* at the fastest; gflop_step counts the GEMM
flops of one step with the formula of bench/lstm_train.c (the same number for both programs, so
GFLOP/s ratios equal windows/s ratios).
"""
import argparse
import os
import sys
import time

import torch
import torch.nn as nn

D, H, L, T, P = 128, 512, 2, 12, 0.2
# --config roll: the roll preset's network (meter inputs, one layer of 256, a NADE head)
E, HN, P_IN, P_OUT = 0, 0, 0.0, 0.0
# --config events: token input over V tokens (V = D: one-hot in, a softmax over them out)
V, CLIP = 0, 1.0


def use_roll():
    global E, H, L, T, P, HN, P_IN, P_OUT
    E, H, L, T, P, HN, P_IN, P_OUT = 20, 256, 1, 64, 0.0, 128, 0.2, 0.5


def use_events():
    global D, V, H, L, T, P, CLIP
    D, V, H, L, T, P, CLIP = 388, 388, 512, 1, 128, 0.2, 3.0


def gemm_flops(B):
    """bench/lstm_train.c's gemm_flops: forward + backward GEMM flops of one step (the LSTM's
    and the head's; not the NADE's own, nor the one-hot input's: groovybee gathers it)."""
    G, TB, T1B, Dout = 4 * H, T * B, (T - 1) * B, D + HN
    f = 2 * TB * H * Dout
    b = 2 * 2 * TB * H * Dout
    for l in range(L):
        inp = H if l else (0 if V else D) + E
        f += 2 * TB * G * inp + 2 * T1B * G * H
        b += 2 * T1B * G * H + 2 * TB * G * inp + 2 * T1B * G * H + (2 * TB * G * inp if l else 0)
    return f + b


class RollNet(nn.Module):
    """The roll preset: dropout on the input, nn.LSTM, dropout, Linear(H, D + Hn) -> [bv | bh],
    and an RNN-NADE (tools/torch_fixtures.py's NADE: a loop over the pitches, 12x faster here
    than computing every pitch's hidden layer at once by a cumulative sum, which moves
    (T*B, D, Hn) tensors). Returns the mean per-feature NLL, groovybee's loss of a NADE head."""

    def __init__(self):
        super().__init__()
        self.lstm = nn.LSTM(D + E, H, num_layers=L)
        self.fc = nn.Linear(H, D + HN)
        self.W = nn.Parameter(torch.empty(D, HN).uniform_(-D ** -0.5, D ** -0.5))
        self.V = nn.Parameter(torch.empty(D, HN).uniform_(-HN ** -0.5, HN ** -0.5))

    def forward(self, x, v):  # x (T, B, D + E), v (T, B, D) binary
        out, _ = self.lstm(nn.functional.dropout(x, P_IN, self.training))
        y = self.fc(nn.functional.dropout(out, P_OUT, self.training))
        bv, bh = y[..., :D], y[..., D:]
        a, logits = bh, []
        for k in range(D):
            logits.append(bv[..., k] + torch.sigmoid(a) @ self.V[k])
            a = a + self.W[k] * v[..., k:k + 1]
        logits = torch.stack(logits, -1)
        return (nn.functional.softplus(logits) - v * logits).mean()


class LstmNet(nn.Module):
    def __init__(self, head_all):
        super().__init__()
        self.lstm = nn.LSTM(D, H, num_layers=L, dropout=P)
        self.fc = nn.Linear(H, D)
        self.head_all = head_all

    def forward(self, x):  # x (T, B, D) -> (T, B, D) or (1, B, D)
        out, _ = self.lstm(x)
        return self.fc(out if self.head_all else out[-1:])


class CellNet(nn.Module):
    """The report's hand-made loop: each step runs through both layers, state carried."""

    def __init__(self, head_all):
        super().__init__()
        self.lstm1 = nn.LSTMCell(D, H)
        self.drop = nn.Dropout(P)
        self.lstm2 = nn.LSTMCell(H, H)
        self.fc = nn.Linear(H, D)
        self.head_all = head_all

    def forward(self, x):
        B = x.shape[1]
        h1 = c1 = h2 = c2 = x.new_zeros(B, H)
        outs = []
        for t in range(x.shape[0]):
            h1, c1 = self.lstm1(x[t], (h1, c1))
            h2, c2 = self.lstm2(self.drop(h1), (h2, c2))
            if self.head_all:
                outs.append(self.fc(h2))
        return torch.stack(outs) if self.head_all else self.fc(h2).unsqueeze(0)


def kernels():
    """The libraries PyTorch's products go to here: its BLAS (Debian's torch: BLAS_INFO=generic,
    i.e. libblas.so.3, OpenBLAS when that is the alternative, with its core) and its oneDNN."""
    import ctypes
    import re
    cfg = torch.__config__.show()
    blas = re.search(r"BLAS_INFO=(\w+)", cfg)
    dnn = re.search(r"MKL-DNN (v[\d.]+)", cfg)
    core = "?"
    try:
        lib = ctypes.CDLL("libblas.so.3")
        lib.openblas_get_corename.restype = ctypes.c_char_p
        core = "OpenBLAS core " + lib.openblas_get_corename().decode()
    except (OSError, AttributeError):
        pass
    return "BLAS_INFO=%s (libblas.so.3: %s); oneDNN %s" % (
        blas.group(1) if blas else "?", core, dnn.group(1) if dnn else "?")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--form", choices=("lstm", "cell"), default="lstm")
    ap.add_argument("-c", "--config", choices=("paper", "roll", "events"), default="paper")
    ap.add_argument("-B", "--batch", type=int, default=64)
    ap.add_argument("-t", "--seconds", type=float, default=3.0)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--head", choices=("all", "last"), default="all")
    ap.add_argument("--autocast", choices=("off", "bf16"), default="off",
                    help="bf16: forward and loss under torch.autocast('cpu', torch.bfloat16)")
    ap.add_argument("-v", "--verbose", action="store_true", help="every step's ms to stderr")
    a = ap.parse_args()
    if a.config == "roll":
        use_roll()
    if a.config == "events":
        use_events()
    torch.set_num_threads(a.threads)
    torch.manual_seed(1)
    B = a.batch
    if a.config == "roll":
        net = RollNet()
    else:
        net = (LstmNet if a.form == "lstm" else CellNet)(a.head == "all" or V > 0)
    net.train()
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    params = list(net.parameters())
    # roll-like data, as bench_lstm_train: about 5% of the entries nonzero, uniform in [0, 1)
    x = torch.where(torch.rand(T, B, D + E) < 0.05, torch.rand(T, B, D + E), torch.zeros(()))
    tgt = torch.where(torch.rand(T, B, D) < 0.05, torch.rand(T, B, D), torch.zeros(()))
    if a.config == "roll":  # notes of 1
        x, tgt = (x > 0).float(), (tgt > 0).float()
    if V:  # tokens: uniform ids in and out, as bench_lstm_train
        x, tgt = torch.randint(V, (T, B)), torch.randint(V, (T, B))
    mse, ce = nn.MSELoss(), nn.CrossEntropyLoss()

    def step():
        opt.zero_grad(set_to_none=True)
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=a.autocast == "bf16"):
            if a.config == "roll":
                loss = net(x, tgt).float()
            elif V:  # the one-hot vectors are built in the step, as the model's input
                y = net(nn.functional.one_hot(x, V).float())
                loss = ce(y.float().reshape(-1, D), tgt.reshape(-1))
            else:
                y = net(x)
                loss = mse(y[-1].float(), tgt[-1])
        loss.backward()
        nn.utils.clip_grad_norm_(params, CLIP)
        opt.step()
        return loss

    for _ in range(5):
        step()
    st, total = [], 0.0
    while True:
        t0 = time.perf_counter()
        loss = step()
        dt = time.perf_counter() - t0
        st.append(dt)
        total += dt
        if total >= a.seconds and len(st) >= 5:
            break
    if a.verbose:
        print("B=%d step_ms: %s" % (B, " ".join("%.1f" % (1e3 * v) for v in st)), file=sys.stderr)
    st.sort()
    med, best = st[len(st) // 2], st[0]
    fl = gemm_flops(B)
    print("side=torch config=%s form=%s autocast=%s B=%d T=%d D=%d H=%d L=%d head=%s threads=%d interop=%d "
          "blas_threads=%s torch=%s steps=%d ms_step=%.2f windows_s=%.1f gflop_s=%.2f "
          "best_ms=%.2f best_windows_s=%.1f best_gflop_s=%.2f gflop_step=%.4f loss=%.4f "
          "kernels=\"%s\""
          % (a.config, "nn.LSTM" if a.form == "lstm" else "LSTMCell", a.autocast, B, T, D, H, L, a.head,
             torch.get_num_threads(), torch.get_num_interop_threads(),
             os.environ.get("OPENBLAS_NUM_THREADS", "default"), torch.__version__, len(st),
             1e3 * med, B / med, fl / med * 1e-9, 1e3 * best, B / best, fl / best * 1e-9,
             fl * 1e-9, float(loss), kernels()))


if __name__ == "__main__":
    main()
