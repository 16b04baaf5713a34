#!/usr/bin/env bash
# Create the database if needed, then migrate the public schema and every tenant schema.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python
$PY - <<'PY'
import os, psycopg
from voiceagents.env import database_from_url, load_dotenv
from pathlib import Path
load_dotenv(Path(".env"))
db = database_from_url(os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/voiceagents"))
with psycopg.connect(host=db["HOST"], port=db["PORT"], user=db["USER"], password=db["PASSWORD"] or None,
                     dbname="postgres", autocommit=True) as conn:
    if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [db["NAME"]]).fetchone():
        conn.execute(f'CREATE DATABASE "{db["NAME"]}"')
        print(f"[migrate] created database {db['NAME']}")
PY
$PY manage.py migrate_schemas --shared -v 0
$PY manage.py migrate_schemas --tenant -v 0
# Celery beat's schedule (public schema): the periodic tasks, once; admin changes are kept.
$PY manage.py install_periodic_tasks -v 0 > /dev/null
