//! Corpus, part 1: every MariaDB 10.11 column type, with extreme values and NULLs, read
//! back both as text and through a prepared statement (binary protocol), so column
//! definitions (type, flags, charset, length, decimals) and both row encodings are compared.

use crate::differential::Entry::{self, Typed};

/// The type entries.
pub fn entries() -> Vec<Entry> {
    vec![
        Typed(
            "tinyint signed/unsigned",
            &["CREATE TABLE t (id INT PRIMARY KEY, a TINYINT, b TINYINT UNSIGNED, c BOOL)",
              "INSERT INTO t VALUES (1,-128,0,0),(2,127,255,1),(3,NULL,NULL,NULL)"],
            &["SELECT * FROM t ORDER BY id"],
        ),
        Typed(
            "smallint and mediumint",
            &["CREATE TABLE t (id INT PRIMARY KEY, a SMALLINT, b SMALLINT UNSIGNED, c MEDIUMINT, d MEDIUMINT UNSIGNED)",
              "INSERT INTO t VALUES (1,-32768,0,-8388608,0),(2,32767,65535,8388607,16777215),(3,NULL,NULL,NULL,NULL)"],
            &["SELECT * FROM t ORDER BY id"],
        ),
        Typed(
            "int and bigint",
            &["CREATE TABLE t (id INT PRIMARY KEY, a INT, b INT UNSIGNED, c BIGINT, d BIGINT UNSIGNED)",
              "INSERT INTO t VALUES (1,-2147483648,0,-9223372036854775808,0),\
               (2,2147483647,4294967295,9223372036854775807,18446744073709551615),(3,NULL,NULL,NULL,NULL)"],
            &["SELECT * FROM t ORDER BY id", "SELECT d - 1, c DIV 2, a * 2 FROM t WHERE id = 2"],
        ),
        Typed(
            "zerofill and display widths",
            &["CREATE TABLE t (id INT PRIMARY KEY, a INT(5) ZEROFILL, b TINYINT(1), c BIGINT(3) UNSIGNED ZEROFILL)",
              "INSERT INTO t VALUES (1,42,1,7),(2,123456,0,12345),(3,NULL,NULL,NULL)"],
            &["SELECT * FROM t ORDER BY id"],
        ),
        Typed(
            "decimal",
            &["CREATE TABLE t (id INT PRIMARY KEY, a DECIMAL(10,2), b DECIMAL(65,30), c DECIMAL(5,0) UNSIGNED)",
              "INSERT INTO t VALUES (1,-99999999.99,-12345678901234567890123456789012345.123456789012345678901234567890,0),\
               (2,0.01,0.000000000000000000000000000001,99999),(3,NULL,NULL,NULL)"],
            &["SELECT * FROM t ORDER BY id", "SELECT SUM(a), AVG(a), a / 3 FROM t GROUP BY a / 3 ORDER BY 1"],
        ),
        Typed(
            "float and double",
            &["CREATE TABLE t (id INT PRIMARY KEY, a FLOAT, b DOUBLE, c FLOAT(7,3), d DOUBLE UNSIGNED)",
              "INSERT INTO t VALUES (1,-3.40282e38,-1.7976931348623157e308,-1234.567,0),\
               (2,1.17549e-38,2.2250738585072014e-308,0.001,1e300),(3,0.1,0.1,NULL,NULL),(4,NULL,NULL,NULL,NULL)"],
            &["SELECT * FROM t ORDER BY id", "SELECT a * 2, b / 3, PI(), 1e-7, 1.5e10 FROM t WHERE id = 3"],
        ),
        Typed(
            "bit",
            &["CREATE TABLE t (id INT PRIMARY KEY, a BIT(1), b BIT(7), c BIT(64))",
              "INSERT INTO t VALUES (1,b'0',b'0',0),(2,b'1',b'1111111',0xFFFFFFFFFFFFFFFF),(3,NULL,NULL,NULL)"],
            &["SELECT * FROM t ORDER BY id", "SELECT a + 0, BIN(b), HEX(c) FROM t ORDER BY id"],
        ),
        Typed(
            "date",
            &["CREATE TABLE t (id INT PRIMARY KEY, a DATE)",
              "INSERT INTO t VALUES (1,'1000-01-01'),(2,'9999-12-31'),(3,'0000-00-00'),(4,'2024-02-29'),(5,NULL)"],
            &["SELECT * FROM t ORDER BY id", "SELECT DATE_ADD(a, INTERVAL 1 DAY), DAYNAME(a) FROM t WHERE id = 4"],
        ),
        Typed(
            "time incl. negative and fractional",
            &["CREATE TABLE t (id INT PRIMARY KEY, a TIME, b TIME(6), c TIME(3))",
              "INSERT INTO t VALUES (1,'-838:59:59','-00:00:00.000001','-01:02:03.5'),\
               (2,'838:59:59','838:59:58.999999','23:59:59.999'),(3,'00:00:00','00:00:00','00:00:00'),\
               (4,'-25:00:00','100:00:00.5',NULL),(5,NULL,NULL,NULL)"],
            &["SELECT * FROM t ORDER BY id", "SELECT TIME_TO_SEC(a), -b, ADDTIME(c, '1:00') FROM t ORDER BY id"],
        ),
        Typed(
            "datetime(6)",
            &["CREATE TABLE t (id INT PRIMARY KEY, a DATETIME, b DATETIME(6), c DATETIME(2))",
              "INSERT INTO t VALUES (1,'1000-01-01 00:00:00','1000-01-01 00:00:00.000000','1970-01-01 00:00:00.01'),\
               (2,'9999-12-31 23:59:59','9999-12-31 23:59:59.999999','2024-02-29 12:00:00.99'),\
               (3,'0000-00-00 00:00:00','2000-01-01 00:00:00.000001',NULL),(4,NULL,NULL,NULL)"],
            &["SELECT * FROM t ORDER BY id", "SELECT b + INTERVAL 1 MICROSECOND, DATE(b), TIME(b) FROM t ORDER BY id"],
        ),
        Typed(
            "timestamp under a fixed time zone",
            &["SET time_zone = '+00:00'",
              "CREATE TABLE t (id INT PRIMARY KEY, a TIMESTAMP NULL, b TIMESTAMP(6) NULL)",
              "INSERT INTO t VALUES (1,'1970-01-01 00:00:01','2038-01-19 03:14:07.999999'),\
               (2,'2000-06-15 12:30:00','2000-06-15 12:30:00.5'),(3,NULL,NULL)",
              "SET time_zone = '-07:00'"],
            &["SELECT * FROM t ORDER BY id", "SELECT UNIX_TIMESTAMP(a), FROM_UNIXTIME(0) FROM t WHERE id = 2"],
        ),
        Typed(
            "year",
            &["CREATE TABLE t (id INT PRIMARY KEY, a YEAR)",
              "INSERT INTO t VALUES (1,1901),(2,2155),(3,0),(4,'69'),(5,NULL)"],
            &["SELECT * FROM t ORDER BY id"],
        ),
        Typed(
            "char and varchar utf8mb4 with emoji",
            &["CREATE TABLE t (id INT PRIMARY KEY, a CHAR(10), b VARCHAR(100) CHARACTER SET utf8mb4, \
               c VARCHAR(20) CHARACTER SET latin1, d CHAR(5) CHARACTER SET ascii COLLATE ascii_bin)",
              "INSERT INTO t VALUES (1,'pad  ','emoji 😀🎉 ñ 漢字 👩‍👩‍👧','Ærø','abc'),(2,'','','',''),(3,NULL,NULL,NULL,NULL)"],
            &["SELECT * FROM t ORDER BY id", "SELECT LENGTH(b), CHAR_LENGTH(b), UPPER(b), HEX(c) FROM t WHERE id = 1"],
        ),
        Typed(
            "binary and varbinary",
            &["CREATE TABLE t (id INT PRIMARY KEY, a BINARY(4), b VARBINARY(16))",
              "INSERT INTO t VALUES (1,0x00010203,0x00FF00FE),(2,'ab',''),(3,NULL,NULL)"],
            &["SELECT * FROM t ORDER BY id", "SELECT HEX(a), LENGTH(b) FROM t ORDER BY id"],
        ),
        Typed(
            "tinyblob to longblob",
            &["CREATE TABLE t (id INT PRIMARY KEY, a TINYBLOB, b BLOB, c MEDIUMBLOB, d LONGBLOB)",
              "INSERT INTO t VALUES (1,0x00,REPEAT(0xAB,300),REPEAT(0x00,70000),REPEAT('x',100000)),\
               (2,'','','',''),(3,NULL,NULL,NULL,NULL)"],
            &["SELECT * FROM t ORDER BY id"],
        ),
        Typed(
            "tinytext to longtext",
            &["CREATE TABLE t (id INT PRIMARY KEY, a TINYTEXT, b TEXT, c MEDIUMTEXT, d LONGTEXT CHARACTER SET utf8mb4)",
              "INSERT INTO t VALUES (1,'a',REPEAT('b',1000),REPEAT('ç',5000),REPEAT('🦀',3000)),(2,'','','',''),(3,NULL,NULL,NULL,NULL)"],
            &["SELECT * FROM t ORDER BY id"],
        ),
        Typed(
            "enum and set",
            &["CREATE TABLE t (id INT PRIMARY KEY, a ENUM('small','medium','large'), b SET('red','green','blue'))",
              "INSERT INTO t VALUES (1,'medium','red,blue'),(2,'small',''),(3,NULL,NULL),(4,3,7)"],
            &["SELECT * FROM t ORDER BY id", "SELECT a + 0, b + 0, FIND_IN_SET('blue', b) FROM t ORDER BY id"],
        ),
        Typed(
            "json",
            &["CREATE TABLE t (id INT PRIMARY KEY, a JSON)",
              "INSERT INTO t VALUES (1,'{\"k\": [1, 2.5, \"three\", null, true], \"n\": {\"e\": \"😀\"}}'),(2,'[]'),(3,NULL)"],
            &["SELECT * FROM t ORDER BY id",
              "SELECT JSON_EXTRACT(a, '$.k[1]'), JSON_OBJECT('id', id, 'v', a), JSON_ARRAYAGG(id) FROM t GROUP BY id, a ORDER BY id"],
        ),
        Typed(
            "geometry and point",
            &["CREATE TABLE t (id INT PRIMARY KEY, a GEOMETRY, b POINT, c LINESTRING, d POLYGON)",
              "INSERT INTO t VALUES (1,ST_GeomFromText('POINT(1 2)'),POINT(3.5,-4.25),\
               ST_GeomFromText('LINESTRING(0 0,1 1,2 0)'),ST_GeomFromText('POLYGON((0 0,4 0,4 4,0 4,0 0))')),\
               (2,ST_GeomFromText('MULTIPOINT(1 1,2 2)'),POINT(0,0),NULL,NULL),(3,NULL,NULL,NULL,NULL)"],
            &["SELECT * FROM t ORDER BY id", "SELECT ST_AsText(a), ST_X(b), ST_Length(c), ST_Area(d) FROM t ORDER BY id"],
        ),
        Typed(
            "inet6, inet4 and uuid",
            &["CREATE TABLE t (id INT PRIMARY KEY, a INET6, b UUID, c INET4)",
              "INSERT INTO t VALUES (1,'::1','123e4567-e89b-12d3-a456-426655440000','192.168.0.1'),\
               (2,'2001:db8::ff00:42:8329','00000000-0000-0000-0000-000000000000','0.0.0.0'),\
               (3,'::ffff:10.0.0.1','ffffffff-ffff-ffff-ffff-ffffffffffff','255.255.255.255'),(4,NULL,NULL,NULL)"],
            &["SELECT * FROM t ORDER BY id", "SELECT CAST(a AS CHAR), HEX(b), c FROM t ORDER BY a"],
        ),
        Typed(
            "literals of every kind",
            &[],
            &["SELECT 1, -1, 1.50, 'x', NULL, 1e1, X'00ff', b'101', TRUE, DATE'2020-01-01', \
               TIME'-12:00:00.25', TIMESTAMP'2020-01-01 10:00:00.123', _latin1'é', N'ñ', 18446744073709551615, \
               -9223372036854775808, 123456789012345678901234567890"],
        ),
        Typed(
            "casts and functions",
            &[],
            &["SELECT CAST(1 AS UNSIGNED), CAST(-1 AS UNSIGNED), CAST('2020-01-02' AS DATE), CAST(1.5 AS DECIMAL(10,4)), \
               CAST('x' AS BINARY), CAST(3 AS DOUBLE), CONVERT('ü' USING utf8mb4), CAST(NULL AS INT), \
               COALESCE(NULL, 2), IFNULL(NULL, 'a'), CONCAT('a', 1, 1.5), REPEAT('é', 3), LPAD('7', 3, '0')"],
        ),
        Typed(
            "aggregates and grouping",
            &["CREATE TABLE t (id INT PRIMARY KEY, g VARCHAR(5), v DECIMAL(8,3), f DOUBLE)",
              "INSERT INTO t VALUES (1,'a',1.5,0.5),(2,'a',2.25,1e10),(3,'b',NULL,NULL),(4,'b',-7,-1),(5,NULL,0,0)"],
            &["SELECT g, COUNT(*), COUNT(v), SUM(v), AVG(v), MIN(f), MAX(f), STD(f), GROUP_CONCAT(id ORDER BY id), \
               BIT_OR(id) FROM t GROUP BY g WITH ROLLUP"],
        ),
        Typed(
            "empty results and column aliases",
            &["CREATE TABLE t (id INT PRIMARY KEY, a VARCHAR(5))"],
            &["SELECT * FROM t", "SELECT id AS `ü名 with space`, a AS \"dq\" FROM t WHERE 1 = 0",
              "SELECT t2.id FROM t AS t2 JOIN t AS t3 USING (id)"],
        ),
        Typed(
            "generated and default columns",
            &["CREATE TABLE t (id INT AUTO_INCREMENT PRIMARY KEY, a INT DEFAULT 7, b INT AS (a * 2) VIRTUAL, \
               c VARCHAR(10) AS (CONCAT('n', a)) STORED, d DATETIME DEFAULT '2001-02-03 04:05:06')",
              "INSERT INTO t (a) VALUES (1),(DEFAULT),(NULL)"],
            &["SELECT * FROM t ORDER BY id"],
        ),
        Typed(
            "views, unions and subqueries",
            &["CREATE TABLE t (id INT PRIMARY KEY, a VARCHAR(5))",
              "INSERT INTO t VALUES (1,'x'),(2,'y')",
              "CREATE VIEW v AS SELECT id, UPPER(a) AS ua FROM t"],
            &["SELECT * FROM v ORDER BY id",
              "SELECT id, a FROM t UNION ALL SELECT 3, 1.5 UNION SELECT NULL, NULL ORDER BY 1",
              "SELECT (SELECT MAX(id) FROM t), EXISTS (SELECT 1 FROM t WHERE a = 'y')",
              "WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r WHERE n < 5) SELECT * FROM r"],
        ),
        Typed(
            "information_schema and SHOW",
            &["CREATE TABLE t (id INT PRIMARY KEY, a VARCHAR(5) COMMENT 'c')"],
            &["SELECT COLUMN_NAME, COLUMN_TYPE, IS_NULLABLE, COLUMN_COMMENT FROM information_schema.COLUMNS \
               WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 't' ORDER BY ORDINAL_POSITION",
              "SHOW CREATE TABLE t", "SHOW COLUMNS FROM t", "SHOW INDEX FROM t"],
        ),
        Typed(
            "many columns and rows",
            &["CREATE TABLE t (id INT PRIMARY KEY, a INT, b VARCHAR(20), c DOUBLE)",
              "INSERT INTO t WITH RECURSIVE s(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM s WHERE n < 2000) \
               SELECT n, n * 7 % 13, CONCAT('row-', n), n / 7 FROM s"],
            &["SELECT * FROM t ORDER BY id", "SELECT t.*, t.*, t.* FROM t WHERE id < 5 ORDER BY id"],
        ),
        Typed(
            "sequences",
            &["CREATE SEQUENCE s START WITH 10 INCREMENT BY 5"],
            &["SELECT NEXTVAL(s), LASTVAL(s)", "SELECT * FROM s"],
        ),
    ]
}
