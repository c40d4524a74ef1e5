"""`python -m affect.cli ...`: the `affect` command."""
import sys

from affect.cli import main

sys.exit(main())
