#!/usr/bin/python3
"""gen_torch.py - the counterpart of bench/gen_steps.c in PyTorch: the report's LSTMCell loop
(lstm1 = nn.LSTMCell(128, 512), lstm2 = nn.LSTMCell(512, 512), fc = nn.Linear(512, 128)) fed its
own prediction step by step with batch 1 under torch.no_grad(), after a primer of 12 steps.
-c events: the events preset's token model (gen_steps -c events): lstm1 = nn.LSTMCell(388, 512)
on the token's one-hot vector (one layer), fc = nn.Linear(512, 388); each event drawn by
torch.multinomial from the softmax of the logits (temperature 1) and fed back.

    /usr/bin/python3 bench/gen_torch.py [-c paper|events] [-n STEPS] [--threads 1]

Prints one key=value line: config, steps_s (events/s for events), us_step, threads (intra-op;
its OpenBLAS keeps its own pool), mb_step (the weights a step reads: all of them, in fp32)."""
import argparse
import time

import torch
import torch.nn as nn

ap = argparse.ArgumentParser()
ap.add_argument("-c", "--config", choices=("paper", "events"), default="paper")
ap.add_argument("-n", type=int, default=4000)
ap.add_argument("--threads", type=int, default=1)
a = ap.parse_args()
torch.set_num_threads(a.threads)
torch.manual_seed(1)
V = 388 if a.config == "events" else 0
D, H = V or 128, 512
lstm1, lstm2, fc = nn.LSTMCell(D, H), nn.LSTMCell(H, H), nn.Linear(H, D)
if V:  # the events preset: one layer
    lstm2 = None


def step(x, s):
    """One step from input x (1, D): the new states and the next input (the prediction, or the
    one-hot vector of the token drawn from it)."""
    h1, c1, h2, c2 = s
    h1, c1 = lstm1(x, (h1, c1))
    h2, c2 = lstm2(h1, (h2, c2)) if lstm2 else (h1, c1)
    y = fc(h2)
    if V:
        k = torch.multinomial(torch.softmax(y, -1), 1)[0]
        y = nn.functional.one_hot(k, V).float()
    return (h1, c1, h2, c2), y


with torch.no_grad():
    s = (torch.zeros(1, H),) * 4
    if V:
        x = nn.functional.one_hot(torch.randint(V, (12, 1)), V).float()
    else:
        x = (torch.rand(12, 1, D) < 0.05).float() * 0.6
    for t in range(12):
        s, y = step(x[t], s)
    for _ in range(50):
        s, y = step(y, s)
    t0 = time.perf_counter()
    for _ in range(a.n):
        s, y = step(y, s)
    dt = time.perf_counter() - t0
mb = 4e-6 * sum(p.numel() for m in (lstm1, lstm2, fc) if m for p in m.parameters())
print("config=%s steps_s=%.1f us_step=%.2f threads=%d mb_step=%.2f"
      % (a.config, a.n / dt, 1e6 * dt / a.n, torch.get_num_threads(), mb))
