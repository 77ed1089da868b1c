"""Unit tests run tiny models in this process: one torch thread is the fastest for them, and
keeps OpenMP from spinning when the machine's cores are busy (2 threads made a tiny layer 40x
slower under load, measured)."""

from __future__ import annotations

import pytest
import torch


@pytest.fixture(scope="session", autouse=True)
def one_torch_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
