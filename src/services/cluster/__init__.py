"""Cluster mode: several daemons on several machines share one PostgreSQL
(``CLUSTER_DATABASE_URL``), and every occurrence still runs exactly once.

* :mod:`settings` -- the settings and their defaults; :mod:`database` -- the engine, and
  database failures as :class:`~src.services.cluster.database.ClusterUnavailable`;
* :mod:`schema` and ``migrations/`` -- the tables, created and upgraded by Alembic;
* :mod:`stores` -- which store a process works on; :mod:`task_store`, :mod:`run_log`,
  :mod:`run_index`, :mod:`pause`, :mod:`audit` -- the file stores' contracts on the
  database (the run index: every node's runs, folded, for the read API);
* :mod:`claims` -- an occurrence claimed in one transaction, by the database's clock;
* :mod:`node` -- this daemon as a node: heartbeats, the clock offset, dead peers' runs;
* :mod:`copy` -- ``manage_tasks.py store copy``, in and out, all or nothing;
* :mod:`peer_files` -- a run's file fetched from the node that made it (or where it is,
  said plainly), over requests signed by :mod:`peer_auth` with the cluster's secret.

See docs/cluster.md.
"""
