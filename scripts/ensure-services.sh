#!/usr/bin/env bash
# Start PostgreSQL / MariaDB if they are installed here but not answering (CI machines, fresh sessions).
if command -v pg_isready >/dev/null && ! pg_isready -h 127.0.0.1 -p 5432 -q; then
	[ -d /etc/postgresql ] && pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -1)" main start || true
fi
if command -v mariadb-admin >/dev/null && ! mariadb-admin -h 127.0.0.1 -uroot ping >/dev/null 2>&1; then
	[ -x /usr/sbin/mariadbd ] && start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd || true
	for _ in $(seq 1 30); do mariadb-admin -h 127.0.0.1 -uroot ping >/dev/null 2>&1 && break; sleep 1; done
fi
exit 0
