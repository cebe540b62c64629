"""Fast neural style transfer (Johnson et al. 2016), as a built-in plugin.

Registered through the ``imagexform`` entry-point group exactly like a third-party plugin.
Importing this module is cheap and torch-free; the networks load only when a family method
needs them.
"""

from imagexform.plugin_api import hookimpl

IMAGEXFORM_PLUGIN_API = ">=1.1,<2"  # uses the conversion-template hook


@hookimpl
def imagexform_families():
    from imagexform_style.family import StyleFamily

    return [StyleFamily()]


@hookimpl
def imagexform_conversion_templates():
    from imagexform.plugin_api import TemplateSet

    return [TemplateSet(f"{__name__}.templates", f"{__name__}.template_recipes:recipes")]
