-- The accounts of an rwproxy cluster, created on the primary; the replicas receive them through
-- replication. The one source for the local launcher (`rwproxy cluster up`, the demo, the tests)
-- and the compose cluster's primary init. Password = user name: a demo cluster, not production.
-- Format (the launcher splits on it): every statement ends with `;` at the end of a line;
-- comments are whole lines starting with `--`.

-- app: everything a shop and the tests need, but neither SUPER nor READ_ONLY ADMIN (both part of
-- ALL PRIVILEGES in 10.11), so a write that reaches a read_only replica fails with 1290 instead
-- of silently breaking replication. rwproxy::cluster::APP_PRIVILEGES is read from this line.
CREATE USER 'app'@'%' IDENTIFIED BY 'app';
GRANT SELECT, INSERT, UPDATE, DELETE, CREATE, DROP, RELOAD, PROCESS, REFERENCES, INDEX, ALTER, SHOW DATABASES, CREATE TEMPORARY TABLES, LOCK TABLES, EXECUTE, CREATE VIEW, SHOW VIEW, CREATE ROUTINE, ALTER ROUTINE, EVENT, TRIGGER, DELETE HISTORY, BINLOG MONITOR, SLAVE MONITOR ON *.* TO 'app'@'%';

-- monitor: rwproxy's replication monitor (read_only, replica status, GTID positions); it writes
-- its heartbeat row in its own schema `rwproxy`.
CREATE USER 'monitor'@'%' IDENTIFIED BY 'monitor';
GRANT SELECT, PROCESS, BINLOG MONITOR, SLAVE MONITOR ON *.* TO 'monitor'@'%';
GRANT ALL ON rwproxy.* TO 'monitor'@'%';

-- repl: the replicas' replication login (replica.sql).
CREATE USER 'repl'@'%' IDENTIFIED BY 'repl';
GRANT REPLICATION SLAVE ON *.* TO 'repl'@'%';
