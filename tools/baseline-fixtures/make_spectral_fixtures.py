#!/usr/bin/env python3
"""Writes fwmerge-core's golden files for the spectral baselines (TSV-M, Iso-C, Iso-CTS): a small pool
(base + 4 fine-tunes, random tensors of several shapes) and each method's merged model, computed by a
transcription of FusionBench's definitions in torch, in double precision.

    python make_spectral_fixtures.py ../../fwmerge-core/src/test/resources/org/fwmerge/baseline/spectral
    python make_spectral_fixtures.py OUT --fusion-bench /path/to/fusion_bench   # also check against its code

With --fusion-bench, FusionBench's own functions (TSVM_utils.compute_and_sum_svd_mem_reduction,
iso_utils.iso_c / iso_cts, run in float64 on CPU) are imported from that source tree and must agree with
the transcription to 1e-10; nothing of FusionBench is needed otherwise.
"""
import argparse
import importlib.util
import os
import sys
import types

import torch
from safetensors.torch import save_file

# Shapes chosen to reach every branch: tall and wide matrices, p = min(m, n) not divisible by T, a matrix
# with p < T (TSV-M keeps nothing there), a vector (averaged), and an excluded-by-name-free square one.
SHAPES = {"wide": (5, 16), "tall": (12, 7), "square": (9, 9), "tiny": (3, 2), "bias": (7,)}
TASKS = 4


def tsvm(taus, alpha=1.0):
    out = {}
    T = len(taus)
    for key in taus[0]:
        if taus[0][key].dim() != 2:
            out[key] = alpha * sum(t[key] for t in taus) / T
            continue
        p = min(taus[0][key].shape)
        k = int(p * (1 / T))
        su = torch.zeros(taus[0][key].shape[0], p, dtype=torch.float64)
        ss = torch.zeros(p, dtype=torch.float64)
        sv = torch.zeros(p, taus[0][key].shape[1], dtype=torch.float64)
        for i, t in enumerate(taus):
            u, s, vh = torch.linalg.svd(t[key], full_matrices=False)
            su[:, i * k:(i + 1) * k] = u[:, :k]
            ss[i * k:(i + 1) * k] = s[:k]
            sv[i * k:(i + 1) * k, :] = vh[:k, :]
        uu, _, vu = torch.linalg.svd(su, full_matrices=False)
        uv, _, vv = torch.linalg.svd(sv, full_matrices=False)
        out[key] = alpha * (uu @ vu @ torch.diag(ss) @ uv @ vv)
    return out


def polar(a):
    u, _, vh = torch.linalg.svd(a, full_matrices=False)
    return u @ vh


def iso(taus, cts, fraction=0.8, scaling=1.0):
    out = {}
    T = len(taus)
    for key in taus[0]:
        if taus[0][key].dim() != 2:
            out[key] = scaling * sum(t[key] for t in taus) / T
            continue
        total = sum(t[key] for t in taus)
        u, s, vh = torch.linalg.svd(total, full_matrices=False)
        if not cts:
            out[key] = scaling * s.mean() * (u @ vh)
            continue
        p = min(total.shape)
        common = int(p * fraction)
        d = round((p - common) / T)      # Python's round: half to even
        common = p - d * T
        uc = u[:, :common]
        su = torch.zeros(total.shape[0], p, dtype=torch.float64)
        ss = torch.zeros(p, dtype=torch.float64)
        sv = torch.zeros(p, total.shape[1], dtype=torch.float64)
        for i, t in enumerate(taus):
            ut, st, vt = torch.linalg.svd(t[key] - uc @ uc.T @ t[key], full_matrices=False)
            su[:, i * d:(i + 1) * d] = ut[:, :d]
            ss[i * d:(i + 1) * d] = st[:d]
            sv[i * d:(i + 1) * d, :] = vt[:d, :]
        su[:, T * d:] = uc
        ss[T * d:] = s[:common]
        sv[T * d:, :] = vh[:common, :]
        out[key] = scaling * ss.mean() * (polar(su) @ polar(sv))
    return out


def load_fusion_bench(root):
    """FusionBench's two util modules, imported with stubs for the package imports they make."""
    for name in ["fusion_bench", "fusion_bench.utils", "fusion_bench.utils.type"]:
        sys.modules.setdefault(name, types.ModuleType(name))
    sys.modules["fusion_bench.utils.type"].StateDictType = dict
    import contextlib
    sys.modules["fusion_bench.utils"].timeit_context = lambda *a, **k: contextlib.nullcontext()
    mods = {}
    for short, rel in [("tsvm", "fusion_bench/method/task_singular_vector/utils/TSVM_utils.py"),
                       ("iso", "fusion_bench/method/isotropic_merging/iso_utils.py")]:
        spec = importlib.util.spec_from_file_location("fb_" + short, os.path.join(root, rel))
        m = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(m)
        mods[short] = m
    return mods


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--fusion-bench")
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    g = torch.Generator().manual_seed(20251203)
    base = {k: torch.randn(s, generator=g).float() for k, s in SHAPES.items()}
    cands = [{k: (v + 0.1 * torch.randn(v.shape, generator=g)).float() for k, v in base.items()} for _ in range(TASKS)]
    save_file({k: v.contiguous() for k, v in base.items()}, os.path.join(a.out, "base.safetensors"))
    for i, c in enumerate(cands):
        save_file({k: v.contiguous() for k, v in c.items()}, os.path.join(a.out, f"m{i + 1}.safetensors"))
    # Task vectors in double from the float32 files, as fwmerge forms them.
    taus = [{k: c[k].double() - base[k].double() for k in base} for c in cands]
    results = {"tsvm": tsvm(taus), "tsvm_alpha": tsvm(taus, alpha=0.7), "iso_c": iso(taus, False),
               "iso_cts": iso(taus, True), "iso_cts_half": iso(taus, True, fraction=0.5, scaling=1.3)}
    for name, delta in results.items():
        save_file({k: (base[k].double() + delta[k]).float().contiguous() for k in base},
                  os.path.join(a.out, f"expected_{name}.safetensors"))
    if a.fusion_bench:
        fb = load_fusion_bench(a.fusion_bench)
        theirs = {"tsvm": fb["tsvm"].compute_and_sum_svd_mem_reduction(taus, accelerator="cpu"),
                  "iso_c": fb["iso"].iso_c(taus, accelerator="cpu"),
                  "iso_cts": fb["iso"].iso_cts(taus, common_space_fraction=0.8, accelerator="cpu"),
                  "iso_cts_half": {k: 1.3 * v for k, v in
                                   fb["iso"].iso_cts(taus, common_space_fraction=0.5, accelerator="cpu").items()}}
        for name, d in theirs.items():
            worst = max((d[k] - results[name][k]).abs().max().item() for k in base)
            print(f"FusionBench {name}: max |difference| to the transcription {worst:.2e}")
            assert worst < 1e-10, name


if __name__ == "__main__":
    main()
