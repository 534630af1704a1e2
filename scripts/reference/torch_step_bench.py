#!/usr/bin/env python3
# Run: /work/venv-torch/bin/python scripts/reference/torch_step_bench.py --channels 0.125,0.25 --images 1:28:28,3:32:32 --batch 100
"""PyTorch CPU time of one VGG-11-wide SGD step, for `tailsweep bench conv` (issue 17 item 9).

The same shapes as `tailsweep bench conv`: VGG-11 `Awide` at channel multiplier m (channels
ceil(m*c)), C x H x W images, 10 classes, batch 100, random normal inputs and random labels
(2 x batch examples, cycled). One step = forward, mean cross-entropy, backward, in-place SGD
update w <- w - eta*grad on every weight, and type-1 noise (one SaS value per filter, numpy
Chambers-Mallows-Stuck) on convolutions 2..8, as TailSweep's benchmarked step. One thread
(torch.set_num_threads(1)) unless --threads; PyTorch's default CPU convolution backend.
Each case: one warm-up step, then --rounds rounds of --iterations steps; the fastest round
is kept (as `tailsweep bench conv`). Runs in the venv of docs/method-notes.md; never in CI.
"""
import argparse
import os
import resource
import sys
import time

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from torch_vgg import build, init, sas  # noqa: E402


def case(m, shape, batch, iterations, rounds, eta=1e-3, alpha=1.75, sigma=1e-3):
    c, h, w = shape
    gen = torch.Generator().manual_seed(1)
    net = build(torch, m, classes=10, in_channels=c)
    init(torch, net, gen)
    x = torch.randn(2 * batch, c, h, w, generator=gen)
    y = torch.randint(0, 10, (2 * batch,), generator=gen)
    noisy = [mod for mod in net if isinstance(mod, torch.nn.Conv2d)][1:]
    rng = np.random.default_rng(2)
    scale = sigma * eta ** (1 / alpha)
    cursor = [0]

    def step():
        i = cursor[0]
        cursor[0] = (i + batch) % (2 * batch)
        net.zero_grad(set_to_none=True)
        loss = torch.nn.functional.cross_entropy(net(x[i:i + batch]), y[i:i + batch])
        loss.backward()
        with torch.no_grad():
            for p in net.parameters():
                p.sub_(eta * p.grad)
            for conv in noisy:
                v = scale * sas(rng, alpha, conv.out_channels)
                conv.weight.add_(torch.from_numpy(v.astype(np.float32)).view(-1, 1, 1, 1))

    step()  # warm-up
    best = float("inf")
    for _ in range(rounds):
        t0 = time.perf_counter()
        for _ in range(iterations):
            step()
        best = min(best, (time.perf_counter() - t0) / iterations)
    return best


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--channels", default="0.125,0.25")
    ap.add_argument("--images", default="1:28:28,3:32:32")
    ap.add_argument("--batch", type=int, default=100)
    ap.add_argument("--iterations", type=int, default=5)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--threads", type=int, default=1)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    print(f"torch {torch.__version__}, threads {torch.get_num_threads()}, "
          f"mkldnn {torch.backends.mkldnn.is_available()}")
    print("channels  image     batch  s/iteration  peak RSS")
    for shape in [tuple(int(v) for v in s.split(":")) for s in a.images.split(",")]:
        for m in [float(v) for v in a.channels.split(",")]:
            t = case(m, shape, a.batch, a.iterations, a.rounds)
            rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
            print(f"{m:8g}  {'×'.join(map(str, shape)):8s}  {a.batch:5d}  {t:11.4f}  "
                  f"{rss:5.0f} MiB", flush=True)


if __name__ == "__main__":
    main()
