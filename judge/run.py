#!/usr/bin/env python
"""The documented entry point of the judge: ``python judge/run.py COMMAND ...``.

The same as ``python -m supportbot.judge COMMAND ...`` and the ``supportbot-judge`` script; the code is
the package ``src/supportbot/judge/`` (map: judge/README.md). ``python judge/run.py --help`` lists the commands.
"""

import sys

from supportbot.judge.cli import main

if __name__ == "__main__":
    sys.exit(main())
