"""Dense bf16 peak of a GPU by the name CUDA reports (torch.cuda.get_device_name()), for the
peers' MFU: the same table and rules as src/longctx/base/device_peaks.cpp, whose comment cites
NVIDIA's datasheets (the figures "with sparsity" halved). Standard library only, so it is
tested on the CPU (bench/test_compare_peers.py).

    dense_bf16_peak_tflops("NVIDIA H100 80GB HBM3")   # 989.0
    dense_bf16_peak_tflops("NVIDIA H800")             # None: unknown, MFU is then "unknown"
"""
import re

_VARIANT_WORDS = {"HBM3", "HBM3E", "HBM2E", "SXM", "SXM4", "SXM5", "PCIE", "NVL"}


def _variant(word):
    return word in _VARIANT_WORDS or re.fullmatch(r"[0-9]+GB", word) is not None


def dense_bf16_peak_tflops(name):
    words = [w for w in re.split(r"[ \-_]+", name.upper()) if w and w not in ("NVIDIA", "GEFORCE")]
    if not words:
        return None
    chip, rest = words[0], words[1:]
    if chip == "RTX" and rest:
        chip, rest = "RTX " + rest[0], rest[1:]
    if not all(_variant(w) for w in rest):
        return None  # a MIG slice, a "D" or "Ti" part, ...
    pcie, nvl = "PCIE" in rest, "NVL" in rest
    if chip == "A100":
        return 312.0
    if chip == "H100":
        return 756.0 if pcie else 835.0 if nvl else 989.0
    if chip == "H200":
        return 835.0 if nvl else 989.0
    plain = {"L40S": 362.0, "L4": 121.0, "A10": 125.0, "RTX 4090": 165.0}
    if chip in plain and not pcie and not nvl:
        return plain[chip]
    return None
