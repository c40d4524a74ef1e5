"""Stage 03 `audio`: a thin entry point; the work lives in affect.stages.audio.

    python pipelines/03_audio.py -c pipelines/conf/demo.yaml [key=value ...] [--overwrite] [--dry-run]
"""
import sys

from affect.cli import main

if __name__ == "__main__":
    sys.exit(main(["audio", *sys.argv[1:]]))
