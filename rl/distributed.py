"""Data-parallel training under `torchrun`: one process per device, gradients averaged by DDP.

    torchrun --standalone --nproc-per-node 2 --no-python rl train classifier ...

Every process draws the same shuffles and augmentations from the same seeded generator and
trains on its slice of each global batch, so N processes take the same steps as one process
with the same --batch-size (up to float summation order; batch-norm statistics are per
process on CPU, synchronised on CUDA). Rank 0 alone writes the run directory.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from rl.errors import UserError

if TYPE_CHECKING:  # torch loads only when a process group is used: `rl --help` stays fast
    import torch
    from torch import nn


@dataclass(frozen=True)
class Group:
    rank: int = 0
    world: int = 1

    @property
    def main(self) -> bool:
        return self.rank == 0

    def shard(self, n: int) -> slice:
        """This process's contiguous part of a batch of n (sizes differ by at most one)."""
        bounds = [n * r // self.world for r in range(self.world + 1)]
        return slice(bounds[self.rank], bounds[self.rank + 1])

    def wrap(self, model: nn.Module, device: torch.device) -> nn.Module:
        if self.world == 1:
            return model
        from torch import nn

        if device.type == "cuda":
            model = nn.SyncBatchNorm.convert_sync_batchnorm(model)
        return nn.parallel.DistributedDataParallel(
            model, device_ids=[device.index] if device.type == "cuda" else None)

    def sum(self, *values: float) -> list[float]:
        """Each value summed over the processes (one all-reduce for all of them)."""
        if self.world == 1:
            return list(values)
        import torch
        import torch.distributed as dist

        t = torch.tensor(values, dtype=torch.float64)
        dist.all_reduce(t)
        return t.tolist()

    def share(self, obj: Any) -> Any:
        """Rank 0's value of obj, on every process."""
        if self.world == 1:
            return obj
        import torch.distributed as dist

        box = [obj]
        dist.broadcast_object_list(box, src=0)
        return box[0]


def current() -> Group:
    """The process group this process belongs to (a group of one outside torchrun)."""
    if "WORLD_SIZE" not in os.environ:
        return Group()
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        return Group(dist.get_rank(), dist.get_world_size())
    return Group()


def init_from_env(device: str) -> Group:
    """Join the process group torchrun describes in the environment; alone, do nothing."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world == 1:
        return Group()
    import torch
    import torch.distributed as dist

    if device == "cuda":
        local = int(os.environ.get("LOCAL_RANK", "0"))
        if local >= torch.cuda.device_count():
            raise UserError(f"torchrun started {world} processes on a machine with "
                            f"{torch.cuda.device_count()} GPUs: use --nproc-per-node <= GPUs")
        torch.cuda.set_device(local)
    if not dist.is_initialized():
        dist.init_process_group("nccl" if device == "cuda" else "gloo")
    return current()


def local_device(device: str) -> str:
    """cuda -> cuda:<LOCAL_RANK> under torchrun, so each process owns one GPU."""
    if device == "cuda" and "LOCAL_RANK" in os.environ:
        return f"cuda:{os.environ['LOCAL_RANK']}"
    return device


def close() -> None:
    if "WORLD_SIZE" not in os.environ:
        return
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        # leave together: a process tearing gloo down while rank 0 still evaluates and saves
        # can abort the other (std::terminate in gloo's destructor)
        dist.barrier()
        dist.destroy_process_group()
