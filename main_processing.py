"""Official-compatible preprocessing entry point (qianqianwang68/omnimotion preprocessing/main_processing.py).

    python main_processing.py --data_dir DIR [--chain] [--cycle_th 3] [--model RAFT_WEIGHTS] [--flow dis|raft]

DIR must hold color/00000.jpg, ...; flows, masks, count maps and flow_stats.json are written beside it.
"""

import sys

from omnimotion.cli.prepare import main_processing

if __name__ == "__main__":
    sys.exit(main_processing(sys.argv[1:]))
