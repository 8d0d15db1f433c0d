"""Where the lab runs: the host kernel, or a user-mode Linux kernel sandbox when the host lacks features.

``kernel`` detects what the running kernel can do and chooses host or sandbox; ``uml`` boots the sandbox
(Debian's ``user-mode-linux``, a real Linux 6.1 running as a process) and runs one command inside it.
"""

from netattest.sandbox.kernel import (
    FEATURES,
    KernelFeatures,
    choose_kernel,
    detect_kernel_features,
    features_needed,
)
from netattest.sandbox.uml import IN_SANDBOX_ENV, find_uml, run_in_sandbox, uml_version

__all__ = [
    "FEATURES",
    "IN_SANDBOX_ENV",
    "KernelFeatures",
    "choose_kernel",
    "detect_kernel_features",
    "features_needed",
    "find_uml",
    "run_in_sandbox",
    "uml_version",
]
