"""``python -m worker``: the same as ``adeflow worker`` (same settings, logging, ``--check`` and clean exit)."""

from worker.command import main

if __name__ == "__main__":
    main()
