"""What the tests share beyond fixtures: servers, programs, pictures, and the test key."""

from pathlib import Path

REPOSITORY = Path(__file__).resolve().parents[2]
"""The checkout's root: README, notebooks, bench and the package live here."""

TEST_KEY = "sk-or-v1-test-key-that-must-never-leak-0123456789"
"""A key-shaped secret that tests look for wherever it must never appear."""
