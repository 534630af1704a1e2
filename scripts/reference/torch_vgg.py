#!/usr/bin/env python3
# Run: /work/venv-torch/bin/python scripts/reference/torch_vgg.py train --seeds 1-5 --sigma 0.001 --out /tmp/torch-noisy.jsonl
"""Independent PyTorch reference for TailSweep's VGG-11-wide trials (issue 17 item 8).

Written from the method doc (section 7) and docs/method-notes.md, not from TailSweep's Swift:
VGG-11 `Awide` with every channel count c scaled to ceil(m*c), on 1x28x28 Fashion-MNIST
images; 3x3 convolutions, padding 1, no bias, ReLU; 2x2 max-pooling with stride 2 in ceil mode
(28 -> 14 -> 7 -> 4 -> 2 -> 1, as TailSweep); global average pooling; one linear layer, no
bias; no batch norm. Initialisation: convolutions N(0, 2/(9*out)) (He, fan-out), the linear
layer uniform in +-1/sqrt(fan_in). Plain SGD on the mean cross-entropy (w <- w - eta*grad),
mini-batches from a reshuffle at each epoch start; after each step (unless training stopped at
that step's evaluation) type-1 noise: one SaS(alpha, 1) value (characteristic function
exp(-|t|^alpha), Chambers-Mallows-Stuck in numpy) per output filter of every convolution but
the first, times s = sigma * eta^(1/alpha), added to all the filter's in*3*3 weights. The
output layer gets no noise. Evaluation on the whole training subset before the first step,
every --eval-every steps and at the cap; training stops at --target-accuracy or at the cap.
Then filter pruning at the error budget per layer (the rule and numpy code of check_vgg.py),
ratio over the prunable parameters (convolutions 2..8), and test accuracy before and after.

Random streams are torch/numpy ones, not TailSweep's xoshiro256**: the comparison with
TailSweep is distributional over seeds (`compare`), never number for number.

Subcommands:
  train   --seeds 1-5 [--channels 0.0625 --train-limit 2000 --test-limit 1000 --eta 0.05
          --batch-size 100 --sigma 0 --alpha 1.75 --max-iterations 300 --eval-every 100
          --target-accuracy 0.95 --budget 0.1 --threads 1] --out FILE.jsonl
          one JSON line per seed.
  compare --arm NAME TAILSWEEP_GLOB TORCH_JSONL [--arm ...]
          means, standard deviations and Welch t-test p-values (scipy) per arm for the
          pruning ratio, test accuracy and pruned test accuracy; TAILSWEEP_GLOB matches the
          files of `tailsweep train --json` (one per seed).
Runs in a venv with torch, numpy and scipy (see docs/method-notes.md); never in CI.
"""
import argparse
import glob
import json
import math
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from check_vgg import MEAN, STD, budget_count, idx  # noqa: E402  (the same pruning rule)

PLAN = [128, "M", 256, "M", 512, 512, "M", 1024, 1024, "M", 1024, 1024, "M"]
DATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "data")


def scaled(m, c):
    return max(1, math.ceil(round(m * c * 1e9) / 1e9))


def load(name, train_limit, test_limit):
    root = os.path.join(DATA, name)

    def split(prefix, n):
        x = idx(os.path.join(root, f"{prefix}-images-idx3-ubyte"))[:n].astype(np.float32)
        y = idx(os.path.join(root, f"{prefix}-labels-idx1-ubyte"))[:n].astype(np.int64)
        x = ((x / 255.0 - MEAN) / STD).astype(np.float32).reshape(len(y), 1, 28, 28)
        return x, y

    return split("train", train_limit), split("t10k", test_limit)


def build(torch, m, classes=10, in_channels=1):
    nn = torch.nn
    layers, c = [], in_channels
    for step in PLAN:
        if step == "M":
            layers.append(nn.MaxPool2d(2, 2, ceil_mode=True))
        else:
            o = scaled(m, step)
            layers += [nn.Conv2d(c, o, 3, padding=1, bias=False), nn.ReLU()]
            c = o
    layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(c, classes, bias=False)]
    return nn.Sequential(*layers)


def init(torch, net, gen):
    with torch.no_grad():
        for mod in net:
            if isinstance(mod, torch.nn.Conv2d):
                std = math.sqrt(2.0 / (9 * mod.out_channels))
                mod.weight.normal_(0.0, std, generator=gen)
            elif isinstance(mod, torch.nn.Linear):
                b = 1.0 / math.sqrt(mod.in_features)
                mod.weight.uniform_(-b, b, generator=gen)


def sas(rng, alpha, size):
    """Symmetric alpha-stable draws, characteristic function exp(-|t|^alpha) (CMS)."""
    v = np.pi * (rng.random(size) - 0.5)
    w = rng.exponential(1.0, size)
    if alpha == 1:
        return np.tan(v)
    return (np.sin(alpha * v) / np.cos(v) ** (1 / alpha)
            * (np.cos((1 - alpha) * v) / w) ** ((1 - alpha) / alpha))


def evaluate(torch, net, x, y, chunk=1000):
    loss, correct = 0.0, 0
    with torch.no_grad():
        for i in range(0, len(y), chunk):
            logits = net(x[i:i + chunk])
            loss += torch.nn.functional.cross_entropy(
                logits, y[i:i + chunk], reduction="sum").item()
            correct += (logits.argmax(1) == y[i:i + chunk]).sum().item()
    return loss / len(y), correct / len(y)


def trial(torch, a, seed, data):
    (xtr, ytr), (xte, yte) = data
    xtr, ytr, xte, yte = map(torch.from_numpy, (xtr, ytr, xte, yte))
    gen = torch.Generator().manual_seed(seed)
    rng = np.random.default_rng([seed, 17])  # noise and data order
    net = build(torch, a.channels)
    init(torch, net, gen)
    convs = [mod for mod in net if isinstance(mod, torch.nn.Conv2d)]
    noisy = convs[1:]  # never the first convolution; the output layer is not a conv
    scale = a.sigma * a.eta ** (1 / a.alpha)
    n, batch = len(ytr), min(a.batch_size, len(ytr))
    order, cursor = np.arange(n), n
    history = []
    t0 = time.time()

    def eval_now(k):
        trl, tra = evaluate(torch, net, xtr, ytr)
        tel, tea = evaluate(torch, net, xte, yte)
        history.append(dict(iteration=k, trainLoss=trl, trainAccuracy=tra,
                            testLoss=tel, testAccuracy=tea))
        return history[-1]

    last, stop, iterations = eval_now(0), "maxIterations", 0
    if last["trainAccuracy"] >= a.target_accuracy:
        stop = "reachedTarget"
    else:
        for k in range(1, a.max_iterations + 1):
            iterations = k
            if cursor >= n:
                order = rng.permutation(n)
                cursor = 0
            rows = order[cursor:cursor + batch]
            cursor += len(rows)
            net.zero_grad(set_to_none=True)
            loss = torch.nn.functional.cross_entropy(net(xtr[rows]), ytr[rows])
            if not math.isfinite(loss.item()):
                stop = "diverged"
                break
            loss.backward()
            with torch.no_grad():
                for p in net.parameters():
                    p.sub_(a.eta * p.grad)
            if k % a.eval_every == 0 or k == a.max_iterations:
                last = eval_now(k)
                if not math.isfinite(last["trainLoss"]):
                    stop = "diverged"
                    break
                if last["trainAccuracy"] >= a.target_accuracy:
                    stop = "reachedTarget"
                    break
                if k == a.max_iterations:
                    break
            if a.sigma > 0:
                with torch.no_grad():
                    for conv in noisy:
                        v = scale * sas(rng, a.alpha, conv.out_channels)
                        conv.weight.add_(torch.from_numpy(v.astype(np.float32)).view(-1, 1, 1, 1))
    seconds = time.time() - t0

    # Filter pruning at the budget per prunable layer (check_vgg.py's rule).
    removed, total, per_layer = 0, 0, []
    saved = [conv.weight.detach().clone() for conv in noisy]
    with torch.no_grad():
        for conv in noisy:
            w = conv.weight.detach().double().numpy()
            flat = w.reshape(w.shape[0], -1)
            sq = (flat ** 2).sum(axis=1)
            count = budget_count(sq, a.budget)
            drop = np.argsort(sq, kind="stable")[:count]
            conv.weight[torch.from_numpy(drop)] = 0
            removed += count * flat.shape[1]
            total += flat.size
            per_layer.append(count)
        _, pruned_acc = evaluate(torch, net, xte, yte)
        for conv, w in zip(noisy, saved):
            conv.weight.copy_(w)
    return dict(seed=seed, channels=a.channels, sigma=a.sigma, alpha=a.alpha, eta=a.eta,
                stopReason=stop, iterations=iterations, seconds=seconds,
                trainAccuracy=last["trainAccuracy"], testAccuracy=last["testAccuracy"],
                testLoss=last["testLoss"], pruningRatio=removed / total,
                prunedFilters=per_layer, prunedTestAccuracy=pruned_acc, history=history)


def seeds(text):
    out = []
    for part in text.split(","):
        lo, _, hi = part.partition("-")
        out += list(range(int(lo), int(hi or lo) + 1))
    return out


def train_main(a):
    import torch
    torch.set_num_threads(a.threads)
    data = load(a.dataset, a.train_limit, a.test_limit)
    with open(a.out, "a") as f:
        for s in seeds(a.seeds):
            r = trial(torch, a, s, data)
            f.write(json.dumps(r) + "\n")
            f.flush()
            print(f"seed {s}: {r['stopReason']} at {r['iterations']}, train acc "
                  f"{r['trainAccuracy']:.3f}, test acc {r['testAccuracy']:.3f}, ratio "
                  f"{r['pruningRatio']:.3f}, pruned test acc {r['prunedTestAccuracy']:.3f}, "
                  f"{r['seconds']:.0f} s", flush=True)


def tailsweep_row(path):
    r = json.load(open(path))["result"]
    c = r.get("compression")
    if not c:  # a diverged trial has no compression
        return None
    return dict(pruningRatio=c["pruningRatio"], testAccuracy=c["unpruned"]["testAccuracy"],
                prunedTestAccuracy=c["pruned"]["testAccuracy"])


def compare_main(a):
    from scipy.stats import ttest_ind
    keys = [("pruningRatio", "pruning ratio"), ("testAccuracy", "test accuracy"),
            ("prunedTestAccuracy", "pruned test accuracy")]
    print("| arm | quantity | TailSweep mean ± sd (n) | PyTorch mean ± sd (n) | Welch p |")
    print("| --- | --- | --- | --- | --- |")
    for name, pattern, jsonl in a.arm:
        ts = [tailsweep_row(p) for p in sorted(glob.glob(pattern))]
        pt = [json.loads(line) for line in open(jsonl) if line.strip()]
        gone = (sum(r is None for r in ts), sum(r["stopReason"] == "diverged" for r in pt))
        ts = [r for r in ts if r is not None]
        pt = [r for r in pt if r["stopReason"] != "diverged"]
        if any(gone):
            print(f"| {name} | diverged (left out) | {gone[0]} | {gone[1]} | |")
        for k, label in keys:
            x = np.array([r[k] for r in ts])
            y = np.array([r[k] for r in pt])
            p = ttest_ind(x, y, equal_var=False).pvalue if len(x) > 1 and len(y) > 1 else float("nan")
            print(f"| {name} | {label} | {x.mean():.3f} ± {x.std(ddof=1):.3f} ({len(x)}) | "
                  f"{y.mean():.3f} ± {y.std(ddof=1):.3f} ({len(y)}) | {p:.2f} |")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    t = sub.add_parser("train")
    t.add_argument("--seeds", default="1")
    t.add_argument("--dataset", default="fashion-mnist")
    t.add_argument("--channels", type=float, default=0.0625)
    t.add_argument("--train-limit", type=int, default=2000)
    t.add_argument("--test-limit", type=int, default=1000)
    t.add_argument("--eta", type=float, default=0.05)
    t.add_argument("--batch-size", type=int, default=100)
    t.add_argument("--sigma", type=float, default=0.0)
    t.add_argument("--alpha", type=float, default=1.75)
    t.add_argument("--max-iterations", type=int, default=300)
    t.add_argument("--eval-every", type=int, default=100)
    t.add_argument("--target-accuracy", type=float, default=0.95)
    t.add_argument("--budget", type=float, default=0.1)
    t.add_argument("--threads", type=int, default=1)
    t.add_argument("--out", required=True)
    c = sub.add_parser("compare")
    c.add_argument("--arm", nargs=3, action="append", required=True,
                   metavar=("NAME", "TAILSWEEP_GLOB", "TORCH_JSONL"))
    a = ap.parse_args()
    train_main(a) if a.cmd == "train" else compare_main(a)


if __name__ == "__main__":
    main()
