#!/bin/bash
# STAND-IN for the mysql:8.0 image's docker-entrypoint.sh, running Debian's MariaDB 10.11.
# Built by scripts/docker-testbed; see docs/docker-testbed.md for every difference.
#
# Honoured, as in the real image: CMD `mysqld` (plus extra flags), MYSQL_ROOT_PASSWORD,
# MYSQL_ALLOW_EMPTY_PASSWORD, MYSQL_RANDOM_ROOT_PASSWORD, MYSQL_ROOT_HOST (default %),
# MYSQL_DATABASE, MYSQL_USER/MYSQL_PASSWORD, the *_FILE variants, /etc/mysql/conf.d/*.cnf,
# /docker-entrypoint-initdb.d (*.sh executed or sourced, *.sql[.gz|.xz|.zst] piped to the client)
# against a temporary --skip-networking server on the first start, and the
# `docker_process_sql` / `docker_process_init_files` functions init scripts call.
# Stand-in differences: MariaDB, not MySQL; it reports version 8.0.2-standin so the Debezium
# MySQL connector accepts it; MySQL-only options in conf.d (gtid_mode,
# enforce_gtid_consistency) are passed to MariaDB as loose- options, which it ignores.
set -eo pipefail
shopt -s nullglob

mysql_log()  { printf '%s [Entrypoint]: %s\n' "$(date --rfc-3339=seconds)" "$*"; }
mysql_note() { mysql_log "$@"; }
mysql_error() { mysql_log "ERROR: $@" >&2; exit 1; }

file_env() {
	local var="$1" fileVar="${1}_FILE" def="${2:-}"
	if [ "${!var:-}" ] && [ "${!fileVar:-}" ]; then
		mysql_error "Both $var and $fileVar are set (but are exclusive)"
	fi
	local val="$def"
	if [ "${!var:-}" ]; then val="${!var}"; elif [ "${!fileVar:-}" ]; then val="$(< "${!fileVar}")"; fi
	export "$var"="$val"
	unset "$fileVar"
}

DATADIR=/var/lib/mysql
SOCKET=/run/mysqld/mysqld.sock
STANDIN_CONF=/run/mysqld-standin/conf.d

# MySQL-only server options have no MariaDB variable; MariaDB refuses to start on an unknown
# option unless it carries the loose- prefix.
standin_conf() {
	mkdir -p "$STANDIN_CONF"
	rm -f "$STANDIN_CONF"/*.cnf
	local f
	for f in /etc/mysql/conf.d/*.cnf; do
		sed -E 's/^[[:space:]]*(gtid[-_]mode|enforce[-_]gtid[-_]consistency)([[:space:]]*=)/loose-\1\2/' "$f" >"$STANDIN_CONF/$(basename "$f")"
	done
}

docker_temp_server_start() {
	"$@" --skip-networking --default-time-zone=SYSTEM --socket="$SOCKET" &
	local i
	for i in {30..0}; do
		if mariadb-admin --socket="$SOCKET" -uroot ping >/dev/null 2>&1 \
			|| mariadb-admin --socket="$SOCKET" -uroot -p"${MYSQL_ROOT_PASSWORD}" ping >/dev/null 2>&1; then
			return 0
		fi
		sleep 1
	done
	mysql_error "Unable to start server."
}

docker_temp_server_stop() {
	mariadb-admin --socket="$SOCKET" -uroot ${MYSQL_ROOT_PASSWORD:+-p"$MYSQL_ROOT_PASSWORD"} shutdown
}

docker_process_sql() {
	local pw="$MYSQL_ROOT_PASSWORD"
	if [ '--dont-use-mysql-root-password' = "$1" ]; then pw=; shift; fi
	if [ -n "$MYSQL_DATABASE" ]; then set -- --database="$MYSQL_DATABASE" "$@"; fi
	MYSQL_PWD="$pw" mariadb --protocol=socket -uroot -hlocalhost --socket="$SOCKET" --comments "$@"
}

docker_process_init_files() {
	echo
	local f
	for f; do
		case "$f" in
			*.sh)
				if [ -x "$f" ]; then mysql_note "$0: running $f"; "$f"
				else mysql_note "$0: sourcing $f"; . "$f"; fi ;;
			*.sql)     mysql_note "$0: running $f"; docker_process_sql < "$f"; echo ;;
			*.sql.bz2) mysql_note "$0: running $f"; bunzip2 -c "$f" | docker_process_sql; echo ;;
			*.sql.gz)  mysql_note "$0: running $f"; gunzip -c "$f" | docker_process_sql; echo ;;
			*.sql.xz)  mysql_note "$0: running $f"; xzcat "$f" | docker_process_sql; echo ;;
			*.sql.zst) mysql_note "$0: running $f"; zstd -dc "$f" | docker_process_sql; echo ;;
			*)         mysql_note "$0: ignoring $f" ;;
		esac
		echo
	done
}

docker_setup_db() {
	local rootCreate= pw="${MYSQL_ROOT_PASSWORD//\'/\'\'}"
	if [ -n "$MYSQL_ROOT_HOST" ] && [ "$MYSQL_ROOT_HOST" != 'localhost' ]; then
		rootCreate="CREATE USER IF NOT EXISTS 'root'@'${MYSQL_ROOT_HOST}' IDENTIFIED BY '${pw}';
			GRANT ALL ON *.* TO 'root'@'${MYSQL_ROOT_HOST}' WITH GRANT OPTION;"
	fi
	docker_process_sql --dont-use-mysql-root-password --database=mysql <<-EOSQL
		SET @@SESSION.SQL_LOG_BIN=0;
		DELETE FROM mysql.global_priv WHERE User='' OR (User='root' AND Host NOT IN ('localhost'));
		ALTER USER 'root'@'localhost' IDENTIFIED BY '${pw}';
		${rootCreate}
		DROP DATABASE IF EXISTS test;
		FLUSH PRIVILEGES;
	EOSQL
	if [ -n "$MYSQL_DATABASE" ]; then
		mysql_note "Creating database ${MYSQL_DATABASE}"
		docker_process_sql --database=mysql <<<"CREATE DATABASE IF NOT EXISTS \`$MYSQL_DATABASE\` ;"
	fi
	if [ -n "$MYSQL_USER" ] && [ -n "$MYSQL_PASSWORD" ]; then
		mysql_note "Creating user ${MYSQL_USER}"
		docker_process_sql --database=mysql <<<"CREATE USER '$MYSQL_USER'@'%' IDENTIFIED BY '${MYSQL_PASSWORD//\'/\'\'}' ;"
		if [ -n "$MYSQL_DATABASE" ]; then
			docker_process_sql --database=mysql <<<"GRANT ALL ON \`${MYSQL_DATABASE//_/\\_}\`.* TO '$MYSQL_USER'@'%' ;"
		fi
	fi
}

if [ "${1:0:1}" = '-' ]; then set -- mysqld "$@"; fi

if [ "$1" = 'mysqld' ]; then
	shift
	set -- mariadbd "$@"
	if [ "$(id -u)" = '0' ]; then
		mkdir -p /run/mysqld "$DATADIR"
		standin_conf
		chown -R mysql:mysql /run/mysqld /run/mysqld-standin
		find "$DATADIR" \! -user mysql -exec chown mysql:mysql '{}' +
		mysql_note "Switching to dedicated user 'mysql'"
		exec setpriv --reuid=mysql --regid=mysql --init-groups -- "${BASH_SOURCE[0]}" mysqld "${@:2}"
	fi
	[ -d "$STANDIN_CONF" ] || standin_conf
	file_env MYSQL_ROOT_HOST '%'
	file_env MYSQL_DATABASE
	file_env MYSQL_USER
	file_env MYSQL_PASSWORD
	file_env MYSQL_ROOT_PASSWORD
	if [ ! -d "$DATADIR/mysql" ]; then
		if [ -z "$MYSQL_ROOT_PASSWORD" ] && [ -z "$MYSQL_ALLOW_EMPTY_PASSWORD" ] && [ -z "$MYSQL_RANDOM_ROOT_PASSWORD" ]; then
			mysql_error $'Database is uninitialized and password option is not specified\n\tYou need to specify one of the following as an environment variable:\n\t- MYSQL_ROOT_PASSWORD\n\t- MYSQL_ALLOW_EMPTY_PASSWORD\n\t- MYSQL_RANDOM_ROOT_PASSWORD'
		fi
		if [ -n "$MYSQL_RANDOM_ROOT_PASSWORD" ]; then
			export MYSQL_ROOT_PASSWORD="$(head -c 24 /dev/urandom | base64 | tr -dc 'A-Za-z0-9' | head -c 20)"
			mysql_note "GENERATED ROOT PASSWORD: $MYSQL_ROOT_PASSWORD"
		fi
		mysql_note "Initializing database files"
		mariadb-install-db --datadir="$DATADIR" --auth-root-authentication-method=normal --skip-test-db \
			--default-time-zone=SYSTEM >/dev/null
		mysql_note "Starting temporary server"
		docker_temp_server_start "$@"
		docker_setup_db
		docker_process_init_files /docker-entrypoint-initdb.d/*
		mysql_note "Stopping temporary server"
		docker_temp_server_stop
		wait
		mysql_note "MySQL init process done. Ready for start up."
	fi
fi

exec "$@"
