"""Benchmarks: make bench (throughput), make bench-api (API latency), the machine yardstick."""
