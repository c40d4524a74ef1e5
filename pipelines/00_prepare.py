"""Stage 00 `prepare`: a thin entry point; the work lives in affect.stages.prepare.

    python pipelines/00_prepare.py -c pipelines/conf/demo.yaml [key=value ...] [--overwrite] [--dry-run]
"""
import sys

from affect.cli import main

if __name__ == "__main__":
    sys.exit(main(["prepare", *sys.argv[1:]]))
