"""Benchmarks of the learner itself: throughput (updates/s, fraction of peak FLOP/s) and peers (d3rlpy)."""
