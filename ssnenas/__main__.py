import sys

from ssnenas.cli import main

sys.exit(main())
