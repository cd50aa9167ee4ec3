"""What every power sensor gets from ``PowerSensor``: the read loop over its channels, and closing once."""
import logging

import pytest

from edgeprof.agent.sensors.base import PowerSensor, SensorReadError


class Rail(object):
    def __init__(self, rail, value_w=None, reason=None):
        self.rail, self.value_w, self.reason = rail, value_w, reason


class TableSensor(PowerSensor):
    """Channels read from a table: a value, or a reason to fail with; counts its ``close_impl`` calls."""

    name = "table"

    def __init__(self, channels, fail_close=None):
        super(TableSensor, self).__init__([c.rail for c in channels], None, "test", ["table"])
        self.channels = channels
        self.fail_close = fail_close
        self.closed = 0

    def read_channel(self, channel):
        if channel.reason:
            raise SensorReadError(channel.reason)
        return channel.value_w

    def close_impl(self):
        self.closed += 1
        if self.fail_close:
            raise RuntimeError(self.fail_close)


def test_the_default_read_leaves_out_a_failed_channel_and_keeps_its_reason():
    sensor = TableSensor([Rail("VDD_IN", 3.0), Rail("VDD_GPU", reason="file vanished"), Rail("VDD_CPU", 0.5)])
    assert sensor.read() == {"VDD_IN": 3.0, "VDD_CPU": 0.5}
    assert sensor.problems == {"VDD_GPU": "file vanished"}


def test_the_first_reason_a_channel_failed_is_the_one_kept():
    rail = Rail("VDD_GPU", reason="permission denied")
    sensor = TableSensor([rail])
    sensor.read()
    rail.reason = "file vanished"
    assert sensor.read() == {}
    assert sensor.problems == {"VDD_GPU": "permission denied"}


def test_an_unexpected_error_in_a_channel_read_is_not_taken_for_a_reason():
    class Broken(TableSensor):
        def read_channel(self, channel):
            raise ZeroDivisionError("a sensor bug")

    with pytest.raises(ZeroDivisionError):  # the sampler records it as "read failed: ..."
        Broken([Rail("VDD_IN", 1.0)]).read()


def test_close_twice_releases_once():
    sensor = TableSensor([Rail("VDD_IN", 1.0)])
    sensor.close()
    sensor.close()
    assert sensor.closed == 1


def test_a_failing_close_impl_is_logged_not_raised(caplog):
    sensor = TableSensor([Rail("VDD_IN", 1.0)], fail_close="the child would not die")
    with caplog.at_level(logging.WARNING, logger="edgeprof"):
        sensor.close()
        sensor.close()
    assert sensor.closed == 1
    assert [r.getMessage() for r in caplog.records] == [
        "closing the table power sensor failed: the child would not die"]


def test_with_closes_the_sensor_and_lets_the_error_through():
    sensor = TableSensor([Rail("VDD_IN", 1.0)])
    with pytest.raises(KeyError):
        with sensor as opened:
            assert opened is sensor
            raise KeyError("inside")
    assert sensor.closed == 1
