"""Where reduced precision pays: CUDA, and CPUs that compute in bf16 (AMX or AVX512-BF16) or
fp16 (AMX-FP16, AVX512-FP16) natively, through oneDNN. Elsewhere the CPU emulates them, several
times slower than fp32.

The one rule, for every command and preset: a reduced precision is used or reported only where
the hardware computes it natively, or when the user asks for it explicitly (then with a
one-line note of its cost). A preset switches bf16 on by itself only where it also pays, i.e.
where matrix units compute it (CUDA, AMX): AVX512-BF16 alone gains or loses by machine
(DrQ(eps)'s update 1.48x faster on an AMD Zen 4, 0.70x on an Intel Xeon without AMX; Go 9x9
search the same speed on the Zen 4, 0.79x on that Xeon; experiments/results/atari100k.md,
go9.md)."""
from __future__ import annotations

import sys

import torch


def flush_denormals() -> None:
    """Compute with denormal floats as zero, on this thread and on the threads torch starts
    after it (OpenMP's threads copy the setting when they start, so call it first).

    Why: Adam's first moment of a weight whose input stays at zero decays into denormals (in a
    DrQ(eps) run on Boxing, 22.5% of the 3.96M-weight layer's by step 10,000), and on Intel
    Xeons each denormal costs a microcode assist: Adam's step on that layer took 19.4 ms instead
    of 1.6 ms (experiments/adam_denormal.py), and the run went 4x slower than `rl bench update`
    (AMD's EPYCs barely notice).
    TensorFlow's thread pools, which Dopamine's agents ran on, flush them too."""
    torch.set_flush_denormal(True)


def bf16_native(device: torch.device) -> bool:
    if device.type == "cuda":
        return True
    return device.type == "cpu" and bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())


def bf16_pays(device: torch.device) -> bool:
    """bf16 faster than fp32 on every machine of this kind measured: CUDA, or a CPU with
    AMX-BF16 that oneDNN may use (its ISA can be capped, as experiments/readme_timings.py does)."""
    if device.type == "cuda":
        return True
    return bool(torch.cpu.get_capabilities().get("amx_bf16")) and bf16_native(device)


def use_amp(requested: bool, device: torch.device) -> bool:
    """--amp on hardware that gains from it; otherwise fp32, said once."""
    if requested and not bf16_native(device):
        # stderr: stdout may be one JSON object (`rl bench dqn --amp --json`)
        print(f"--amp: this {device.type} has no native bfloat16; training in float32",
              file=sys.stderr)
        return False
    return requested


def fp16_native(device: torch.device) -> bool:
    if device.type == "cuda":
        return True
    return device.type == "cpu" and bool(torch.ops.mkldnn._is_mkldnn_fp16_supported())


def here() -> torch.device:
    """The device a run with --device auto will use."""
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def native_here(preset: dict, *keys: str) -> dict:
    """A preset's bf16 switches (`keys`), kept on only where bf16 pays on this machine: a recipe
    measured on an AMX CPU must not slow down an AVX2 one, nor a Xeon without AMX."""
    if bf16_pays(here()):
        return dict(preset)
    return {**preset, **{k: False for k in keys if k in preset}}


def emulation_note(name: str, device: torch.device) -> str | None:
    """The one-line note for a reduced precision asked for where it is emulated."""
    native = {"bf16": bf16_native, "fp16": fp16_native}.get(name)
    if native is None or native(device):
        return None
    return (f"note: {name} is emulated on this {device.type} (no native {name} instructions): "
            "expect several times fp32's time")
