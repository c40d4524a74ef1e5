"""Stage 04 `speech`: a thin entry point; the work lives in affect.stages.speech.

    python pipelines/04_speech.py -c pipelines/conf/demo.yaml [key=value ...] [--overwrite] [--dry-run]
"""
import sys

from affect.cli import main

if __name__ == "__main__":
    sys.exit(main(["speech", *sys.argv[1:]]))
