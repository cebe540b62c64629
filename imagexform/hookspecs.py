"""The plugin hooks: every hook a plugin may implement (part of :mod:`imagexform.plugin_api`).

A plugin is any object (usually a module) registered under the ``imagexform`` entry-point
group. It implements hooks by decorating functions with :data:`hookimpl`. Every hook is
optional. Hooks are called with keyword arguments, and pluggy passes a hook implementation
only the arguments it names, so new optional arguments can be added to a hook later without
breaking plugins written against an older version of this file.

A plugin declares which plugin-API versions it was written for with a module-level
``IMAGEXFORM_PLUGIN_API`` string, a PEP 440 specifier such as ``">=1,<2"``. The host loads it
only when :data:`PLUGIN_API_VERSION` satisfies that specifier; a plugin without the attribute
is assumed to target the current version.

Keep plugin modules cheap to import: no torch at module level. The host imports every plugin to
list families, and the inference side must stay torch-free.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:
    import click

    from imagexform.family import Family, Importer, TemplateSet

PROJECT = "imagexform"
PLUGIN_API_VERSION = "1.1"  # 1.1: conversion templates (hook, TemplateSet, canonical_state)

hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


@hookspec
def imagexform_families() -> list[Family]:
    """Return the model families this plugin provides.

    Called once when plugins load. Return a list of :class:`imagexform.family.Family`
    instances; each name must be unique across all loaded plugins.
    """


@hookspec
def imagexform_importers() -> list[Importer]:
    """Return importers for foreign checkpoints (e.g. a reference implementation's ``.pth``).

    Called when a foreign file is imported. Each :class:`imagexform.family.Importer` is asked in
    turn whether it recognises the file; the first that does converts it. Families also expose
    importers through :meth:`Family.importers`; this hook is for importers that come without a
    family of their own.
    """


@hookspec
def imagexform_catalog_entries() -> list[dict[str, Any]]:
    """Return published models to add to the catalog (``imagexform models list/pull``).

    Called whenever the catalog is read. Each dict has the keys of a ``[[model]]`` table in
    ``imagexform/catalog/catalog.toml``: ``name``, ``family``, ``task`` and an ``https://``
    ``url`` at least, and ``license``, ``citation``, ``archive_member``, ``size``, ``sha256``
    and ``set`` (importer settings) where known. The file must be one an importer (yours or
    a family's) recognises; when that importer reads it as another family's model (a junyanz
    generator is pix2pix's to the importer), the entry's ``family`` adopts it
    (:meth:`Family.adopt <imagexform.family.Family.adopt>`), so a model keeps the family it
    was trained as. A name already in the catalog is ignored with a warning.
    """


@hookspec
def imagexform_conversion_templates() -> list[TemplateSet]:
    """Return the weightless graph templates this plugin ships
    (:class:`imagexform.family.TemplateSet`): published checkpoints whose architecture matches
    one convert to ONNX on an install without torch (``imagexform models pull``,
    ``imagexform import``). Called whenever a file is converted torch-free; the templates are
    plain ONNX files in package data, made by ``python -m imagexform.export.templates``.
    """


@hookspec
def imagexform_register_commands(cli: click.Group) -> None:
    """Add sub-commands to the ``imagexform`` command line.

    Called once when the CLI needs its command list. Use ``@cli.command()`` on the group given.
    Keep heavy imports inside the command functions so ``imagexform --help`` stays fast.
    """
