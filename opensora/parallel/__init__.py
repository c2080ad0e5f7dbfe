"""Parallel layouts beyond data parallel: sequence parallel (sequence.py) and optimizer-state sharding (zero.py)."""
