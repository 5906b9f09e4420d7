"""``python -m supportbot.judge COMMAND ...`` (the same as ``python judge/run.py``)."""

import sys

from supportbot.judge.cli import main

if __name__ == "__main__":
    sys.exit(main())
