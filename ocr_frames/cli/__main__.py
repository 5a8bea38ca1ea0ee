"""``python -m ocr_frames.cli``."""

import sys

from ocr_frames.cli import main

sys.exit(main())
