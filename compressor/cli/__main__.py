"""``python -m compressor.cli``: the same as ``eie-compress``."""
import sys

from compressor.cli import main

sys.exit(main())
