"""Benchmarks: smokejumper's figures as ratios to the bare-Temporal floor of the same run."""
