"""``python -m worker``: the same as ``adeflow worker`` (same settings, logging, ``--check`` and clean exit)."""

import sys

from adeflow.cli.main import main

if __name__ == "__main__":
    sys.argv = ["adeflow", "worker", *sys.argv[1:]]
    main()
