//! The classifier's statement table: text → expected target, reason and effects, for
//! every kind of statement the proxy meets, written the ways clients write them
//! (comments, hints, odd whitespace and case, backticks, keywords inside strings,
//! multi-statement batches, garbage). `sweep_tests` runs every prefix of every entry.

use super::{classify, ClassifyCache, Effects, HintTarget, Reason, Target};

/// One row of the table.
pub(super) struct Case {
    /// The statement text.
    pub(super) sql: &'static [u8],
    target: Target,
    reason: Reason,
    effects: Effects,
}

impl Case {
    /// Expects exactly these effects (the default is none).
    const fn fx(self, effects: Effects) -> Case {
        Case { effects, ..self }
    }
}

const fn case(sql: &'static str, target: Target, reason: Reason) -> Case {
    Case {
        sql: sql.as_bytes(),
        target,
        reason,
        effects: Effects::NONE,
    }
}

/// A plain replica read.
const fn r(sql: &'static str) -> Case {
    case(sql, Target::Replica, Reason::Read)
}

/// A replica statement for another reason.
const fn rw(sql: &'static str, reason: Reason) -> Case {
    case(sql, Target::Replica, reason)
}

/// A primary statement.
const fn p(sql: &'static str, reason: Reason) -> Case {
    case(sql, Target::Primary, reason)
}

/// A statement that follows the previous one.
const fn pv(sql: &'static str, reason: Reason) -> Case {
    case(sql, Target::Previous, reason)
}

/// Raw bytes (not UTF-8, control bytes).
const fn raw(sql: &'static [u8], target: Target, reason: Reason) -> Case {
    Case {
        sql,
        target,
        reason,
        effects: Effects::NONE,
    }
}

const NONE: Effects = Effects::NONE;
const SS: Effects = Effects::SESSION_STATE;
const AC: Effects = Effects::AUTOCOMMIT_CHANGE;
const BEGIN: Effects = Effects::BEGIN;
const RO: Effects = Effects::BEGIN_READ_ONLY;
const END: Effects = Effects::TXN_END;
const TMP: Effects = Effects::CREATE_TEMP_TABLE;
const DTMP: Effects = Effects::DROP_TEMP_TABLE;
const NL: Effects = Effects::NAMED_LOCK;
const LT: Effects = Effects::LOCK_TABLES;
const ULT: Effects = Effects::UNLOCK_TABLES;
const UVA: Effects = Effects::USER_VAR_ASSIGN;
const UVR: Effects = Effects::USER_VAR_READ;
const LII: Effects = Effects::LAST_INSERT_ID;
const FR: Effects = Effects::FOUND_ROWS;
const PREP: Effects = Effects::SQL_PREPARE;
const MULTI: Effects = Effects::MULTI_STATEMENT;
const KILL: Effects = Effects::KILL;

const P: Target = Target::Primary;

use Reason::*;

#[rustfmt::skip]
pub(super) const TABLE: &[Case] = &[
    // ---- Plain reads: sysbench, joins, unions, subqueries, built-ins.
    r("SELECT c FROM sbtest1 WHERE id=5021"),
    r("SELECT c FROM sbtest1 WHERE id BETWEEN 5021 AND 5120"),
    r("SELECT SUM(k) FROM sbtest1 WHERE id BETWEEN 5021 AND 5120"),
    r("SELECT c FROM sbtest1 WHERE id BETWEEN 5021 AND 5120 ORDER BY c"),
    r("SELECT DISTINCT c FROM sbtest1 WHERE id BETWEEN 5021 AND 5120 ORDER BY c"),
    r("select 1"),
    r("SeLeCt NoW()"),
    r("  \t\n SELECT\t1\n"),
    r("SELECT\r\n*\r\nFROM\tt\r\nWHERE\ta = 1"),
    r("SELECT * FROM t1 JOIN t2 ON t1.id = t2.id LEFT JOIN t3 USING (id)"),
    r("SELECT a FROM t1 UNION SELECT a FROM t2"),
    r("SELECT a FROM t1 UNION ALL SELECT a FROM t2 ORDER BY a LIMIT 5"),
    r("SELECT * FROM t WHERE id IN (SELECT id FROM u WHERE x > 1)"),
    r("SELECT * FROM t WHERE EXISTS (SELECT 1 FROM u WHERE u.id = t.id)"),
    r("SELECT * FROM t WHERE a NOT IN (1, 2) AND (b OR c)"),
    r("SELECT * FROM (SELECT a FROM t) AS d"),
    r("SELECT * FROM (SELECT a FROM t) AS d (x)"),
    r("SELECT COUNT(*) FROM t GROUP BY a WITH ROLLUP"),
    r("SELECT a, COUNT(*) FROM t GROUP BY a HAVING COUNT(*) > 1"),
    r("SELECT CAST(a AS DECIMAL(10,2)), CONVERT(b, CHAR(10)) FROM t"),
    r("SELECT CONCAT(UPPER(a), LOWER(b)) FROM t"),
    r("SELECT IF(a > 1, 'x', 'y'), IFNULL(b, 0), COALESCE(c, d) FROM t"),
    r("SELECT DATE_FORMAT(NOW(), '%Y'), DATE_ADD(d, INTERVAL 1 DAY) FROM t"),
    r("SELECT JSON_EXTRACT(doc, '$.a') FROM t"),
    r("SELECT * FROM t WHERE MATCH (title) AGAINST ('db' IN BOOLEAN MODE)"),
    r("SELECT ROW_NUMBER() OVER (PARTITION BY g ORDER BY v) FROM t"),
    r("SELECT a, SUM(b) OVER w FROM t WINDOW w AS (PARTITION BY c)"),
    r("SELECT * FROM t USE INDEX (idx_a) WHERE a = 1"),
    r("SELECT * FROM t FORCE INDEX (PRIMARY) WHERE id = 1"),
    r("SELECT SLEEP(1)"),
    r("SELECT UUID(), RAND(), UUID_SHORT()"),
    r("SELECT MASTER_GTID_WAIT('0-1-7', 0.05)"),
    r("SELECT SQL_CALC_FOUND_ROWS * FROM t LIMIT 10").fx(Effects::CALC_FOUND_ROWS),
    r("SELECT SUBSTRING(name FROM 2 FOR 3) FROM t"),
    r("SELECT TRIM(LEADING 'x' FROM name), POSITION('a' IN name) FROM t"),
    r("SELECT * FROM t FOR SYSTEM_TIME AS OF TIMESTAMP '2024-01-01 00:00:00'"),
    r("SELECT ST_AsText(ST_GeomFromText('POINT(1 1)'))"),
    r("SELECT * FROM JSON_TABLE('[1,2]', '$[*]' COLUMNS (x INT PATH '$')) AS jt"),
    r("SELECT GROUP_CONCAT(a ORDER BY a SEPARATOR ',') FROM t"),
    r("SELECT CASE WHEN a THEN (1) ELSE (2) END FROM t"),
    r("SELECT DATABASE(), USER(), CURRENT_USER(), VERSION()"),
    r("SELECT 5.5e3, 0x1F, .5, 1 + -1, 2--1"),
    r("SELECT 1 FROM DUAL"),
    r("SELECT a.b, c.`d` FROM db.t AS a, db.u c"),
    r("SELECT * FROM t WHERE c = ? AND d = ?"),
    r("SELECT EXISTS(SELECT 1), NOT(a), ROW(1, 2) = ROW(a, b) FROM t"),
    r("SELECT PERCENTILE_CONT(0.5) WITHIN GROUP (ORDER BY x) OVER () FROM t"),
    r("SELECT HIGH_PRIORITY STRAIGHT_JOIN SQL_NO_CACHE a FROM t"),
    r("SELECT * FROM t1 STRAIGHT_JOIN (t2, t3) ON t1.a = t2.a"),
    r("SELECT * FROM t WHERE d > CURRENT_DATE - INTERVAL (1 + 2) DAY"),
    r("SELECT * FROM t WHERE a = 1 LIMIT 10 OFFSET 20"),
    // Parenthesized queries.
    r("(SELECT 1)"),
    r("(SELECT a FROM t1) UNION (SELECT a FROM t2) ORDER BY a"),
    r("((SELECT 1))"),
    // Keywords inside strings, identifiers and comments don't count.
    r("SELECT 'FOR UPDATE' FROM t"),
    r("SELECT * FROM t WHERE name = 'LOCK IN SHARE MODE'"),
    r("SELECT \"INTO @x\" AS s, 'GET_LOCK(1)' AS t"),
    r("SELECT 'it''s', \"say \"\"hi\"\"\", 'a\\'b'"),
    r("SELECT `for`, `update` FROM t"),
    r("SELECT * FROM `select` WHERE `into` = 1 AND `my_udf` = 2"),
    r("SELECT 1 -- FOR UPDATE\n"),
    r("SELECT 1 # INTO @x"),
    r("SELECT /* FOR UPDATE */ 1"),
    r("SELECT SUM(1) FROM t WHERE a = 'my_udf(1)'"),
    r("SELECT _utf8mb4'abc' COLLATE utf8mb4_bin, X'4142', b'01', N'abc'"),
    r("select héllo from tëst where ü = '日本語'"),
    r("/* hi */ SELECT 1 /* bye */"),
    r("/*+ MAX_EXECUTION_TIME(1000) */ SELECT 1"),
    r("SELECT /*+ MAX_EXECUTION_TIME(1000) */ * FROM t"),
    r("SELECT STRAIGHT_JOIN /*! SQL_NO_CACHE */ * FROM t"),
    r("SELECT 1;"),
    r("SELECT 1 ;  ;  "),
    // Variables: session variables are replayed on replicas.
    r("SELECT @@version"),
    r("SELECT @@session.sql_mode, @@global.read_only, @@SESSION.time_zone"),
    r("SELECT @x").fx(UVR),
    r("SELECT * FROM t WHERE a = @x AND b = @`y`").fx(UVR),

    // ---- Locking reads.
    p("SELECT * FROM t WHERE id = 1 FOR UPDATE", LockingRead),
    p("select * from t where id = 1 for update", LockingRead),
    p("SELECT * FROM t FOR SHARE", LockingRead),
    p("SELECT * FROM t LOCK IN SHARE MODE", LockingRead),
    p("SELECT * FROM t FOR UPDATE NOWAIT", LockingRead),
    p("SELECT * FROM t FOR UPDATE SKIP LOCKED", LockingRead),
    p("SELECT * FROM t FOR UPDATE WAIT 5", LockingRead),
    p("SELECT * FROM t FOR UPDATE OF t", LockingRead),
    p("SELECT * FROM t WHERE id IN (SELECT id FROM u FOR UPDATE)", LockingRead),
    p("SELECT * FROM t\nFOR\tUPDATE", LockingRead),
    p("SELECT * FROM t FOR /* c */ UPDATE", LockingRead),
    p("(SELECT * FROM t FOR UPDATE)", LockingRead),
    p("SELECT 'FOR UPDATE' FOR UPDATE", LockingRead),
    p("SELECT * FROM t /*!50000 FOR UPDATE */", LockingRead),

    // ---- INTO and user-variable assignment.
    p("SELECT a INTO @x FROM t", SelectInto).fx(UVA),
    p("SELECT a FROM t INTO @x", SelectInto).fx(UVA),
    p("SELECT a, b INTO @x, @y FROM t", SelectInto).fx(UVA),
    p("SELECT * FROM t INTO OUTFILE '/tmp/x'", SelectInto),
    p("SELECT * FROM t INTO DUMPFILE '/tmp/x'", SelectInto),
    p("SELECT @x := 1", UserVarAssign).fx(UVA),
    p("SELECT @x:=a FROM t", UserVarAssign).fx(UVA),
    p("SELECT @`x y` := 2, @z", UserVarAssign).fx(UVA.union(UVR)),

    // ---- Functions.
    p("SELECT GET_LOCK('a', 10)", NamedLock).fx(NL),
    p("SELECT RELEASE_LOCK('a')", NamedLock).fx(NL),
    p("select release_all_locks()", NamedLock).fx(NL),
    p("SELECT IS_USED_LOCK('a')", NamedLock).fx(NL),
    p("SELECT IS_FREE_LOCK('a')", NamedLock).fx(NL),
    p("SELECT get_lock ('a', 1)", NamedLock).fx(NL),
    p("SELECT LAST_INSERT_ID()", LastInsertId).fx(LII),
    p("SELECT last_insert_id(5)", LastInsertId).fx(LII),
    p("SELECT @@identity", LastInsertId).fx(LII),
    p("SELECT @@last_insert_id", LastInsertId).fx(LII),
    p("SELECT @@session.IDENTITY", LastInsertId).fx(LII),
    p("SELECT NEXTVAL(s)", Sequence),
    p("SELECT LASTVAL(s)", Sequence),
    p("SELECT SETVAL(s, 10)", Sequence),
    p("SELECT NEXT VALUE FOR s", Sequence),
    p("SELECT previous value for s", Sequence),
    p("SELECT my_udf(1)", UnknownFunction),
    p("SELECT db.my_func(1)", UnknownFunction),
    p("SELECT `my_func`(1)", UnknownFunction),
    p("SELECT 12abc(1)", UnknownFunction),
    p("SELECT a FROM t WHERE check_stock(a) > 0", UnknownFunction),
    p("SELECT SUM(x), my_agg(y) FROM t", UnknownFunction),
    p("SELECT * FROM t WHERE a IN (SELECT b FROM u WHERE f(b))", UnknownFunction),
    p("SELECT LOAD_FILE('/etc/passwd')", SideEffectFunction),
    p("SELECT CONNECTION_ID()", SideEffectFunction),
    p("SELECT FOUND_ROWS(), GET_LOCK('x', 1)", NamedLock).fx(FR.union(NL)),
    p("SELECT 1 /*!, my_udf(2) */", UnknownFunction),
    pv("SELECT FOUND_ROWS()", FoundRows).fx(FR),
    pv("select found_rows() as n", FoundRows).fx(FR),
    pv("SELECT ROW_COUNT()", RowCount),
    pv("SELECT @@warning_count", Diagnostics),
    pv("SELECT @@session.error_count", Diagnostics),

    // ---- WITH: the fast path scans, sqlparser confirms the shape.
    r("WITH a AS (SELECT 1) SELECT * FROM a"),
    r("with a as (select 1) select * from a"),
    r("WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r WHERE n < 5) \
       SELECT * FROM r"),
    r("WITH a (x) AS (SELECT 1), b (y) AS (SELECT 2) SELECT * FROM a, b"),
    r("WITH `a` (x) AS (SELECT 1) SELECT x FROM `a`"),
    r("SELECT * FROM (WITH a AS (SELECT 1 AS x) SELECT x FROM a) d"),
    p("WITH a AS (SELECT 1) SELECT my_udf(x) FROM a", UnknownFunction),
    p("WITH a AS (SELECT 1) SELECT 1, GET_LOCK('x', 1)", NamedLock).fx(NL),
    p("WITH a AS (SELECT id FROM t) UPDATE t SET x = 1 WHERE id IN (SELECT id FROM a)", Write),
    p("WITH a AS (SELECT id FROM t) DELETE FROM t WHERE id IN (SELECT id FROM a)", Write),
    p("WITH a AS (SELECT 1) SELECT * FROM a FOR UPDATE", LockingRead),
    p("WITH a AS (SELECT 1) SELECT * FROM a LOCK IN SHARE MODE", LockingRead),
    p("WITH a AS (SELECT 1) SELEC * FROM a", Unparseable),
    p("WITH a AS (SELECT 1) SELECT * FROM a INTO @v", SelectInto).fx(UVA),
    r("(WITH a AS (SELECT 1) SELECT * FROM a)"),
    r("VALUES (1, 2), (3, 4)"),
    // MySQL 8's TABLE statement: sqlparser can't parse it, so it goes to the primary.
    p("TABLE t", Unparseable),
    p("VALUES (my_udf(1))", UnknownFunction),
    p("SELECT \"f\"(1)", UnknownFunction),
    p("WITH a AS (SELECT 1) INSERT INTO t SELECT * FROM a", Write),

    // ---- SHOW, DESCRIBE, EXPLAIN, HELP.
    r("SHOW TABLES"),
    r("show full tables from db like 'a%'"),
    r("SHOW COLUMNS FROM t"),
    r("SHOW FULL COLUMNS FROM t"),
    r("SHOW CREATE TABLE t"),
    r("SHOW VARIABLES LIKE 'max%'"),
    r("SHOW SESSION VARIABLES"),
    r("SHOW STATUS"),
    r("SHOW GLOBAL STATUS LIKE 'Com_select'"),
    r("SHOW DATABASES"),
    r("SHOW INDEX FROM t"),
    r("SHOW TABLE STATUS WHERE Name = 't'"),
    r("SHOW GRANTS"),
    r("SHOW ENGINES"),
    r("SHOW CHARACTER SET"),
    r("SHOW COLLATION LIKE 'utf8%'"),
    pv("SHOW WARNINGS", Diagnostics),
    pv("show errors", Diagnostics),
    pv("SHOW COUNT(*) WARNINGS", Diagnostics),
    pv("SHOW WARNINGS LIMIT 10", Diagnostics),
    pv("SHOW PROFILE", Diagnostics),
    pv("SHOW PROFILES", Diagnostics),
    p("SHOW MASTER STATUS", ShowPrimaryStatus),
    p("SHOW BINLOG STATUS", ShowPrimaryStatus),
    p("SHOW BINARY LOGS", ShowPrimaryStatus),
    p("SHOW MASTER LOGS", ShowPrimaryStatus),
    p("SHOW BINLOG EVENTS", ShowPrimaryStatus),
    p("SHOW PROCESSLIST", ServerState),
    p("SHOW FULL PROCESSLIST", ServerState),
    p("SHOW SLAVE STATUS", ServerState),
    p("SHOW REPLICA STATUS", ServerState),
    p("SHOW ALL SLAVES STATUS", ServerState),
    r("DESCRIBE t"),
    r("DESC t"),
    r("desc `order`"),
    r("DESCRIBE t col"),
    r("EXPLAIN t"),
    r("EXPLAIN SELECT * FROM t"),
    r("EXPLAIN EXTENDED SELECT 1"),
    r("EXPLAIN FORMAT=JSON SELECT * FROM t"),
    r("EXPLAIN PARTITIONS SELECT 1"),
    r("EXPLAIN (SELECT 1)"),
    r("EXPLAIN WITH a AS (SELECT 1) SELECT * FROM a"),
    p("EXPLAIN UPDATE t SET a = 1", Write),
    p("EXPLAIN DELETE FROM t", Write),
    p("EXPLAIN INSERT INTO t VALUES (1)", Write),
    p("EXPLAIN ANALYZE SELECT 1", Admin),
    p("EXPLAIN FOR CONNECTION 5", ServerState),
    p("EXPLAIN SELECT * FROM t FOR UPDATE", LockingRead),
    p("ANALYZE SELECT * FROM t", Admin),
    r("HELP 'contents'"),

    // ---- Writes.
    p("INSERT INTO t VALUES (1)", Write),
    p("insert into t (a) values ('SELECT')", Write),
    p("INSERT INTO t SELECT * FROM u", Write),
    p("INSERT IGNORE INTO t VALUES (1) ON DUPLICATE KEY UPDATE a = VALUES(a)", Write),
    p("INSERT INTO db.t (a, b) VALUES (NOW(), my_udf(1))", Write),
    p("UPDATE t SET a = 1 WHERE id = 2", Write),
    p("update t set a = 'x' where b = \"y\"", Write),
    p("DELETE FROM t WHERE id = 1", Write),
    p("DELETE t1 FROM t1 JOIN t2 ON t1.id = t2.id", Write),
    p("REPLACE INTO t VALUES (1)", Write),
    p("LOAD DATA INFILE '/tmp/x' INTO TABLE t", Write),
    p("LOAD DATA LOCAL INFILE 'x.csv' INTO TABLE t FIELDS TERMINATED BY ','", Write),
    p("LOAD XML LOCAL INFILE 'x.xml' INTO TABLE t", Write),
    p("INSERT INTO t VALUES (GET_LOCK('x', 1))", Write).fx(NL),
    p("UPDATE t SET a = @x := a + 1", Write).fx(UVA),
    p("INSERT INTO t VALUES (LAST_INSERT_ID())", Write).fx(LII),

    // ---- DDL.
    p("CREATE TABLE t (a INT)", Ddl),
    p("create table if not exists t (a int)", Ddl),
    p("CREATE TEMPORARY TABLE tmp (a INT)", Ddl).fx(TMP),
    p("CREATE OR REPLACE TEMPORARY TABLE tmp AS SELECT 1", Ddl).fx(TMP),
    p("create temporary table if not exists tmp select * from t", Ddl).fx(TMP),
    p("DROP TABLE t", Ddl),
    p("DROP TEMPORARY TABLE tmp", Ddl).fx(DTMP),
    p("drop temporary table if exists tmp", Ddl).fx(DTMP),
    p("ALTER TABLE t ADD COLUMN b INT", Ddl),
    p("RENAME TABLE a TO b", Ddl),
    p("TRUNCATE TABLE t", Ddl),
    p("TRUNCATE t", Ddl),
    p("CREATE INDEX i ON t (a)", Ddl),
    p("CREATE VIEW v AS SELECT * FROM t", Ddl),
    p("CREATE DATABASE d", Ddl),
    p("DROP DATABASE d", Ddl),
    p("CREATE SEQUENCE s", Ddl),
    p("CREATE USER 'u'@'%' IDENTIFIED BY 'p'", Ddl),
    p("CREATE PROCEDURE p() BEGIN SELECT 1; SET @x = 1; END", Compound),
    p("CREATE DEFINER=`root`@`localhost` TRIGGER trg BEFORE INSERT ON t \
       FOR EACH ROW SET NEW.a = 1", Compound),
    p("CREATE FUNCTION f() RETURNS INT RETURN 1", Compound),
    p("CREATE EVENT e ON SCHEDULE EVERY 1 HOUR DO DELETE FROM t", Compound),

    // ---- Admin and other primary-only statements.
    p("GRANT SELECT ON db.* TO 'u'@'%'", Admin),
    p("REVOKE ALL ON *.* FROM 'u'", Admin),
    p("FLUSH PRIVILEGES", Admin),
    p("FLUSH TABLES WITH READ LOCK", Admin),
    p("RESET QUERY CACHE", Admin),
    p("PURGE BINARY LOGS TO 'mysql-bin.000003'", Admin),
    p("OPTIMIZE TABLE t", Admin),
    p("REPAIR TABLE t", Admin),
    p("CHECK TABLE t", Admin),
    p("CHECKSUM TABLE t", Admin),
    p("ANALYZE TABLE t", Admin),
    p("STOP SLAVE", Admin),
    p("START SLAVE", Admin),
    p("CHANGE MASTER TO MASTER_HOST='x'", Admin),
    p("SHUTDOWN", Admin),
    p("INSTALL SONAME 'x'", Admin),
    p("SIGNAL SQLSTATE '45000'", Admin),
    p("KILL 42", Kill).fx(KILL),
    p("KILL QUERY 42", Kill).fx(KILL),
    p("kill connection 7", Kill).fx(KILL),
    p("LOCK TABLES t READ", LockTables).fx(LT),
    p("LOCK TABLE t WRITE, u READ", LockTables).fx(LT),
    p("UNLOCK TABLES", LockTables).fx(ULT),
    p("LOCK INSTANCE FOR BACKUP", Admin),
    p("CALL p()", Call),
    p("CALL p(1, @out)", Call).fx(UVA.union(UVR)),
    p("DO SLEEP(1)", Do),
    p("DO RELEASE_LOCK('x')", Do).fx(NL),
    p("HANDLER t OPEN", Handler),
    p("HANDLER t READ FIRST", Handler),
    p("XA START 'x'", Xa).fx(BEGIN),
    p("XA END 'x'", Xa),
    p("XA PREPARE 'x'", Xa),
    p("XA COMMIT 'x'", Xa).fx(END),
    p("XA ROLLBACK 'x'", Xa).fx(END),
    p("XA RECOVER", Xa),
    p("PREPARE s FROM 'SELECT 1'", SqlPrepare).fx(PREP),
    p("EXECUTE s USING @a", SqlPrepare).fx(PREP.union(UVR)),
    p("EXECUTE s", SqlPrepare).fx(PREP),
    p("DEALLOCATE PREPARE s", SqlPrepare).fx(PREP),
    p("DROP PREPARE s", SqlPrepare).fx(PREP),
    p("EXECUTE IMMEDIATE 'SELECT 1'", SqlPrepare).fx(PREP),
    pv("GET DIAGNOSTICS @n = NUMBER", Diagnostics).fx(UVR),

    // ---- Transaction control.
    p("BEGIN", TransactionControl).fx(BEGIN),
    p("begin work", TransactionControl).fx(BEGIN),
    p("BEGIN;", TransactionControl).fx(BEGIN),
    p("START TRANSACTION", TransactionControl).fx(BEGIN),
    p("START TRANSACTION READ WRITE", TransactionControl).fx(BEGIN),
    p("START TRANSACTION WITH CONSISTENT SNAPSHOT", TransactionControl).fx(BEGIN),
    rw("START TRANSACTION READ ONLY", TransactionControl).fx(BEGIN.union(RO)),
    rw("start transaction with consistent snapshot, read only", TransactionControl)
        .fx(BEGIN.union(RO)),
    p("COMMIT", TransactionControl).fx(END),
    p("COMMIT WORK", TransactionControl).fx(END),
    p("COMMIT AND CHAIN", TransactionControl).fx(END.union(BEGIN)),
    p("COMMIT AND NO CHAIN", TransactionControl).fx(END),
    p("ROLLBACK", TransactionControl).fx(END),
    p("rollback work", TransactionControl).fx(END),
    p("ROLLBACK TO SAVEPOINT s1", TransactionControl),
    p("ROLLBACK TO s1", TransactionControl),
    p("ROLLBACK WORK TO SAVEPOINT s1", TransactionControl),
    p("SAVEPOINT s1", TransactionControl),
    p("RELEASE SAVEPOINT s1", TransactionControl),
    p("BEGIN NOT ATOMIC SELECT 1; SELECT 2; END", Compound),

    // ---- SET and USE: primary, recorded for replay.
    p("SET NAMES utf8mb4", SessionCommand).fx(SS),
    p("SET NAMES 'utf8mb4' COLLATE 'utf8mb4_unicode_ci'", SessionCommand).fx(SS),
    p("SET CHARACTER SET utf8", SessionCommand).fx(SS),
    p("SET CHARSET latin1", SessionCommand).fx(SS),
    p("SET autocommit = 0", SessionCommand).fx(SS.union(AC)),
    p("set autocommit=1", SessionCommand).fx(SS.union(AC)),
    p("SET @@autocommit = OFF", SessionCommand).fx(SS.union(AC)),
    p("SET SESSION autocommit = 0", SessionCommand).fx(SS.union(AC)),
    p("SET @@session.autocommit := 1", SessionCommand).fx(SS.union(AC)),
    p("SET time_zone = '+00:00'", SessionCommand).fx(SS),
    p("SET sql_mode = 'STRICT_TRANS_TABLES,NO_ZERO_DATE'", SessionCommand).fx(SS),
    p("SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED", SessionCommand).fx(SS),
    p("SET TRANSACTION ISOLATION LEVEL SERIALIZABLE, READ ONLY", SessionCommand).fx(SS),
    p("SET @@session.sql_mode = CONCAT(@@sql_mode, ',X')", SessionCommand).fx(SS),
    p("SET LOCAL wait_timeout = 100", SessionCommand).fx(SS),
    p("SET @x = 1", SessionCommand).fx(SS),
    p("SET @x = 'a', @y = 2", SessionCommand).fx(SS),
    p("SET @x = NULL", SessionCommand).fx(SS),
    p("SET @x := 5", SessionCommand).fx(SS),
    p("SET @x = @y", SessionCommand).fx(SS.union(UVR)),
    p("SET @x=@y", SessionCommand).fx(SS.union(UVR)),
    r("SELECT * FROM t WHERE a=@x").fx(UVR),
    p("SET @x = (SELECT MAX(id) FROM t)", UserVarAssign).fx(UVA),
    p("SET @x = NOW()", UserVarAssign).fx(UVA),
    p("SET @x = GET_LOCK('a', 1)", UserVarAssign).fx(UVA.union(NL)),
    p("SET NAMES utf8, @x = (SELECT 1)", SessionCommand).fx(SS.union(UVA)),
    p("SET GLOBAL max_connections = 100", SetGlobal),
    p("SET @@global.read_only = 1", SetGlobal),
    p("SET PERSIST max_connections = 1", SetGlobal),
    p("SET GLOBAL TRANSACTION ISOLATION LEVEL READ COMMITTED", SetGlobal),
    p("SET PASSWORD = PASSWORD('x')", Admin),
    p("SET PASSWORD FOR 'u'@'%' = 'hash'", Admin),
    p("SET DEFAULT ROLE r1 FOR u", Admin),
    p("SET ROLE r1", SessionCommand).fx(SS),
    r("SET STATEMENT max_statement_time=10 FOR SELECT * FROM t"),
    p("SET STATEMENT sql_mode='' FOR UPDATE t SET a = 1", Write),
    p("USE shop", SessionCommand).fx(SS),
    p("use `my db`", SessionCommand).fx(SS),

    // ---- Hints.
    p("/* rwproxy:primary */ SELECT 1", Hint),
    p("/*rwproxy:primary*/SELECT 1", Hint),
    p("/* RWPROXY:PRIMARY */ select 1", Hint),
    p("-- rwproxy:primary\nSELECT 1", Hint),
    p("# rwproxy:primary\nSELECT 1", Hint),
    p("/* app:checkout rwproxy:primary */ SELECT 1", Hint),
    p("/* a */ /* rwproxy:primary */ SELECT 1", Hint),
    p("/* rwproxy:primary */ UPDATE t SET a = 1", Write),
    pv("/* rwproxy:backend=replica2 */ SELECT FOUND_ROWS()", FoundRows).fx(FR),
    r("/* rwproxy:replica */ SELECT 1"),
    r("/* rwproxy:backend=replica2 */ SELECT 1"),
    r("/* rwproxy:max_lag_ms=200 */ SELECT 1"),
    r("SELECT /* rwproxy:primary */ 1"),
    r("/*+ rwproxy:primary */ SELECT 1"),
    rw("/* rwproxy:replica */ SELECT my_udf(1)", Hint),
    rw("/* rwproxy:replica, max_lag_ms=100 */ SHOW SLAVE STATUS", Hint),
    p("/* rwproxy:replica */ UPDATE t SET a = 1", Write),
    p("/* rwproxy:replica */ SELECT * FROM t FOR UPDATE", LockingRead),
    p("/* rwproxy:replica */ SELECT GET_LOCK('x', 1)", NamedLock).fx(NL),
    p("/* rwproxy:replica */ SET NAMES utf8", SessionCommand).fx(SS),
    p("/* rwproxy:replica */ SELECT 1; DELETE FROM t", MultiStatementWrite).fx(MULTI),

    // ---- Executable comments hold SQL.
    p("/*!40101 SET NAMES utf8 */", SessionCommand).fx(SS),
    p("/*!40101 SET @OLD_SQL_MODE=@@SQL_MODE */;", UserVarAssign).fx(UVA),
    p("/*!50001 SELECT 1 */", ExecutableComment),
    p("/*M!100100 SELECT 1 */", ExecutableComment),
    p("/*!SELECT 1*/", ExecutableComment),
    p("/*!40000 ALTER TABLE t DISABLE KEYS */", Ddl),

    // ---- Multi-statement batches.
    r("SELECT 1; SELECT 2").fx(MULTI),
    r("SELECT 1;;SELECT 2;").fx(MULTI),
    r("SELECT 'a;b'; SELECT 2").fx(MULTI),
    r("SELECT 'a;b'"),
    r("SELECT 1 /* ; */"),
    r("SELECT 1 -- ;\n"),
    r("SELECT `a;b` FROM t"),
    p("SELECT 1; UPDATE t SET a = 1", MultiStatementWrite).fx(MULTI),
    p("UPDATE t SET a = 1; SELECT 1", MultiStatementWrite).fx(MULTI),
    p("SET NAMES utf8; SELECT 1", SessionCommand).fx(SS.union(MULTI)),
    p("BEGIN; UPDATE t SET a = 1; COMMIT", MultiStatementWrite).fx(BEGIN.union(END).union(MULTI)),
    pv("SELECT 1; SELECT FOUND_ROWS()", FoundRows).fx(FR.union(MULTI)),
    p("CREATE TEMPORARY TABLE x (a INT); INSERT INTO x VALUES (1); SELECT * FROM x",
      MultiStatementWrite)
        .fx(TMP.union(MULTI)),
    p("SELECT 1; FOO", UnknownStatement).fx(MULTI),
    p("SELECT 1;\nSELECT * FROM t FOR UPDATE", LockingRead).fx(MULTI),

    // ---- Empty, unknown, unparseable, garbage.
    p("", Empty),
    p("   \n\t ", Empty),
    p(";", Empty),
    p("-- just a comment", Empty),
    p("/* rwproxy:replica */", Empty),
    p("SELECT 'abc", Unparseable),
    p("SELECT `abc", Unparseable),
    p("SELECT /* abc", Unparseable),
    p("/* abc", Unparseable),
    p("SELECT 1; SELECT 'unterminated", Unparseable),
    p("SELECT (((1", Unparseable),
    p("SELECT 1))", Unparseable),
    p("FOO BAR", UnknownStatement),
    p("SELEC 1", UnknownStatement),
    p("123", UnknownStatement),
    p("'SELECT 1'", UnknownStatement),
    p("))))", UnknownStatement),
    p("((((((((", UnknownStatement),
    p("(UPDATE t SET a = 1)", UnknownStatement),
    raw(b"\xff\xfe SELECT 1", P, Unparseable),
    raw(b"SELECT '\xc3'", P, Unparseable),
    raw(b"\0\0\0", P, UnknownStatement),
    raw(b"SELECT 1\0", Target::Replica, Read),
    // A string that hides a call only under NO_BACKSLASH_ESCAPES.
    p("SELECT 'a\\' , GET_LOCK('a', 1) #'\n, 'b'", NamedLock).fx(NL),
];

pub(super) fn show(sql: &[u8]) -> String {
    String::from_utf8_lossy(sql).into_owned()
}

#[test]
fn the_table_has_at_least_200_statements() {
    assert!(TABLE.len() >= 200, "only {} statements", TABLE.len());
}

#[test]
fn every_statement_routes_as_expected() {
    let mut failures = Vec::new();
    for case in TABLE {
        let c = classify(case.sql);
        let got = (c.target, c.reason, c.effects);
        let want = (case.target, case.reason, case.effects);
        if got != want {
            failures.push(format!(
                "{:?}\n    got  {got:?}\n    want {want:?}",
                show(case.sql)
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} wrong:\n{}",
        failures.len(),
        TABLE.len(),
        failures.join("\n")
    );
}

#[test]
fn the_cache_agrees_with_classify() {
    let mut cache = ClassifyCache::new();
    for _ in 0..2 {
        for case in TABLE {
            assert_eq!(
                cache.get_or_classify(case.sql),
                classify(case.sql),
                "{:?}",
                show(case.sql)
            );
        }
    }
    assert!(cache.hits() > 0);
}

#[test]
fn hints_are_returned() {
    let c = classify(b"/* rwproxy:backend=replica2, max_lag_ms=250 */ SELECT 1");
    let hint = c.hint.unwrap_or_default();
    assert_eq!(hint.target, Some(HintTarget::Backend("replica2".into())));
    assert_eq!(hint.max_lag_ms, Some(250));
    let c = classify(b"/* rwproxy:replica */ UPDATE t SET a = 1");
    assert_eq!(c.hint.and_then(|h| h.target), Some(HintTarget::Replica));
    assert_eq!(classify(b"SELECT 1").hint, None);
}

#[test]
fn reason_names_are_stable() {
    let names: Vec<&str> = [
        Read,
        Write,
        LockingRead,
        UnknownFunction,
        MultiStatementWrite,
        Empty,
    ]
    .iter()
    .map(Reason::as_str)
    .collect();
    assert_eq!(
        names,
        [
            "read",
            "write",
            "locking-read",
            "unknown-function",
            "multi-statement-write",
            "empty"
        ]
    );
    assert_eq!(NONE.bits(), 0);
}
