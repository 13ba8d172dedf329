"""What the transformers peers (bench/train_hf.py, bench/model_prefill_hf.py) share: the FLOP
counts of their MFU, the peak of the device, and the facts every JSON line carries. The FLOP
counts are the same formulas as src/longctx/model/llama.h's; the imports of torch and
transformers wait until a run needs them, so the counts are tested on the CPU
(bench/test_compare_peers.py).

JSON lines (bench/README.md, "JSON lines"): {"bench", "impl", "config", "shape", "tokens",
"status", "tokens_per_s", "peak_gib", "mfu", "mfu_convention", "peak_tflops", "gpu", "date",
"versions", ...}; status is ok, out_of_memory, skipped or error.
"""
import datetime
import importlib.util
import json

from device_peaks import dense_bf16_peak_tflops  # bench/ is on sys.path: these run as scripts

TRAIN_CONVENTION = "6N+6LTd"  # RECIPE.md section 5, per trained token
PREFILL_CONVENTION = "executed-forward"  # matmuls where they run, 4 H D per causal query-key pair


def matmul_parameters(s):
    """N of RECIPE.md section 5 for a hf_shapes.SHAPES entry: matmul weights, head included."""
    d, layers, heads = s["hidden_size"], s["num_hidden_layers"], s["num_attention_heads"]
    hd = s.get("head_dim", d // heads)
    attention = d * hd * (2 * heads + 2 * s["num_key_value_heads"])
    return layers * (attention + 3 * d * s["intermediate_size"]) + d * s["vocab_size"]


def train_flops_per_token(s, t):
    """RECIPE.md section 5: 6N + 6LTd per trained token of a row of t tokens."""
    return 6 * matmul_parameters(s) + 6 * s["num_hidden_layers"] * t * s["hidden_size"]


def executed_prefill_flops(s, start, end, keep, head_positions):
    """Forward FLOPs that run for positions [start, end): every layer but the last at every
    position, the last layer's k/v at every position and its q/o/MLP and attention at the last
    `keep`, the LM head at `head_positions`; a query at position p attends p + 1 keys."""
    d, f, heads = s["hidden_size"], s["intermediate_size"], s["num_attention_heads"]
    hd = s.get("head_dim", d // heads)
    q_width, kv_width = heads * hd, s["num_key_value_heads"] * hd
    kv_weights, rest_weights = 2 * d * kv_width, 2 * d * q_width + 3 * d * f

    def pairs(a, b):
        return (b * (b + 1) - a * (a + 1)) / 2

    t = end - start
    layer = 2 * (kv_weights + rest_weights) * t + 4 * q_width * pairs(start, end)
    last = 2 * kv_weights * t + 2 * rest_weights * keep + 4 * q_width * pairs(end - keep, end)
    return (s["num_hidden_layers"] - 1) * layer + last + 2 * d * s["vocab_size"] * head_positions


def attention_implementations():
    """The attention implementations a transformers user would try that import here, and a
    note for each left out (there is no PyPI on the GPU machine to install the others)."""
    found, notes = ["sdpa"], []
    for impl, module in (("flash_attention_2", "flash_attn"),
                         ("flash_attention_3", "flash_attn_interface")):
        if importlib.util.find_spec(module) is not None:
            found.append(impl)
        else:
            notes.append((impl, f"skipped: the {module} package is not installed"))
    return found, notes


def run_facts(peak_tflops_flag):
    """The GPU's name, today's date, the versions, and the peak for MFU (the flag, else the
    device's by name, else None)."""
    import torch
    import transformers
    name = torch.cuda.get_device_name()
    versions = {"torch": torch.__version__, "transformers": transformers.__version__,
                "cuda": torch.version.cuda}
    for module in ("flash_attn", "flash_attn_interface"):
        if importlib.util.find_spec(module) is not None:
            versions[module] = getattr(importlib.import_module(module), "__version__", "?")
    peak = peak_tflops_flag if peak_tflops_flag else dense_bf16_peak_tflops(name)
    facts = {"gpu": name, "date": datetime.datetime.now(datetime.timezone.utc).date().isoformat(),
             "versions": versions, "peak_tflops": peak}
    return facts


def mfu(flops_per_second, peak_tflops):
    return flops_per_second / (peak_tflops * 1e12) if peak_tflops else None


def percent(value):
    return "unknown" if value is None else f"{100 * value:.1f}%"


def write_line(out, facts, **fields):
    if out:
        out.write(json.dumps({**facts, **fields}) + "\n")
        out.flush()
