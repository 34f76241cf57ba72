"""bench/sync: department adapter runs against a raw copy; see __main__.py."""
