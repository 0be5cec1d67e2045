"""One implementation per format family (classification, multiple choice, tagging, span QA, retrieval)."""

from .base import EvalConfig, Family, get_family, register_family, task_options  # noqa: F401
from . import _load_all  # noqa: F401
