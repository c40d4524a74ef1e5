"""Stage 01 `faces`: a thin entry point; the work lives in affect.stages.faces.

    python pipelines/01_faces.py -c pipelines/conf/demo.yaml [key=value ...] [--overwrite] [--dry-run]
"""
import sys

from affect.cli import main

if __name__ == "__main__":
    sys.exit(main(["faces", *sys.argv[1:]]))
