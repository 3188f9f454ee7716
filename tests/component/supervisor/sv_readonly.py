"""Test helper: inside a private mount namespace, bind STATE_DIR read-only, then exec the command.

Usage (under `unshare -m`): sv_readonly.py STATE_DIR -- COMMAND...
"""
import os
import subprocess
import sys

state, separator, command = sys.argv[1], sys.argv[2], sys.argv[3:]
assert separator == "--" and command
subprocess.run(["mount", "--make-rprivate", "/"], check=True, timeout=10)
subprocess.run(["mount", "--bind", "-o", "ro", state, state], check=True, timeout=10)
os.execvp(command[0], command)
