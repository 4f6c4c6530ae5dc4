"""asyncssh, for the modules that speak SSH (SFTP delivery, SSH key validation): import it from here, inside
the function that needs it, so a process that never touches SFTP never loads it.

cryptography 51 deprecated DSA, and asyncssh (2.24.1 and earlier) names its DSA classes while importing
(asyncssh/crypto/misc.py), which warns ten times on stderr although this service never uses a DSA key. That one
warning is silenced here, at the import that causes it; every other warning reaches the log.
"""

from __future__ import annotations

import warnings

from cryptography.utils import CryptographyDeprecationWarning

with warnings.catch_warnings():
    warnings.filterwarnings("ignore", message="DSA is deprecated", category=CryptographyDeprecationWarning)
    import asyncssh

__all__ = ["asyncssh"]
