import sys

from beautynet.cli import main

sys.exit(main())
