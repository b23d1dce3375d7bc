-- Makes a fresh replica follow the primary with GTID replication from an empty position, so it
-- applies everything the primary ever wrote (users.sql first). The one source for the local
-- launcher and the compose cluster's replica init. Each replaces the placeholders:
-- @PRIMARY_HOST@ / @PRIMARY_PORT@ = 127.0.0.1 and the primary's port for the launcher,
-- primary and 3306 in compose. Same format as users.sql.
CHANGE MASTER TO MASTER_HOST='@PRIMARY_HOST@', MASTER_PORT=@PRIMARY_PORT@, MASTER_USER='repl', MASTER_PASSWORD='repl', MASTER_USE_GTID=slave_pos, MASTER_CONNECT_RETRY=1;
START SLAVE;
