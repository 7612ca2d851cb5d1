"""The batch runner shared by every batch command (inpaint, align, edit...).

It expands inputs, pairs masks/exemplars, skips finished outputs (resume), shards, overlaps
decoding/encoding with compute, writes outputs and sidecars atomically, and summarises. It knows
files, not models: a command plugs in a `Processor` (see `jobs.processor`).

Importing this package is cheap; import the submodules you need.
"""
