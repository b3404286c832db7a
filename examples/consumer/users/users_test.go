package users_test

import (
	"context"
	"errors"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"example.com/consumer/users"

	"github.com/goodgo/rotation/fieldcrypt"
	"github.com/goodgo/rotation/fieldcrypt/fieldcrypttest"
	"github.com/goodgo/rotation/pgrole/pgroletest"
)

func newRepo(t *testing.T, keys *fieldcrypt.Keyring) (*users.Repo, *pgroletest.DB) {
	t.Helper()
	db := pgroletest.New(t, pgroletest.Options{
		Setup: func(ctx context.Context, c *pgx.Conn, role string) error {
			_, err := c.Exec(ctx, users.Schema+`; GRANT SELECT, INSERT, UPDATE ON users TO `+pgx.Identifier{role}.Sanitize())
			return err
		},
	})
	pool, err := pgxpool.NewWithConfig(context.Background(), db.PoolConfig(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	return &users.Repo{DB: pool, Keys: keys}, db
}

// Mid-rotation the repository reads rows sealed under the old key and writes
// under the new one.
func TestPhoneMidRotation(t *testing.T) {
	ctx := context.Background()
	rot := fieldcrypttest.NewRotation(t)
	repo, _ := newRepo(t, rot.Promoted(t))
	old := rot.Seal(t, rot.Old, []byte("0901234567"), fieldcrypt.Text, fieldcrypt.Binding{Table: "users", Column: "phone", Row: "1"})
	if _, err := repo.DB.Exec(ctx, `INSERT INTO users VALUES (1, $1)`, string(old)); err != nil {
		t.Fatal(err)
	}
	if p, err := repo.Phone(ctx, 1); err != nil || p != "0901234567" {
		t.Fatalf("row on the old key: %q %v", p, err)
	}
	if err := repo.Save(ctx, 2, "0907654321"); err != nil {
		t.Fatal(err)
	}
	var stored string
	_ = repo.DB.QueryRow(ctx, `SELECT phone FROM users WHERE id = 2`).Scan(&stored)
	h, err := fieldcrypt.ParseHeader([]byte(stored), fieldcrypt.Text)
	if err != nil || h.KeyID != fieldcrypttest.ID(t, rot.New) {
		t.Fatalf("new row not under the new key: %v", err)
	}
}

// A damaged value is an error, never a wrong phone number.
func TestDamagedPhoneRefused(t *testing.T) {
	ctx := context.Background()
	rot := fieldcrypttest.NewRotation(t)
	repo, _ := newRepo(t, rot.Promoted(t))
	b := fieldcrypt.Binding{Table: "users", Column: "phone", Row: "7"}
	for _, d := range rot.Damaged(t, []byte("0901234567"), fieldcrypt.Text, b) {
		if _, err := repo.DB.Exec(ctx, `INSERT INTO users VALUES (7, $1) ON CONFLICT (id) DO UPDATE SET phone = excluded.phone`, string(d.Value)); err != nil {
			t.Fatal(err)
		}
		if p, err := repo.Phone(ctx, 7); !errors.Is(err, d.Err) || p != "" {
			t.Errorf("%s: %q %v, want %v", d.Name, p, err, d.Err)
		}
	}
}

// The repository follows a database password rotation without an error.
func TestFollowsRoleRotation(t *testing.T) {
	ctx := context.Background()
	rot := fieldcrypttest.NewRotation(t)
	repo, db := newRepo(t, rot.After(t))
	if err := repo.Save(ctx, 1, "0901234567"); err != nil {
		t.Fatal(err)
	}
	r := db.Rotate(t, pgroletest.RotateOptions{Cutover: func(context.Context) error { repo.DB.Reset(); return nil }})
	if err := repo.Save(ctx, 2, "0907654321"); err != nil {
		t.Fatalf("after rotating %s → %s: %v", r.Old, r.New, err)
	}
	var user string
	if err := repo.DB.QueryRow(ctx, `SELECT session_user`).Scan(&user); err != nil || user != r.New {
		t.Fatalf("pool connects as %q (%v), want %s", user, err, r.New)
	}
	if p, err := repo.Phone(ctx, 1); err != nil || p != "0901234567" {
		t.Fatalf("%q %v", p, err)
	}
}
