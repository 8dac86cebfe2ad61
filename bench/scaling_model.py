#!/usr/bin/env python3
"""scaling_model.py - the model of a data-parallel step (docs/scaling.md) filled in with
measured figures: windows/s, speedup and efficiency on N machines for given networks.

    t(N) = t1 / N + 2 (N - 1) / N * S / bw + 2 (N - 1) * lat

t1: a step's compute on one machine (seconds, global batch B), S: the gradient's bytes, bw: the
network's bandwidth (bytes/s), lat: a message's latency. The first term is ideal data
parallelism (each machine computes B / N windows); the others are a ring allreduce: a
reduce-scatter and an allgather, each N - 1 rounds moving S / N bytes over every link.

    bench/scaling_model.py --name paper --batch 64 --step-ms 167.1 --bytes 13929984
"""
import argparse


def step(n, t1, size, bw, lat):
    return t1 / n + 2 * (n - 1) / n * size / bw + 2 * (n - 1) * lat


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--name", required=True)
    ap.add_argument("--batch", type=int, required=True, help="the global batch B (N <= B)")
    ap.add_argument("--step-ms", type=float, required=True, help="t1: a step on one machine")
    ap.add_argument("--bytes", type=int, required=True, help="S: the gradient block")
    ap.add_argument("--gbits", default="1,10,25", help="network bandwidths, Gbit/s")
    ap.add_argument("--lat-us", type=float, default=20.0, help="latency a message, us")
    ap.add_argument("--ns", default="1,2,4,8,16,32,64")
    a = ap.parse_args()
    t1, size, lat = a.step_ms / 1e3, a.bytes, a.lat_us * 1e-6
    ns = [n for n in map(int, a.ns.split(",")) if n <= a.batch]
    print("%s: batch %d, a step %.1f ms on one machine (%.0f windows/s), gradient %.2f MB, "
          "latency %.0f us" % (a.name, a.batch, a.step_ms, a.batch / t1, size / 1e6, a.lat_us))
    print("%-9s" % "network" + "".join("%14s" % ("N=%d" % n) for n in ns) +
          "   E>=0.5 up to   best N (<= B)")
    for g in map(float, a.gbits.split(",")):
        bw = g * 1e9 / 8
        cells, last_half = [], 1
        for n in ns:
            t = step(n, t1, size, bw, lat)
            speed, eff = t1 / t, t1 / t / n
            if eff >= 0.5:
                last_half = n
            cells.append("%5.2fx (%3.0f%%)" % (speed, 100 * eff))
        best = min(range(1, a.batch + 1), key=lambda n: step(n, t1, size, bw, lat))
        best_speed = t1 / step(best, t1, size, bw, lat)
        print("%-9s" % ("%g Gbit/s" % g) + "".join("%14s" % c for c in cells) +
              "   N=%-11d N=%d: %.2fx" % (last_half, best, best_speed))
    print("(speedup over one machine, efficiency in brackets; the network's asymptote: "
          "at most %s windows/s whatever N)" % ", ".join(
              "%.0f at %g Gbit/s" % (a.batch / (2 * size / (g * 1e9 / 8)), g)
              for g in map(float, a.gbits.split(","))))


if __name__ == "__main__":
    main()
