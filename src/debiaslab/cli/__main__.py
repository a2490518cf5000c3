"""`python -m debiaslab.cli ...` (how `accelerate launch -m debiaslab.cli` starts a multi-GPU job)."""

import sys

from debiaslab.cli import main

sys.exit(main())
