"""Benchmarks: `make bench` runs every module here (python -m bench [name ...]). Never part of the test suite."""
