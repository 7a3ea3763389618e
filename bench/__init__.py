"""Benchmarks (run as scripts: ``python bench/<name>.py``); see docs/benchmarks.md."""
