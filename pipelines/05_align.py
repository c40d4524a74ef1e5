"""Stage 05 `align`: a thin entry point; the work lives in affect.stages.align.

    python pipelines/05_align.py -c pipelines/conf/demo.yaml [key=value ...] [--overwrite] [--dry-run]
"""
import sys

from affect.cli import main

if __name__ == "__main__":
    sys.exit(main(["align", *sys.argv[1:]]))
