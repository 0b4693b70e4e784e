# cdcctl render (do not edit: change the manifest and render again)
# Sourced by the image's entrypoint on first start. Creates the least-privilege user the order
# generator (`cdcctl produce orders`) writes as: rows of shop only, no DDL, no
# replication. The password comes from the container environment (.env), not from this file.
docker_process_sql --database=mysql <<-EOSQL
	CREATE USER IF NOT EXISTS 'app'@'%' IDENTIFIED BY '${MYSQL_APP_PASSWORD}';
	GRANT SELECT, INSERT, UPDATE, DELETE ON \`shop\`.* TO 'app'@'%';
	FLUSH PRIVILEGES;
EOSQL
