"""The ledger: GlassCredit's only source of truth, append-only, on DuckDB or PostgreSQL.

``Ledger`` (``ledger.ledger``) is the entry point; ``ledger.ingest`` turns files and Arrow tables
into validated batches; ``ledger.export`` moves engine tables and scores through Parquet.
"""
