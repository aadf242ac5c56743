// Package drivertest runs racewaysql on real drivers and databases: pgx's stdlib on a throwaway
// PostgreSQL, modernc.org/sqlite, go-sql-driver/mysql on a throwaway MariaDB, and GORM on top.
// It is a module of its own so that racewaysql's module requires nothing but the core SDK (and
// keeps its Go version): these drivers are what its tests need, not what its users download.
package drivertest
