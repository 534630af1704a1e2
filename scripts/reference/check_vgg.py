#!/usr/bin/env python3
"""Independent numpy check of a VGG-11-wide trial (issue 17, method doc section 7).

Recomputes, in float64 from the saved weights, what `tailsweep train --model vgg11` reported:
the unpruned test loss and accuracy, the filter pruning at the error budget (filters per layer,
pruning ratio over the prunable parameters) and the pruned test accuracy. The forward pass is
written here from the method doc, not from TailSweep's code: 3x3 convolutions with padding 1 in
PyTorch's weight layout (out, in, 3, 3), ReLU, 2x2 max-pooling with stride 2 and ceil mode
(partial windows at odd edges), global average pooling, linear output layer, no biases.

Usage (numpy only; Fashion-MNIST test images from data/fashion-mnist):
  tailsweep train --model vgg11 --channels 0.0625 --dataset fashion-mnist --train-limit 2000 \
      --test-limit 500 --eta 0.1 --batch-size 50 --max-iterations 200 --sigma 0.001 \
      --json --save-weights /tmp/vgg.npy > /tmp/vgg.json
  python3 scripts/reference/check_vgg.py /tmp/vgg.npy /tmp/vgg.json
Exit status 0 when everything agrees (loss within 1e-4: float32 against float64 arithmetic).
"""
import json
import os
import sys

import numpy as np

MEAN, STD = 0.2860, 0.3530  # Fashion-MNIST, as TailSweep's reader


def idx(path):
    with open(path, "rb") as f:
        data = f.read()
    dims = data[3]
    shape = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(dims)]
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * dims).reshape(shape)


def conv3x3(x, w):
    """x: (B, C, H, W); w: (O, C, 3, 3); padding 1, stride 1, then ReLU."""
    b, c, h, wd = x.shape
    p = np.zeros((b, c, h + 2, wd + 2))
    p[:, :, 1:-1, 1:-1] = x
    out = np.zeros((b, w.shape[0], h, wd))
    for ky in range(3):
        for kx in range(3):
            patch = p[:, :, ky:ky + h, kx:kx + wd]  # (B, C, H, W)
            out += np.einsum("bchw,oc->bohw", patch, w[:, :, ky, kx])
    return np.maximum(out, 0)


def maxpool_ceil(x):
    b, c, h, w = x.shape
    oh, ow = (h + 1) // 2, (w + 1) // 2
    p = np.full((b, c, 2 * oh, 2 * ow), -np.inf)
    p[:, :, :h, :w] = x
    return p.reshape(b, c, oh, 2, ow, 2).max(axis=(3, 5))


def forward(x, weights):
    convs, out = weights[:-1], weights[-1]
    plan = [1, "M", 1, "M", 1, 1, "M", 1, 1, "M", 1, 1, "M"]
    i = 0
    for step in plan:
        if step == "M":
            x = maxpool_ceil(x)
        else:
            x = conv3x3(x, convs[i])
            i += 1
    x = x.mean(axis=(2, 3))
    return x @ out.T


def loss_accuracy(logits, labels):
    m = logits.max(axis=1, keepdims=True)
    lse = np.log(np.exp(logits - m).sum(axis=1)) + m[:, 0]
    loss = (lse - logits[np.arange(len(labels)), labels]).mean()
    return loss, (logits.argmax(axis=1) == labels).mean()


def budget_count(sq, r):
    """The largest prefix of smallest squared norms whose share of the total stays <= r."""
    s = np.sort(sq)
    c = np.cumsum(s) / s.sum()
    return int(np.searchsorted(c, r, side="right"))


def main():
    wpath, jpath = sys.argv[1], sys.argv[2]
    stem = wpath[:-4] if wpath.endswith(".npy") else wpath
    files = [wpath] + [f"{stem}.layer{k}.npy" for k in range(2, 9)] + [f"{stem}.output.npy"]
    weights = [np.load(f).astype(np.float64) for f in files]
    result = json.load(open(jpath))["result"]
    config, comp = result["config"], result["compression"]
    n = config["dataset"].get("testLimit", 10000)
    root = os.path.join(os.path.dirname(__file__), "..", "..", "data", "fashion-mnist")
    x = (idx(os.path.join(root, "t10k-images-idx3-ubyte"))[:n] / 255.0 - MEAN) / STD
    x = x.reshape(n, 1, 28, 28)
    y = idx(os.path.join(root, "t10k-labels-idx1-ubyte"))[:n].astype(np.int64)

    ok = True
    loss, acc = loss_accuracy(forward(x, weights), y)
    want = comp["unpruned"]
    print(f"unpruned test loss {loss:.6f} (tailsweep {want['testLoss']:.6f}), "
          f"accuracy {acc:.4f} (tailsweep {want['testAccuracy']:.4f})")
    ok &= abs(loss - want["testLoss"]) < 1e-4 and abs(acc - want["testAccuracy"]) <= 1 / n

    pruned = list(weights)
    removed, total = 0, 0
    for k, layer in enumerate(comp["layers"]):
        w = weights[k + 1]
        flat = w.reshape(w.shape[0], -1)
        sq = (flat ** 2).sum(axis=1)
        count = budget_count(sq, comp["budget"])
        print(f"conv {k + 2}: {w.shape[0]} filters, pruned {count} (tailsweep {layer['prunedRows']})")
        ok &= count == layer["prunedRows"]
        order = np.argsort(sq, kind="stable")
        z = w.copy()
        z[order[:count]] = 0
        pruned[k + 1] = z
        removed += count * flat.shape[1]
        total += flat.size
    ratio = removed / total
    print(f"pruning ratio {ratio:.6f} (tailsweep {comp['pruningRatio']:.6f})")
    ok &= abs(ratio - comp["pruningRatio"]) < 1e-12
    ploss, pacc = loss_accuracy(forward(x, pruned), y)
    print(f"pruned test accuracy {pacc:.4f} (tailsweep {comp['pruned']['testAccuracy']:.4f})")
    ok &= abs(pacc - comp["pruned"]["testAccuracy"]) <= 1 / n
    print("agree" if ok else "DISAGREE")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
