"""`helpdesk-mail worker`, as benchmarks/crash.py runs it: the real command, with one
change for the bookkeeping of the test: each process greets the SMTP server with its
own EHLO name (`crash-<pid>.test`), so that the server's log tells which process sent
each email, and a kill can be matched with the email it interrupted (sent, not yet
recorded as sent). Usage: python benchmarks/crash_worker.py worker --settings ... ."""

from __future__ import annotations

import os
import sys
from typing import Any

from helpdesk_mail.cli import main
from helpdesk_mail.cli import worker as worker_command

_real_send_transport = worker_command.send_transport


def _named_send_transport(outgoing: Any, **kwargs: Any) -> Any:
    kwargs.setdefault("local_hostname", f"crash-{os.getpid()}.test")
    return _real_send_transport(outgoing, **kwargs)


worker_command.send_transport = _named_send_transport  # type: ignore[assignment]

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
