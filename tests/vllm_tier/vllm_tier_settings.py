"""Settings shared by the real-engine tier's files (a module, not the conftest: tests import it)."""
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
MAX_MODEL_LEN = 1024  # the tier's context: demo prompts are ~420-480 tokens, and a long one is easy to make
