package integration

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strconv"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/convoy-ci/convoy/integration/model"
)

// parsePostgresURL checks that s is a postgres:// or postgresql:// URL.
func parsePostgresURL(s string) (*url.URL, error) {
	u, err := url.Parse(s)
	if err != nil {
		return nil, fmt.Errorf("parsing PostgreSQL URL: %w", err)
	}
	if u.Scheme != "postgres" && u.Scheme != "postgresql" {
		return nil, fmt.Errorf("PostgreSQL URL %q: scheme must be postgres:// or postgresql://", model.Redact(s))
	}
	return u, nil
}

// databaseURL returns admin with its database replaced by db (user, password, host and parameters kept)
// and the postgresql:// scheme.
func databaseURL(admin, db string) (string, error) {
	u, err := parsePostgresURL(admin)
	if err != nil {
		return "", err
	}
	// postgresql:// is the scheme every client takes (SQLAlchemy refuses postgres://).
	u.Scheme, u.Path, u.RawPath = "postgresql", "/"+db, ""
	return u.String(), nil
}

// connect opens an administrative connection to the server at admin.
func connect(ctx context.Context, admin string) (*pgx.Conn, error) {
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		return nil, fmt.Errorf("connecting to PostgreSQL at %q: %w", model.Redact(admin), err)
	}
	return conn, nil
}

// createDatabase creates database name. An existing database of that name is an error (it is not
// ours to drop later).
func createDatabase(ctx context.Context, conn *pgx.Conn, name string) error {
	_, err := conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize())
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "42P04" {
		return fmt.Errorf("creating database %q: it already exists (left over from a run with the same run id?): %w", name, err)
	}
	if err != nil {
		return fmt.Errorf("creating database %q: %w", name, err)
	}
	return nil
}

// dropDatabase drops database name, disconnecting its sessions first (WITH (FORCE) on PostgreSQL 13
// and later; pg_terminate_backend before).
func dropDatabase(ctx context.Context, conn *pgx.Conn, name string) error {
	ident := pgx.Identifier{name}.Sanitize()
	var v string
	if err := conn.QueryRow(ctx, "SHOW server_version_num").Scan(&v); err != nil {
		return fmt.Errorf("dropping database %q: reading server version: %w", name, err)
	}
	if n, _ := strconv.Atoi(v); n >= 130000 {
		if _, err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+ident+" WITH (FORCE)"); err != nil {
			return fmt.Errorf("dropping database %q: %w", name, err)
		}
		return nil
	}
	if _, err := conn.Exec(ctx, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()", name); err != nil {
		return fmt.Errorf("disconnecting the sessions of database %q: %w", name, err)
	}
	if _, err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+ident); err != nil {
		return fmt.Errorf("dropping database %q: %w", name, err)
	}
	return nil
}
