"""The demo shop's workflows and activities, run by ``workbench demo``.

A package of its own, outside ``workbench``: the SDK's workflow sandbox re-imports the parent
package of a workflow module, and ``workbench/__init__`` imports pandas, so numpy would be
imported a second time — a workflow module inside ``workbench`` fails the worker's validation
with numpy's "cannot load module more than once per process" (tried with temporalio 1.35).
This package and its ``workflows`` module import only ``temporalio`` and the standard library.
"""
