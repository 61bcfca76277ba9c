"""Benchmarks of the suite against the raw tools it drives (`nox -s bench`, `python -m bench`).

Every figure is the median of several runs with its min and max, taken side by side with its
baseline in the same run, so ratios compare like with like on the same machine and cluster.
"""
