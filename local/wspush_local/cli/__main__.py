"""``python -m wspush_local.cli``: the ``wspush`` command."""

import sys

from wspush_local.cli.main import main

sys.exit(main())
