"""The reference the auth-path benchmark compares the API with: the seed's own stack (FastAPI +
Pydantic + asyncpg + PyJWT) serving the same two read endpoints from the same PostgreSQL data,
with the same token shape (HS256, claims sub/username/role/epoch) and the same checks (token,
user exists and is enabled, session epoch matches). As a reference usually does, it loads the
user on every request. Run by apps/server/bench/auth-path.bench.ts as:

    DATABASE_URL=... CTP_JWT_SECRET=... /usr/bin/python3 -m uvicorn fastapi_reference:app \
        --port 8001 --workers 1 --no-access-log --log-level warning

Debian packages: python3-fastapi python3-asyncpg python3-jwt uvicorn.
"""

import os
from typing import List, Optional

import asyncpg
import jwt
from fastapi import FastAPI, Header, HTTPException, Query
from pydantic import BaseModel

DATABASE_URL = os.environ["DATABASE_URL"]
JWT_SECRET = os.environ["CTP_JWT_SECRET"]

app = FastAPI()
pool: Optional[asyncpg.Pool] = None


class User(BaseModel):
    id: str
    username: str
    email: Optional[str]
    role: str
    disabled: bool
    createdAt: str
    updatedAt: str


class MeResponse(BaseModel):
    user: User


class TemplateSummary(BaseModel):
    id: str
    title: str
    description: str
    status: str
    version: int
    ownerId: Optional[str]
    createdAt: str
    updatedAt: str


class TemplateList(BaseModel):
    items: List[TemplateSummary]
    total: int
    limit: int
    offset: int


def iso(value) -> str:
    return value.isoformat(timespec="milliseconds").replace("+00:00", "Z")


@app.on_event("startup")
async def startup() -> None:
    global pool
    # The same pool size as the API's.
    pool = await asyncpg.create_pool(DATABASE_URL, min_size=10, max_size=10)


async def authenticate(authorization: Optional[str]) -> asyncpg.Record:
    if not authorization or not authorization.startswith("Bearer "):
        raise HTTPException(401, "Authentication required")
    try:
        claims = jwt.decode(authorization[7:], JWT_SECRET, algorithms=["HS256"])
    except jwt.PyJWTError as error:
        raise HTTPException(401, f"Access token is invalid: {error}")
    row = await pool.fetchrow(
        "select id, username, email, role, disabled, session_epoch, created_at, updated_at from users where id = $1",
        claims["sub"],
    )
    if row is None or row["disabled"]:
        raise HTTPException(401, "Account is disabled or no longer exists")
    if row["session_epoch"] != claims.get("epoch"):
        raise HTTPException(401, "This session was ended")
    return row


@app.get("/api/v1/auth/me", response_model=MeResponse)
async def me(authorization: Optional[str] = Header(None)):
    row = await authenticate(authorization)
    return {
        "user": {
            "id": str(row["id"]),
            "username": row["username"],
            "email": row["email"],
            "role": row["role"],
            "disabled": row["disabled"],
            "createdAt": iso(row["created_at"]),
            "updatedAt": iso(row["updated_at"]),
        }
    }


@app.get("/api/v1/templates", response_model=TemplateList)
async def templates(
    authorization: Optional[str] = Header(None),
    limit: int = Query(50, ge=1, le=200),
    offset: int = Query(0, ge=0),
):
    user = await authenticate(authorization)
    # Students see the catalog: published templates only.
    where = "" if user["role"] in ("admin", "instructor") else "where status = 'published'"
    rows = await pool.fetch(
        "select id, name, description, status, version, owner_id, created_at, updated_at "
        f"from lab_templates {where} order by updated_at desc limit $1 offset $2",
        limit,
        offset,
    )
    total = await pool.fetchval(f"select count(*) from lab_templates {where}")
    return {
        "items": [
            {
                "id": str(r["id"]),
                "title": r["name"],
                "description": r["description"],
                "status": r["status"],
                "version": r["version"],
                "ownerId": str(r["owner_id"]) if r["owner_id"] else None,
                "createdAt": iso(r["created_at"]),
                "updatedAt": iso(r["updated_at"]),
            }
            for r in rows
        ],
        "total": total,
        "limit": limit,
        "offset": offset,
    }
