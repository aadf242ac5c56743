package drivertest

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/raceway-dev/raceway/sdks/go/raceway"
	"github.com/raceway-dev/raceway/sdks/go/racewaysql"
	"gorm.io/driver/postgres"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"
)

// openPostgres is a wrapped pgx pool on a products table of its own schema.
func openPostgres(t *testing.T) *sql.DB {
	t.Helper()
	url := postgresURL(t)
	schema := strings.ToLower(strings.NewReplacer("/", "_").Replace(t.Name()))
	setup, err := sql.Open("pgx", url)
	if err != nil {
		t.Fatal(err)
	}
	defer setup.Close()
	for _, s := range []string{
		fmt.Sprintf("DROP SCHEMA IF EXISTS %s CASCADE", schema),
		fmt.Sprintf("CREATE SCHEMA %s", schema),
		fmt.Sprintf("CREATE TABLE %s.products (id bigint PRIMARY KEY, name text, stock integer, price double precision, updated timestamptz, tags jsonb)", schema),
		fmt.Sprintf("INSERT INTO %s.products VALUES (1, 'mug', 10, 4.5, '2024-01-02T03:04:05Z', '{\"b\":1,\"a\":2}'), (2, 'tea', 3, 2, NULL, NULL)", schema),
	} {
		if _, err := setup.Exec(s); err != nil {
			t.Fatal(err)
		}
	}
	db, err := racewaysql.Open("pgx", url+"&search_path="+schema)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func TestPostgresReadModifyWriteWithPgx(t *testing.T) {
	tr := newTracer(t)
	db := openPostgres(t)
	updated := time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)
	tr.traced(func(ctx context.Context) {
		var stock int
		if err := db.QueryRowContext(ctx, "SELECT stock FROM products WHERE id = $1", 1).Scan(&stock); err != nil {
			t.Error(err)
		}
		if _, err := db.ExecContext(ctx, "UPDATE products SET stock = $1, updated = $2 WHERE id = $3", stock-1, updated, int64(1)); err != nil {
			t.Error(err)
		}
	})
	qs := tr.queries()
	if len(qs) != 2 {
		t.Fatalf("%d events: %q", len(qs), statements(qs))
	}
	read, write := qs[0], qs[1]
	if read.System != "postgresql" || !strings.HasPrefix(read.Connection, "pgx#") || read.Statement != "SELECT stock FROM products WHERE id = $1" {
		t.Errorf("%+v", read)
	}
	if read.Params[0].Digest != "f162c67c130a86a1" || read.Returned[0]["stock"] != digest(10) || *read.Rows != 1 {
		t.Errorf("read %+v", read)
	}
	// A time is its ISO 8601 form in UTC with milliseconds, as the TypeScript drivers send it.
	if write.Params[0].Digest != digest(9) || write.Params[1].Digest != digest("2024-01-02T03:04:05.000Z") || write.Params[2].Digest != digest(1) {
		t.Errorf("write params %+v", write.Params)
	}
	// The database the connection is on, as the TypeScript pg instrumentation names it.
	if read.Database != "postgres" {
		t.Errorf("database %q", read.Database)
	}
	if *write.Rows != 1 || write.Connection != read.Connection {
		t.Errorf("write %+v", write)
	}
}

func TestPostgresReturnedTypes(t *testing.T) {
	tr := newTracer(t)
	db := openPostgres(t)
	tr.traced(func(ctx context.Context) {
		rows, err := db.QueryContext(ctx, "SELECT id, name, price, updated, tags FROM products WHERE id = $1", 1)
		if err != nil {
			t.Error(err)
			return
		}
		defer rows.Close()
		// ColumnTypes works through the wrapper as on the bare driver.
		types, err := rows.ColumnTypes()
		if err != nil || types[0].DatabaseTypeName() != "INT8" || types[4].DatabaseTypeName() != "JSONB" {
			t.Errorf("column types %v %v", types, err)
		}
		for rows.Next() {
		}
	})
	qs := tr.queries()
	want := map[string]string{
		"id": digest(1), "name": digest("mug"), "price": digest(4.5),
		"updated": digest("2024-01-02T03:04:05.000Z"), "tags": digest(map[string]any{"a": 2, "b": 1}),
	}
	if len(qs) != 1 || !reflect.DeepEqual(qs[0].Returned[0], want) {
		t.Fatalf("returned %v\nwant %v", qs[0].Returned, want)
	}
}

func TestPostgresTransactions(t *testing.T) {
	tr := newTracer(t)
	db := openPostgres(t)
	tr.traced(func(ctx context.Context) {
		tx, err := db.BeginTx(ctx, &sql.TxOptions{Isolation: sql.LevelSerializable})
		if err != nil {
			t.Error(err)
			return
		}
		var stock int
		_ = tx.QueryRowContext(ctx, "SELECT stock FROM products WHERE id = $1 FOR UPDATE", 1).Scan(&stock)
		_, _ = tx.ExecContext(ctx, "SAVEPOINT s1")
		_, _ = tx.ExecContext(ctx, "UPDATE products SET stock = $1 WHERE id = $2", stock-1, 1)
		_, _ = tx.ExecContext(ctx, "RELEASE SAVEPOINT s1")
		if err := tx.Commit(); err != nil {
			t.Error(err)
		}
		tx, _ = db.BeginTx(ctx, &sql.TxOptions{Isolation: sql.LevelRepeatableRead, ReadOnly: true})
		_ = tx.Rollback()
		tx, _ = db.BeginTx(ctx, nil)
		_ = tx.Rollback()
	})
	qs := tr.queries()
	want := []string{"BEGIN ISOLATION LEVEL SERIALIZABLE", "SELECT stock FROM products WHERE id = $1 FOR UPDATE",
		"SAVEPOINT s1", "UPDATE products SET stock = $1 WHERE id = $2", "RELEASE SAVEPOINT s1", "COMMIT",
		"BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", "ROLLBACK", "BEGIN", "ROLLBACK"}
	if got := statements(qs); !reflect.DeepEqual(got, want) {
		t.Fatalf("statements %q\nwant %q", got, want)
	}
	for _, q := range qs[1:6] {
		if q.Connection != qs[0].Connection {
			t.Errorf("%q on %s, its BEGIN on %s", q.Statement, q.Connection, qs[0].Connection)
		}
	}
}

func TestPostgresSerializationFailureIsRecordedWithItsSQLState(t *testing.T) {
	tr := newTracer(t)
	db := openPostgres(t)
	var commitErr error
	tr.traced(func(ctx context.Context) {
		a, _ := db.BeginTx(ctx, &sql.TxOptions{Isolation: sql.LevelSerializable})
		b, _ := db.BeginTx(ctx, &sql.TxOptions{Isolation: sql.LevelSerializable})
		var x, y int
		_ = a.QueryRowContext(ctx, "SELECT stock FROM products WHERE id = 1").Scan(&x)
		_ = b.QueryRowContext(ctx, "SELECT stock FROM products WHERE id = 1").Scan(&y)
		_, _ = a.ExecContext(ctx, "UPDATE products SET stock = $1 WHERE id = 1", x-1)
		_ = a.Commit()
		_, commitErr = b.ExecContext(ctx, "UPDATE products SET stock = $1 WHERE id = 1", y-1)
		_ = b.Rollback()
	})
	var pgErr *pgconn.PgError
	if !errors.As(commitErr, &pgErr) || pgErr.Code != "40001" {
		t.Fatalf("the driver's error is not handed back as it was: %T %v", commitErr, commitErr)
	}
	var failed *dbQuery
	qs := tr.queries()
	for i := range qs {
		if qs[i].Error != nil {
			failed = &qs[i]
		}
	}
	if failed == nil || failed.Error.Type != "40001" || !strings.Contains(failed.Error.Message, "serialize") {
		t.Fatalf("%+v", qs)
	}
}

// panicsOnce is a parameter whose first Value call (the recorder's) panics, and whose JSON
// cannot be made: recording it fails; the query must not.
type panicsOnce struct{ calls *int }

func (p panicsOnce) Value() (driver.Value, error) {
	*p.calls++
	if *p.calls == 1 {
		panic("recorder's call")
	}
	return int64(1), nil
}

func (p panicsOnce) MarshalJSON() ([]byte, error) { panic("no JSON") }

func TestPostgresAFailingRecorderNeverFailsTheQuery(t *testing.T) {
	tr := newTracer(t, raceway.WithCaptureValues(true))
	db := openPostgres(t)
	var name string
	var err error
	tr.traced(func(ctx context.Context) {
		err = db.QueryRowContext(ctx, "SELECT name FROM products WHERE id = $1", panicsOnce{calls: new(int)}).Scan(&name)
	})
	if err != nil || name != "mug" {
		t.Fatalf("the query failed: %v %q", err, name)
	}
	// The statement is still recorded; the parameter that could not be digested is left out.
	if qs := tr.queries(); len(qs) != 1 || qs[0].Statement != "SELECT name FROM products WHERE id = $1" {
		t.Fatalf("%+v", qs)
	}
}

func TestPostgresOpenDBWithPgxConnector(t *testing.T) {
	tr := newTracer(t)
	url := postgresURL(t)
	connector, err := stdlib.GetDefaultDriver().(driver.DriverContext).OpenConnector(url)
	if err != nil {
		t.Fatal(err)
	}
	db, err := racewaysql.OpenDB(connector, racewaysql.WithDatabase("postgres"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	tr.traced(func(ctx context.Context) {
		if err := db.PingContext(ctx); err != nil {
			t.Error(err)
		}
		_, _ = db.ExecContext(ctx, "SELECT $1::int", 5)
	})
	qs := tr.queries()
	if len(qs) != 1 || qs[0].Database != "postgres" || !strings.HasPrefix(qs[0].Connection, "pgx#") || qs[0].Params[0].Digest != digest(5) {
		t.Fatalf("%+v", qs)
	}
}

type Product struct {
	ID    int64 `gorm:"primaryKey"`
	Name  string
	Stock int
}

func TestGORMIsTracedThroughTheWrappedPool(t *testing.T) {
	tr := newTracer(t)
	db := openPostgres(t)
	gdb, err := gorm.Open(postgres.New(postgres.Config{Conn: db}), &gorm.Config{Logger: logger.Discard})
	if err != nil {
		t.Fatal(err)
	}
	tr.traced(func(ctx context.Context) {
		var p Product
		if err := gdb.WithContext(ctx).First(&p, 1).Error; err != nil {
			t.Error(err)
			return
		}
		err := gdb.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
			return tx.Model(&Product{}).Where("id = ?", p.ID).Update("stock", p.Stock-1).Error
		})
		if err != nil {
			t.Error(err)
		}
	})
	qs := tr.queries()
	want := []string{
		`SELECT * FROM "products" WHERE "products"."id" = $1 ORDER BY "products"."id" LIMIT $2`,
		"BEGIN",
		`UPDATE "products" SET "stock"=$1 WHERE id = $2`,
		"COMMIT",
	}
	if got := statements(qs); !reflect.DeepEqual(got, want) {
		t.Fatalf("statements %q\nwant %q", got, want)
	}
	if qs[0].Params[0].Digest != digest(1) || qs[0].Returned[0]["stock"] != digest(10) || qs[2].Params[0].Digest != digest(9) {
		t.Errorf("%+v", qs)
	}
	if qs[1].Connection != qs[2].Connection || qs[2].Connection != qs[3].Connection {
		t.Errorf("the transaction moved: %s %s %s", qs[1].Connection, qs[2].Connection, qs[3].Connection)
	}
}
