"""One definition per option: every option the suites' pytest plugin knows is offered by ``netattest run --help``
(grouped, with help), and what a user sets there reaches the pytest session under the plugin's name."""

from __future__ import annotations

import argparse
import subprocess
import sys

import pytest

from netattest.commands import run as run_command
from netattest.options import OPTIONS
from tests.conftest import REPO


def _plugin_options() -> set[str]:
    """The long options the suites' plugin registers, read from pytest itself (not from our table)."""
    out = subprocess.run([sys.executable, "-m", "pytest", str(REPO / "suites"), "--rootdir", str(REPO), "-p",
                          "no:cacheprovider", "--help"], capture_output=True, text=True, cwd=REPO, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    found, inside = set(), False
    for line in out.stdout.splitlines():
        if line and not line.startswith(" "):
            inside = line.startswith("netattest")
        elif inside and line.strip().startswith("--"):
            found.add(line.split()[0].split("=")[0].rstrip(","))
    return found


def test_every_plugin_option_is_in_the_cli_help() -> None:
    help_text = subprocess.run([sys.executable, "-m", "netattest.cli", "run", "--help"], capture_output=True,
                               text=True, cwd=REPO, timeout=60).stdout
    plugin = _plugin_options()
    assert plugin >= {"--topology", "--kubeconfig", "--pcap", "--lab", "--node-host"}, plugin
    missing = sorted(o for o in plugin if o not in help_text)
    assert missing == [], f"pytest options of the suites missing from 'netattest run --help': {missing}"
    for option in OPTIONS:  # each with a help line (argparse prints the flag, then its help)
        assert option.help.split("(")[0].split()[0] in help_text, option.name


def _parsed(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    run_command.configure(parser)
    return parser.parse_args(argv)


def test_what_the_user_sets_reaches_pytest_under_the_plugins_names() -> None:
    args = _parsed("--target", "kubernetes", "--kubeconfig", "/k", "--capture", "none", "--node-host",
                   "node1=ssh://a", "--node-host", "node2=ssh://b", "--no-node-inventory", "--", "--tb=short")
    argv = run_command.pytest_argv(args, "0123abcd", REPO / "reports")
    joined = " ".join(argv)
    assert "--target kubernetes" in joined and "--kubeconfig /k" in joined and "--pcap none" in joined
    assert "--node-host node1=ssh://a --node-host node2=ssh://b" in joined and "--no-node-inventory" in joined
    assert argv[-1] == "--tb=short"
    defaults = run_command.pytest_argv(_parsed(), "0123abcd", REPO / "reports")
    assert "--kubeconfig" not in defaults and "--pcap" not in defaults and "--no-node-inventory" not in defaults


def test_an_unknown_option_is_refused_not_passed_on() -> None:
    with pytest.raises(SystemExit):
        _parsed("--kubeconfg", "/k")
