"""wspush benchmarks: ``python -m bench`` (``make bench``)."""
