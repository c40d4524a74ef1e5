"""Stage 02 `visual`: a thin entry point; the work lives in affect.stages.visual.

    python pipelines/02_visual.py -c pipelines/conf/demo.yaml [key=value ...] [--overwrite] [--dry-run]
"""
import sys

from affect.cli import main

if __name__ == "__main__":
    sys.exit(main(["visual", *sys.argv[1:]]))
