"""The ``wspush`` command: the CLI, or a clear message when the local extra is missing.

``pip install wspush`` installs the SDK only; the command needs the local stack's
dependencies (moto, aiohttp, boto3, powertools), which ``pip install 'wspush[local]'`` adds.
"""

from __future__ import annotations

import sys


def main() -> int:
    try:
        from wspush_local.cli.main import main as cli_main
    except ModuleNotFoundError as error:
        if (error.name or "").startswith("wspush"):
            raise
        print(
            f"wspush: the command needs the local extra ({error.name} is not installed): "
            "pip install 'wspush[local]'",
            file=sys.stderr,
        )
        return 1
    return cli_main()


if __name__ == "__main__":
    sys.exit(main())
