#!/usr/bin/env python3
"""Side by side: mergekit and `fwmerge merge` on the same YAML, for every method both implement.

Generates a Llama-layout pool (a base and N fine-tunes, safetensors, config.json), writes one mergekit YAML
per method, runs both tools on it and prints, per method: wall time net of start-up (each tool's start-up is
measured on a one-layer pool of the same shape and subtracted), peak RSS, and agreement (max |difference| and
relative L2 for deterministic methods; kept fraction and norm ratio for the random DARE and DELLA methods).

Not run by CI. See README.md beside this file for the set-up (setup.sh installs mergekit from source).
"""
import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import time

import numpy as np
import torch
from safetensors.torch import load_file, save_file

METHODS = {
    "linear": "  - model: {m}\n    parameters: {{weight: {w}}}\n",
    "task_arithmetic": "  - model: {m}\n    parameters: {{weight: {w}}}\n",
    "ties": "  - model: {m}\n    parameters: {{weight: {w}, density: 0.3}}\n",
    "dare_linear": "  - model: {m}\n    parameters: {{weight: {w}, density: 0.5}}\n",
    "dare_ties": "  - model: {m}\n    parameters: {{weight: {w}, density: 0.5}}\n",
    "breadcrumbs": "  - model: {m}\n    parameters: {{weight: {w}, density: 0.5, gamma: 0.01}}\n",
    "breadcrumbs_ties": "  - model: {m}\n    parameters: {{weight: {w}, density: 0.5, gamma: 0.01}}\n",
    "slerp": None,
    "nearswap": None,
    "model_stock": "  - model: {m}\n",
    "della": "  - model: {m}\n    parameters: {{weight: {w}, density: 0.5, epsilon: 0.15}}\n",
    "della_linear": "  - model: {m}\n    parameters: {{weight: {w}, density: 0.5, epsilon: 0.15}}\n",
    "sce": "  - model: {m}\n",
    "multislerp": "  - model: {m}\n    parameters: {{weight: {w}}}\n",
    "nuslerp": None,
    "karcher": "  - model: {m}\n",
}
RANDOM = {"dare_linear", "dare_ties", "della", "della_linear"}


def pool(root, models, layers, hidden, inter, vocab, dtype, seed):
    """base/ and ft1..ftN/ in Hugging Face's Llama layout; fine-tunes = base + N(0, 0.01²)·|base| sparse-ish noise."""
    g = torch.Generator().manual_seed(seed)
    shapes = {"model.embed_tokens.weight": (vocab, hidden), "model.norm.weight": (hidden,), "lm_head.weight": (vocab, hidden)}
    for i in range(layers):
        p = f"model.layers.{i}."
        for n in ("q", "k", "v", "o"):
            shapes[p + f"self_attn.{n}_proj.weight"] = (hidden, hidden)
        shapes[p + "mlp.gate_proj.weight"] = (inter, hidden)
        shapes[p + "mlp.up_proj.weight"] = (inter, hidden)
        shapes[p + "mlp.down_proj.weight"] = (hidden, inter)
        shapes[p + "input_layernorm.weight"] = (hidden,)
        shapes[p + "post_attention_layernorm.weight"] = (hidden,)
    config = {"architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_size": hidden,
              "intermediate_size": inter, "num_hidden_layers": layers, "num_attention_heads": max(1, hidden // 64),
              "num_key_value_heads": max(1, hidden // 64), "vocab_size": vocab, "rms_norm_eps": 1e-6,
              "max_position_embeddings": 2048, "tie_word_embeddings": False, "torch_dtype": dtype}
    tdtype = {"bfloat16": torch.bfloat16, "float16": torch.float16, "float32": torch.float32}[dtype]
    base = {k: (torch.randn(s, generator=g) * 0.02 if len(s) == 2 else torch.ones(s)) for k, s in shapes.items()}
    dirs = []
    for j in range(models + 1):
        d = os.path.join(root, "base" if j == 0 else f"ft{j}")
        os.makedirs(d, exist_ok=True)
        t = base if j == 0 else {k: v + torch.randn(v.shape, generator=g) * 0.002 * (torch.rand(v.shape, generator=g) < 0.5)
                                 for k, v in base.items()}
        save_file({k: v.to(tdtype).contiguous() for k, v in t.items()}, os.path.join(d, "model.safetensors"))
        with open(os.path.join(d, "config.json"), "w") as f:
            json.dump(config, f)
        dirs.append(d)
    return dirs


def yaml_for(method, dirs, dtype):
    base, fts = dirs[0], dirs[1:]
    if method == "slerp":
        return (f"merge_method: slerp\nbase_model: {base}\nmodels:\n  - model: {base}\n  - model: {fts[0]}\n"
                "parameters:\n  t:\n    - filter: self_attn\n      value: [0, 0.5, 0.3, 0.7, 1]\n"
                "    - filter: mlp\n      value: [1, 0.5, 0.7, 0.3, 0]\n    - value: 0.5\n"
                f"dtype: {dtype}\n")
    if method == "nuslerp":
        return (f"merge_method: nuslerp\nbase_model: {base}\nmodels:\n  - model: {fts[0]}\n    parameters: {{weight: 0.4}}\n"
                f"  - model: {fts[1]}\n    parameters: {{weight: 0.6}}\ndtype: {dtype}\n")
    if method == "nearswap":
        return f"merge_method: nearswap\nbase_model: {base}\nmodels:\n  - model: {fts[0]}\nparameters: {{t: 0.001}}\ndtype: {dtype}\n"
    body = "".join(METHODS[method].format(m=d, w=round(1.0 / len(fts) + 0.1 * i, 3)) for i, d in enumerate(fts))
    extra = f"base_model: {base}\n" + {"linear": "parameters: {weight: 0.2}\n",
                                        "sce": "parameters: {select_topk: 0.3}\n"}.get(method, "")
    return f"merge_method: {method}\n{extra}models:\n{body}dtype: {dtype}\n"


def timed(cmd, log, work):
    """Wall seconds and peak RSS (MiB) of one command, by GNU time: a process forked from this one would
    start with this one's resident set, and Linux keeps a peak across exec."""
    stats = os.path.join(work, "time.txt")
    t0 = time.perf_counter()
    code = subprocess.call(["/usr/bin/time", "-f", "%M", "-o", stats] + cmd, stdout=log, stderr=subprocess.STDOUT)
    wall = time.perf_counter() - t0
    if code != 0:
        raise SystemExit(f"failed ({code}): {' '.join(cmd)}; see {log.name}")
    with open(stats) as f:
        return wall, int(f.read().split()[-1]) / 1024


def outputs(d):
    files = [f for f in os.listdir(d) if f.endswith(".safetensors")]
    out = {}
    for f in files:
        out.update(load_file(os.path.join(d, f)))
    return {k: v.float() for k, v in out.items()}


def agreement(method, mk, fw, base):
    if set(mk) != set(fw):
        return f"tensor names differ: {sorted(set(mk) ^ set(fw))[:4]}"
    if method in RANDOM:
        kept = lambda o: sum(int(((o[k] - base[k]) != 0).sum()) for k in o) / sum(o[k].numel() for k in o)
        norm = lambda o: float(torch.sqrt(sum(((o[k] - base[k]).double() ** 2).sum() for k in o)))
        return f"kept {kept(mk):.3f} / {kept(fw):.3f}, ‖θ−θ₀‖ ratio fw/mk {norm(fw) / norm(mk):.4f}"
    mx = max(float((mk[k] - fw[k]).abs().max()) for k in mk)
    num = sum(float(((mk[k] - fw[k]).double() ** 2).sum()) for k in mk)
    den = sum(float((mk[k].double() ** 2).sum()) for k in mk)
    return f"max abs Δ {mx:.2e}, rel L2 {np.sqrt(num / den):.2e}"


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--work", default="/tmp/compare-mergekit")
    ap.add_argument("--models", type=int, default=4)
    ap.add_argument("--layers", type=int, default=8)
    ap.add_argument("--hidden", type=int, default=1024)
    ap.add_argument("--intermediate", type=int, default=2816)
    ap.add_argument("--vocab", type=int, default=32000)
    ap.add_argument("--dtype", default="bfloat16")
    ap.add_argument("--methods", default=",".join(METHODS))
    ap.add_argument("--fwmerge", default=os.path.join(os.path.dirname(__file__), "../../fwmerge-examples/target/fwmerge.jar"))
    ap.add_argument("--mergekit", default=shutil.which("mergekit-yaml") or "mergekit-yaml")
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    os.makedirs(a.work, exist_ok=True)
    log = open(os.path.join(a.work, "runs.log"), "w")
    dirs = pool(os.path.join(a.work, "pool"), a.models, a.layers, a.hidden, a.intermediate, a.vocab, a.dtype, a.seed)
    tiny = pool(os.path.join(a.work, "tiny"), a.models, 1, 64, 128, 256, a.dtype, a.seed)
    params = sum(np.prod(v.shape) for v in load_file(os.path.join(dirs[0], "model.safetensors")).values())
    print(f"pool: base + {a.models} fine-tunes, {a.layers} layers, {params / 1e6:.0f}M parameters each, {a.dtype}")
    base = outputs(dirs[0])
    mk_cmd = lambda cfg, out: [a.mergekit, cfg, out, "--no-copy-tokenizer", "--allow-crimes"]
    fw_cmd = lambda cfg, out: ["java", "-jar", a.fwmerge, "merge", cfg, out]
    print("| method | mergekit s (net) | fwmerge s (net) | fw/mk | peak RSS mk / fw MiB | agreement |")
    print("|---|---|---|---|---|---|")
    for method in a.methods.split(","):
        try:
            compare_one(a, method, dirs, tiny, base, mk_cmd, fw_cmd, log)
        except SystemExit as e:  # one tool failing on one method does not end the table
            print(f"| {method} | failed: {e} | | | | |", flush=True)


def compare_one(a, method, dirs, tiny, base, mk_cmd, fw_cmd, log):
    """One row of the table: both tools on the tiny and the full pool, then the agreement."""
    row = {}
    for tool, cmd in (("mk", mk_cmd), ("fw", fw_cmd)):
        times = []
        for name, d in (("tiny", tiny), ("pool", dirs)):
            cfg = os.path.join(a.work, f"{method}-{name}.yaml")
            with open(cfg, "w") as f:
                f.write(yaml_for(method, d, a.dtype))
            out = os.path.join(a.work, f"out-{tool}-{method}-{name}")
            shutil.rmtree(out, ignore_errors=True)
            times.append(timed(cmd(cfg, out), log, a.work))
        row[tool] = (times[1][0] - times[0][0], times[1][1], os.path.join(a.work, f"out-{tool}-{method}-pool"))
    agree = agreement(method, outputs(row["mk"][2]), outputs(row["fw"][2]), base)
    print(f"| {method} | {row['mk'][0]:.2f} | {row['fw'][0]:.2f} | {row['fw'][0] / row['mk'][0]:.2f}× | "
          f"{row['mk'][1]:.0f} / {row['fw'][1]:.0f} | {agree} |", flush=True)


if __name__ == "__main__":
    main()
