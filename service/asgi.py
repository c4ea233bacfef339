"""The ASGI application uvicorn serves."""

from service.main import create_app

app = create_app()
