package redisauth_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/goodgo/rotation/redisauth"
)

// TestNodeErrorNamesPackageOnce: a node's error reads "redisauth: node A:
// node cannot persist …", not "redisauth: node A: redisauth: node cannot …",
// and still matches the sentinel.
func TestNodeErrorNamesPackageOnce(t *testing.T) {
	err := error(&redisauth.NodeError{Addr: "10.0.0.5:6379", Err: fmt.Errorf("%w: no aclfile", redisauth.ErrCannotPersist)})
	msg := err.Error()
	if n := strings.Count(msg, "redisauth:"); n != 1 {
		t.Errorf("%q names the package %d times", msg, n)
	}
	if !strings.HasPrefix(msg, "redisauth: node 10.0.0.5:6379: node cannot persist") {
		t.Errorf("message %q", msg)
	}
	if !errors.Is(err, redisauth.ErrCannotPersist) {
		t.Error("errors.Is(ErrCannotPersist) is false")
	}
	plain := (&redisauth.NodeError{Addr: "a:1", Err: errors.New("dial tcp: refused")}).Error()
	if plain != "redisauth: node a:1: dial tcp: refused" {
		t.Errorf("plain error %q", plain)
	}
}
