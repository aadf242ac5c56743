package racewaysql

import (
	"database/sql/driver"
	"reflect"
	"strings"

	"github.com/raceway-dev/raceway/sdks/go/raceway"
)

// The database name matters beyond display: the collector tells apart the serialised
// transactions of different databases by it, so two services on one database must name it
// alike, whatever their language (the TypeScript drivers give the name the connection uses).

// connDatabase is the database a driver connection is on, read from the connection where the
// driver keeps it (pgx: Conn().Config().Database; go-sql-driver/mysql: its config's DBName);
// "" when unknown. Never panics.
func connDatabase(c driver.Conn, system string) (name string) {
	defer func() {
		if recover() != nil {
			name = ""
		}
	}()
	v := reflect.ValueOf(c)
	switch system {
	case raceway.SystemPostgreSQL:
		inner := callNoArgs(v, "Conn")
		if !inner.IsValid() {
			return ""
		}
		return stringField(callNoArgs(inner, "Config"), "Database")
	case raceway.SystemMySQL:
		e := reflect.Indirect(v)
		if e.Kind() != reflect.Struct {
			return ""
		}
		return stringField(e.FieldByName("cfg"), "DBName")
	}
	return ""
}

// callNoArgs calls v's method name when it takes nothing and returns one value.
func callNoArgs(v reflect.Value, name string) reflect.Value {
	m := v.MethodByName(name)
	if !m.IsValid() || m.Type().NumIn() != 0 || m.Type().NumOut() != 1 {
		return reflect.Value{}
	}
	out := m.Call(nil)[0]
	if out.Kind() == reflect.Pointer && out.IsNil() {
		return reflect.Value{}
	}
	return out
}

// stringField reads a string field, exported or not (reading is all that is done).
func stringField(v reflect.Value, name string) string {
	if !v.IsValid() {
		return ""
	}
	v = reflect.Indirect(v)
	if v.Kind() != reflect.Struct {
		return ""
	}
	f := v.FieldByName(name)
	if !f.IsValid() || f.Kind() != reflect.String {
		return ""
	}
	return f.String()
}

// sqliteDatabase is the file of a SQLite DSN (`/data/shop.db?_pragma=...`, `file:shop.db`), as
// better-sqlite3 names its database by the path it was opened with.
func sqliteDatabase(dsn string) string {
	file, _, _ := strings.Cut(dsn, "?")
	return strings.TrimPrefix(file, "file:")
}
