package redisauth

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/redis/go-redis/v9"
)

// ErrCredentials is returned by the credentials providers (PasswordFile,
// URLFile, PasswordEnv) when a file or variable is missing, empty or
// unparsable, as pgrole.ErrCredentials is by its BeforeConnect hooks. The
// error never contains the content.
var ErrCredentials = errors.New("redisauth: credentials unusable")

// CredentialsFunc is go-redis's CredentialsProviderContext: it is called for
// every new connection (redis.Options and redis.ClusterOptions, including
// pub/sub connections and reconnects), so a service follows a rotated
// password, or a new user, as its connections recycle (ConnMaxLifetime,
// ConnMaxIdleTime), without a restart. Connections already open keep the
// user they authenticated as.
//
//	opt := &redis.Options{Addr: addr, ConnMaxLifetime: 5 * time.Minute}
//	opt.CredentialsProviderContext = redisauth.PasswordFile("/etc/app/redis/password", "/etc/app/redis/username")
type CredentialsFunc = func(ctx context.Context) (username, password string, err error)

// PasswordFile reads the password from path, and the user from userPath
// when it is not "" ("" means the default user), for every new connection.
// One trailing newline is stripped from each. Write the files atomically (a
// Kubernetes secret volume does); when the user changes, write the password
// first only if the new password also works for the old user (dual), else
// use URLFile, which holds both in one file.
func PasswordFile(path, userPath string) CredentialsFunc {
	return func(context.Context) (string, string, error) {
		pw, err := readCredential(path)
		if err != nil {
			return "", "", err
		}
		user := ""
		if userPath != "" {
			if user, err = readCredential(userPath); err != nil {
				return "", "", err
			}
			if ValidateName(user) != nil {
				return "", "", fmt.Errorf("%w: %s does not hold a valid user name (content withheld)", ErrCredentials, userPath)
			}
		}
		return user, pw, nil
	}
}

// URLFile reads a redis:// URL (REDIS_URL) from path for every new
// connection and uses its user and password; the address, database and TLS
// stay those of the client's options. User and password change together.
func URLFile(path string) CredentialsFunc {
	return func(context.Context) (string, string, error) {
		s, err := readCredential(path)
		if err != nil {
			return "", "", err
		}
		return ParseURLCredentials(s)
	}
}

// PasswordEnv is PasswordFile for environment variables: it reads the
// password from passwordVar (REDIS_PASSWORD), and the user from userVar when
// it is not "", for every new connection. A variable set at process start
// does not change; use it for processes whose environment is updated in
// place, and files otherwise. (secretenv.Env is the other kind of thing: a
// Source of secrets read once at load.)
func PasswordEnv(passwordVar, userVar string) CredentialsFunc {
	return func(context.Context) (string, string, error) {
		pw := os.Getenv(passwordVar)
		if pw == "" {
			return "", "", fmt.Errorf("%w: %s is not set", ErrCredentials, passwordVar)
		}
		user := ""
		if userVar != "" {
			user = os.Getenv(userVar)
		}
		return user, pw, nil
	}
}

// ParseURLCredentials returns the user and password of a redis:// URL. The
// error never contains the URL.
func ParseURLCredentials(rawURL string) (user, password string, err error) {
	o, err := redis.ParseURL(rawURL)
	if err != nil {
		return "", "", fmt.Errorf("%w: not a valid redis:// URL (details withheld: it may contain a password)", ErrCredentials)
	}
	if o.Password == "" {
		return "", "", fmt.Errorf("%w: the URL has no password", ErrCredentials)
	}
	return o.Username, o.Password, nil
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
