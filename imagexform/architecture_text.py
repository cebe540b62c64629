"""How big an imported network is, in words: one formatter for ``models info`` and the editor.

Import measures the architecture once (parameters, GFLOPs per megapixel of input) and records
it, with spandrel's descriptor facts, in the model's metadata; this module only reads that
record, so it stays torch-free for the inference side.
"""

from __future__ import annotations

from imagexform.modelinfo import ModelInfo


def _count(parameters: int) -> str:
    for unit, size in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if parameters >= size:
            return f"{parameters / size:.3g}{unit}"
    return str(parameters)


def architecture_summary(info: ModelInfo) -> str:
    """E.g. ``"SwinIR small, 11.9M parameters, 2650 GFLOPs per megapixel"``; "" when the file
    records no architecture (models exported from our own training runs)."""
    record = info.architecture
    if not record:
        return ""
    name = " ".join(str(part) for part in (record.get("name"), record.get("subtype")) if part)
    parts = [name] if name else []
    if "parameters" in record:
        parts.append(f"{_count(int(record['parameters']))} parameters")
    if "gflops_per_megapixel" in record:
        parts.append(f"{float(record['gflops_per_megapixel']):.4g} GFLOPs per megapixel")
    return ", ".join(parts)


def architecture_lines(info: ModelInfo) -> list[str]:
    """``models info``'s lines for the architecture, task, size needs and licence note."""
    record = info.architecture
    lines = []
    if info.task:
        lines.append(f"task:        {info.task}")
    summary = architecture_summary(info)
    if summary:
        lines.append(f"architecture: {summary}")
    needs = record.get("size_requirements") or {}
    if needs.get("minimum") or needs.get("square"):
        square = ", square" if needs.get("square") else ""
        lines.append(f"size needs:  at least {needs.get('minimum', 0)} pixels{square}")
    if "supports_half" in record:
        lines.append(
            f"precisions:  fp16 {'yes' if record['supports_half'] else 'no'}, "
            f"bf16 {'yes' if record.get('supports_bfloat16') else 'no'}"
        )
    if record.get("license"):
        lines.append(f"licence:     {record['license']}")
    return lines
