"""Stage 09 `evaluate`: a thin entry point; the work lives in affect.stages.evaluate.

    python pipelines/09_evaluate.py -c pipelines/conf/demo.yaml [key=value ...] [--overwrite] [--dry-run]
"""
import sys

from affect.cli import main

if __name__ == "__main__":
    sys.exit(main(["evaluate", *sys.argv[1:]]))
