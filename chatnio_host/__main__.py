"""``python -m chatnio_host`` runs the ``chatnio`` command."""

import sys

from chatnio_host.cli import main

sys.exit(main())
