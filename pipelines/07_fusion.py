"""Stage 07 `fusion`: a thin entry point; the work lives in affect.stages.fusion.

    python pipelines/07_fusion.py -c pipelines/conf/demo.yaml [key=value ...] [--overwrite] [--dry-run]
"""
import sys

from affect.cli import main

if __name__ == "__main__":
    sys.exit(main(["fusion", *sys.argv[1:]]))
