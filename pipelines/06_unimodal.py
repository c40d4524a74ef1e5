"""Stage 06 `unimodal`: a thin entry point; the work lives in affect.stages.unimodal.

    python pipelines/06_unimodal.py -c pipelines/conf/demo.yaml [key=value ...] [--overwrite] [--dry-run]
"""
import sys

from affect.cli import main

if __name__ == "__main__":
    sys.exit(main(["unimodal", *sys.argv[1:]]))
