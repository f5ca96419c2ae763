"""`python -m keras_seq2seq_cli`: the `seq2seq` executable."""

import sys

from keras_seq2seq_cli import main

sys.exit(main())
