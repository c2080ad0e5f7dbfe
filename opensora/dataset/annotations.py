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
            reader = csv.DictReader(f)
            rows = []
            for row in reader:
                # a quote left open swallows the rows after it into one field: say where, do not train on it
                if None in row or any(isinstance(v, str) and "\n" in v for v in row.values()):
                    raise UserError(f"{path}: the row ending on line {reader.line_num} spans several lines or has "
                                    "extra fields (an unbalanced quote?); fix the quoting")
                rows.append(row)
    else:
        raise UserError(f"--data_file_path {path}: expected a .csv or .json annotation file")
    if not rows:
        raise UserError(f"{path}: no rows")
    items = []
    for i, row in enumerate(rows):
        if not isinstance(row, dict):
            raise UserError(f"{path}: row {i} is not an object with '{video_column}' and '{caption_column}'")
        for column in (video_column, caption_column):
            if column not in row:
                raise UserError(f"{path}: row {i} has no column '{column}' (columns: {', '.join(row)}); "
                                f"set --{'video' if column == video_column else 'caption'}_column")
        caption = row[caption_column]
        if isinstance(caption, list):
            caption = caption[0] if caption else ""
        if not isinstance(caption, str) or not caption.strip():
            raise UserError(f"{path}: row {i} ({row[video_column]}) has an empty caption")
        if not isinstance(row[video_column], str) or not row[video_column].strip():
            raise UserError(f"{path}: row {i} has no video path ('{video_column}': {row[video_column]!r})")
        items.append((row[video_column], caption))
    return items


def embedding_path(output_dir, video):
    """Where the T5 cache of one row lives: `output_dir/<video path with .npz>`."""
    stem = os.path.splitext(video)[0] if os.path.splitext(video)[1] else video
    return os.path.join(output_dir, stem + ".npz")
