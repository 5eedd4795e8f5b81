"""What the benchmarks read of and ask from their own process (Linux)."""

from __future__ import annotations

import resource


def rss_kib() -> int:
    """Resident set size now, in KiB (ru_maxrss would give the peak instead)."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def raise_fd_limit() -> None:
    """One socket per client: lift the soft limit on open files to the hard one."""
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 65536), hard))
