"""Official entry point: ``python train.py --config configs/default.txt --data_dir DATA_DIR [--key value ...]``.

A thin shim over ``omnimotion train`` (same options, same outputs); errors print as one line.
"""

import logging
import sys

from omnimotion.cli.main import UserError, run_reporting_errors
from omnimotion.cli.train import run_official

if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    sys.exit(run_reporting_errors(lambda argv: run_official(argv), sys.argv[1:]))
