"""Waiting for a condition another process brings about, as a guard against hanging: never a
measurement (timings belong in benchmarks/)."""
import time


def wait_for(condition, what: str, deadline_s: float = 300):
    """Poll ``condition`` until it holds; fail, naming ``what``, after ``deadline_s``."""
    end = time.monotonic() + deadline_s
    while not condition():
        assert time.monotonic() < end, f"gave up waiting for {what}"
        time.sleep(0.1)
