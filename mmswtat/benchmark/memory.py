"""Peak memory of one benchmark phase, and the memory available to a case."""
from typing import Dict, Optional

import torch

MiB = 1024.0**2


class PeakMemory:
    """Peak memory of one phase.

    CPU: ``VmHWM`` after a reset through ``/proc/self/clear_refs`` (Linux);
    without it, ``ru_maxrss`` (the process' lifetime high-water mark: run
    each case in its own process). GPU: ``torch.cuda`` peak statistics.

    Args:
        device: The device whose memory is measured.
    """

    def __init__(self, device: torch.device) -> None:
        self.device = device
        self.method = ''
        self.start = 0.0

    @staticmethod
    def _status(field: str) -> Optional[float]:
        """A ``/proc/self/status`` field in bytes, or ``None``."""
        try:
            with open('/proc/self/status') as f:
                for line in f:
                    if line.startswith(field + ':'):
                        return float(line.split()[1]) * 1024  # kB -> bytes
        except OSError:
            pass
        return None

    def reset(self) -> None:
        """Start the phase: reset the high-water mark, note the baseline."""
        if self.device.type == 'cuda':
            torch.cuda.synchronize(self.device)
            torch.cuda.reset_peak_memory_stats(self.device)
            self.start = float(torch.cuda.memory_allocated(self.device))
            self.method = 'torch.cuda.max_memory_allocated'
            return
        try:
            with open('/proc/self/clear_refs', 'w') as f:
                f.write('5')  # reset the peak resident set size
            self.method = 'VmHWM (reset per phase)'
        except OSError:
            self.method = 'ru_maxrss (process lifetime)'
        rss = self._status('VmRSS')
        self.start = rss if rss is not None else 0.0

    def read(self) -> Dict[str, float]:
        """``peak_mib``, ``peak_delta_mib`` (over the baseline) and the
        ``memory_method`` used."""
        if self.device.type == 'cuda':
            torch.cuda.synchronize(self.device)
            peak = float(torch.cuda.max_memory_allocated(self.device))
        else:
            peak = self._status('VmHWM')
            if peak is None or self.method.startswith('ru_maxrss'):
                import resource
                peak = resource.getrusage(
                    resource.RUSAGE_SELF).ru_maxrss * 1024.0
        return dict(
            peak_mib=peak / MiB,
            peak_delta_mib=max(0.0, peak - self.start) / MiB,
            memory_method=self.method)


def available_bytes(device: torch.device) -> float:
    """Free GPU memory, or ``MemAvailable`` on CPU (8 GiB if unknown)."""
    if device.type == 'cuda':
        free, _ = torch.cuda.mem_get_info(device)
        return float(free)
    try:
        with open('/proc/meminfo') as f:
            for line in f:
                if line.startswith('MemAvailable:'):
                    return float(line.split()[1]) * 1024
    except OSError:
        pass
    return 8.0 * 1024**3
