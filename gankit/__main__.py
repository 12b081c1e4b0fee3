import sys

from gankit.app.cli import main

sys.exit(main())
