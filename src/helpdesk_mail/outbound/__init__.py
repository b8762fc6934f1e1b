"""The outgoing side: events planned into emails, composed from templates (pure, no I/O).

Internal: not part of the public API (docs/architecture.md, "The public surface").
"""
