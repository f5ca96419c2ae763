"""Decoding over a step function: beam search helpers, greedy, sampling."""
