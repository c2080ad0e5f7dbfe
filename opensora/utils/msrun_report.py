"""After a failed msrun job: the first failing rank and its own error, in one line (scripts/launch.sh prints it).

msrun kills the other workers as soon as one exits abnormally, then waits for its scheduler, which reports every
node as timed out and names the wrong one first; the workers it killed say nothing. The cause is the first worker
msrun saw exit ("Worker process PID exit with exception. Error code: N" in its own output), the rank whose log
carries that pid, and the last error that rank wrote.

    python -m opensora.utils.msrun_report LOG_DIR [MSRUN_CONSOLE_LOG]
"""

import glob
import os
import re
import signal
import sys

WORKER_EXIT = re.compile(r"Worker process (\d+) exit with exception\. Error code: (-?\d+)")
PID_LINE = re.compile(r"^\[msrun\] rank (\d+) of \d+: pid (\d+)", re.M)  # written by init_distributed
MINDSPORE_PID = re.compile(r"^\[(?:WARNING|ERROR|INFO|CRITICAL)\] \w+\((\d+)[,:]", re.M)
OUR_ERROR = re.compile(r"^error: .*$", re.M)
PYTHON_EXCEPTION = re.compile(r"^(?:[\w.]+\.)?\w*(?:Error|Exception|Interrupt|Exit)(?:: .*)?$", re.M)
STEP = re.compile(r"\] step (\d+):")


def _worker_logs(log_dir):
    """{rank: path} of msrun's worker_<rank>.log files."""
    logs = {}
    for path in glob.glob(os.path.join(log_dir, "worker_*.log")):
        m = re.search(r"worker_(\d+)\.log$", path)
        if m:
            logs[int(m.group(1))] = path
    return logs


def _read(path):
    try:
        with open(path, errors="replace") as f:
            return f.read()
    except OSError:
        return ""


def _rank_of_pid(pid, texts):
    for rank, text in texts.items():
        if any(int(p) == pid for _, p in PID_LINE.findall(text)) or str(pid) in set(MINDSPORE_PID.findall(text)):
            return rank
    return None


def own_error(text):
    """The last error a worker wrote: our one-line `error:` or a Python traceback's final line; else None."""
    ours = OUR_ERROR.findall(text)
    if ours:
        return ours[-1][len("error: "):]
    tail = text[text.rfind("Traceback (most recent call last)"):] if "Traceback (most recent call" in text else ""
    exceptions = PYTHON_EXCEPTION.findall(tail)
    return exceptions[-1] if exceptions else None


def _exit_words(code):
    if code < 0:
        try:
            return f"was killed by signal {-code} ({signal.Signals(-code).name})"
        except ValueError:
            return f"was killed by signal {-code}"
    return f"exited with code {code}"


def describe_failure(log_dir, console_log=None):
    """One sentence: which rank failed first and why, where its log is; None when nothing failed is found."""
    texts = {rank: _read(path) for rank, path in _worker_logs(log_dir).items()}
    logs = _worker_logs(log_dir)
    exits = WORKER_EXIT.findall(_read(console_log)) if console_log else []
    rank = code = None
    if exits:
        pid, code = int(exits[0][0]), int(exits[0][1])
        rank = _rank_of_pid(pid, texts)
    if rank is None:  # no console log, or no pid in the logs: the first rank that wrote an error
        rank = next((r for r in sorted(texts) if own_error(texts[r])), None)
    if rank is None:
        return None
    text = texts.get(rank, "")
    steps = STEP.findall(text)
    where = f" after step {steps[-1]}" if steps else ""
    error = own_error(text)
    if error and (code is None or code >= 0):
        cause = f"failed{where}: {error}"
    elif code is not None and code < 0:
        cause = f"{_exit_words(code)}{where} without an error of its own (out of memory, or killed by a user or " \
                "the system)"
    else:
        cause = f"{_exit_words(code)}{where} without an error message"
    others = sorted(r for r in texts if r != rank)
    stopped = f"; msrun stopped rank{'s' if len(others) > 1 else ''} {', '.join(map(str, others))}" if others else ""
    return f"rank {rank} {cause} (its log: {logs[rank]}){stopped}"


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if not argv:
        print(__doc__, file=sys.stderr)
        return 2
    message = describe_failure(argv[0], argv[1] if len(argv) > 1 else None)
    print(f"error: {message}" if message else f"error: the msrun job failed; see the logs in {argv[0]}",
          file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
