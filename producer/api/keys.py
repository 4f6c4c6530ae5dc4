"""Typed application keys of the producer app."""

from aiohttp import web
from arq.connections import ArqRedis

from shared.db import Pool
from shared.settings import Settings

SETTINGS = web.AppKey("settings", Settings)
POOL = web.AppKey("pool", Pool)
REDIS = web.AppKey("redis", ArqRedis)
