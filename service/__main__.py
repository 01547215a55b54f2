"""`python -m service` is the `shinsei` command."""

from service.cli import main

raise SystemExit(main())
