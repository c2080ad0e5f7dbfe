"""One logger setup for every script: console, plus a log file next to the outputs."""

import logging
import os
import sys

LOGGER_NAME = "opensora"


def setup_logger(output_dir=None, rank=0, level=logging.INFO):
    logger = logging.getLogger(LOGGER_NAME)
    logger.setLevel(level)
    for handler in logger.handlers:  # a long-lived process (the web server) sets up one log per run
        handler.close()
    logger.handlers.clear()
    logger.propagate = False
    fmt = logging.Formatter("[%(asctime)s %(levelname)s] %(message)s", datefmt="%H:%M:%S")
    if rank == 0:
        console = logging.StreamHandler(sys.stdout)
        console.setFormatter(fmt)
        logger.addHandler(console)
    if output_dir:
        os.makedirs(output_dir, exist_ok=True)
        log_name = "log.txt" if rank == 0 else f"log_rank{rank}.txt"
        handler = logging.FileHandler(os.path.join(output_dir, log_name))
        handler.setFormatter(fmt)
        logger.addHandler(handler)
    return logger


def get_logger():
    return logging.getLogger(LOGGER_NAME)
