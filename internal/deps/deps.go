//go:build tools

// Package deps pins the project's chosen dependencies in go.mod while the
// packages that use them are being written; see README "Dependencies".
package deps

import (
	_ "github.com/fsnotify/fsnotify"
	_ "github.com/golang-jwt/jwt/v5"
	_ "github.com/jackc/pgx/v5/pgxpool"
	_ "github.com/prometheus/client_golang/prometheus"
	_ "github.com/redis/go-redis/v9"
	_ "github.com/stretchr/testify/require"
	_ "golang.org/x/crypto/chacha20poly1305"
	_ "golang.org/x/term"
	_ "golang.org/x/text/secure/precis"
)
