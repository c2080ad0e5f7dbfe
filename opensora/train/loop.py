"""The loop both training scripts share: steps with a progress bar, overflow warnings, per-step logs, atomic
checkpoints every --ckpt_save_interval steps and at the end, periodic samples, and the summary.json of each rank.

`run` is a T2VTraining / VAETraining: step, total_steps, rank, logger, train_step(), save(), trainer,
`describe(info)` (its log line), `log_terms(info)` (its numbers for the step log), `curves_title` and
`write_sample()` (a video a person looks at). Each optimizer step's numbers go to <output_path>/train_log.jsonl
(rank 0), drawn as loss_curves.png in the summary.
"""

import json
import os
import time

import numpy as np


def train_loop(run, args, desc="train", sample_at_end=False):
    """Returns (the last step's info, seconds)."""
    from tqdm import tqdm

    start, last = time.time(), {}
    if run.rank == 0:  # the log describes this run: a resumed one keeps the lines up to its checkpoint
        truncate_step_log(args.output_path, run.step)
    bar = tqdm(total=run.total_steps, initial=run.step, desc=desc, unit="step", disable=run.rank != 0)
    while run.step < run.total_steps:
        info = run.train_step()
        if not info["updated"]:
            if info.get("overflow"):
                run.logger.warning(f"step {run.step}: overflow, update skipped, loss scale -> "
                                   f"{run.trainer.scaler.scale}")
            continue
        bar.update(1)
        last = info
        if run.rank == 0:
            append_step_log(args.output_path, {"step": run.step, "lr": info["lr"], **run.log_terms(info)})
        if run.step % args.log_interval == 0:
            run.logger.info(f"step {run.step}: {run.describe(info)} lr {info['lr']:.3g} grad_norm "
                            f"{info.get('grad_norm', 0):.4f} loss_scale {info['loss_scale']:g}")
        if run.step % args.ckpt_save_interval == 0 or run.step == run.total_steps:
            path = run.save()
            if path:
                run.logger.info(f"saved {path}")
        due = args.sample_interval and run.step % args.sample_interval == 0
        if run.rank == 0 and (due or (sample_at_end and run.step == run.total_steps)):
            run.logger.info(f"sample video: {run.write_sample()}")
    bar.close()
    return last, time.time() - start


LOG_FILE = "train_log.jsonl"
NOT_PLOTTED = ("step", "lr", "grad_norm", "disc_factor", "logvar")


def append_step_log(output_path, row):
    """One JSON line per optimizer step (rank 0 only)."""
    with open(os.path.join(output_path, LOG_FILE), "a") as f:
        f.write(json.dumps(row) + "\n")


def read_step_log(path):
    """The rows of train_log.jsonl; a torn or damaged line (a run killed mid-write) is left out."""
    rows = []
    with open(path) as f:
        for line in f:
            try:
                row = json.loads(line)
            except ValueError:
                continue
            if isinstance(row, dict) and isinstance(row.get("step"), int):
                rows.append(row)
    return rows


def truncate_step_log(output_path, step):
    """On resume: drop the lines written after the checkpoint (and any torn one), so the log reads as one
    uninterrupted run."""
    log = os.path.join(output_path, LOG_FILE)
    if os.path.isfile(log):
        kept = [row for row in read_step_log(log) if row["step"] <= step]
        with open(log + ".tmp", "w") as f:
            f.writelines(json.dumps(row) + "\n" for row in kept)
        os.replace(log + ".tmp", log)  # the old log stays whole until the new one is


def plot_step_log(output_path, title):
    """loss_curves.png from train_log.jsonl: one panel per logged loss term."""
    from ..utils.plot import plot_curves

    rows = read_step_log(os.path.join(output_path, LOG_FILE))
    # every term any step logged, in first-seen order (the WF-VAE alternates generator and discriminator terms)
    keys = [k for k in dict.fromkeys(k for r in rows for k in r) if k not in NOT_PLOTTED]
    return plot_curves(os.path.join(output_path, "loss_curves.png"), [r["step"] for r in rows],
                       {k: [r.get(k) for r in rows] for k in keys}, title=title)


def write_summary(run, args, summary):
    """summary.json (rank 0, with loss_curves.png) / summary_rank<N>.json with a weights checksum, so ranks can
    be compared."""
    if run.rank == 0 and os.path.isfile(os.path.join(args.output_path, LOG_FILE)):
        summary["loss_curves"] = plot_step_log(args.output_path, run.curves_title)
    summary["weights_checksum"] = float(sum(np.abs(p.asnumpy().astype(np.float64)).sum()
                                            for p in run.trainer.params))
    name = "summary.json" if run.rank == 0 else f"summary_rank{run.rank}.json"
    with open(os.path.join(args.output_path, name), "w") as f:
        json.dump(summary, f, indent=2)
    run.logger.info(f"done: {summary}")
    return summary
