"""Where bfloat16 autocast pays: CUDA, and CPUs that compute in bf16 natively (AMX or
AVX512-BF16, through oneDNN). Elsewhere the CPU emulates bf16 and runs slower than fp32."""
from __future__ import annotations

import sys

import torch


def bf16_native(device: torch.device) -> bool:
    if device.type == "cuda":
        return True
    return device.type == "cpu" and bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())


def use_amp(requested: bool, device: torch.device) -> bool:
    """--amp on hardware that gains from it; otherwise fp32, said once."""
    if requested and not bf16_native(device):
        # stderr: stdout may be one JSON object (`rl bench dqn --amp --json`)
        print(f"--amp: this {device.type} has no native bfloat16; training in float32",
              file=sys.stderr)
        return False
    return requested
