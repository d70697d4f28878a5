"""SQLite, with the bind-parameter limit read from the library instead of the old default of 999.

Django 5.2 assumes 999 variables a query, so a bulk write of a few hundred rows is split into
several statements; SQLite since 3.32 allows 32,766 (often more). Using the real limit keeps a
portfolio evaluation at a fixed number of queries, as on PostgreSQL.
"""

import sqlite3

from django.db.backends.sqlite3 import base, features
from django.utils.functional import cached_property


class DatabaseFeatures(features.DatabaseFeatures):
    @cached_property
    def max_query_params(self) -> int:  # type: ignore[override]
        self.connection.ensure_connection()
        return self.connection.connection.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER)


class DatabaseWrapper(base.DatabaseWrapper):
    features_class = DatabaseFeatures
