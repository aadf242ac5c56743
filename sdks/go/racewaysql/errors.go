package racewaysql

import (
	"errors"
	"reflect"
	"strconv"
)

// errorType is the driver's code for an error, what the collector and a reader can act on:
// PostgreSQL's SQLSTATE (`40001`), SQLite's result code name (`SQLITE_BUSY`), MySQL's error
// name or number (`ER_LOCK_DEADLOCK`); "" (the error's Go type) when the driver has none.
// Found by method or field, without importing any driver.
func errorType(err error) string {
	if err == nil {
		return ""
	}
	var sqlState interface{ SQLState() string } // pgx's *pgconn.PgError
	if errors.As(err, &sqlState) {
		if code := sqlState.SQLState(); code != "" {
			return code
		}
	}
	var coded interface{ Code() int } // modernc.org/sqlite's *sqlite.Error
	if errors.As(err, &coded) {
		return sqliteCodeName(coded.Code())
	}
	for e := err; e != nil; e = errors.Unwrap(e) {
		if code := fieldCode(e); code != "" {
			return code
		}
	}
	return ""
}

// fieldCode reads go-sql-driver/mysql's MySQLError.Number and lib/pq's Error.Code.
func fieldCode(err error) string {
	v := reflect.ValueOf(err)
	for v.Kind() == reflect.Pointer || v.Kind() == reflect.Interface {
		if v.IsNil() {
			return ""
		}
		v = v.Elem()
	}
	if v.Kind() != reflect.Struct {
		return ""
	}
	switch v.Type().Name() {
	case "MySQLError":
		if f := v.FieldByName("Number"); f.IsValid() && f.CanUint() {
			return mysqlCodeName(f.Uint())
		}
	case "Error":
		if f := v.FieldByName("Code"); f.IsValid() && f.Kind() == reflect.String && v.Type().PkgPath() == "github.com/lib/pq" {
			return f.String()
		}
	}
	return ""
}

// mysqlCodes names the MySQL errors an application meets in races and retries, as mysql2
// names them for the TypeScript SDK; others are their number.
var mysqlCodes = map[uint64]string{
	1062: "ER_DUP_ENTRY",
	1205: "ER_LOCK_WAIT_TIMEOUT",
	1213: "ER_LOCK_DEADLOCK",
	1146: "ER_NO_SUCH_TABLE",
	1064: "ER_PARSE_ERROR",
	1054: "ER_BAD_FIELD_ERROR",
	1048: "ER_BAD_NULL_ERROR",
	1451: "ER_ROW_IS_REFERENCED_2",
	1452: "ER_NO_REFERENCED_ROW_2",
	1406: "ER_DATA_TOO_LONG",
}

func mysqlCodeName(n uint64) string {
	if name, ok := mysqlCodes[n]; ok {
		return name
	}
	return strconv.FormatUint(n, 10)
}

// sqliteCodes names SQLite's primary result codes (https://sqlite.org/rescode.html) and the
// extended codes a race or a constraint gives.
var sqliteCodes = map[int]string{
	1: "SQLITE_ERROR", 2: "SQLITE_INTERNAL", 3: "SQLITE_PERM", 4: "SQLITE_ABORT",
	5: "SQLITE_BUSY", 6: "SQLITE_LOCKED", 7: "SQLITE_NOMEM", 8: "SQLITE_READONLY",
	9: "SQLITE_INTERRUPT", 10: "SQLITE_IOERR", 11: "SQLITE_CORRUPT", 12: "SQLITE_NOTFOUND",
	13: "SQLITE_FULL", 14: "SQLITE_CANTOPEN", 15: "SQLITE_PROTOCOL", 16: "SQLITE_EMPTY",
	17: "SQLITE_SCHEMA", 18: "SQLITE_TOOBIG", 19: "SQLITE_CONSTRAINT", 20: "SQLITE_MISMATCH",
	21: "SQLITE_MISUSE", 22: "SQLITE_NOLFS", 23: "SQLITE_AUTH", 24: "SQLITE_FORMAT",
	25: "SQLITE_RANGE", 26: "SQLITE_NOTADB", 27: "SQLITE_NOTICE", 28: "SQLITE_WARNING",
	261:  "SQLITE_BUSY_RECOVERY",
	517:  "SQLITE_BUSY_SNAPSHOT",
	773:  "SQLITE_BUSY_TIMEOUT",
	262:  "SQLITE_LOCKED_SHAREDCACHE",
	275:  "SQLITE_CONSTRAINT_CHECK",
	787:  "SQLITE_CONSTRAINT_FOREIGNKEY",
	1299: "SQLITE_CONSTRAINT_NOTNULL",
	1555: "SQLITE_CONSTRAINT_PRIMARYKEY",
	2067: "SQLITE_CONSTRAINT_UNIQUE",
}

func sqliteCodeName(code int) string {
	if name, ok := sqliteCodes[code]; ok {
		return name
	}
	if name, ok := sqliteCodes[code&0xff]; ok {
		return name // an extended code not listed: its primary code
	}
	return "SQLITE_" + strconv.Itoa(code)
}
