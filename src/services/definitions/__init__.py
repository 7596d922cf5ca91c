"""Task definitions as files: `export` writes them, `import` reads them (this tool's own
and the earlier systems'), `samples` shows one of each step kind.

* :mod:`.documents`: a task as a definition (no run summary, no secrets), YAML or JSON.
* :mod:`.earlier`: the earlier systems' jobs as definitions, with what could not be
  carried over, per job.
* :mod:`.plan`: what an import would add or change, checked whole before anything is
  written, then written in one locked write of tasks.json.
* :mod:`.samples`: commented samples, each of which imports as is.
"""
