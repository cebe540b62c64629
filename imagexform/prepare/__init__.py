"""``imagexform prepare``: the dataset chores users otherwise script by hand.

Every command reads an input folder and writes a new output folder: inputs are never
modified, outputs appear only complete (atomic writes), and unreadable files are reported
and skipped rather than stopping the run. Torch-free.
"""
