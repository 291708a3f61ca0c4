"""The ports tests hand to brokers and servers: below the kernel's ephemeral range (where
outgoing connections take their local ports) and in a slice per xdist worker."""

import socket

import pytest

from tests.support import broker
from tests.support.broker import LOWEST_PORT, free_port, worker_ports


def test_workers_own_disjoint_slices_below_the_ephemeral_range():
    slices = [worker_ports(f"gw{index}", 3, 32_768) for index in range(3)]
    ports = [port for one in slices for port in one]
    assert len(ports) == len(set(ports))
    assert min(ports) == LOWEST_PORT and max(ports) < 32_768
    assert all(len(one) == (32_768 - LOWEST_PORT) // 3 for one in slices)


def test_a_worker_outside_the_count_is_refused():
    with pytest.raises(AssertionError):
        worker_ports("gw3", 3, 32_768)


def test_too_narrow_a_range_is_refused():
    with pytest.raises(AssertionError, match="too few ports"):
        worker_ports("gw0", 8, LOWEST_PORT + 500)


def test_free_ports_are_distinct_bindable_and_not_ephemeral():
    low = broker._ephemeral_low()
    ports = [free_port() for _ in range(50)]
    assert len(set(ports)) == 50
    assert all(LOWEST_PORT <= port < low for port in ports)
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", ports[0]))


def test_a_port_in_use_is_skipped(monkeypatch):
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        taken = holder.getsockname()[1]
        monkeypatch.setattr(broker, "_next_ports", iter([taken, 40_001]))
        assert free_port() == 40_001
