package raceway

import (
	"context"
	"database/sql/driver"
	"encoding/hex"
	"encoding/json"
	"strconv"
	"sync"
	"time"
)

const kindDBQuery = "db_query"

// The database systems a db_query event names (spec 4.3).
const (
	SystemPostgreSQL = "postgresql"
	SystemMySQL      = "mysql"
	SystemSQLite     = "sqlite"
)

// Bounds of a db_query event (event.schema.json).
const (
	// MaxStatementLength is the longest statement text an event carries, in characters.
	MaxStatementLength = 4096
	maxQueryParams     = 1000
	maxParamName       = 128
	maxConnection      = 128
	maxDatabase        = 256
	maxReturnedRows    = 10
	maxReturnedColumns = 32
	maxQueryErrorText  = 2048
)

// Query is what a driver instrumentation knows when it sends a statement.
type Query struct {
	// System is SystemPostgreSQL, SystemMySQL or SystemSQLite.
	System string
	// Statement is the text as sent, placeholders included; cut to 4096 characters.
	Statement string
	// Connection is the driver connection, unique in the process (NewConnectionID): the
	// collector follows transactions by it.
	Connection string
	// Database is the database name, when the driver knows it.
	Database string
}

// QueryInFlight is a statement sent and not answered yet, made by StartQuery. Its methods are
// for one goroutine, the one that runs the statement; End records it once.
type QueryInFlight struct {
	x         *execContext
	digestKey string
	values    bool
	started   time.Time
	data      dbQueryData
	returned  bool // the statement returns rows: returned is [] rather than absent
	ended     bool
}

type dbParam struct {
	Digest string
	Name   string
	Value  json.RawMessage // nil unless capture_values is on
}

type dbError struct{ Type, Message string }

// dbQueryData is the data of a db_query event, encoded by appendJSON (a query is the most
// frequent event there is: no reflection on its way to the wire).
type dbQueryData struct {
	System             string
	Statement          string
	StatementTruncated bool
	Params             []dbParam
	Connection         string
	Database           string
	Rows               *int64
	Returned           [][]digestedColumn // nil: the statement returns no rows
	Error              *dbError
	DurationMs         float64
}

// digestedColumn is one column of a returned row, in the order the driver gave them.
type digestedColumn struct{ name, digest string }

func (d dbQueryData) appendJSON(b []byte) []byte {
	b = append(b, `{"system":`...)
	b = appendJSONString(b, d.System)
	b = append(b, `,"statement":`...)
	b = appendJSONString(b, d.Statement)
	if d.StatementTruncated {
		b = append(b, `,"statement_truncated":true`...)
	}
	if len(d.Params) > 0 {
		b = append(b, `,"params":[`...)
		for i, p := range d.Params {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, `{"digest":"`...)
			b = append(b, p.Digest...)
			b = append(b, '"')
			if p.Name != "" {
				b = append(b, `,"name":`...)
				b = appendJSONString(b, p.Name)
			}
			if p.Value != nil {
				b = append(b, `,"value":`...)
				b = append(b, p.Value...)
			}
			b = append(b, '}')
		}
		b = append(b, ']')
	}
	b = append(b, `,"connection":`...)
	b = appendJSONString(b, d.Connection)
	if d.Database != "" {
		b = append(b, `,"database":`...)
		b = appendJSONString(b, d.Database)
	}
	b = append(b, `,"rows":`...)
	if d.Rows == nil {
		b = append(b, "null"...)
	} else {
		b = strconv.AppendInt(b, *d.Rows, 10)
	}
	if d.Returned != nil {
		b = append(b, `,"returned":[`...)
		for i, row := range d.Returned {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, '{')
			for j, c := range row {
				if j > 0 {
					b = append(b, ',')
				}
				b = appendJSONString(b, c.name)
				b = append(b, `:"`...)
				b = append(b, c.digest...)
				b = append(b, '"')
			}
			b = append(b, '}')
		}
		b = append(b, ']')
	}
	if d.Error != nil {
		b = append(b, `,"error":{"type":`...)
		b = appendJSONString(b, d.Error.Type)
		b = append(b, `,"message":`...)
		b = appendJSONString(b, d.Error.Message)
		b = append(b, '}')
	}
	b = append(b, `,"duration_ms":`...)
	b = appendDuration(b, d.DurationMs)
	return append(b, '}')
}

// QueryCapture reports whether a statement sent with ctx now would be recorded: ctx carries a
// sampled Raceway context whose client is enabled and captures queries. The cheap first check
// of a driver instrumentation, before it looks at any argument.
func QueryCapture(ctx context.Context) bool {
	return queryContext(ctx) != nil
}

func queryContext(ctx context.Context) *execContext {
	x := recording(ctx)
	if x == nil || x.client == nil || x.client.cfg.disabled || !x.client.cfg.captureQueries {
		return nil
	}
	return x
}

// StartQuery starts recording a statement in the context ctx carries; call End when the driver
// answers. It returns nil (and every method of a nil *QueryInFlight does nothing) when nothing
// is to be recorded: outside a sampled Raceway context, with a disabled client, with query
// capture off, or for an empty statement. The racewaysql package calls it for every statement
// of a database/sql connection; call it yourself for a driver Raceway does not wrap:
//
//	q := raceway.StartQuery(ctx, raceway.Query{System: raceway.SystemPostgreSQL,
//		Statement: sql, Connection: connID})
//	q.AddParam("", id)
//	tag, err := conn.Exec(ctx, sql, id)
//	q.End(tag.RowsAffected(), err, "")
func StartQuery(ctx context.Context, q Query) *QueryInFlight {
	x := queryContext(ctx)
	if x == nil || q.Statement == "" {
		return nil
	}
	cfg := &x.client.cfg
	f := &QueryInFlight{x: x, digestKey: cfg.digestKey, values: cfg.captureValues, started: time.Now()}
	statement := cutChars(q.Statement, MaxStatementLength)
	connection := q.Connection
	if connection == "" {
		connection = "unknown"
	}
	f.data = dbQueryData{
		System:             q.System,
		Statement:          statement,
		StatementTruncated: len(statement) < len(q.Statement),
		Connection:         cutString(connection, maxConnection),
		Database:           cutString(q.Database, maxDatabase),
	}
	return f
}

// AddParam adds the next parameter, in order (named ones after the positional ones): its
// digest, its name without a prefix (`id` for `:id`, "" for a positional one), and its raw
// value when capture_values is on. Beyond 1000 parameters the rest are left out.
func (q *QueryInFlight) AddParam(name string, value any) {
	if q == nil || len(q.data.Params) == maxQueryParams {
		return
	}
	defer recoverRecording()
	p := dbParam{Digest: ParamDigest(value, q.digestKey), Name: cutString(name, maxParamName)}
	if q.values {
		p.Value = rawParamValue(value)
	}
	q.data.Params = append(q.data.Params, p)
}

// ReturnsRows marks the statement as one that returns rows (a query): its event carries
// `returned`, empty when no row came back.
func (q *QueryInFlight) ReturnsRows() {
	if q != nil {
		q.returned = true
	}
}

// AddRow digests one row the statement returned, column by column, as the driver hands it
// over (the values need not outlive the call: they are digested now). Only the first 10 rows
// and 32 columns are kept.
func (q *QueryInFlight) AddRow(columns []string, values []driver.Value) {
	if q == nil {
		return
	}
	q.returned = true
	if len(q.data.Returned) == maxReturnedRows {
		return
	}
	defer recoverRecording()
	row := make([]digestedColumn, 0, min(len(values), maxReturnedColumns))
columns:
	for i, v := range values {
		if len(row) == maxReturnedColumns {
			break
		}
		column := strconv.Itoa(i)
		if i < len(columns) {
			column = columns[i]
		}
		for _, c := range row {
			if c.name == column {
				continue columns // a name given twice (a join): the first one's value
			}
		}
		row = append(row, digestedColumn{column, ParamDigest(v, q.digestKey)})
	}
	q.data.Returned = append(q.data.Returned, row)
}

// End records the db_query event, the first time it is called: rows returned or affected
// (negative: unknown), and the error the driver answered with, whose type is errType when the
// driver has a code for it (SQLSTATE `40001`, `SQLITE_BUSY`, MySQL `1213`), else the error's
// Go type. Never panics into the application.
func (q *QueryInFlight) End(rows int64, err error, errType string) {
	if q == nil || q.ended {
		return
	}
	q.ended = true
	defer recoverRecording()
	q.data.DurationMs = durationMs(time.Since(q.started))
	if rows >= 0 {
		q.data.Rows = &rows
	}
	if q.returned && q.data.Returned == nil {
		q.data.Returned = [][]digestedColumn{}
	}
	if err != nil {
		info := errorInfo(err, "")
		if errType == "" {
			errType = info.Type
		}
		q.data.Error = &dbError{
			Type:    cutString(errType, maxErrorType),
			Message: cutString(info.Message, maxQueryErrorText),
		}
	}
	q.x.record(kindDBQuery, q.data, nil)
}

// recoverRecording keeps a panic in the recording path (a Valuer or a JSON marshaller of the
// application's) out of the application: recording is best effort.
func recoverRecording() { _ = recover() }

// rawParamValue is a parameter as an event carries it with capture_values on: bytes as hex,
// anything else as JSON (1 KiB at most).
func rawParamValue(v any) json.RawMessage {
	if valuer, ok := v.(driver.Valuer); ok {
		if resolved, ok := resolveValuer(valuer); ok {
			v = resolved
		}
	}
	if b, ok := v.([]byte); ok && b != nil {
		return eventValue(hex.EncodeToString(b))
	}
	if v == nil {
		return json.RawMessage("null")
	}
	return eventValue(v)
}

// cutChars cuts s to at most max characters (the statement bound counts characters).
func cutChars(s string, max int) string {
	if len(s) <= max {
		return s
	}
	n := 0
	for i := range s {
		if n == max {
			return s[:i]
		}
		n++
	}
	return s
}

// connectionIDs numbers connections per prefix, from 1, in the order they are opened.
var connectionIDs = struct {
	sync.Mutex
	next map[string]uint64
}{next: map[string]uint64{}}

// NewConnectionID is a new connection id, unique in the process: `<prefix>#<n>` (`pgx#3`),
// numbered from 1 per prefix. A driver instrumentation takes one per physical connection and
// keeps it for the connection's life, pooled or not.
func NewConnectionID(prefix string) string {
	connectionIDs.Lock()
	connectionIDs.next[prefix]++
	n := connectionIDs.next[prefix]
	connectionIDs.Unlock()
	return prefix + "#" + strconv.FormatUint(n, 10)
}
