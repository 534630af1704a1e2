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

Random streams are torch/numpy ones, not TailSweep's xoshiro256**: `train` and `compare` are
distributional over seeds. `replay` and `onestep` are number for number: they take the initial
weights, mini-batches and noise values from a trace of `tailsweep train --trace`.

Subcommands:
  train   --seeds 1-5 [--channels 0.0625 --train-limit 2000 --test-limit 1000 --eta 0.05
          --batch-size 100 --sigma 0 --alpha 1.75 --max-iterations 300 --eval-every 100
          --target-accuracy 0.95 --budget 0.1 --threads 1] --out FILE.jsonl
          one JSON line per seed.
  replay  --trace FILE [--train-limit 2000 --eta 0.05 --threads 1] [--out FILE.jsonl]
          replays a trial of `tailsweep train --model vgg11 ... --trace FILE` step by step:
          TailSweep's initial weights (FILE.init*.npy), its mini-batch indices and its type-1
          noise values, in torch float32 (t32), float32 with TailSweep's fused-update rounding
          (t32f) and float64 (t64) side by side; prints per step the relative differences of
          the batch loss, the per-layer gradient norms and weight norms of TailSweep, t32 and
          t32f from t64, and the first step where TailSweep's differ by more than float32
          rounding explains (see replay_main).
  onestep --trace FILE   (a trace written with --trace-weights K,K+1,...)
          one step from TailSweep's own state after step K (plus its noise) in torch, against
          TailSweep's state after step K+1 (see onestep_main).
  summary REPLAY.jsonl ...
          one table row per replay (the --out files of replay).
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


def load_initial(torch, net, trace_path, stem=None):
    """Copies TailSweep's initial weights (`--trace FILE` wrote FILE.init.npy, FILE.init.layerK.npy,
    FILE.init.output.npy in PyTorch's layouts), or those of `stem`, into `net`."""
    stem = stem or trace_path + ".init"
    params = list(net.parameters())
    files = [stem + ".npy"] + [f"{stem}.layer{k}.npy" for k in range(2, len(params))] + \
        [stem + ".output.npy"]
    with torch.no_grad():
        for p, f in zip(params, files):
            w = np.load(f)
            assert tuple(w.shape) == tuple(p.shape), (f, w.shape, p.shape)
            p.copy_(torch.from_numpy(w.astype(np.float64)))


def read_trace(path):
    def num(v):
        return float(v) if isinstance(v, str) else v  # "Infinity", "NaN" as TailSweep writes them
    steps = []
    for line in open(path):
        if line.strip():
            r = json.loads(line)
            for k in ("loss",):
                r[k] = num(r[k])
            for k in ("gradientNorms", "weightNorms", "weightMaxima", "noisyWeightNorms",
                      "noisyWeightMaxima"):
                if r.get(k) is not None:
                    r[k] = [num(v) for v in r[k]]
            steps.append(r)
    return steps


def replay_main(a):
    """Step-by-step replay of a TailSweep trace in torch float32 and float64.

    Per step k (before the step's update: the batch loss; after it: per layer the gradient norm
    and the weight norm; after the noise: the weight norm again) the relative difference from
    float64 of TailSweep (`ts`) and of torch float32 (`t32`). Both are float32 computations of the
    same step from the same weights, batches and noise, so while TailSweep computes what torch
    computes the two columns have the same size (the rounding of two float32 implementations, as
    amplified by the dynamics so far). One rounding is TailSweep's own: its weight gradient gemm
    is fused into the update (W += -eta * dZ^T col with beta 1), and OpenBLAS adds it to W in
    blocks of Q = 384 along the summation (batch * plane terms), each block rounded to W's
    precision: the gradient measured from the weight difference carries up to about
    sqrt(blocks) * 2^-24 * |W| / (eta * |g|) relative (5.8e-5 emulated for conv1 at step 1 of a
    seed-2 trace against 5.2e-5 measured; 1.1e-6 if the gradient were formed first).
    A third network, t32f, is torch float32 with that fused rounding (`fused_update`).
    TailSweep's trajectory "separates" at the first step where its batch loss or a layer's weight
    norm (after the step or after the noise) differs from float64 by more than max(10 * the
    larger difference of t32 and t32f, FLOOR = 576 * 2^-24) relative: beyond what float32
    rounding explains (`state_separation`). Gradient norms
    are printed but not part of the rule (their fused-update rounding above). A network whose
    loss or weights become non-finite is dropped from the replay at that step ("diverged at").
    """
    import torch
    torch.set_num_threads(a.threads)
    (xtr, ytr), _ = load(a.dataset, a.train_limit, 1)
    xtr, ytr = torch.from_numpy(xtr), torch.from_numpy(ytr)
    steps = read_trace(a.trace)
    # Build from the initial weights' shapes (the multiplier is whatever TailSweep used).
    m = np.load(a.trace + ".init.npy").shape[0] / 128
    nets = {}
    for name, dtype in (("t32", torch.float32), ("t32f", torch.float32), ("t64", torch.float64)):
        net = build(torch, m).to(dtype)
        load_initial(torch, net, a.trace)
        nets[name] = net
    save_layer_io(torch, nets["t32f"])
    names = [f"conv{i + 1}" for i in range(len(list(nets["t32"].parameters())) - 1)] + ["output"]
    # Terms summed per weight-gradient entry (batch * plane; the output layer: batch).
    terms, h = [], 28
    for step in PLAN:
        if step == "M":
            h = (h + 1) // 2
        else:
            terms.append(h * h)
    terms.append(1)
    out = open(a.out, "w") if a.out else None
    separated, first_beyond, diverged = None, [], {}
    print("| step | loss TS | loss t32 | loss t64 | rel.diff TS | t32 | t32f | TS's worst |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    rec = {}
    for r in steps:
        k, batch = r["iteration"], torch.from_numpy(np.array(r["batch"], dtype=np.int64))
        rec = {"iteration": k}
        for name, net in nets.items():
            if name in diverged:
                continue
            dtype = next(net.parameters()).dtype
            x, y = xtr[batch].to(dtype), ytr[batch]
            params = list(net.parameters())
            net.zero_grad(set_to_none=True)
            net.saved = []
            loss = torch.nn.functional.cross_entropy(net(x), y)
            rec[name + "_loss"] = loss.item()
            if not math.isfinite(loss.item()):
                diverged[name] = k
                continue
            if name == "t32f":
                zs = fused_hooks(torch, net)
            loss.backward()
            before = [p.detach().clone() for p in params]
            with torch.no_grad():
                if name == "t32f":
                    fused_update(torch, net, zs, a.eta, rows=len(r["batch"]))
                else:
                    for p in params:
                        p.sub_(a.eta * p.grad)
            if name != "t64":  # as TailSweep measures it: the applied update's norm / eta
                rec[name + "_grad"] = [((b.double() - p.double()).norm() / a.eta).item()
                                       for b, p in zip(before, params)]
            else:
                rec[name + "_grad"] = [p.grad.norm().item() for p in params]
            rec[name + "_w"] = [p.detach().double().norm().item() for p in params]
            rec[name + "_max"] = [p.detach().abs().max().item() for p in params]
            if r.get("noise") is not None:
                with torch.no_grad():
                    for conv, v in zip(params[1:-1], r["noise"]):
                        v = torch.from_numpy(np.array(v, dtype=np.float32)).to(dtype)
                        conv.add_(v.view(-1, 1, 1, 1))
                rec[name + "_wn"] = [p.detach().double().norm().item() for p in params]
            if not all(math.isfinite(v) for v in rec[name + "_w"] + rec.get(name + "_wn", [])):
                diverged[name] = k
        rec["ts_loss"], rec["ts_grad"] = r["loss"], r["gradientNorms"]
        rec["ts_w"], rec["ts_wn"], rec["ts_max"] = (r["weightNorms"], r.get("noisyWeightNorms"),
                                                    r["weightMaxima"])
        beyond, worst, _ = state_separation(rec, names)
        rec["ts_beyond"] = beyond
        if separated is None and beyond:
            separated, first_beyond = k, [beyond]
        if out:
            out.write(json.dumps(rec) + "\n")
        if k <= 3 or k % a.print_every == 0 or k == steps[-1]["iteration"] or k == separated:
            f = lambda v: f"{v:.6g}" if v is not None else "—"  # noqa: E731
            print(f"| {k} | {f(r['loss'])} | {f(rec.get('t32_loss'))} | {f(rec.get('t64_loss'))} | "
                  f"{worst['ts'][0]:.1e} | {worst['t32'][0]:.1e} | {worst['t32f'][0]:.1e} | "
                  f"{worst['ts'][1]} |")
    last = steps[-1]
    print(f"TailSweep: {len(steps)} steps, last loss {last['loss']:.6g}; torch on the same "
          f"inputs: float32 " + (f"diverged at {diverged['t32']}" if "t32" in diverged else
                                 f"loss {rec.get('t32_loss', float('nan')):.6g}") +
          ", float64 " + (f"diverged at {diverged['t64']}" if "t64" in diverged else
                          f"loss {rec.get('t64_loss', float('nan')):.6g}"))
    (_, _), (xte, yte) = load(a.dataset, 1, a.test_limit)
    for name, net in nets.items():
        dtype = next(net.parameters()).dtype
        trl, tra = evaluate(torch, net, xtr.to(dtype), ytr)
        tel, tea = evaluate(torch, net, torch.from_numpy(xte).to(dtype), torch.from_numpy(yte))
        print(f"torch {name} after the replay: train loss {trl:.6g} accuracy {tra:.4f}, "
              f"test loss {tel:.6g} accuracy {tea:.4f}")
    print("first separation beyond float32 rounding:",
          f"{separated} ({', '.join(first_beyond)})" if separated else "none")


def save_layer_io(torch, net):
    """Keeps, at every forward pass, each convolution's and the linear layer's input and output
    (the output's gradient retained) in `net.saved`."""
    def hook(mod, inputs, output):
        if not output.requires_grad:  # evaluation
            return
        output.retain_grad()
        net.saved.append((mod, inputs[0].detach(), output))
    for mod in net:
        if isinstance(mod, (torch.nn.Conv2d, torch.nn.Linear)):
            mod.register_forward_hook(hook)


def fused_hooks(torch, net):
    return list(net.saved)


def fused_update(torch, net, saved, eta, rows, q=384):
    """TailSweep's rounding of the update (float32): W += -eta * dZ^T col accumulated into W in
    blocks of q of the summation (batch * plane terms, in (example, pixel) order), each block's
    contribution rounded into W, as OpenBLAS's sgemm with beta 1 does (GEMM_Q = 384 for the
    Haswell/Zen kernels). The arithmetic within a block is torch's."""
    for mod, x, out in saved:
        dz = out.grad
        if isinstance(mod, torch.nn.Conv2d):
            o = dz.shape[1]
            dz = dz.permute(1, 0, 2, 3).reshape(o, -1)  # o x (batch * plane)
            col = torch.nn.functional.unfold(x, 3, padding=1)  # batch x (in*9) x plane
            col = col.permute(1, 0, 2).reshape(col.shape[1], -1)  # (in*9) x (batch * plane)
        else:
            dz, col = dz.t(), x.t()  # o x batch, in x batch
        w = mod.weight.view(dz.shape[0], -1)
        for start in range(0, dz.shape[1], q):
            w.add_(dz[:, start:start + q] @ col[:, start:start + q].t(), alpha=-eta)


# Worst-case relative rounding of a float32 sum of 576 terms (64 * 3 * 3, the longest dot
# product of the forward pass at m = 1/16): 576 * 2^-24.
FLOOR = 576 * 2.0 ** -24


def onestep_main(a):
    """One step from TailSweep's own state (`--trace-weights K,K+1`): TailSweep's weights after
    step K's gradient step plus step K's traced noise (added in float32, as TailSweep adds it),
    then step K+1 on its traced mini-batch in torch float32, torch float32 with TailSweep's
    fused rounding (t32f) and float64, against TailSweep's weights after step K+1. Per pair: the
    batch loss and, per layer, |W_x - W_64| / |W_64 - W_start|, the error of the update relative
    to the update's size."""
    import torch
    torch.set_num_threads(a.threads)
    (xtr, ytr), _ = load(a.dataset, a.train_limit, 1)
    xtr, ytr = torch.from_numpy(xtr), torch.from_numpy(ytr)
    steps = {r["iteration"]: r for r in read_trace(a.trace)}
    m = np.load(a.trace + ".init.npy").shape[0] / 128

    def weights(k):
        net = build(torch, m)
        load_initial(torch, net, a.trace, stem=f"{a.trace}.step{k}")
        return [p.detach().clone() for p in net.parameters()]

    print("| step | loss TS | loss t64 | update error TS, worst layer | t32 | t32f | max abs W |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    ks = sorted(int(f.rsplit(".step", 1)[1][:-4]) for f in glob.glob(a.trace + ".step*.npy")
                if f.endswith(".npy") and ".layer" not in f and ".output" not in f)
    for k in ks:
        if k + 1 not in steps or steps[k].get("noise") is None:
            continue
        start = weights(k)
        with torch.no_grad():
            for w, v in zip(start[1:-1], steps[k]["noise"]):
                w.add_(torch.from_numpy(np.array(v, dtype=np.float32)).view(-1, 1, 1, 1))
        r = steps[k + 1]
        if k + 1 not in ks:
            if k + 1 != max(steps) or math.isfinite(r["loss"]):
                continue
            # Step k + 1 stopped the trial at its forward pass: its batch loss only.
            batch = torch.from_numpy(np.array(r["batch"], dtype=np.int64))
            losses = []
            for dtype in (torch.float32, torch.float64):
                net = build(torch, m).to(dtype)
                with torch.no_grad():
                    for p, w in zip(net.parameters(), start):
                        p.copy_(w.to(dtype))
                    losses.append(torch.nn.functional.cross_entropy(
                        net(xtr[batch].to(dtype)), ytr[batch]).item())
            print(f"| {k + 1} | {r['loss']:.9g} | {losses[1]:.9g} (float32: {losses[0]:.9g}) | "
                  f"— | — | — | {max(w.abs().max().item() for w in start):.3g} |")
            continue
        target = weights(k + 1)
        batch = torch.from_numpy(np.array(r["batch"], dtype=np.int64))
        result = {}
        for name, dtype in (("t32", torch.float32), ("t32f", torch.float32), ("t64", torch.float64)):
            net = build(torch, m).to(dtype)
            with torch.no_grad():
                for p, w in zip(net.parameters(), start):
                    p.copy_(w.to(dtype))
            net.saved = []
            if name == "t32f":
                save_layer_io(torch, net)
            loss = torch.nn.functional.cross_entropy(net(xtr[batch].to(dtype)), ytr[batch])
            loss.backward()
            with torch.no_grad():
                if name == "t32f":
                    fused_update(torch, net, list(net.saved), a.eta, rows=len(r["batch"]))
                else:
                    for p in net.parameters():
                        p.sub_(a.eta * p.grad)
            result[name] = (loss.item(), [p.detach().double() for p in net.parameters()])
        ref = result["t64"][1]

        def err(ws):
            out = []
            for i, (w, w64, w0) in enumerate(zip(ws, ref, start)):
                size = (w64 - w0.double()).norm().item()
                out.append(((w.double() - w64).norm().item() / size if size > 0 else 0.0, i))
            return max(out)
        names = [f"conv{i + 1}" for i in range(len(start) - 1)] + ["output"]
        e_ts = err(target)
        print(f"| {k + 1} | {r['loss']:.9g} | {result['t64'][0]:.9g} | {e_ts[0]:.1e} "
              f"({names[e_ts[1]]}) | {err(result['t32'][1])[0]:.1e} | "
              f"{err(result['t32f'][1])[0]:.1e} | {max(w.abs().max().item() for w in start):.3g} |")


def state_separation(rec, names):
    """Whether TailSweep's state (batch loss, per-layer weight norms after the step and after
    the noise) differs from torch float64 by more than float32 rounding explains: its largest
    relative difference against max(10 * that of torch float32 and of torch float32 with
    TailSweep's fused update rounding, FLOOR). Returns (the quantity if beyond, else None), the
    largest (difference, quantity) of each network with gradients, and without them."""
    def rel(x, ref):
        return abs(x - ref) / max(abs(ref), 1e-30) if math.isfinite(x) else float("inf")

    diffs = {}
    for who in ("ts", "t32", "t32f"):
        d = {}
        if rec.get(who + "_loss") is not None and rec.get("t64_loss") is not None:
            d["loss"] = rel(rec[who + "_loss"], rec["t64_loss"])
        for q in ("w", "wn", "grad"):
            vals, ref = rec.get(who + "_" + q), rec.get("t64_" + q)
            if vals is not None and ref is not None:
                d.update({f"{names[i]} {q}": rel(v, rr) for i, (v, rr) in enumerate(zip(vals, ref))})
        diffs[who] = d

    def worst(who, grads):
        return max(((v, q) for q, v in diffs[who].items() if grads or not q.endswith(" grad")),
                   default=(0.0, ""))
    state = {who: worst(who, False) for who in diffs}
    scale = max(state["t32"][0], state["t32f"][0])
    beyond = state["ts"][1] if "t64_loss" in rec and state["ts"][0] > max(10 * scale, FLOOR) \
        else None
    return beyond, {who: worst(who, True) for who in diffs}, state


def summary_main(a):
    """One row per replay (`replay --out FILE`): the largest relative differences from torch
    float64 of the state (batch loss, weight norms) and of the gradient norms over the first
    --first steps, for TailSweep, torch float32 (t32) and torch float32 with TailSweep's fused
    update rounding (t32f); the step where torch float32's state first differs from float64 by
    more than 1e-3 (the float32 trajectories part from the float64 one); the step where
    TailSweep's state separates beyond float32 rounding (`state_separation`); how each ended."""
    who3 = ("ts", "t32", "t32f")
    print(f"| trace | steps | state, steps 1–{a.first}: TS / t32 / t32f | gradients, steps "
          f"1–{a.first}: TS / t32 / t32f | t32 parts at | TS separates at | TS ended | t32 | "
          "t32f | t64 |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for path in a.replays:
        recs = [json.loads(line) for line in open(path) if line.strip()]
        names = [f"conv{i + 1}" for i in range(len(recs[0]["ts_w"]) - 1)] + ["output"]
        ws = {w: 0.0 for w in who3}
        wg = {w: 0.0 for w in who3}
        sep, parts = None, None
        for r in recs:
            beyond, worst, state = state_separation(r, names)
            if sep is None and beyond:
                sep = (r["iteration"], beyond)
            if parts is None and state["t32"][0] > 1e-3:
                parts = r["iteration"]
            if r["iteration"] <= a.first:
                for w in who3:
                    ws[w] = max(ws[w], state[w][0])
                    wg[w] = max(wg[w], worst[w][0])

        def ended(who):
            for r in recs:
                v = r.get(who + "_loss")
                if v is None or not math.isfinite(v) or not all(
                        math.isfinite(x) for x in r.get(who + "_w") or [0]):
                    return f"diverged at {r['iteration']}"
            return f"loss {recs[-1][who + '_loss']:.4g}"

        name = os.path.basename(path).split(".")[0]
        s = f"{sep[0]} ({sep[1]})" if sep else "—"
        print(f"| {name} | {len(recs)} | " + " / ".join(f"{ws[w]:.0e}" for w in who3) + " | "
              + " / ".join(f"{wg[w]:.0e}" for w in who3)
              + f" | {parts or '—'} | {s} | {ended('ts')} | {ended('t32')} | {ended('t32f')} | "
              f"{ended('t64')} |")


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
    r = sub.add_parser("replay")
    r.add_argument("--trace", required=True)
    r.add_argument("--dataset", default="fashion-mnist")
    r.add_argument("--train-limit", type=int, default=2000)
    r.add_argument("--test-limit", type=int, default=1000)
    r.add_argument("--eta", type=float, default=0.05)
    r.add_argument("--threads", type=int, default=1)
    r.add_argument("--print-every", type=int, default=10)
    r.add_argument("--out")
    o = sub.add_parser("onestep")
    o.add_argument("--trace", required=True)
    o.add_argument("--dataset", default="fashion-mnist")
    o.add_argument("--train-limit", type=int, default=2000)
    o.add_argument("--eta", type=float, default=0.05)
    o.add_argument("--threads", type=int, default=1)
    m = sub.add_parser("summary")
    m.add_argument("replays", nargs="+")
    m.add_argument("--first", type=int, default=10)
    c = sub.add_parser("compare")
    c.add_argument("--arm", nargs=3, action="append", required=True,
                   metavar=("NAME", "TAILSWEEP_GLOB", "TORCH_JSONL"))
    a = ap.parse_args()
    {"train": train_main, "replay": replay_main, "onestep": onestep_main,
     "summary": summary_main, "compare": compare_main}[a.cmd](a)


if __name__ == "__main__":
    main()
