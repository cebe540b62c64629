"""The folder pipeline behind ``imagexform batch``: discover, plan, decode, run, encode, report.

Each module does one job so each can be tested alone; :mod:`imagexform.commands.batch` wires
them into the click command. Nothing here imports torch, and nothing here imports OpenCV or
onnxruntime at module level, so ``imagexform batch --help`` stays instant.
"""
