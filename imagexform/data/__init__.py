"""Training datasets: folder layouts, deterministic sampling and augmentation.

Everything random in a sample is derived from a seed the sampler hands out, never from global
RNG state, so a resumed run, or one with a different number of loader workers or GPUs, sees
exactly the crops and flips the uninterrupted run would have seen.
"""
