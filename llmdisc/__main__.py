"""``python -m llmdisc``: the ``llmdisc`` command (so ``accelerate launch -m llmdisc compare ...`` works)."""

import sys

from llmdisc.cli import main

sys.exit(main())
