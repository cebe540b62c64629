"""Plugin discovery: entry points, per-plugin isolation, API-version checks, listing.

Each entry point is loaded inside its own guard. A plugin that raises while importing, declares
an unsupported plugin-API version, or raises from a hook is recorded with its error and left
out; every other plugin keeps working (unlike hosts where one broken plugin breaks every command).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from functools import cache
from importlib.metadata import EntryPoint, entry_points
from typing import TYPE_CHECKING, Any

import pluggy
from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.version import Version

from imagexform import hookspecs, user_config
from imagexform.errors import UserError

if TYPE_CHECKING:
    import click

    from imagexform.family import Family, Importer, TemplateSet

ENTRY_POINT_GROUP = "imagexform"
LOAD_PLUGINS_ENV = "IMAGEXFORM_LOAD_PLUGINS"


@dataclass
class PluginRecord:
    """What the host knows about one plugin, whether or not it loaded."""

    name: str
    version: str | None = None
    distribution: str | None = None
    status: str = "loaded"  # loaded | failed | incompatible | disabled
    error: str | None = None
    families: list[str] = field(default_factory=list)
    hooks: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "version": self.version,
            "distribution": self.distribution,
            "status": self.status,
            "error": self.error,
            "families": self.families,
            "hooks": self.hooks,
        }


def _describe_error(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


def _api_error(plugin: object) -> str | None:
    declared = getattr(plugin, "IMAGEXFORM_PLUGIN_API", None)
    if declared is None:
        return None
    try:
        spec = SpecifierSet(str(declared))
    except InvalidSpecifier:
        return f"invalid IMAGEXFORM_PLUGIN_API {declared!r}"
    if Version(hookspecs.PLUGIN_API_VERSION) not in spec:
        return (
            f"needs plugin API {declared}, this imagexform provides {hookspecs.PLUGIN_API_VERSION}"
        )
    return None


class PluginHost:
    """The plugin manager plus the records and families gathered from it."""

    def __init__(self) -> None:
        self.manager = pluggy.PluginManager(hookspecs.PROJECT)
        self.manager.add_hookspecs(hookspecs)
        self.records: dict[str, PluginRecord] = {}
        self._families: dict[str, Family] = {}
        self._family_owner: dict[str, str] = {}

    def register(self, plugin: object, record: PluginRecord) -> None:
        """Register one plugin object, recording rather than raising on any failure."""
        self.records[record.name] = record
        api_error = _api_error(plugin)
        if api_error:
            record.status, record.error = "incompatible", api_error
            return
        try:
            self.manager.register(plugin, name=record.name)
            self.manager.check_pending()  # a misspelled hook name fails here, not silently
            record.hooks = sorted(
                caller.name for caller in self.manager.get_hookcallers(plugin) or ()
            )
            families = self._call_impl(plugin, "imagexform_families") or []
        except Exception as exc:  # a plugin's own bug must not stop the host
            if self.manager.is_registered(plugin):
                self.manager.unregister(plugin)
            record.status, record.error = "failed", _describe_error(exc)
            return
        for family in families:
            owner = self._family_owner.get(family.name)
            if owner is not None:
                record.error = f"family {family.name!r} already provided by {owner}; ignored"
                continue
            self._families[family.name] = family
            self._family_owner[family.name] = record.name
            record.families.append(family.name)

    def _call_impl(self, plugin: object, hook_name: str, **kwargs: Any) -> Any:
        """Call one plugin's implementation, passing only the arguments it asks for."""
        caller = getattr(self.manager.hook, hook_name)
        for impl in caller.get_hookimpls():
            if impl.plugin is plugin:
                return impl.function(*(kwargs[name] for name in impl.argnames))
        return None

    def load_entry_point(self, entry_point: EntryPoint) -> None:
        distribution = getattr(entry_point, "dist", None)
        record = PluginRecord(
            name=entry_point.name,
            version=distribution.version if distribution else None,
            distribution=distribution.metadata["Name"] if distribution else None,
        )
        try:
            plugin = entry_point.load()
        except Exception as exc:
            record.status, record.error = "failed", _describe_error(exc)
            self.records[record.name] = record
            return
        self.register(plugin, record)

    @property
    def families(self) -> dict[str, Family]:
        return dict(self._families)

    def family(self, name: str) -> Family:
        try:
            return self._families[name]
        except KeyError:
            known = ", ".join(sorted(self._families)) or "none (no plugin loaded)"
            raise UserError(f"unknown family {name!r}; available: {known}") from None

    def family_owner(self, family_name: str) -> str:
        """The name of the plugin that provides ``family_name``."""
        return self._family_owner[family_name]

    def importers(self) -> list[Importer]:
        found: list[Importer] = []
        for family in self._families.values():
            found.extend(family.importers())
        for group in self._safe_hook("imagexform_importers"):
            found.extend(group)
        return found

    def template_sets(self) -> list[TemplateSet]:
        """Every plugin's weightless graph templates (torch-free conversion)."""
        return [
            item for group in self._safe_hook("imagexform_conversion_templates") for item in group
        ]

    def catalog_entries(self) -> list[tuple[str, list[dict[str, Any]]]]:
        """What each plugin adds to the model catalog, by plugin name."""
        return self._safe_hook_by_plugin("imagexform_catalog_entries")

    def register_commands(self, cli: click.Group) -> None:
        self._safe_hook("imagexform_register_commands", cli=cli)

    def _safe_hook(self, hook_name: str, **kwargs: Any) -> list[Any]:
        """Call a hook plugin by plugin; a plugin that raises is marked failed and skipped."""
        return [value for _, value in self._safe_hook_by_plugin(hook_name, **kwargs)]

    def _safe_hook_by_plugin(self, hook_name: str, **kwargs: Any) -> list[tuple[str, Any]]:
        results = []
        for impl in getattr(self.manager.hook, hook_name).get_hookimpls():
            try:
                value = impl.function(*(kwargs[name] for name in impl.argnames))
            except Exception as exc:
                record = self.records[impl.plugin_name]
                record.status, record.error = "failed", _describe_error(exc)
                continue
            if value:
                results.append((impl.plugin_name, value))
        return results


def selected_plugin_names() -> set[str] | None:
    """Names chosen by ``IMAGEXFORM_LOAD_PLUGINS``; None means load everything installed."""
    value = os.environ.get(LOAD_PLUGINS_ENV)
    if value is None:
        return None
    return {name.strip() for name in value.split(",") if name.strip()}


def discover() -> PluginHost:
    """Load every installed plugin (as filtered by the environment) into a fresh host."""
    host = PluginHost()
    chosen = selected_plugin_names()
    # IMAGEXFORM_LOAD_PLUGINS overrides the persistent choice for one run.
    disabled = user_config.disabled_plugins() if chosen is None else set()
    seen: set[str] = set()
    for entry_point in entry_points(group=ENTRY_POINT_GROUP):
        if entry_point.name in seen:  # the same distribution visible twice on sys.path
            continue
        seen.add(entry_point.name)
        if chosen is not None and entry_point.name not in chosen:
            host.records[entry_point.name] = PluginRecord(
                name=entry_point.name,
                version=entry_point.dist.version if entry_point.dist else None,
                status="disabled",
                error=f"not in {LOAD_PLUGINS_ENV}",
            )
            continue
        if entry_point.name in disabled:
            host.records[entry_point.name] = PluginRecord(
                name=entry_point.name,
                version=entry_point.dist.version if entry_point.dist else None,
                distribution=entry_point.dist.name if entry_point.dist else None,
                status="disabled",
                error=f"disabled (imagexform plugins enable {entry_point.name})",
            )
            continue
        host.load_entry_point(entry_point)
    return host


@cache
def host() -> PluginHost:
    """The process-wide plugin host, loaded on first use."""
    return discover()
