#!/usr/bin/env python3
"""Writes fwmerge-core's golden files for RegMean and RegMean++: a pool of small two-layer MLPs in torch's
layout (Linear 6 -> 5, ReLU, Linear 5 -> 4; base + 3 fine-tunes), each task's calibration inputs, and the
merged models, computed in double by a transcription of FusionBench's definitions
(method/regmean/regmean.py: Grams XᵀX/N from forward hooks on nn.Linear, reduce_non_diagonal_elements,
W = (Σ G̃ᵢ)⁻¹ Σ G̃ᵢ Wᵢᵀ, other parameters averaged; method/regmean_plusplus: layer by layer, the next
layer's inputs computed by the merged layer).

    python make_regmean_fixtures.py ../../fwmerge-core/src/test/resources/org/fwmerge/baseline/regmean
"""
import os
import sys

import torch
from safetensors.torch import save_file

TASKS, N, IN, HID, OUT = 3, 10, 6, 5, 4


def reduce(g, ratio):
    return g * (torch.diag(torch.ones(g.shape[0], dtype=g.dtype) - ratio) + ratio)


def regmean_layer(ws, grams, ratio):
    gs = [reduce(g, ratio) for g in grams]
    return (torch.inverse(sum(gs)) @ sum(g @ w.T for g, w in zip(gs, ws))).T


def gram(x):
    return x.T @ x / x.shape[0]


def forward_hidden(x, w0, b0):
    return torch.relu(x @ w0.T + b0)


def regmean(models, xs, ratio):
    g0 = [gram(x) for x in xs]
    g2 = [gram(forward_hidden(x, m["0.weight"], m["0.bias"])) for x, m in zip(xs, models)]
    out = {"0.weight": regmean_layer([m["0.weight"] for m in models], g0, ratio),
           "2.weight": regmean_layer([m["2.weight"] for m in models], g2, ratio)}
    for k in ["0.bias", "2.bias"]:
        out[k] = torch.stack([m[k] for m in models]).mean(0)
    return out


def regmean_plusplus(models, xs, ratio):
    # layer 0: inputs are the data; layer 2: inputs through the merged layer 0
    out = {"0.weight": regmean_layer([m["0.weight"] for m in models], [gram(x) for x in xs], ratio),
           "0.bias": torch.stack([m["0.bias"] for m in models]).mean(0)}
    hs = [forward_hidden(x, out["0.weight"], out["0.bias"]) for x in xs]
    out["2.weight"] = regmean_layer([m["2.weight"] for m in models], [gram(h) for h in hs], ratio)
    out["2.bias"] = torch.stack([m["2.bias"] for m in models]).mean(0)
    return out


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    g = torch.Generator().manual_seed(20251203)
    base = {"0.weight": torch.randn(HID, IN, generator=g), "0.bias": torch.randn(HID, generator=g) * 0.1,
            "2.weight": torch.randn(OUT, HID, generator=g), "2.bias": torch.randn(OUT, generator=g) * 0.1}
    base = {k: v.float() for k, v in base.items()}
    models = [{k: (v + 0.3 * torch.randn(v.shape, generator=g)).float() for k, v in base.items()} for _ in range(TASKS)]
    # each task's inputs on its own scale and offset, so the Grams differ
    xs = [(torch.randn(N, IN, generator=g) * (1 + i) + 0.5 * i).float() for i in range(TASKS)]
    save_file({k: v.contiguous() for k, v in base.items()}, os.path.join(out, "base.safetensors"))
    for i, m in enumerate(models):
        save_file({k: v.contiguous() for k, v in m.items()}, os.path.join(out, f"m{i + 1}.safetensors"))
    save_file({f"x{i + 1}": x.contiguous() for i, x in enumerate(xs)}, os.path.join(out, "inputs.safetensors"))
    md = [{k: v.double() for k, v in m.items()} for m in models]
    xd = [x.double() for x in xs]
    for name, merged in {"regmean": regmean(md, xd, 0.95), "regmean_half": regmean(md, xd, 0.5),
                         "regmeanpp": regmean_plusplus(md, xd, 0.95)}.items():
        save_file({k: v.float().contiguous() for k, v in merged.items()}, os.path.join(out, f"expected_{name}.safetensors"))


if __name__ == "__main__":
    main()
