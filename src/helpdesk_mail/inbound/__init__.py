"""The incoming side: raw email in, a verdict and actions out (pure, no I/O).

Internal: not part of the public API (docs/architecture.md, "The public surface").
"""
