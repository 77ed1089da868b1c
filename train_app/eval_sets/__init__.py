"""Evaluation sets written by hand (``handwritten.yaml``, ``general_questions.yaml``), turned into
rows by ``rows``; never training data."""
