"""knowledge.prefetch: work started in a worker process and taken later."""

from __future__ import annotations

import os
import platform

import pytest

from knowledge import prefetch


def test_the_call_runs_in_another_process_and_is_taken_once():
    prefetch.start("os:getpid")
    prefetch.start("os:getpid")  # already pending: not started twice
    pid = prefetch.take("os:getpid")
    assert isinstance(pid, int) and pid != os.getpid()
    assert prefetch.take("os:getpid") is None  # handed out once


def test_the_result_is_what_the_function_returns_here():
    prefetch.start("platform:python_version")
    assert prefetch.take("platform:python_version") == platform.python_version()


def test_an_error_in_the_worker_is_raised_by_take():
    prefetch.start("os:no_such_function")
    with pytest.raises(AttributeError, match="no_such_function"):
        prefetch.take("os:no_such_function")


def test_nothing_started_gives_none():
    assert prefetch.take("os:getcwd") is None


@pytest.mark.parametrize("target", ["os.getpid", ":getpid", "os:", ""])
def test_a_malformed_target_is_refused(target):
    with pytest.raises(ValueError, match=r"package\.module:function"):
        prefetch.start(target)
