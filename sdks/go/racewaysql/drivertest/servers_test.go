package drivertest

import (
	"database/sql"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Throwaway database servers for the tests, started once per test binary when a test first
// asks, stopped by TestMain. Missing binaries skip the tests that need them, unless
// RACEWAY_REQUIRE_PG=1 or RACEWAY_REQUIRE_MYSQL=1 (CI), where missing is a failure.

var (
	servers   sync.Mutex
	pgURL     string
	pgErr     error
	pgStarted bool
	myDSN     string
	myErr     error
	myStarted bool
	stops     []func()
)

func TestMain(m *testing.M) {
	code := m.Run()
	for _, stop := range stops {
		stop()
	}
	os.Exit(code)
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// postgresURL is the URL of a throwaway PostgreSQL cluster (initdb + pg_ctl in a temp dir,
// trust authentication, fsync off), or skips the test.
func postgresURL(t *testing.T) string {
	t.Helper()
	servers.Lock()
	defer servers.Unlock()
	if !pgStarted {
		pgStarted = true
		pgURL, pgErr = startPostgres()
	}
	if pgErr != nil {
		if os.Getenv("RACEWAY_REQUIRE_PG") == "1" {
			t.Fatalf("RACEWAY_REQUIRE_PG=1 but %v", pgErr)
		}
		t.Skipf("no PostgreSQL: %v", pgErr)
	}
	return pgURL
}

func findPgBin() string {
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin/pg_ctl")
	sort.Slice(dirs, func(i, j int) bool {
		a, _ := strconv.Atoi(filepath.Base(filepath.Dir(filepath.Dir(dirs[i]))))
		b, _ := strconv.Atoi(filepath.Base(filepath.Dir(filepath.Dir(dirs[j]))))
		return a > b
	})
	if len(dirs) > 0 {
		return filepath.Dir(dirs[0])
	}
	if p, err := exec.LookPath("pg_ctl"); err == nil {
		return filepath.Dir(p)
	}
	return ""
}

func startPostgres() (string, error) {
	bin := findPgBin()
	if bin == "" {
		return "", fmt.Errorf("initdb and pg_ctl not found (/usr/lib/postgresql/*/bin or PATH)")
	}
	dir, err := os.MkdirTemp("", "raceway-go-pg-")
	if err != nil {
		return "", err
	}
	var cred *syscall.Credential
	if os.Geteuid() == 0 {
		// PostgreSQL refuses to run as root: its files belong to postgres.
		u, err := user.Lookup("postgres")
		if err != nil {
			return "", fmt.Errorf("running as root and no postgres user: %v", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		if err := os.Chown(dir, uid, gid); err != nil {
			return "", err
		}
		cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
	}
	run := func(name string, args ...string) error {
		cmd := exec.Command(filepath.Join(bin, name), args...)
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("%s: %v\n%s", name, err, out)
		}
		return nil
	}
	port, err := freePort()
	if err != nil {
		return "", err
	}
	data := filepath.Join(dir, "data")
	if err := run("initdb", "-D", data, "-A", "trust", "-U", "postgres", "-E", "UTF8", "--no-sync"); err != nil {
		return "", err
	}
	opts := fmt.Sprintf("-p %d -k %s -c listen_addresses=127.0.0.1 -c fsync=off -c full_page_writes=off", port, dir)
	if err := run("pg_ctl", "-D", data, "-l", filepath.Join(dir, "postgres.log"), "-w", "-t", "60", "-o", opts, "start"); err != nil {
		return "", err
	}
	stops = append(stops, func() {
		_ = run("pg_ctl", "-D", data, "-m", "immediate", "-w", "stop")
		_ = os.RemoveAll(dir)
	})
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", port), nil
}

// mysqlDSN is the go-sql-driver/mysql DSN of a throwaway MariaDB (mariadb-install-db +
// mariadbd in a temp dir), or skips the test.
func mysqlDSN(t *testing.T) string {
	t.Helper()
	servers.Lock()
	defer servers.Unlock()
	if !myStarted {
		myStarted = true
		myDSN, myErr = startMariaDB()
	}
	if myErr != nil {
		if os.Getenv("RACEWAY_REQUIRE_MYSQL") == "1" {
			t.Fatalf("RACEWAY_REQUIRE_MYSQL=1 but %v", myErr)
		}
		t.Skipf("no MariaDB/MySQL: %v", myErr)
	}
	return myDSN
}

func findProgram(names ...string) string {
	for _, name := range names {
		for _, dir := range []string{"/usr/sbin", "/usr/bin", "/usr/local/sbin", "/usr/local/bin"} {
			if _, err := os.Stat(filepath.Join(dir, name)); err == nil {
				return filepath.Join(dir, name)
			}
		}
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

func startMariaDB() (string, error) {
	server := findProgram("mariadbd", "mysqld")
	installDB := findProgram("mariadb-install-db", "mysql_install_db")
	if server == "" || installDB == "" {
		return "", fmt.Errorf("mariadbd and mariadb-install-db not found")
	}
	dir, err := os.MkdirTemp("", "raceway-go-mariadb-")
	if err != nil {
		return "", err
	}
	data := filepath.Join(dir, "data")
	var asUser []string
	if os.Geteuid() == 0 {
		asUser = []string{"--user=root"}
	}
	install := exec.Command(installDB, append([]string{"--no-defaults", "--datadir=" + data,
		"--auth-root-authentication-method=normal", "--skip-test-db"}, asUser...)...)
	if out, err := install.CombinedOutput(); err != nil {
		return "", fmt.Errorf("%s: %v\n%s", installDB, err, out)
	}
	port, err := freePort()
	if err != nil {
		return "", err
	}
	cmd := exec.Command(server, append([]string{"--no-defaults", "--datadir=" + data,
		"--socket=" + filepath.Join(dir, "mysqld.sock"), "--pid-file=" + filepath.Join(dir, "mysqld.pid"),
		fmt.Sprintf("--port=%d", port), "--bind-address=127.0.0.1", "--skip-log-bin",
		"--innodb-buffer-pool-size=16M", "--log-error=" + filepath.Join(dir, "error.log")}, asUser...)...)
	if err := cmd.Start(); err != nil {
		return "", err
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	stop := func() {
		_ = cmd.Process.Kill()
		<-exited
		_ = os.RemoveAll(dir)
	}
	root := fmt.Sprintf("root@tcp(127.0.0.1:%d)/", port)
	deadline := time.Now().Add(30 * time.Second)
	for {
		db, err := sql.Open("mysql", root)
		if err == nil {
			err = db.Ping()
			if err == nil {
				_, err = db.Exec("CREATE DATABASE IF NOT EXISTS raceway_test")
			}
			db.Close()
		}
		if err == nil {
			break
		}
		select {
		case <-exited:
			log, _ := os.ReadFile(filepath.Join(dir, "error.log"))
			stop()
			return "", fmt.Errorf("%s exited: %s", server, log)
		default:
		}
		if time.Now().After(deadline) {
			stop()
			return "", fmt.Errorf("%s did not start: %v", server, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	stops = append(stops, stop)
	return root + "raceway_test", nil
}
