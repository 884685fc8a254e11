"""The FastAPI application: a validated order endpoint and a health check."""

from fastapi import FastAPI
from pydantic import BaseModel, EmailStr, Field


class Order(BaseModel):
    customer: EmailStr
    items: list[str] = Field(min_length=1)
    unit_price: float = Field(gt=0)


class Receipt(BaseModel):
    customer: EmailStr
    count: int
    total: float


def create_app() -> FastAPI:
    app = FastAPI(title="uv-fastapi")

    @app.get("/health")
    def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.post("/orders")
    def order(order: Order) -> Receipt:
        count = len(order.items)
        return Receipt(customer=order.customer, count=count, total=round(count * order.unit_price, 2))

    return app
