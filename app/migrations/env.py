from alembic import context

from app.models import metadata

connection = context.config.attributes.get("connection")
if connection is None:
    from sqlalchemy import create_engine

    url = context.config.get_main_option("sqlalchemy.url")
    assert url, "alembic: give sqlalchemy.url or a connection"
    connection = create_engine(url).connect()

context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
