"""intertask: intermediate-task training for zero-shot cross-lingual transfer."""

import warnings

__version__ = "0.1.0"

# libraries (datasets, transformers) import tqdm.auto, which warns once per kernel that ipywidgets is
# missing; set before any of them loads, whatever module of ours is imported first (our bars are text
# bars on purpose: a widget cannot be stored in a record). By message, so this imports nothing.
warnings.filterwarnings("ignore", message="IProgress not found")
