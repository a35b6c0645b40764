from centralino.db.base import Base
from centralino.db.session import Database

__all__ = ["Base", "Database"]
