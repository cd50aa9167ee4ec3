"""docs/cli.md is the command-line reference; it must match the parsers."""
import subprocess
import sys

from conftest import REPO


def test_the_cli_reference_is_up_to_date():
    result = subprocess.run([sys.executable, "tools/make_cli_doc.py", "--check"], cwd=REPO,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True)
    assert result.returncode == 0, result.stderr
