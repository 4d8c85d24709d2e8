"""What an inference component reserves on the GPU instance types an endpoint can scale to zero on.

SageMaker places a component's copy on an instance only where its ComputeResourceRequirements fit
(accelerators, memory). A copy here takes one GPU and half of that GPU's share of the instance's
memory: the reservation is a floor for placement, not a limit (no MaxMemoryRequiredInMb), and the
other half stays for the operating system and SageMaker's own agents. The families are the
single-type GPU instances of the README (NVIDIA T4, A10G, L4, L40S), with their published sizes:
memory per vCPU, and vCPUs and GPUs per size (Amazon EC2 instance types, accelerated computing).
"""

from __future__ import annotations

# GiB of memory per vCPU, by instance family.
_GIB_PER_VCPU = {"g4dn": 4, "g5": 4, "g6": 4, "g6e": 8}
# (vCPUs, GPUs) by size; the same for every family above that offers the size.
_SIZES = {
    "xlarge": (4, 1),
    "2xlarge": (8, 1),
    "4xlarge": (16, 1),
    "8xlarge": (32, 1),
    "16xlarge": (64, 1),
    "12xlarge": (48, 4),
    "24xlarge": (96, 4),
    "48xlarge": (192, 8),
}


def component_memory_mb(instance_type: str) -> int:
    """The memory one copy (one GPU) reserves on ``instance_type`` (``ml.g5.xlarge``: 8192 MiB);
    ValueError for a type whose size this module does not know."""
    _, family, size = [*instance_type.split("."), "", "", ""][:3]
    if family not in _GIB_PER_VCPU or size not in _SIZES:
        raise ValueError(
            f"the memory of {instance_type!r} is not known here (instance families {sorted(_GIB_PER_VCPU)}, sizes {list(_SIZES)}): "
            "add it to infra/instance_types.py, or set endpointScaleToZero=false"
        )
    vcpus, gpus = _SIZES[size]
    return _GIB_PER_VCPU[family] * vcpus * 1024 // gpus // 2
