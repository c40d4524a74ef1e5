"""Stage 08 `predict`: a thin entry point; the work lives in affect.stages.predict.

    python pipelines/08_predict.py -c pipelines/conf/demo.yaml [key=value ...] [--overwrite] [--dry-run]
"""
import sys

from affect.cli import main

if __name__ == "__main__":
    sys.exit(main(["predict", *sys.argv[1:]]))
