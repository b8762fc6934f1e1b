"""pytest fixtures for hosts (filled in by the foundation)."""
