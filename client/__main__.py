"""`python -m client ...` from the repo root."""

import sys

from .cli import main

sys.exit(main())
