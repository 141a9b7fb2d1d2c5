"""omnimotion.preprocess"""

# filtering, chaining, appearance (filter/chain helper)
from omnimotion.preprocess.appearance import Appearance, get_appearance
from omnimotion.preprocess.chain import chain_flows
from omnimotion.preprocess.filter import cycle_masks, filter_flows
# exhaustive flow and the prepare pipeline (pipeline helper)
from omnimotion.preprocess.pairs import FlowRunSummary, compute_exhaustive_flows, pair_schedule
from omnimotion.preprocess.pipeline import STATE_FILE, StageRecord, prepare, refilter

__all__ = [
    "Appearance", "get_appearance", "chain_flows", "cycle_masks", "filter_flows",  # filter/chain helper
    "compute_exhaustive_flows", "pair_schedule", "FlowRunSummary", "prepare", "refilter", "StageRecord",
    "STATE_FILE",  # pipeline helper
]
