# cdcctl render (do not edit: change the manifest and render again)
# Sourced by the image's entrypoint on first start. Creates the least-privilege user Debezium
# connects as; the password comes from the container environment (.env), not from this file.
# MySQL 8 cannot create users with GRANT ... IDENTIFIED BY, hence CREATE USER then GRANT.
# MariaDB 10.5+ calls MySQL's REPLICATION CLIENT privilege BINLOG MONITOR (SHOW MASTER STATUS, SHOW BINARY LOGS).
docker_process_sql --database=mysql <<-EOSQL
	CREATE USER IF NOT EXISTS 'debezium'@'%' IDENTIFIED BY '${MYSQL_CDC_PASSWORD}';
	GRANT SELECT, RELOAD, SHOW DATABASES, REPLICATION SLAVE, BINLOG MONITOR ON *.* TO 'debezium'@'%';
	FLUSH PRIVILEGES;
EOSQL
