"""The local stack: the one way to start Redis, the API and workers (make run, tests, bench)."""
