import sys

from train_app.cli import main

sys.exit(main())
