from __future__ import annotations

import sys

from hijackwatch.cli import main

sys.exit(main())
