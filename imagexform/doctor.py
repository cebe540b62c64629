"""``imagexform doctor``: what is installed, and the known-bad combinations with their fix.

Most "imagexform is broken" reports come from the environment, not the code: two
onnxruntime builds overwriting each other's files, OpenCV's GUI build bringing a second Qt,
a plugin that no longer imports. Listing them with the exact fix saves a round trip.
Torch is optional here: the inference half runs without it.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import platform
import sys
from dataclasses import dataclass, field

import imagexform


@dataclass
class Findings:
    facts: list[tuple[str, str]] = field(default_factory=list)
    problems: list[tuple[str, str]] = field(default_factory=list)  # (what, fix)


def installed() -> dict[str, str]:
    """Distribution name (normalised) -> version, for everything on ``sys.path``."""
    found: dict[str, str] = {}
    for dist in importlib.metadata.distributions():
        name = dist.metadata["Name"]
        if name:
            found.setdefault(name.lower().replace("_", "-"), dist.version)
    return found


def examine() -> Findings:
    """What is installed and every known-bad combination found, each with its fix."""
    findings = Findings()
    findings.facts.append(("python", f"{platform.python_version()} ({sys.executable})"))
    findings.facts.append(("imagexform", imagexform.__version__))
    packages = installed()
    _examine_onnxruntime(findings, packages)
    if "opencv-python" in packages:
        findings.problems.append(
            (
                "opencv-python is installed beside opencv-python-headless; it ships its own Qt, "
                "which breaks the desktop editor",
                "pip uninstall -y opencv-python && "
                "pip install --force-reinstall opencv-python-headless",
            )
        )
    _examine_torch(findings)
    _examine_plugins(findings)
    return findings


def _examine_onnxruntime(findings: Findings, packages: dict[str, str]) -> None:
    facts, problems = findings.facts, findings.problems
    runtimes = [name for name in ("onnxruntime", "onnxruntime-gpu") if name in packages]
    facts.append(("onnxruntime", ", ".join(f"{n} {packages[n]}" for n in runtimes) or "missing"))
    if len(runtimes) > 1:
        problems.append(
            (
                "both onnxruntime and onnxruntime-gpu are installed; they write the same files, "
                "so which one runs is an accident",
                "pip uninstall -y onnxruntime onnxruntime-gpu && pip install onnxruntime-gpu "
                "(or onnxruntime for CPU only)",
            )
        )
    elif not runtimes:
        problems.append(("no onnxruntime: models cannot run", "pip install 'imagexform[cpu]'"))
    else:
        try:
            import onnxruntime

            facts.append(("providers", ", ".join(onnxruntime.get_available_providers())))
        except ImportError as exc:
            problems.append(
                (
                    f"onnxruntime does not import ({exc})",
                    "pip install --force-reinstall onnxruntime",
                )
            )


def _examine_torch(findings: Findings) -> None:
    if importlib.util.find_spec("torch") is None:
        findings.facts.append(
            ("torch", "not installed (training needs pip install 'imagexform[train]')")
        )
        return
    import torch

    cuda = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "no CUDA device"
    findings.facts.append(("torch", f"{torch.__version__}, {cuda}"))


def _examine_plugins(findings: Findings) -> None:
    from imagexform.plugins import host

    for record in host().records.values():
        findings.facts.append((f"plugin {record.name}", f"{record.version or '?'} {record.status}"))
        if record.status in ("failed", "incompatible"):
            findings.problems.append(
                (
                    f"plugin {record.name} {record.status}: {record.error}",
                    f"upgrade or remove it (pip install -U / pip uninstall the distribution "
                    f"that provides {record.name!r}), or leave it out with IMAGEXFORM_LOAD_PLUGINS",
                )
            )
