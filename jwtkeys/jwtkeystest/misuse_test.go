package jwtkeystest_test

import (
	"fmt"
	"net/http"
	"runtime"
	"strings"
	"testing"

	"github.com/goodgo/rotation/jwtkeys"
	"github.com/goodgo/rotation/jwtkeys/jwtkeystest"
	"github.com/goodgo/rotation/secretenv"
)

// recordingTB records what a kit reports through Fatalf instead of failing the
// test, to assert on misuse messages.
type recordingTB struct {
	testing.TB
	msgs []string
}

func (r *recordingTB) Helper() {}
func (r *recordingTB) Fatalf(format string, a ...any) {
	r.msgs = append(r.msgs, fmt.Sprintf(format, a...))
	runtime.Goexit()
}

// fails runs fn on a recording TB in its own goroutine (Fatalf ends it) and
// returns what the kit reported, recovering a panic as a message.
func fails(t *testing.T, fn func(tb testing.TB)) (msgs []string, panicked any) {
	r := &recordingTB{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer func() { panicked = recover() }()
		fn(r)
	}()
	<-done
	return r.msgs, panicked
}

func TestRotateRequestReturningNil(t *testing.T) {
	kit := jwtkeystest.New[appClaims](t, jwtkeys.Options{})
	msgs, p := fails(t, func(tb testing.TB) {
		kit.Rotate(tb, kit.Protect(hello), jwtkeystest.RotateOptions[appClaims]{
			Request: func(string) *http.Request { return nil },
		})
	})
	if p != nil {
		t.Fatalf("Rotate panicked: %v", p)
	}
	if len(msgs) != 1 || !strings.Contains(msgs[0], "RotateOptions.Request returned nil") {
		t.Fatalf("messages %q, want one naming RotateOptions.Request", msgs)
	}
}

func TestTokenOnAnEmptySlotSaysWhy(t *testing.T) {
	var kit *jwtkeystest.Kit[appClaims]
	msgs, p := fails(t, func(tb testing.TB) {
		kit = jwtkeystest.New[appClaims](tb, jwtkeys.Options{})
		kit.Promote()
		kit.Token(jwtkeystest.Next, "user-1", appClaims{})
	})
	if p != nil {
		t.Fatalf("Token panicked: %v", p)
	}
	if len(msgs) != 1 || !strings.Contains(msgs[0], "JWT_SECRET_NEXT") || !strings.Contains(msgs[0], "Stage") {
		t.Fatalf("messages %q, want one naming the empty variable and Stage", msgs)
	}
	for _, r := range []jwtkeys.RingID{jwtkeys.Access, jwtkeys.Refresh} {
		for _, s := range []secretenv.Slot{secretenv.SlotCurrent, secretenv.SlotPrevious} {
			if sec := kit.Secret(r, s); sec != "" && strings.Contains(msgs[0], sec) {
				t.Fatal("a secret in the message")
			}
		}
	}
}
