"""`python -m halizard.cli.ha_cfg`: the same as the ha-cfg command."""
import sys

from halizard.cli.ha_cfg.entry import main

sys.exit(main())
