#!/usr/bin/env bash
# The main job end to end on an embedded SQLite database, in a throwaway project folder:
# create -> validate -> dry run -> apply -> status -> rollback -> status.
set -euo pipefail
project="$(mktemp -d -t migration-manager-demo.XXXXXX)"
trap 'rm -rf "$project"' EXIT
cd "$project"
step() { printf '\n\033[1;36m$ %s\033[0m\n' "$*"; "$@"; }

step db-migrate create create_users
users=$(ls migrations/*_create_users.sql)
cat > "$users" <<'SQL'
-- author: demo
-- UP
BEGIN;
CREATE TABLE users (id INTEGER PRIMARY KEY, email TEXT NOT NULL);
INSERT INTO users (email) VALUES ('ada@example.com'), ('grace@example.com');
COMMIT;
-- DOWN
BEGIN;
DROP TABLE users;
COMMIT;
SQL
step db-migrate create add_user_phone
phone=$(ls migrations/*_add_user_phone.sql)
cat > "$phone" <<'SQL'
-- author: demo
-- UP
BEGIN;
ALTER TABLE users ADD COLUMN phone TEXT;
CREATE INDEX idx_users_email ON users (email);
COMMIT;
-- DOWN
BEGIN;
DROP INDEX idx_users_email;
ALTER TABLE users DROP COLUMN phone;
COMMIT;
SQL
printf '\n\033[1m%s\033[0m\n' "$phone:"; cat "$phone"
step db-migrate validate
step db-migrate apply --dry-run
step db-migrate apply
step db-migrate status
step db-migrate rollback --dry-run
step db-migrate rollback --yes
step db-migrate status
printf '\n\033[1;32mDemo complete.\033[0m The database was %s; the project folder is removed.\n' \
	"$project/.migration-manager/local.db"
