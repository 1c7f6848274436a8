"""The example's function handlers."""
