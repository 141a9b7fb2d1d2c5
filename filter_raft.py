"""Official-compatible re-filtering entry point (qianqianwang68/omnimotion preprocessing/filter_raft.py).

    python filter_raft.py --data_dir DIR [--cycle_th 3]

Rewrites raft_masks/, count_maps/ and flow_stats.json from the flows in DIR/raft_exhaustive (as the official
script, chained flows included; 'omnimotion prepare DIR --out DIR --cycle_th X' re-filters cleanly).
"""

import sys

from omnimotion.cli.prepare import filter_raft

if __name__ == "__main__":
    sys.exit(filter_raft(sys.argv[1:]))
