"""`python -m preanalysis.cli`: the same as the `preanalysis` command."""

import sys

from . import main

sys.exit(main())
