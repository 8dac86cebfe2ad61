#!/usr/bin/python3
"""gen_torch.py - the counterpart of bench/gen_steps.c in PyTorch: the report's LSTMCell loop
(lstm1 = nn.LSTMCell(128, 512), lstm2 = nn.LSTMCell(512, 512), fc = nn.Linear(512, 128)) fed its
own prediction step by step with batch 1 under torch.no_grad(), after a primer of 12 steps.

    /usr/bin/python3 bench/gen_torch.py [-n STEPS] [--threads 1]

Prints one key=value line: steps_s, us_step."""
import argparse
import time

import torch
import torch.nn as nn

ap = argparse.ArgumentParser()
ap.add_argument("-n", type=int, default=4000)
ap.add_argument("--threads", type=int, default=1)
a = ap.parse_args()
torch.set_num_threads(a.threads)
torch.manual_seed(1)
D, H = 128, 512
lstm1, lstm2, fc = nn.LSTMCell(D, H), nn.LSTMCell(H, H), nn.Linear(H, D)
with torch.no_grad():
    h1 = c1 = h2 = c2 = torch.zeros(1, H)
    x = (torch.rand(12, 1, D) < 0.05).float() * 0.6
    for t in range(12):
        h1, c1 = lstm1(x[t], (h1, c1))
        h2, c2 = lstm2(h1, (h2, c2))
        y = fc(h2)
    for _ in range(50):
        h1, c1 = lstm1(y, (h1, c1))
        h2, c2 = lstm2(h1, (h2, c2))
        y = fc(h2)
    t0 = time.perf_counter()
    for _ in range(a.n):
        h1, c1 = lstm1(y, (h1, c1))
        h2, c2 = lstm2(h1, (h2, c2))
        y = fc(h2)
    dt = time.perf_counter() - t0
print("steps_s=%.1f us_step=%.2f threads=%d" % (a.n / dt, 1e6 * dt / a.n, a.threads))
