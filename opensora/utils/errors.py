"""User-facing errors: one line naming the file or flag and the fix, no stack trace unless --debug."""

import os
import sys
import tempfile


class UserError(Exception):
    """An error caused by input the user controls (a file, a flag, a config key)."""


def error_reason(err, limit=200):
    """The informative part of an exception's text: MindSpore's start with banner lines ('-----',
    '- Kernel select failed:'); take the first lines after them (at most `limit` characters)."""
    lines = [line.strip() for line in str(err).splitlines()]
    useful = [line for line in lines if line and not set(line) <= set("-= ") and not line.startswith("- ")]
    text = " ".join(useful[:2]) or type(err).__name__
    return text[:limit]


# MindSpore writes a failed graph compilation's analysis into ./rank_<r>/om/ of whatever folder a user runs from;
# it goes to the temporary directory instead, unless MS_OM_PATH says where.
GRAPH_FAILURE_DIR = os.path.join(tempfile.gettempdir(), "opensora_mindspore_om")


def run_main(main, argv=None):
    """Run `main(argv)`; print a `UserError` as one line and exit 2 (re-raise with --debug)."""
    argv = sys.argv[1:] if argv is None else argv
    os.environ.setdefault("MS_OM_PATH", GRAPH_FAILURE_DIR)
    try:
        return main(argv)
    except UserError as err:
        if "--debug" in argv:
            raise
        print(f"error: {err}", file=sys.stderr)
        sys.exit(2)


def make_output_dir(path, flag="--output_path"):
    """Create an output folder, or fail with one line naming the flag (not writable, a file in the way, ...)."""
    try:
        os.makedirs(path, exist_ok=True)
        probe = os.path.join(path, ".write_test")
        with open(probe, "w"):
            pass
        os.remove(probe)
    except OSError as err:
        raise UserError(f"{flag} {path}: cannot write there ({err.strerror}); choose another folder") from err
    return path
