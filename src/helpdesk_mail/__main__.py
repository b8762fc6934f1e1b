"""`python -m helpdesk_mail`.

Internal: not part of the public API (docs/architecture.md, "The public surface").
"""

import sys

from .cli import main

sys.exit(main())
