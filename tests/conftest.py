import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

import os
import tempfile

# Prepared plans kept on disk go to a folder of this test run, not the user's cache; the
# subprocesses the tests start (the CLI) inherit it.
os.environ["GLASSCREDIT_PLAN_CACHE"] = tempfile.mkdtemp(prefix="glasscredit-plans-")
