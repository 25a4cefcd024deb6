#!/usr/bin/env python3
"""Export a Hugging Face model's loss-and-gradients graph to ONNX for fwmerge's OnnxObjective.

The graph takes one batch of data (named as the calibration file names it), a per-sample weight
vector and every weight of the model (named exactly as on disk), and returns

    loss_sum              = sum_b sample_weight[b] * loss_b          (a scalar)
    grad::<weight name>   = d loss_sum / d weight                    (one per weight, same shape)
    logits                = the model's logits for the batch          (for predictions: accuracy)

so fwmerge sums the batches (the last one padded with zero weights) and divides by the number of
samples: the loss is exactly the mean per-sample loss over the samples given, whatever the batch.
With --grams the graph also returns, for the weight W of every torch.nn.Linear (RegMean's data),

    gram::<W>             = sum_b sample_weight[b] * sum_r x_br x_br^T   ([in, in]; x_br the layer's
                            input rows of sample b: every position of a sequence, real tokens only)
    gram_count::<W>       = sum_b sample_weight[b] * (rows of sample b)

so the sums over the batches give X^T X / N. ONNX Runtime computes only the outputs asked for: the
Grams cost nothing in a loss or gradient call.
The contract is stored in the ONNX file's metadata (key "fwmerge.graph", JSON) and in a JSON
sidecar (GRAPH.json) with the check's figures.

Before writing, the exported graph is run with ONNX Runtime on a random batch, at the checkpoint's
weights and at perturbed weights, and compared with torch autograd; the export fails if any output
differs by more than --tolerance (relative to the largest magnitude of that output).

    python export_gradients.py MODEL_DIR --task image-classification --batch 8 --out vit.onnx
"""
import argparse
import json
import math
import os
import shutil
import sys
import tempfile
import types

import numpy as np
import torch
import torch.nn.functional as F

FORMAT = 1
TASKS = ("image-classification", "sequence-classification", "causal-lm")
LOSSES = ("cross-entropy", "entropy")
SAMPLE_WEIGHT = "sample_weight"
LOSS_OUTPUT = "loss_sum"
GRAD_PREFIX = "grad::"
LOGITS_OUTPUT = "logits"
GRAM_PREFIX = "gram::"
GRAM_COUNT_PREFIX = "gram_count::"
# Gradients smaller than this fraction of the model's largest are compared on that scale.
GRADIENT_FLOOR = 1e-2


def fail(message):
    print(f"export_gradients: {message}", file=sys.stderr)
    sys.exit(1)


# ---------------------------------------------------------------- checkpoint names and shapes

def disk_tensors(model_dir):
    """name -> (dtype string, shape) of the model's weights as stored (single file or sharded)."""
    from safetensors import safe_open
    single = os.path.join(model_dir, "model.safetensors")
    index = os.path.join(model_dir, "model.safetensors.index.json")
    if os.path.exists(single):
        files = [single]
    elif os.path.exists(index):
        with open(index) as f:
            files = sorted({os.path.join(model_dir, v) for v in json.load(f)["weight_map"].values()})
    else:
        fail(f"{model_dir} holds neither model.safetensors nor model.safetensors.index.json")
    out = {}
    for path in files:
        with safe_open(path, "pt") as f:
            for name in f.keys():
                sl = f.get_slice(name)
                out[name] = (sl.get_dtype(), list(sl.get_shape()))
    return out


def load_model(model_dir, task):
    import transformers
    classes = {
        "image-classification": transformers.AutoModelForImageClassification,
        "sequence-classification": transformers.AutoModelForSequenceClassification,
        "causal-lm": transformers.AutoModelForCausalLM,
    }
    model = classes[task].from_pretrained(model_dir, attn_implementation="eager", dtype=torch.float32)
    return model.eval()


def disk_names(model_dir, task, model):
    """In-memory parameter name -> on-disk tensor name.

    transformers may rename (ViT in transformers 5 renames 32 of 40 parameters). Rather than rely on
    its private conversion tables, the folder is copied with every tensor replaced by distinct random
    values and loaded again: each parameter then equals exactly one tensor on disk, or the
    architecture converts weights (fuses, transposes) and cannot be exported one-to-one.
    """
    from safetensors.torch import save_file
    stored = disk_tensors(model_dir)
    params = dict(model.named_parameters())
    if all(n in stored for n in params):
        return {n: n for n in params}
    gen = torch.Generator().manual_seed(12345)
    with tempfile.TemporaryDirectory() as tmp:
        for f in os.listdir(model_dir):
            if f.endswith(".json") and not f.startswith("model.safetensors"):
                shutil.copy(os.path.join(model_dir, f), tmp)
        probes = {n: torch.rand(shape, generator=gen) + 1.0 for n, (_, shape) in stored.items()}
        save_file(probes, os.path.join(tmp, "model.safetensors"), metadata={"format": "pt"})
        probe_model = load_model(tmp, task)
    by_key = {}
    for n, t in probes.items():
        by_key.setdefault((tuple(t.shape), float(t.flatten()[0])), []).append(n)
    mapping = {}
    for n, p in probe_model.named_parameters():
        key = (tuple(p.shape), float(p.detach().flatten()[0]))
        hits = [d for d in by_key.get(key, []) if torch.equal(probes[d], p.detach())]
        if len(hits) != 1:
            fail(f"parameter '{n}' {list(p.shape)} is not one tensor of the checkpoint as stored "
                 f"(transformers converts it on loading); this architecture cannot be exported one-to-one")
        mapping[n] = hits[0]
    return mapping


# ---------------------------------------------------------------- export-friendly rewrites

def patch_convolutions(model):
    """A patch embedding (Conv2d with stride == kernel, no padding) as reshape + matmul.

    The convolution's backward has no ONNX export; the rewrite computes the same function.
    """
    for name, m in model.named_modules():
        if isinstance(m, torch.nn.Conv2d):
            k = tuple(m.kernel_size)
            if tuple(m.stride) != k or tuple(m.padding) != (0, 0) or tuple(m.dilation) != (1, 1) or m.groups != 1:
                fail(f"convolution '{name}' is not a patch embedding (stride == kernel, no padding); not supported")

            def forward(self, x):
                b, c, h, w = x.shape
                kh, kw = self.kernel_size
                x = x.reshape(b, c, h // kh, kh, w // kw, kw).permute(0, 2, 4, 1, 3, 5)
                x = x.reshape(b, (h // kh) * (w // kw), c * kh * kw)
                y = x @ self.weight.reshape(self.out_channels, -1).t()
                if self.bias is not None:
                    y = y + self.bias
                return y.reshape(b, h // kh, w // kw, self.out_channels).permute(0, 3, 1, 2)

            m.forward = types.MethodType(forward, m)


def always_mask():
    """transformers skips building the attention mask when it holds no padding, a test on the data
    that cannot be traced; building it always gives the same values."""
    import transformers.masking_utils as mu
    for name in ("_ignore_causal_mask_sdpa", "_ignore_bidirectional_mask_sdpa"):
        if hasattr(mu, name):
            setattr(mu, name, lambda *args, **kwargs: False)


def per_sample_loss(logits, labels, kind):
    """Cross-entropy or prediction entropy per sample (last axis = classes), explicitly from
    log-softmax: the exported gradient of F.cross_entropy was wrong (32x) when checked."""
    logp = torch.log_softmax(logits, dim=-1)
    if kind == "entropy":
        return -(logp.exp() * logp).sum(-1)
    classes = torch.arange(logits.shape[-1], device=logits.device)
    onehot = (labels.unsqueeze(-1) == classes).to(logits.dtype)
    return -(onehot * logp).sum(-1)


class swapped:
    """The model's parameters replaced by the given tensors for the duration of a block, tied
    parameters (GPT-2's lm_head and wte) included. torch.func.functional_call would do this but
    refuses to run under the tracer."""

    def __init__(self, model, params):
        self.slots = []
        owners = {}
        for full, p in model.named_parameters(remove_duplicate=False):
            owners.setdefault(id(p), []).append(full)
        for full, p in model.named_parameters():
            for slot in owners[id(p)]:
                prefix, _, leaf = slot.rpartition(".")
                self.slots.append((model.get_submodule(prefix) if prefix else model, leaf, params[full]))

    def __enter__(self):
        self.saved = [(m, leaf, m._parameters[leaf]) for m, leaf, _ in self.slots]
        for m, leaf, t in self.slots:
            m._parameters[leaf] = t

    def __exit__(self, *exc):
        for m, leaf, p in self.saved:
            m._parameters[leaf] = p


def linear_layers(model, to_disk):
    """(module, on-disk weight name) of every torch.nn.Linear whose weight is one of the exported weights
    (a weight tied to another, such as GPT-2's lm_head, is not)."""
    out = []
    for name, m in model.named_modules():
        full = f"{name}.weight" if name else "weight"
        if isinstance(m, torch.nn.Linear) and full in to_disk:
            out.append((m, to_disk[full]))
    return out


def layer_grams(captured, layers, sample_weight, attention_mask):
    """[gram, count] per layer, in layer order: the weighted sums of x x^T over each sample's input rows
    (a sequence's rows are its real tokens where the input has one row per token) and of the row counts."""
    out = []
    for _, name in layers:
        x = captured[name].detach()
        rows = x.reshape(x.shape[0], -1, x.shape[-1])
        w = sample_weight.to(x.dtype).reshape(-1, 1).expand(-1, rows.shape[1])
        if attention_mask is not None and rows.shape[1] == attention_mask.shape[1]:
            w = w * attention_mask.to(x.dtype)
        out.append(torch.einsum("bri,br,brj->ij", rows, w, rows))
        out.append(w.sum())
    return out


class Graph(torch.nn.Module):
    """forward(*data, sample_weight, *weights) -> (loss_sum, *gradients, logits, *[gram, gram_count] per layer)."""

    def __init__(self, model, task, loss, data_names, weight_names, mem_names, layers=()):
        super().__init__()
        self.model, self.task, self.loss = model, task, loss
        self.data_names, self.weight_names, self.mem_names = data_names, weight_names, mem_names
        self.layers = list(layers)

    def forward(self, *args):
        nd = len(self.data_names)
        data = dict(zip(self.data_names, args[:nd]))
        sample_weight = args[nd]
        weights = args[nd + 1:]
        params = dict(zip(self.mem_names, weights))
        labels = data.get("labels")
        inputs = {k: v for k, v in data.items() if k != "labels"}
        captured = {}
        hooks = [m.register_forward_pre_hook(lambda mod, a, n=n: captured.__setitem__(n, a[0])) for m, n in self.layers]
        try:
            with swapped(self.model, params):
                logits = self.model(**inputs).logits
        finally:
            for h in hooks:
                h.remove()
        if self.task == "causal-lm":
            ids = data["input_ids"]
            mask = data["attention_mask"][:, 1:].to(logits.dtype)
            tok = per_sample_loss(logits[:, :-1, :], ids[:, 1:], self.loss)
            per = (tok * mask).sum(-1) / mask.sum(-1).clamp(min=1.0)
        else:
            per = per_sample_loss(logits, labels, self.loss)
        loss_sum = (per * sample_weight).sum()
        grads = torch.autograd.grad(loss_sum, weights, allow_unused=True)
        grads = [torch.zeros_like(w) if g is None else g for w, g in zip(weights, grads)]
        grams = layer_grams(captured, self.layers, sample_weight, data.get("attention_mask"))
        return (loss_sum, *grads, logits.detach(), *grams)


# ---------------------------------------------------------------- data

def data_spec(model, task, loss, batch, seq_len):
    """Name -> (numpy dtype, shape) of the graph's data inputs."""
    cfg = model.config
    if task == "image-classification":
        vision = getattr(cfg, "vision_config", cfg)
        size = vision.image_size if isinstance(vision.image_size, int) else vision.image_size[0]
        spec = {"pixel_values": (np.float32, [batch, vision.num_channels, size, size])}
        if loss == "cross-entropy":
            spec["labels"] = (np.int64, [batch])
        return spec
    if seq_len is None:
        fail(f"--seq-len is required for --task {task}")
    spec = {"input_ids": (np.int64, [batch, seq_len]), "attention_mask": (np.int64, [batch, seq_len])}
    if task == "sequence-classification" and loss == "cross-entropy":
        spec["labels"] = (np.int64, [batch])
    return spec


def random_batch(model, task, spec, rng):
    cfg = model.config
    out = {}
    for name, (dtype, shape) in spec.items():
        if name == "pixel_values":
            out[name] = rng.standard_normal(shape).astype(dtype)
        elif name == "input_ids":
            out[name] = rng.integers(0, cfg.vocab_size, size=shape).astype(dtype)
        elif name == "attention_mask":
            m = np.ones(shape, dtype=dtype)
            for b in range(shape[0]):  # right padding of random length, at least two real tokens
                m[b, rng.integers(2, shape[1] + 1):] = 0
            out[name] = m
        elif name == "labels":
            out[name] = rng.integers(0, cfg.num_labels, size=shape).astype(dtype)
    return out


# ---------------------------------------------------------------- check

def torch_reference(graph, data, sample_weight, weights):
    """Loss and gradients by plain torch autograd, in double precision."""
    model64 = graph.model.double()
    w = [t.detach().double().requires_grad_(True) for t in weights]
    d = [torch.from_numpy(data[n]).double() if data[n].dtype == np.float32 else torch.from_numpy(data[n])
         for n in graph.data_names]
    g64 = Graph(model64, graph.task, graph.loss, graph.data_names, graph.weight_names, graph.mem_names, graph.layers)
    outs = g64(*d, torch.from_numpy(sample_weight).double(), *w)
    graph.model.float()
    return [o.detach().numpy() for o in outs]


def relative_error(a, b, floor):
    """max |a - b| over the largest magnitude of b, or over floor where b is smaller: a gradient that
    is exactly zero in theory (the attention key bias's) is float noise, checked absolutely."""
    scale = max(float(np.max(np.abs(b))), floor, 1e-30)
    return float(np.max(np.abs(a.astype(np.float64) - b.astype(np.float64)))) / scale


def check(path, graph, spec, weights, rng):
    import onnxruntime as ort
    sess = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    figures = {}
    for label, scale in (("checkpoint", 0.0), ("perturbed", 0.05)):
        ws = [w + scale * w.abs().mean().clamp(min=1e-3) * torch.randn(w.shape, generator=torch.Generator().manual_seed(i))
              for i, w in enumerate(weights)]
        data = random_batch(graph.model, graph.task, spec, rng)
        batch = next(iter(spec.values()))[1][0]
        sample_weight = np.ones(batch, dtype=np.float32)
        sample_weight[-1] = 0.0  # a padded slot: its sample must not count
        feeds = dict(data)
        feeds[SAMPLE_WEIGHT] = sample_weight
        for n, w in zip(graph.weight_names, ws):
            feeds[n] = w.detach().numpy().astype(np.float32)
        got = sess.run(None, feeds)
        want = torch_reference(graph, data, sample_weight, ws)
        n = len(graph.weight_names)
        floor = GRADIENT_FLOOR * max(float(np.max(np.abs(w))) for w in want[1:1 + n])
        errs = [relative_error(got[0], want[0], 0.0)] + [relative_error(g, w, floor)
                                                         for g, w in zip(got[1:1 + n], want[1:1 + n])]
        worst = int(np.argmax(errs[1:]))
        figures[label] = {"loss": float(got[0]), "torch_loss": float(want[0]),
                          "loss_relative_error": errs[0], "max_gradient_relative_error": max(errs[1:]),
                          "worst_gradient": graph.weight_names[worst],
                          "logits_relative_error": relative_error(got[1 + n], want[1 + n], 0.0)}
        if graph.layers:
            figures[label]["max_gram_relative_error"] = max(relative_error(g, w, 0.0)
                                                            for g, w in zip(got[2 + n:], want[2 + n:]))
    return figures


# ---------------------------------------------------------------- export

def export(graph, args, path, input_names, output_names, opset):
    """make_fx traces forward and backward into one graph of ATen ops, which the dynamo exporter
    writes as ONNX with our input names. (The TorchScript exporter cannot trace through
    torch.autograd.grad: tensors an op saves for its backward become constants.) Tracing runs on
    the example batch, so a value-dependent branch of the model is fixed by it: the example is
    padded, and the check runs other batches."""
    from torch.fx.experimental.proxy_tensor import make_fx
    nd = len(graph.data_names) + 1

    def joint(*a):
        return graph(*a[:nd], *(w.requires_grad_(True) for w in a[nd:]))

    # Core ATen decompositions: backward ops such as silu_backward have no ONNX translation of their own.
    from torch._decomp import core_aten_decompositions
    traced = make_fx(joint, tracing_mode="real", decomposition_table=core_aten_decompositions())(
        *[x.detach() for x in args])
    torch.onnx.export(traced, tuple(x.detach() for x in args), path, input_names=input_names,
                      output_names=output_names, opset_version=opset, dynamo=True, verbose=False)


# ---------------------------------------------------------------- main

def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("model_dir", help="Hugging Face folder: config.json + model.safetensors (or sharded)")
    p.add_argument("--task", required=True, choices=TASKS)
    p.add_argument("--batch", required=True, type=int, help="samples per graph call (fixed)")
    p.add_argument("--seq-len", type=int, help="tokens per sample (text tasks; fixed)")
    p.add_argument("--loss", default="cross-entropy", choices=LOSSES)
    p.add_argument("--out", required=True, help="GRAPH.onnx to write (a GRAPH.json sidecar beside it)")
    p.add_argument("--opset", type=int, default=18)
    p.add_argument("--tolerance", type=float, default=1e-4)
    p.add_argument("--seed", type=int, default=0, help="seed of the check's random batches")
    p.add_argument("--grams", action="store_true",
                   help="also output each linear layer's input Gram matrix (what RegMean needs)")
    a = p.parse_args(argv)
    if a.batch < 1:
        fail(f"--batch must be >= 1, got {a.batch}")
    if a.task == "causal-lm" and a.loss == "entropy":
        fail("--loss entropy is for classification tasks")
    torch.manual_seed(a.seed)
    rng = np.random.default_rng(a.seed)

    model = load_model(a.model_dir, a.task)
    patch_convolutions(model)
    always_mask()
    to_disk = disk_names(a.model_dir, a.task, model)
    mem_names = list(to_disk)
    weight_names = [to_disk[n] for n in mem_names]
    params = dict(model.named_parameters())
    weights = [params[n].detach().clone() for n in mem_names]
    spec = data_spec(model, a.task, a.loss, a.batch, a.seq_len)
    data_names = list(spec)
    layers = linear_layers(model, to_disk) if a.grams else []
    graph = Graph(model, a.task, a.loss, data_names, weight_names, mem_names, layers)

    example = random_batch(model, a.task, spec, rng)
    args = [torch.from_numpy(example[n]) for n in data_names]
    args.append(torch.ones(a.batch))
    args.extend(w.clone().requires_grad_(True) for w in weights)
    grad_names = [GRAD_PREFIX + n for n in weight_names]
    out = os.path.abspath(a.out)
    tmp = out + ".tmp"
    gram_names = [p + n for _, n in layers for p in (GRAM_PREFIX, GRAM_COUNT_PREFIX)]
    export(graph, args, tmp, data_names + [SAMPLE_WEIGHT] + weight_names,
           [LOSS_OUTPUT] + grad_names + [LOGITS_OUTPUT] + gram_names, a.opset)

    import onnx
    proto = onnx.load(tmp)
    contract = {
        "format": FORMAT, "task": a.task, "loss": a.loss, "batch": a.batch, "seq_len": a.seq_len,
        "sample_weight": SAMPLE_WEIGHT, "loss_output": LOSS_OUTPUT, "gradient_prefix": GRAD_PREFIX,
        "logits_output": LOGITS_OUTPUT, "grams": [n for _, n in layers],
        "data": [{"name": n, "dtype": np.dtype(spec[n][0]).name, "shape": spec[n][1]} for n in data_names],
        "weights": [{"name": n, "shape": list(w.shape)} for n, w in zip(weight_names, weights)],
    }
    del proto.metadata_props[:]
    entry = proto.metadata_props.add()
    entry.key, entry.value = "fwmerge.graph", json.dumps(contract)
    # One self-contained file: the exporter may have put constants beside it as external data.
    onnx.save_model(proto, tmp, save_as_external_data=False)
    if os.path.exists(tmp + ".data"):
        os.remove(tmp + ".data")

    figures = check(tmp, graph, spec, weights, rng)
    worst = max(max(f["loss_relative_error"], f["max_gradient_relative_error"], f["logits_relative_error"],
                    f.get("max_gram_relative_error", 0.0))
                for f in figures.values())
    sidecar = dict(contract, graph=os.path.basename(out), model_dir=os.path.relpath(a.model_dir, os.path.dirname(out)),
                   check={"tolerance": a.tolerance, "worst_relative_error": worst, **figures},
                   versions={"torch": torch.__version__, "transformers": __import__("transformers").__version__,
                             "onnx": onnx.__version__, "onnxruntime": __import__("onnxruntime").__version__})
    if not math.isfinite(worst) or worst > a.tolerance:
        os.remove(tmp)
        fail(f"the exported graph disagrees with torch autograd: relative error {worst:.3g} > {a.tolerance:g} "
             f"({json.dumps(figures)}); nothing written")
    os.replace(tmp, out)
    with open(os.path.splitext(out)[0] + ".json", "w") as f:
        json.dump(sidecar, f, indent=2)
    print(f"wrote {out} ({os.path.getsize(out)} bytes): {len(weight_names)} weights, {len(layers)} Grams, "
          f"batch {a.batch}, worst relative error vs torch {worst:.2e}")


if __name__ == "__main__":
    main()
