#!/bin/sh
# PostgreSQL image init step (docker-entrypoint-initdb.d): one database per service, owned
# by the application role, created once when the data volume is new. `tameio migrate`
# creates a missing one too, so a service added later needs no new volume.
set -eu
for name in ${DATABASES}; do
    echo "creating database ${name}"
    psql -v ON_ERROR_STOP=1 --username "${POSTGRES_USER}" --dbname postgres \
        -c "CREATE DATABASE \"${name}\" OWNER \"${POSTGRES_USER}\""
done
