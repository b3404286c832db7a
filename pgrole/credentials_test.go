package pgrole_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/goodgo/rotation/pgrole"
	"github.com/jackc/pgx/v5"
)

func TestCredentialFiles(t *testing.T) {
	dir := t.TempDir()
	dsn := filepath.Join(dir, "dsn")
	pw := filepath.Join(dir, "pw")
	user := filepath.Join(dir, "user")
	_ = os.WriteFile(dsn, []byte("postgres://app_v2:s3cr3t-pw@db.example:5432/goodgo\n"), 0o600)
	_ = os.WriteFile(pw, []byte("hunter2-pw\n"), 0o600)
	_ = os.WriteFile(user, []byte("app_v3"), 0o600)
	cfg, _ := pgx.ParseConfig("postgres://old:old@127.0.0.1:6432/goodgo")
	if err := pgrole.DSNFile(dsn)(context.Background(), cfg); err != nil || cfg.User != "app_v2" || cfg.Password != "s3cr3t-pw" || cfg.Host != "127.0.0.1" {
		t.Fatalf("DSNFile: %v %s@%s", err, cfg.User, cfg.Host)
	}
	if err := pgrole.PasswordFile(pw, user)(context.Background(), cfg); err != nil || cfg.User != "app_v3" || cfg.Password != "hunter2-pw" {
		t.Fatalf("PasswordFile: %v", err)
	}
	_ = os.WriteFile(dsn, []byte("postgres://u:s3cr3t-pw@[bad\n"), 0o600)
	err := pgrole.DSNFile(dsn)(context.Background(), cfg)
	if !errors.Is(err, pgrole.ErrCredentials) || strings.Contains(err.Error(), "s3cr3t") {
		t.Fatalf("bad DSN: %v", err)
	}
	_ = os.WriteFile(pw, nil, 0o600)
	if err := pgrole.PasswordFile(pw, "")(context.Background(), cfg); !errors.Is(err, pgrole.ErrCredentials) {
		t.Fatalf("empty file: %v", err)
	}
}

func FuzzParseDSNCredentials(f *testing.F) {
	f.Add("postgres://u:p@h/db")
	f.Add("user=u password=p host=h")
	f.Fuzz(func(t *testing.T, s string) {
		_, _, err := pgrole.ParseDSNCredentials(s)
		if err != nil && len(s) > 3 && strings.Contains(err.Error(), s) {
			t.Fatal("error echoes the DSN")
		}
	})
}
