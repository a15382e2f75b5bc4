import sys

from agent_pipelines.cli import main

sys.exit(main())
