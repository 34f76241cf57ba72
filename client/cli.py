"""The ``govshare`` command.

Administrative sub-commands run on the platform's own machine and are handed to
``server.main``; the client library itself imports nothing server-side.
"""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    import server  # the platform's administrative commands

    return server.main(argv if argv is not None else sys.argv[1:])


if __name__ == "__main__":
    sys.exit(main())
