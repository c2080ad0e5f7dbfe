"""Video-caption annotation files: the webvid-style csv (`video,caption`) and the PKU json
(`[{"path": ..., "cap": [...]}, ...]`, first caption used)."""

import csv
import json
import os

from ..utils.errors import UserError


def read_annotations(path, video_column="video", caption_column="caption"):
    """[(video path as written in the file, caption), ...]; a missing column or empty caption is an error."""
    if not os.path.isfile(path):
        raise UserError(f"--data_file_path {path}: file not found")
    if path.endswith(".json"):
        with open(path) as f:
            try:
                rows = json.load(f)
            except json.JSONDecodeError as err:
                raise UserError(f"{path}: not valid JSON ({err})") from err
        if not isinstance(rows, list):
            raise UserError(f"{path}: expected a list of {{'{video_column}': ..., '{caption_column}': ...}} objects")
    elif path.endswith(".csv"):
        with open(path, newline="") as f:
            rows = list(csv.DictReader(f))
    else:
        raise UserError(f"--data_file_path {path}: expected a .csv or .json annotation file")
    if not rows:
        raise UserError(f"{path}: no rows")
    items = []
    for i, row in enumerate(rows):
        for column in (video_column, caption_column):
            if column not in row:
                raise UserError(f"{path}: row {i} has no column '{column}' (columns: {', '.join(row)}); "
                                f"set --{'video' if column == video_column else 'caption'}_column")
        caption = row[caption_column]
        if isinstance(caption, list):
            caption = caption[0] if caption else ""
        if not isinstance(caption, str) or not caption.strip():
            raise UserError(f"{path}: row {i} ({row[video_column]}) has an empty caption")
        items.append((row[video_column], caption))
    return items


def embedding_path(output_dir, video):
    """Where the T5 cache of one row lives: `output_dir/<video path with .npz>`."""
    stem = os.path.splitext(video)[0] if os.path.splitext(video)[1] else video
    return os.path.join(output_dir, stem + ".npz")
