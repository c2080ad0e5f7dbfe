"""Weight files: reading (.safetensors, MindSpore .ckpt, torch .pt/.pth/.bin without torch or pickle code),
renaming onto a network's parameter names, strict loading, and atomic saving."""

from .safetensors_file import read_safetensors
from .state_dict import (
    RENAMES,
    STRIP_PREFIXES,
    convert_for_model,
    format_report,
    load_state_into,
    map_names,
    net_state,
    read_state_dict,
    save_state,
)

__all__ = [
    "RENAMES", "STRIP_PREFIXES", "convert_for_model", "format_report", "load_state_into", "map_names", "net_state",
    "read_safetensors", "read_state_dict", "save_state",
]
