import pytest
import torch


@pytest.fixture(autouse=True)
def _one_thread():
    """Count on one intra-op thread, then restore the setting.

    A count is one small forward and a trace: with the machine's two cores shared,
    torch's second OpenMP thread makes it several times slower (BiT's count took
    17 s against 3 s on one thread), and it never needs the second.
    """
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
