"""The front-end exchange node (前置交换节点): a process in a department's own network that holds
what the department sends until the centre has taken it, and signs on its behalf.

It talks to the centre over the published SOAP contracts only, through :mod:`client`; it
imports nothing of the centre's packages (tests/test_layering.py).

- :mod:`node.config` - the node's one TOML file, checked with every error at once;
- :mod:`node.store` - its own database (SQLite file by default, PostgreSQL by URL): the outbox,
  the receipts beside it, the files taken in; its retention (``[store] keep_days``);
- :mod:`node.outbox` - outbound store-and-forward: batches written to the outbox before anything
  is sent, delivered signed in order per stream with retry and back-off, each kept until the
  centre's signed receipt is stored beside it;
- :mod:`node.cli` - ``govshare node check | run | send | status | prune``.
"""
