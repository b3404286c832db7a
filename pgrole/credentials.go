package pgrole

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/jackc/pgx/v5"
)

// ErrCredentials is returned by the BeforeConnect hooks (DSNFile,
// PasswordFile) when a file is missing, empty or unparsable, as
// redisauth.ErrCredentials is by its credentials providers. The error never
// contains the content.
var ErrCredentials = errors.New("pgrole: credentials unusable")

// DSNFile returns a pgxpool BeforeConnect hook that reads a DSN
// (postgres://… or key=value) from path for every new connection and uses
// its user and password; host, database and TLS stay those of the pool's
// config. Write the file atomically (a Kubernetes secret volume does): pods
// move to a new role as their connections recycle (MaxConnLifetime, or
// pool.Reset()), with no restart.
//
//	cfg, _ := pgxpool.ParseConfig(dsn)
//	cfg.BeforeConnect = pgrole.DSNFile("/etc/app/db/dsn")
func DSNFile(path string) func(context.Context, *pgx.ConnConfig) error {
	return func(_ context.Context, cfg *pgx.ConnConfig) error {
		text, err := readCredential(path)
		if err != nil {
			return err
		}
		user, password, err := ParseDSNCredentials(text)
		if err != nil {
			return fmt.Errorf("%w: %s: %w", ErrCredentials, path, err)
		}
		cfg.User = user
		cfg.Password = password
		return nil
	}
}

// PasswordFile returns a BeforeConnect hook that reads the password from
// path, and the user from userPath when it is not "" (so both can move to a
// new role). One trailing newline is stripped from each.
func PasswordFile(path, userPath string) func(context.Context, *pgx.ConnConfig) error {
	return func(_ context.Context, cfg *pgx.ConnConfig) error {
		pw, err := readCredential(path)
		if err != nil {
			return err
		}
		if userPath != "" {
			user, err := readCredential(userPath)
			if err != nil {
				return err
			}
			if err := ValidateName(user); err != nil {
				return fmt.Errorf("%w: %s: %w", ErrCredentials, userPath, err)
			}
			cfg.User = user
		}
		cfg.Password = pw
		return nil
	}
}

// ParseDSNCredentials returns the user and password of a DSN. The error
// never contains the DSN.
func ParseDSNCredentials(dsn string) (user, password string, err error) {
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		return "", "", errors.New("not a valid DSN (details withheld: it may contain a password)")
	}
	if cfg.User == "" {
		return "", "", errors.New("the DSN names no user")
	}
	return cfg.User, cfg.Password, nil
}

func readCredential(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("%w: %w", ErrCredentials, err)
	}
	s := strings.TrimSuffix(strings.TrimSuffix(string(b), "\n"), "\r")
	if s == "" {
		return "", fmt.Errorf("%w: %s is empty", ErrCredentials, path)
	}
	return s, nil
}
