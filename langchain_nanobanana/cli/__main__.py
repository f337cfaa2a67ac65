"""``python -m langchain_nanobanana.cli``: the ``nanobanana`` command."""

import sys

from langchain_nanobanana.cli import main

sys.exit(main())
