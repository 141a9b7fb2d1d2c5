"""omnimotion.preprocess"""

# filtering, chaining, appearance (filter/chain helper)
from omnimotion.preprocess.appearance import Appearance, get_appearance
from omnimotion.preprocess.chain import chain_flows
from omnimotion.preprocess.filter import cycle_masks, filter_flows

__all__ = [
    "Appearance", "get_appearance", "chain_flows", "cycle_masks", "filter_flows",  # filter/chain helper
]
