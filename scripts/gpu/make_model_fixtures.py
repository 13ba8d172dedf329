#!/usr/bin/env python3
"""Reference fixtures for the libtorch LLaMA (src/longctx/model/llama.h), made by transformers.

Runs on the GPU machine (transformers 5, PyTorch 2.x; no network needed). For each variant it
builds a small random-weight LlamaForCausalLM (or MistralForCausalLM) with transformers itself,
saves it with save_pretrained (config.json + model.safetensors), and saves the reference
outputs on fixed token ids into expected.safetensors:

  ids          [1, T] int64       the input (T = 96, beyond max_position_embeddings = 48, so
                                  dynamic NTK and the long-context variants are exercised)
  logits_f32   [1, T, V] float32  float32 forward on CPU
  loss_f32     []                 mean next-token cross-entropy of ids (float32, CPU)
  logits_bf16  [1, T, V] float32  bfloat16 forward on CUDA, cast to float32 (when CUDA exists)

Usage: python3 scripts/gpu/make_model_fixtures.py OUT_DIR
Each variant goes to OUT_DIR/<name>/. The committed copy lives in tests/model/fixtures/.
"""
import json
import os
import sys

import torch
import transformers
from safetensors.torch import save_file

T = 96
BASE = dict(
    vocab_size=256,
    hidden_size=64,
    intermediate_size=176,
    num_hidden_layers=2,
    num_attention_heads=4,
    num_key_value_heads=4,
    max_position_embeddings=48,
    rms_norm_eps=1e-5,
    rope_theta=10000.0,
    tie_word_embeddings=False,
    bos_token_id=1,
    eos_token_id=2,
)

VARIANTS = {
    "default": {},
    "gqa_theta500k": dict(num_key_value_heads=2, rope_theta=500000.0),
    "mqa_tied": dict(num_key_value_heads=1, tie_word_embeddings=True),
    "linear": dict(rope_scaling={"rope_type": "linear", "factor": 4.0}),
    "dynamic": dict(rope_scaling={"rope_type": "dynamic", "factor": 4.0}),
    "yarn": dict(rope_scaling={"rope_type": "yarn", "factor": 4.0,
                               "original_max_position_embeddings": 48}),
    "llama3": dict(num_key_value_heads=2, rope_theta=500000.0,
                   rope_scaling={"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0,
                                 "high_freq_factor": 4.0,
                                 "original_max_position_embeddings": 48}),
    "bias": dict(attention_bias=True, mlp_bias=True),
    "mistral": dict(model_type="mistral", num_key_value_heads=2, sliding_window=None),
}


def build(name, extra):
    fields = dict(BASE)
    fields.update(extra)
    model_type = fields.pop("model_type", "llama")
    rope_scaling = fields.pop("rope_scaling", None)
    if model_type == "mistral":
        fields.pop("attention_bias", None)
        fields.pop("mlp_bias", None)
        config = transformers.MistralConfig(**fields)
        cls = transformers.MistralForCausalLM
    else:
        config = transformers.LlamaConfig(**fields)
        cls = transformers.LlamaForCausalLM
    if rope_scaling is not None:
        # transformers 5 keeps RoPE settings in rope_parameters; older versions in rope_scaling.
        if hasattr(config, "rope_parameters") and config.rope_parameters is not None:
            params = dict(config.rope_parameters)
            params.update(rope_scaling)
            params.setdefault("rope_theta", fields["rope_theta"])
            config.rope_parameters = params
        else:
            config.rope_scaling = rope_scaling
    torch.manual_seed(hash(name) % (2**31))
    model = cls(config).eval()
    with torch.no_grad():  # make norms and biases non-trivial so a missed one shows
        for pname, p in model.named_parameters():
            if pname.endswith("norm.weight") or pname.endswith(".bias"):
                p.add_(torch.randn_like(p) * 0.1)
    return model


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    gen = torch.Generator().manual_seed(1234)
    ids = torch.randint(3, BASE["vocab_size"], (1, T), generator=gen)
    summary = {"transformers": transformers.__version__, "torch": torch.__version__}
    for name, extra in VARIANTS.items():
        model = build(name, extra)
        path = os.path.join(out, name)
        model.save_pretrained(path, safe_serialization=True)
        expected = {"ids": ids.clone()}
        with torch.no_grad():
            result = model(ids, labels=ids)
            expected["logits_f32"] = result.logits.float().contiguous()
            expected["loss_f32"] = result.loss.float().reshape(())
            if torch.cuda.is_available():
                gpu = model.to("cuda", torch.bfloat16)
                expected["logits_bf16"] = gpu(ids.cuda()).logits.float().cpu().contiguous()
        save_file(expected, os.path.join(path, "expected.safetensors"))
        summary[name] = {"loss_f32": float(expected["loss_f32"])}
        print(name, summary[name], flush=True)
    with open(os.path.join(out, "summary.json"), "w") as f:
        json.dump(summary, f, indent=1)


if __name__ == "__main__":
    main()
