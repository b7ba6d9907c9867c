"""Benchmarks: each compares matcher with a baseline run side by side in the same process."""
