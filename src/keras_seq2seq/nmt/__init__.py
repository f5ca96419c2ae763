"""The `seq2seq` command-line tool: corpora, configuration, training, use."""
