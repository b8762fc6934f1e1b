"""The shell: the poller, the deliverer and the worker, which talk to the ports only.

Internal: not part of the public API (docs/architecture.md, "The public surface").
"""
