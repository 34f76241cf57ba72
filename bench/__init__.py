"""govshare benchmarks: each subpackage measures one capability against a target of its issue.

    python -m bench.directory      UDDI find_service over 100,000 services (BENCHMARKS.md)
"""
