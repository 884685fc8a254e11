"""The store: SQLAlchemy on an in-memory SQLite database."""

import datetime

from sqlalchemy import DateTime, String, create_engine, select
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column


class Base(DeclarativeBase):
    pass


class Record(Base):
    __tablename__ = "records"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(50))
    at: Mapped[datetime.datetime] = mapped_column(DateTime)


class Store:
    def __init__(self) -> None:
        self.engine = create_engine("sqlite://")
        Base.metadata.create_all(self.engine)

    def add(self, name: str, at: datetime.datetime) -> int:
        with Session(self.engine) as session:
            session.add(Record(name=name, at=at))
            session.commit()
            return len(session.scalars(select(Record)).all())

    def names(self) -> list[str]:
        with Session(self.engine) as session:
            return [r.name for r in session.scalars(select(Record))]
