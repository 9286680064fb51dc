"""Load and scale benchmarks, run by hand (`make bench`), never part of the test run."""
