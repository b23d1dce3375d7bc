//! Which functions a replica may run: a deny-list of built-ins with side effects or
//! per-connection answers, and an allow-list of MariaDB built-ins that are safe on a
//! replica. Any other name followed by `(` is a user-defined or stored function the
//! classifier cannot see into, so it goes to the primary ("unknown-function").
//!
//! The allow-list also holds keywords that may precede a parenthesis without being a
//! call (`IN (`, `EXISTS (`, `AS (`, `USING (`, type names in `CAST(x AS CHAR(10))`), so
//! one lookup settles every `word (` pair.

/// What a `name (` call means for routing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Func {
    /// A replica may run it.
    Safe,
    /// GET_LOCK and friends: primary, and the session tracks the lock.
    NamedLock,
    /// LAST_INSERT_ID: primary.
    LastInsertId,
    /// NEXTVAL, LASTVAL, SETVAL: primary.
    Sequence,
    /// FOUND_ROWS: wherever the previous statement ran.
    FoundRows,
    /// ROW_COUNT: wherever the previous statement ran.
    RowCount,
    /// A side effect or a per-connection answer: primary.
    SideEffect,
    /// Not a built-in we know: primary.
    Unknown,
}

/// Longest name worth looking up; longer names are unknown.
const MAX_NAME: usize = 32;

/// Classifies a function name (case-insensitive). With `deny_only`, names not on the
/// deny-list are reported `Safe` without consulting the allow-list (writes go to the
/// primary anyway; only their effects matter).
pub(crate) fn lookup(name: &[u8], deny_only: bool) -> Func {
    if name.len() > MAX_NAME {
        return if deny_only { Func::Safe } else { Func::Unknown };
    }
    let mut buf = [0u8; MAX_NAME];
    for (d, s) in buf.iter_mut().zip(name) {
        *d = s.to_ascii_uppercase();
    }
    let upper = &buf[..name.len()];
    match upper {
        b"GET_LOCK" | b"RELEASE_LOCK" | b"RELEASE_ALL_LOCKS" | b"IS_USED_LOCK"
        | b"IS_FREE_LOCK" => return Func::NamedLock,
        b"LAST_INSERT_ID" => return Func::LastInsertId,
        b"NEXTVAL" | b"LASTVAL" | b"SETVAL" => return Func::Sequence,
        b"FOUND_ROWS" => return Func::FoundRows,
        b"ROW_COUNT" => return Func::RowCount,
        b"LOAD_FILE" | b"CONNECTION_ID" => return Func::SideEffect,
        _ => {}
    }
    if deny_only {
        return Func::Safe;
    }
    let found = ALLOWED
        .binary_search_by(|probe| probe.as_bytes().cmp(upper))
        .is_ok();
    if found {
        Func::Safe
    } else {
        Func::Unknown
    }
}

/// Built-ins (and call-like keywords) a replica may run, upper-case, sorted for
/// binary search.
#[rustfmt::skip]
static ALLOWED: &[&str] = &[
    "ABS", "ACOS", "ADDDATE", "ADDTIME", "ADD_MONTHS", "AES_DECRYPT", "AES_ENCRYPT",
    "AGAINST", "ALL", "AND", "ANY", "ANY_VALUE", "AS", "ASCII", "ASIN", "ASTEXT", "ASWKT",
    "ATAN", "ATAN2", "AVG", "BENCHMARK", "BETWEEN", "BIGINT", "BIN", "BINARY", "BIT",
    "BIT_AND", "BIT_COUNT", "BIT_LENGTH", "BIT_OR", "BIT_XOR", "BLOB", "BY", "CASE", "CAST",
    "CEIL", "CEILING", "CHAR", "CHARACTER_LENGTH", "CHARSET", "CHAR_LENGTH", "CHR",
    "COALESCE", "COERCIBILITY", "COLLATION", "COLUMNS", "COLUMN_ADD", "COLUMN_CHECK",
    "COLUMN_CREATE", "COLUMN_DELETE", "COLUMN_EXISTS", "COLUMN_GET", "COLUMN_JSON",
    "COLUMN_LIST", "COMPRESS", "CONCAT", "CONCAT_WS", "CONV", "CONVERT", "CONVERT_TZ",
    "COS", "COT", "COUNT", "CRC32", "CRC32C", "CUME_DIST", "CURDATE", "CURRENT_DATE",
    "CURRENT_ROLE", "CURRENT_TIME", "CURRENT_TIMESTAMP", "CURRENT_USER", "CURTIME",
    "DATABASE", "DATE", "DATEDIFF", "DATETIME", "DATE_ADD", "DATE_FORMAT", "DATE_SUB",
    "DAY", "DAYNAME", "DAYOFMONTH", "DAYOFWEEK", "DAYOFYEAR", "DEC", "DECIMAL", "DECODE",
    "DECODE_HISTOGRAM", "DEFAULT", "DEGREES", "DENSE_RANK", "DES_DECRYPT", "DES_ENCRYPT",
    "DISTINCT", "DISTINCTROW", "DIV", "DOUBLE", "ELSE", "ELT", "ENCODE", "ENCRYPT",
    "ESCAPE", "EXCEPT", "EXISTS", "EXP", "EXPORT_SET", "EXTRACT", "EXTRACTVALUE", "FIELD",
    "FIND_IN_SET", "FIRST_VALUE", "FLOAT", "FLOOR", "FOR", "FORMAT", "FORMAT_BYTES",
    "FORMAT_PICO_TIME", "FROM", "FROM_BASE64", "FROM_DAYS", "FROM_UNIXTIME",
    "GEOMETRYCOLLECTION", "GEOMFROMTEXT", "GET_FORMAT", "GLENGTH", "GREATEST", "GROUP",
    "GROUPING", "GROUP_CONCAT", "HAVING", "HEX", "HOUR", "IF", "IFNULL", "IN", "INDEX",
    "INET4", "INET6", "INET6_ATON", "INET6_NTOA", "INET_ATON", "INET_NTOA", "INSERT",
    "INSTR", "INT", "INTEGER", "INTERSECT", "INTERVAL", "IS", "ISNULL", "IS_IPV4",
    "IS_IPV4_COMPAT", "IS_IPV4_MAPPED", "IS_IPV6", "JOIN", "JSON", "JSON_ARRAY",
    "JSON_ARRAYAGG", "JSON_ARRAY_APPEND", "JSON_ARRAY_INSERT", "JSON_ARRAY_INTERSECT",
    "JSON_COMPACT", "JSON_CONTAINS", "JSON_CONTAINS_PATH", "JSON_DEPTH", "JSON_DETAILED",
    "JSON_EQUALS", "JSON_EXISTS", "JSON_EXTRACT", "JSON_INSERT", "JSON_KEYS",
    "JSON_KEY_VALUE", "JSON_LENGTH", "JSON_LOOSE", "JSON_MERGE", "JSON_MERGE_PATCH",
    "JSON_MERGE_PRESERVE", "JSON_NORMALIZE", "JSON_OBJECT", "JSON_OBJECTAGG",
    "JSON_OBJECT_FILTER_KEYS", "JSON_OBJECT_TO_ARRAY", "JSON_OVERLAPS", "JSON_PRETTY",
    "JSON_QUERY", "JSON_QUOTE", "JSON_REMOVE", "JSON_REPLACE", "JSON_SCHEMA_VALID",
    "JSON_SEARCH", "JSON_SET", "JSON_TABLE", "JSON_TYPE", "JSON_UNQUOTE", "JSON_VALID",
    "JSON_VALUE", "KDF", "KEY", "LAG", "LAST_DAY", "LAST_VALUE", "LATERAL", "LCASE", "LEAD",
    "LEAST", "LEFT", "LENGTH", "LENGTHB", "LIKE", "LIMIT", "LINESTRING", "LN", "LOCALTIME",
    "LOCALTIMESTAMP", "LOCATE", "LOG", "LOG10", "LOG2", "LOWER", "LPAD", "LTRIM",
    "MAKEDATE", "MAKETIME", "MAKE_SET", "MASTER_GTID_WAIT", "MASTER_POS_WAIT", "MATCH",
    "MAX", "MBRCONTAINS", "MBRDISJOINT", "MBREQUALS", "MBRINTERSECTS", "MBROVERLAPS",
    "MBRTOUCHES", "MBRWITHIN", "MD5", "MEDIAN", "MEDIUMINT", "MICROSECOND", "MID", "MIN",
    "MINUTE", "MOD", "MONTH", "MONTHNAME", "MULTILINESTRING", "MULTIPOINT", "MULTIPOLYGON",
    "NAME_CONST", "NATURAL_SORT_KEY", "NCHAR", "NOT", "NOW", "NTH_VALUE", "NTILE", "NULLIF",
    "NUMERIC", "NVL", "NVL2", "OCT", "OCTET_LENGTH", "OFFSET", "OLD_PASSWORD", "ON", "OR",
    "ORD", "OVER", "PARTITION", "PASSWORD", "PERCENTILE_CONT", "PERCENTILE_DISC",
    "PERCENT_RANK", "PERIOD_ADD", "PERIOD_DIFF", "PI", "POINT", "POLYGON", "POSITION",
    "POW", "POWER", "QUARTER", "QUOTE", "RADIANS", "RAND", "RANDOM_BYTES", "RANK", "REAL",
    "REGEXP", "REGEXP_INSTR", "REGEXP_LIKE", "REGEXP_REPLACE", "REGEXP_SUBSTR", "REPEAT",
    "REPLACE", "RETURNING", "REVERSE", "RIGHT", "RLIKE", "ROUND", "ROW", "ROW_NUMBER",
    "RPAD", "RTRIM", "SCHEMA", "SECOND", "SEC_TO_TIME", "SELECT", "SESSION_USER", "SFORMAT",
    "SHA", "SHA1", "SHA2", "SIGN", "SIGNED", "SIN", "SLEEP", "SMALLINT", "SOME", "SOUNDEX",
    "SPACE", "SQRT", "STD", "STDDEV", "STDDEV_POP", "STDDEV_SAMP", "STRAIGHT_JOIN",
    "STRCMP", "STR_TO_DATE", "ST_AREA", "ST_ASBINARY", "ST_ASGEOJSON", "ST_ASTEXT",
    "ST_ASWKB", "ST_ASWKT", "ST_BOUNDARY", "ST_BUFFER", "ST_CENTROID", "ST_CONTAINS",
    "ST_CONVEXHULL", "ST_CROSSES", "ST_DIFFERENCE", "ST_DIMENSION", "ST_DISJOINT",
    "ST_DISTANCE", "ST_DISTANCE_SPHERE", "ST_ENDPOINT", "ST_ENVELOPE", "ST_EQUALS",
    "ST_EXTERIORRING", "ST_GEOMCOLLFROMTEXT", "ST_GEOMCOLLFROMWKB", "ST_GEOMETRYN",
    "ST_GEOMETRYTYPE", "ST_GEOMFROMGEOJSON", "ST_GEOMFROMTEXT", "ST_GEOMFROMWKB",
    "ST_INTERIORRINGN", "ST_INTERSECTION", "ST_INTERSECTS", "ST_ISCLOSED", "ST_ISEMPTY",
    "ST_ISRING", "ST_ISSIMPLE", "ST_ISVALID", "ST_LENGTH", "ST_LINEFROMTEXT",
    "ST_LINEFROMWKB", "ST_NUMGEOMETRIES", "ST_NUMINTERIORRINGS", "ST_NUMPOINTS",
    "ST_OVERLAPS", "ST_POINTFROMTEXT", "ST_POINTFROMWKB", "ST_POINTN", "ST_POLYFROMTEXT",
    "ST_POLYFROMWKB", "ST_RELATE", "ST_SRID", "ST_STARTPOINT", "ST_SYMDIFFERENCE",
    "ST_TOUCHES", "ST_UNION", "ST_WITHIN", "ST_X", "ST_Y", "SUBDATE", "SUBSTR", "SUBSTRING",
    "SUBSTRING_INDEX", "SUBTIME", "SUM", "SYSDATE", "SYSTEM_USER", "SYS_GUID", "TAN",
    "TEXT", "THEN", "TIME", "TIMEDIFF", "TIMESTAMP", "TIMESTAMPADD", "TIMESTAMPDIFF",
    "TIME_FORMAT", "TIME_TO_SEC", "TINYINT", "TO_BASE64", "TO_CHAR", "TO_DAYS",
    "TO_SECONDS", "TRIM", "TRUNCATE", "UCASE", "UNCOMPRESS", "UNCOMPRESSED_LENGTH", "UNHEX",
    "UNION", "UNIX_TIMESTAMP", "UNSIGNED", "UPDATEXML", "UPPER", "USER", "USING",
    "UTC_DATE", "UTC_TIME", "UTC_TIMESTAMP", "UUID", "UUID_SHORT", "VALUE", "VALUES",
    "VARBINARY", "VARCHAR", "VARIANCE", "VAR_POP", "VAR_SAMP", "VEC_DISTANCE",
    "VEC_DISTANCE_COSINE", "VEC_DISTANCE_EUCLIDEAN", "VEC_FROMTEXT", "VEC_TOTEXT",
    "VERSION", "WEEK", "WEEKDAY", "WEEKOFYEAR", "WEIGHT_STRING", "WHEN", "WHERE", "WITH",
    "X", "XOR", "Y", "YEAR", "YEARWEEK",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allow_list_is_sorted_upper_case_and_unique() {
        assert!(ALLOWED.windows(2).all(|w| w[0] < w[1]));
        assert!(ALLOWED
            .iter()
            .all(|n| n.len() <= MAX_NAME && *n == n.to_ascii_uppercase()));
        assert!(ALLOWED.len() > 300);
    }

    #[test]
    fn lookups() {
        assert_eq!(lookup(b"sum", false), Func::Safe);
        assert_eq!(lookup(b"Get_Lock", false), Func::NamedLock);
        assert_eq!(lookup(b"release_all_locks", true), Func::NamedLock);
        assert_eq!(lookup(b"my_udf", false), Func::Unknown);
        assert_eq!(lookup(b"my_udf", true), Func::Safe);
        assert_eq!(lookup(b"found_rows", false), Func::FoundRows);
        assert_eq!(lookup(&[b'x'; 40], false), Func::Unknown);
    }
}
