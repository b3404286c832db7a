// Package users is the consumer's repository layer: a user's phone number
// encrypted with fieldcrypt, bound to its row.
package users

import (
	"context"
	"fmt"
	"strconv"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/goodgo/rotation/fieldcrypt"
)

// Schema creates the table the repository uses.
const Schema = `CREATE TABLE IF NOT EXISTS users (id bigint PRIMARY KEY, phone text)`

// Repo stores users with their phone numbers encrypted.
type Repo struct {
	DB   *pgxpool.Pool
	Keys *fieldcrypt.Keyring
}

func binding(id int64) fieldcrypt.Binding {
	return fieldcrypt.Binding{Table: "users", Column: "phone", Row: strconv.FormatInt(id, 10)}
}

// Save stores id's phone number, sealed under the primary key.
func (r *Repo) Save(ctx context.Context, id int64, phone string) error {
	v, err := r.Keys.EncryptText(nil, []byte(phone), binding(id))
	if err != nil {
		return err
	}
	_, err = r.DB.Exec(ctx, `INSERT INTO users (id, phone) VALUES ($1, $2)
		ON CONFLICT (id) DO UPDATE SET phone = excluded.phone`, id, string(v))
	return err
}

// Phone returns id's phone number.
func (r *Repo) Phone(ctx context.Context, id int64) (string, error) {
	var v string
	if err := r.DB.QueryRow(ctx, `SELECT phone FROM users WHERE id = $1`, id).Scan(&v); err != nil {
		return "", err
	}
	p, err := r.Keys.DecryptText(nil, []byte(v), binding(id))
	if err != nil {
		return "", fmt.Errorf("users: phone of %d: %w", id, err)
	}
	return string(p), nil
}
