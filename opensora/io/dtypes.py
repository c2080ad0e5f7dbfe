"""The element types the weight readers accept, and bf16 (which numpy lacks) widened to fp32."""

import numpy as np


def bf16_to_fp32(raw):
    """bf16 values given as uint16 (or their raw bytes) -> float32 of the same values (bf16 is fp32's top half)."""
    bits = raw if isinstance(raw, np.ndarray) else np.frombuffer(raw, dtype=np.uint16)
    return (bits.astype(np.uint32) << 16).view(np.float32)
