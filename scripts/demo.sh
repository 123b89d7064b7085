#!/usr/bin/env bash
# The main job end to end on an embedded SQLite database, in a throwaway project folder:
# create -> validate -> dry run -> apply -> backup list; then a migration that is dangerous on the data
# already there (analyze counts it) and its fix; then status -> rollback -> status.
set -euo pipefail
project="$(mktemp -d -t migration-manager-demo.XXXXXX)"
trap 'rm -rf "$project"' EXIT
cd "$project"
step() { printf '\n\033[1;36m$ %s\033[0m\n' "$*"; "$@"; }
say() { printf '\n\033[1m# %s\033[0m\n' "$*"; }
show() { printf '\n\033[1m%s:\033[0m\n' "$1"; cat "$1"; }

step db-migrate create create_users  # seeded with a double sign-up: Ada is there twice
users=$(ls migrations/*_create_users.sql)
cat > "$users" <<'SQL'
-- author: demo
-- UP
CREATE TABLE users (id INTEGER PRIMARY KEY, email TEXT NOT NULL);
INSERT INTO users (email) VALUES ('ada@example.com'), ('grace@example.com'), ('ada@example.com');
-- DOWN
DROP TABLE users;
SQL
step db-migrate create add_user_phone
phone=$(ls migrations/*_add_user_phone.sql)
cat > "$phone" <<'SQL'
-- author: demo
-- UP
ALTER TABLE users ADD COLUMN phone TEXT;
CREATE INDEX idx_users_email ON users (email);
-- DOWN
DROP INDEX idx_users_email;
ALTER TABLE users DROP COLUMN phone;
SQL
show "$phone"
step db-migrate validate
step db-migrate apply --dry-run
step db-migrate apply
step db-migrate backup list  # apply backed the database up first

say "Emails should be unique. analyze checks the new constraint against the rows already there."
step db-migrate create unique_email
unique=$(ls migrations/*_unique_email.sql)
printf -- '-- author: demo\n-- UP\nCREATE UNIQUE INDEX users_email_key ON users (email);\n-- DOWN\nDROP INDEX users_email_key;\n' > "$unique"
show "$unique"
step db-migrate analyze || say "analyze exits 1 on a danger finding: apply would stop for a human's approval."

say "The fix: merge the duplicates first (this migration), then add the index (a new one)."
fix="${unique/_unique_email/_tag_duplicate_emails}"
mv "$unique" "$fix"
cat > "$fix" <<'SQL'
-- author: demo
-- UP
-- Keep the first account's address; tag the later ones for a human to merge.
UPDATE users SET email = email || '#duplicate-' || id
WHERE id NOT IN (SELECT MIN(id) FROM users GROUP BY email);
-- DOWN
UPDATE users SET email = substr(email, 1, instr(email, '#duplicate-') - 1) WHERE email LIKE '%#duplicate-%';
SQL
show "$fix"
step db-migrate apply
step db-migrate create unique_email
unique=$(ls migrations/*_unique_email.sql)
printf -- '-- author: demo\n-- UP\nCREATE UNIQUE INDEX users_email_key ON users (email);\n-- DOWN\nDROP INDEX users_email_key;\n' > "$unique"
step db-migrate analyze
step db-migrate apply
step db-migrate status
step db-migrate rollback --yes  # --yes answers the y/N a risky rollback would ask
step db-migrate status
printf '\n\033[1;32mDemo complete.\033[0m The database was %s; the project folder is removed.\n' \
	"$project/.migration-manager/local.db"
