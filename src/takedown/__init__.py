"""takedown: find, take down and keep down CSAM and NCII, with every copy.

The package is layered as in DESIGN.md: ``media`` decodes untrusted bytes safely, ``signals``
turns decoded media into hashes, and the layers above never reach below their neighbours.
"""

__version__ = "0.1.0"
