"""What the SQLite and PostgreSQL stores share: the RunStore logic, SQL text and codecs.

:class:`~stargraph.store._sql.base.SQLStore` implements the protocol once over a
:class:`~stargraph.store._sql.dialect.Dialect`; each backend package (``store/sqlite``,
``store/postgres``) keeps its hand-tuned SQL in the same file names.
"""
