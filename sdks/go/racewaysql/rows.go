package racewaysql

import (
	"database/sql/driver"
	"encoding/json"
	"io"
	"reflect"

	"github.com/raceway-dev/raceway/sdks/go/raceway"
)

// rows counts the rows the application reads and digests the first of them (10 rows of 32
// columns, as they come: nothing is kept but the digests); the query is recorded when the rows
// are exhausted, fail or are closed. Its column-type methods fall back to database/sql's own
// defaults when the driver's rows lack them.
type rows struct {
	r       driver.Rows
	q       *raceway.QueryInFlight
	columns []string
	json    []bool // columns of type JSON or JSONB, digested as the JSON they hold
	n       int64
	done    bool
}

var (
	_ driver.Rows                           = (*rows)(nil)
	_ driver.RowsNextResultSet              = (*rows)(nil)
	_ driver.RowsColumnTypeScanType         = (*rows)(nil)
	_ driver.RowsColumnTypeDatabaseTypeName = (*rows)(nil)
	_ driver.RowsColumnTypeLength           = (*rows)(nil)
	_ driver.RowsColumnTypeNullable         = (*rows)(nil)
	_ driver.RowsColumnTypePrecisionScale   = (*rows)(nil)
)

const maxDigestedRows = 10

func wrapRows(r driver.Rows, q *raceway.QueryInFlight) *rows {
	q.ReturnsRows()
	w := &rows{r: r, q: q}
	w.readColumns()
	return w
}

// readColumns reads the names of the columns, and which hold JSON: drivers hand JSON over as
// text (pgx), and it is digested as the value it holds, as the TypeScript drivers parse it.
func (r *rows) readColumns() {
	r.columns = r.r.Columns()
	r.json = nil
	if typed, ok := r.r.(driver.RowsColumnTypeDatabaseTypeName); ok {
		for i := range r.columns {
			switch typed.ColumnTypeDatabaseTypeName(i) {
			case "JSON", "JSONB":
				if r.json == nil {
					r.json = make([]bool, len(r.columns))
				}
				r.json[i] = true
			}
		}
	}
}

// digested is a row as it is digested: JSON text as JSON.
func (r *rows) digested(dest []driver.Value) []driver.Value {
	if r.json == nil {
		return dest
	}
	values := make([]driver.Value, len(dest))
	copy(values, dest)
	for i, isJSON := range r.json {
		if !isJSON || i >= len(values) {
			continue
		}
		switch v := values[i].(type) {
		case string:
			values[i] = json.RawMessage(v)
		case []byte:
			values[i] = json.RawMessage(v)
		}
	}
	return values
}

func (r *rows) Columns() []string { return r.r.Columns() }

func (r *rows) Next(dest []driver.Value) error {
	err := r.r.Next(dest)
	switch {
	case err == nil:
		r.n++
		if r.n <= maxDigestedRows {
			r.q.AddRow(r.columns, r.digested(dest))
		}
	case err == io.EOF:
		r.finish(nil)
	default:
		r.finish(err)
	}
	return err
}

func (r *rows) Close() error {
	err := r.r.Close()
	r.finish(nil)
	return err
}

func (r *rows) finish(err error) {
	if !r.done {
		r.done = true
		r.q.End(r.n, err, errorType(err))
	}
}

func (r *rows) HasNextResultSet() bool {
	if m, ok := r.r.(driver.RowsNextResultSet); ok {
		return m.HasNextResultSet()
	}
	return false
}

func (r *rows) NextResultSet() error {
	m, ok := r.r.(driver.RowsNextResultSet)
	if !ok {
		return io.EOF
	}
	err := m.NextResultSet()
	if err == nil {
		r.readColumns()
	}
	return err
}

func (r *rows) ColumnTypeScanType(index int) reflect.Type {
	if m, ok := r.r.(driver.RowsColumnTypeScanType); ok {
		return m.ColumnTypeScanType(index)
	}
	return reflect.TypeFor[any]()
}

func (r *rows) ColumnTypeDatabaseTypeName(index int) string {
	if m, ok := r.r.(driver.RowsColumnTypeDatabaseTypeName); ok {
		return m.ColumnTypeDatabaseTypeName(index)
	}
	return ""
}

func (r *rows) ColumnTypeLength(index int) (int64, bool) {
	if m, ok := r.r.(driver.RowsColumnTypeLength); ok {
		return m.ColumnTypeLength(index)
	}
	return 0, false
}

func (r *rows) ColumnTypeNullable(index int) (nullable, ok bool) {
	if m, ok := r.r.(driver.RowsColumnTypeNullable); ok {
		return m.ColumnTypeNullable(index)
	}
	return false, false
}

func (r *rows) ColumnTypePrecisionScale(index int) (precision, scale int64, ok bool) {
	if m, ok := r.r.(driver.RowsColumnTypePrecisionScale); ok {
		return m.ColumnTypePrecisionScale(index)
	}
	return 0, 0, false
}
