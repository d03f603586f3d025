"""The demo shop's workflows and activities, run by ``workbench demo``.

A package of its own, outside ``workbench``: the SDK's workflow sandbox re-imports the parent
package of a workflow module for every workflow run, and ``workbench/__init__`` pulls in pandas,
pyarrow and grpc (slow to re-import, and not for the sandbox to vet). This package and its
``workflows`` module import only ``temporalio`` and the standard library.
"""
