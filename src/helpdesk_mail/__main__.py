"""`python -m helpdesk_mail`."""

import sys

from .cli import main

sys.exit(main())
