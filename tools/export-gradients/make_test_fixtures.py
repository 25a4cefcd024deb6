#!/usr/bin/env python3
"""Writes fwmerge-onnx's test resources: for each architecture a tiny random model in Hugging Face
layout, its loss-and-gradients graph (exported by export_gradients.py), a calibration file and torch's
loss, gradients and linear layers' input Grams on it, at the checkpoint's weights and at perturbed weights.

    python make_test_fixtures.py ../../fwmerge-onnx/src/test/resources/org/fwmerge/onnx

The reference is computed by torch in double precision on all calibration samples at once, from the
model's own loss where transformers has one of the same definition (mean cross-entropy over samples
for classification), so it checks the graph, the batching and fwmerge's padding together.
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile

import numpy as np
import torch
import torch.nn.functional as F
from safetensors.torch import save_file

HERE = os.path.dirname(os.path.abspath(__file__))
SAMPLES = 6   # not a multiple of BATCH: the last batch is padded
BATCH = 4
SEQ = 8


def configs():
    import transformers as t
    return {
        "vit": ("image-classification", t.ViTForImageClassification, t.ViTConfig(
            hidden_size=16, num_hidden_layers=2, num_attention_heads=2, intermediate_size=32, image_size=8,
            patch_size=4, num_channels=3, num_labels=3)),
        "clip": ("image-classification", t.CLIPForImageClassification, t.CLIPConfig(
            vision_config=dict(hidden_size=16, num_hidden_layers=2, num_attention_heads=2, intermediate_size=32,
                               image_size=8, patch_size=4, projection_dim=8),
            text_config=dict(hidden_size=16, num_hidden_layers=1, num_attention_heads=2, intermediate_size=32,
                             vocab_size=32, max_position_embeddings=16), num_labels=3)),
        "bert": ("sequence-classification", t.BertForSequenceClassification, t.BertConfig(
            hidden_size=16, num_hidden_layers=2, num_attention_heads=2, intermediate_size=32, vocab_size=40,
            max_position_embeddings=16, num_labels=3)),
        "gpt2": ("causal-lm", t.GPT2LMHeadModel, t.GPT2Config(
            n_embd=16, n_layer=2, n_head=2, vocab_size=40, n_positions=16, bos_token_id=0, eos_token_id=0)),
        "llama": ("causal-lm", t.LlamaForCausalLM, t.LlamaConfig(
            hidden_size=16, num_hidden_layers=2, num_attention_heads=2, num_key_value_heads=1, intermediate_size=32,
            vocab_size=40, max_position_embeddings=16, bos_token_id=0, eos_token_id=0, pad_token_id=0)),
    }


def calibration(task, model, rng):
    cfg = model.config
    if task == "image-classification":
        v = getattr(cfg, "vision_config", cfg)
        return {"pixel_values": rng.standard_normal((SAMPLES, v.num_channels, v.image_size, v.image_size)).astype(np.float32),
                "labels": rng.integers(0, cfg.num_labels, SAMPLES).astype(np.int64)}
    ids = rng.integers(0, cfg.vocab_size, (SAMPLES, SEQ)).astype(np.int64)
    mask = np.ones((SAMPLES, SEQ), dtype=np.int64)
    for b, n in enumerate([SEQ, 5, SEQ, 3, 6, SEQ][:SAMPLES]):
        mask[b, n:] = 0
    out = {"input_ids": ids, "attention_mask": mask}
    if task == "sequence-classification":
        out["labels"] = rng.integers(0, cfg.num_labels, SAMPLES).astype(np.int64)
    return out


def reference(task, model, data):
    """Mean loss over the samples, its gradient by name, the logits and each linear layer's input Gram
    (X^T X / N over every sample's rows, real tokens only), in double."""
    model = model.double()
    model.zero_grad()
    t = {k: torch.from_numpy(v) for k, v in data.items()}
    inputs = {}
    hooks = [m.register_forward_pre_hook(lambda mod, a, n=n: inputs.__setitem__(n, a[0].detach()))
             for n, m in model.named_modules() if isinstance(m, torch.nn.Linear)]
    if task == "image-classification":
        o = model(pixel_values=t["pixel_values"].double(), labels=t["labels"])
        loss, logits = o.loss, o.logits
    elif task == "sequence-classification":
        o = model(input_ids=t["input_ids"], attention_mask=t["attention_mask"], labels=t["labels"])
        loss, logits = o.loss, o.logits
    else:
        logits = model(input_ids=t["input_ids"], attention_mask=t["attention_mask"]).logits
        tok = F.cross_entropy(logits[:, :-1].reshape(-1, logits.shape[-1]), t["input_ids"][:, 1:].reshape(-1),
                              reduction="none").reshape(SAMPLES, SEQ - 1)
        m = t["attention_mask"][:, 1:].double()
        loss = ((tok * m).sum(1) / m.sum(1)).mean()
    for h in hooks:
        h.remove()
    grams = {}
    for n, x in inputs.items():
        rows = x.reshape(x.shape[0], -1, x.shape[-1])
        if "attention_mask" in t and rows.shape[1] == SEQ:
            rows = rows[t["attention_mask"].bool()]  # the real tokens' rows
        rows = rows.reshape(-1, x.shape[-1])
        grams[f"{n}.weight" if n else "weight"] = (rows.T @ rows / rows.shape[0]).float().contiguous()
    loss.backward()
    # A weight the loss does not use (CLIP classification skips post_layernorm) has gradient zero.
    grads = {n: (torch.zeros_like(p) if p.grad is None else p.grad).detach().float().contiguous()
             for n, p in model.named_parameters()}
    model.float()
    return float(loss), grads, logits.detach().float().contiguous(), grams


def main(out_root):
    import transformers
    transformers.logging.set_verbosity_error()
    sys.path.insert(0, HERE)
    import export_gradients as eg
    for arch, (task, cls, cfg) in configs().items():
        torch.manual_seed(1)
        model = cls(cfg).eval()
        out = os.path.join(out_root, arch)
        shutil.rmtree(out, ignore_errors=True)
        os.makedirs(out)
        model.save_pretrained(out)
        for extra in os.listdir(out):
            if extra not in ("config.json", "model.safetensors"):
                os.remove(os.path.join(out, extra))
        subprocess.run([sys.executable, os.path.join(HERE, "export_gradients.py"), out, "--task", task,
                        "--batch", str(BATCH), "--seq-len", str(SEQ), "--grams", "--out", os.path.join(out, "graph.onnx")],
                       check=True)
        rng = np.random.default_rng(7)
        data = calibration(task, model, rng)
        save_file({k: torch.from_numpy(v) for k, v in data.items()}, os.path.join(out, "calibration.safetensors"))
        model = cls.from_pretrained(out, attn_implementation="eager").eval()
        eg.always_mask()
        to_disk = eg.disk_names(out, task, model)
        expected = {}
        loss, grads, logits, grams = reference(task, model, data)
        expected["loss"] = torch.tensor([loss], dtype=torch.float64)
        expected["logits"] = logits
        for n, g in grads.items():
            expected["grad." + to_disk[n]] = g
        for n, g in grams.items():
            if n in to_disk:  # a weight tied to another (GPT-2's lm_head) is not a graph input
                expected["gram." + to_disk[n]] = g
        # Perturbed weights: every weight moved by 5 % of its mean magnitude, written as a checkpoint.
        gen = torch.Generator().manual_seed(3)
        perturbed = {}
        with torch.no_grad():
            for n, p in model.named_parameters():
                p.add_(0.05 * p.abs().mean().clamp(min=1e-3) * torch.randn(p.shape, generator=gen))
                perturbed[to_disk[n]] = p.detach().clone().contiguous()
        save_file(perturbed, os.path.join(out, "perturbed.safetensors"))
        loss, grads, logits, grams = reference(task, model, data)
        expected["perturbed.loss"] = torch.tensor([loss], dtype=torch.float64)
        expected["perturbed.logits"] = logits
        for n, g in grads.items():
            expected["perturbed.grad." + to_disk[n]] = g
        for n, g in grams.items():
            if n in to_disk:
                expected["perturbed.gram." + to_disk[n]] = g
        save_file(expected, os.path.join(out, "expected.safetensors"),
                  metadata={"task": task, "samples": str(SAMPLES), "torch": torch.__version__,
                            "transformers": transformers.__version__})
        sizes = {f: os.path.getsize(os.path.join(out, f)) for f in sorted(os.listdir(out))}
        print(arch, sizes)


if __name__ == "__main__":
    main(os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else os.path.join(
        HERE, "..", "..", "fwmerge-onnx", "src", "test", "resources", "org", "fwmerge", "onnx")))
