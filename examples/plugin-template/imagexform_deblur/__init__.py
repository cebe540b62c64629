"""imagexform-deblur: a complete, minimal third-party plugin (copy it to start your own).

The module the entry point names must import fast and without torch: imagexform imports
every plugin to list families, also where only the runtime is installed.
"""

from imagexform.plugin_api import hookimpl

# The plugin-API versions this plugin was written for; others will not load it.
IMAGEXFORM_PLUGIN_API = ">=1,<2"


@hookimpl
def imagexform_families():
    from imagexform_deblur.family import DeblurFamily

    return [DeblurFamily()]
