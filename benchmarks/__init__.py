"""guardfn's benchmarks: every figure measured beside its anchor in the same run.

``python -m benchmarks`` runs them all; ``python -m benchmarks.bench_overhead`` one.
"""
