"""Benchmarks of pe-plan against iproute2 (``make bench``; not part of ``make test``)."""
