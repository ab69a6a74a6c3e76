"""Helpers shared by test modules (issue 15): test modules and conftest files import from here, never from each
other; fixtures stay in conftest.py files. tests/unit/test_test_layout.py keeps it so."""
