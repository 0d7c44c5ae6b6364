"""`python -m speksim ...` runs the `speksim` command."""

import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
