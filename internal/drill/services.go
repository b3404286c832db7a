package drill

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"

	"github.com/goodgo/rotation/keygen"
)

// scratchDB creates a database for the drill's Postgres phases and returns a
// superuser DSN to it and a function that drops it.
func scratchDB(ctx context.Context, adminURL string) (dsn string, drop func(), err error) {
	// The scratch database and the rotated roles' DSNs are derived by
	// editing the URL, so a key=value DSN cannot be used.
	if u, err := url.Parse(adminURL); err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		return "", nil, errors.New("the drill needs the Postgres DSN as a URL (postgres://user@host:5432/db?sslmode=…), not key=value")
	}
	admin, err := pgx.Connect(ctx, adminURL)
	if err != nil {
		return "", nil, unreachable("Postgres", err)
	}
	defer admin.Close(ctx)
	suffix, err := keygen.New(keygen.DB)
	if err != nil {
		return "", nil, err
	}
	name := "rotation_drill_" + strings.ToLower(suffix[:10])
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		return "", nil, fmt.Errorf("create scratch database: %w", err)
	}
	u, err := url.Parse(adminURL)
	if err != nil {
		return "", nil, err
	}
	u.Path = "/" + name
	drop = func() {
		c, err := pgx.Connect(context.Background(), adminURL)
		if err != nil {
			return
		}
		defer c.Close(context.Background())
		_, _ = c.Exec(context.Background(), "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)")
	}
	return u.String(), drop, nil
}

// errUnreachable marks a service the drill could not reach: the phase is
// skipped, not failed.
type errUnreachable struct {
	service string
	err     error
}

func (e errUnreachable) Error() string {
	return e.service + " unreachable: " + redactURLs(e.err.Error())
}

func unreachable(service string, err error) error { return errUnreachable{service, err} }

// redactURLs removes passwords from any URL in s.
func redactURLs(s string) string {
	for _, f := range strings.Fields(s) {
		if u, err := url.Parse(strings.Trim(f, `"'(),`)); err == nil && u.User != nil {
			if _, ok := u.User.Password(); ok {
				s = strings.ReplaceAll(s, f, strings.Replace(f, u.User.String()+"@", u.User.Username()+":[redacted]@", 1))
			}
		}
	}
	return s
}

// pgPool connects to dsn, or says why it cannot.
func pgPool(ctx context.Context, dsn string) (*pgxpool.Pool, error) {
	cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	pool, err := pgxpool.New(cctx, dsn)
	if err == nil {
		err = pool.Ping(cctx)
	}
	if err != nil {
		if pool != nil {
			pool.Close()
		}
		return nil, unreachable("Postgres", err)
	}
	return pool, nil
}

// redisClient connects to rawURL, or says why it cannot.
func redisClient(ctx context.Context, rawURL string) (*redis.Client, error) {
	opt, err := redis.ParseURL(rawURL)
	if err != nil {
		return nil, unreachable("Redis", fmt.Errorf("REDIS_URL is not a redis:// URL"))
	}
	c := redis.NewClient(opt)
	cctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	if err := c.Ping(cctx).Err(); err != nil {
		c.Close()
		return nil, unreachable("Redis", err)
	}
	return c, nil
}
