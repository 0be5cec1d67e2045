"""Analysis of scaling studies: does the zero-shot gain grow with the number of intermediate tasks (k),
with the language families they cover, or because the target language was among them?

Modules: `frame` (the analysis frame and units), `stats` (t intervals on cluster means, Holm, power
arithmetic), `curves` (gain vs k, slopes, arm differences, hierarchical bootstrap), `regression`
(OLS with language effects and CR2 cluster-robust SEs, format-count covariates where the arms' formats
differ; statsmodels MixedLM cross-check), `control` (arms against the equal-compute control), `items`
(paired item bootstrap over verifiably done evaluations), `claims` (Holm-corrected statements, the
conclusion), `power`, `plots`, `reference` (Phang et al. 2020), `simulate` (synthetic studies with
known truth), `scaling` (all of it for 04_report), `summary` (the block that opens 04_report). Outputs are in points. No torch here.
"""

from .claims import conclusion, correct, item_conclusion, statements
from .control import control_contrast, control_sentences
from .curves import arm_difference, arm_slopes, bootstrap_ci, gain_curve
from .frame import condition_table, scaling_frame, source_language_table, unit_table
from .items import SkippedEvaluation, interval_table, item_gains, load_items, skipped_note
from .plots import family_gain_table, family_heatmap, plot_gain_curves, plot_item_bars, plot_item_heatmap
from .power import (Components, design_from_tables, design_power, draws_needed, estimate_components, pilot_components,
                    power_text)
from .reference import PHANG_TASK_NAMES, compare_with_phang, phang2020_reference
from .regression import REGRESSION_TERMS, FormatComposition, format_composition, mixed_model, regression
from .scaling import ScalingReport, is_scaling_design, mark_formats, scaling_report
from .summary import Summary, summarize

__all__ = [
    "scaling_frame", "unit_table", "condition_table", "source_language_table", "bootstrap_ci", "gain_curve",
    "arm_slopes", "arm_difference", "regression", "mixed_model", "REGRESSION_TERMS", "statements", "correct",
    "item_conclusion", "conclusion", "item_gains", "load_items", "skipped_note", "SkippedEvaluation", "interval_table",
    "plot_gain_curves", "family_gain_table",
    "family_heatmap", "plot_item_bars", "plot_item_heatmap", "Components", "design_from_tables", "design_power",
    "draws_needed", "estimate_components", "pilot_components", "power_text", "phang2020_reference",
    "compare_with_phang", "PHANG_TASK_NAMES", "ScalingReport", "is_scaling_design", "scaling_report",
    "control_contrast", "control_sentences", "format_composition", "FormatComposition", "mark_formats",
    "Summary", "summarize",
]
