"""Benchmarks of aio_move_ugc: `python -m benchmarks.bench_<name>` (see each module)."""
