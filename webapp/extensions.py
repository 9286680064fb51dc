"""Flask extensions, created unbound and bound in create_app (nothing reads app state at import)."""
from typing import TYPE_CHECKING, ClassVar

from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_wtf.csrf import CSRFProtect
from sqlalchemy import MetaData, Table
from sqlalchemy.orm import DeclarativeBase

# Stable constraint names so Alembic migrations read the same on SQLite and PostgreSQL.
naming_convention = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    """SQLAlchemy 2's typed declarative base, from which Flask-SQLAlchemy builds `db.Model`."""

    metadata = MetaData(naming_convention=naming_convention)


db = SQLAlchemy(model_class=Base)

if TYPE_CHECKING:
    # mypy cannot take an attribute (`db.Model`) as a base class (python/mypy#8603), so to it
    # models derive from what `db.Model` is made of: `Base` and Flask-SQLAlchemy's `Model`.
    from flask_sqlalchemy.model import Model as _FlaskSQLAlchemyModel

    class Model(Base, _FlaskSQLAlchemyModel):
        __abstract__ = True
        __table__: ClassVar[Table]  # every model here maps a table, not another selectable
else:
    Model = db.Model

migrate = Migrate()
login_manager = LoginManager()
csrf = CSRFProtect()
limiter = Limiter(key_func=get_remote_address)
