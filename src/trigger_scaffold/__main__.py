"""``python -m trigger_scaffold``."""

from trigger_scaffold._cli import main

raise SystemExit(main())
