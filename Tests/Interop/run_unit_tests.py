#!/usr/bin/env python3
"""Runs the native E2EE client's Python unit tests (test_*.py here); exits non-zero on failure.

Called by MediaSignalingTests' NativeE2EEClientTests; by hand: python3 Tests/Interop/run_unit_tests.py
"""

import os
import sys
import unittest

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, here)
suite = unittest.defaultTestLoader.discover(here, pattern="test_*.py", top_level_dir=here)
result = unittest.TextTestRunner(stream=sys.stdout, verbosity=2).run(suite)
print(f"python unittest: ran {result.testsRun}, failures {len(result.failures)}, errors {len(result.errors)}")
sys.exit(0 if result.wasSuccessful() else 1)
