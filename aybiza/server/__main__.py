"""`python -m aybiza.server [daphne arguments]` (see launcher.py)."""

from aybiza.server.launcher import main

main()
