"""Run a range of stages: python pipelines/run.py --stage prepare --stop-stage faces -c pipelines/conf/demo.yaml"""
import sys

from affect.cli import main

if __name__ == "__main__":
    sys.exit(main(["run", *sys.argv[1:]]))
