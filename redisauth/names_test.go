package redisauth_test

import (
	"strings"
	"testing"

	"github.com/goodgo/rotation/redisauth"
)

// TestValidateNameShowsTheByte: a refused non-ASCII name names the byte
// itself (\xc3), not the Latin-1 character that byte would be ("Ã").
func TestValidateNameShowsTheByte(t *testing.T) {
	err := redisauth.ValidateName("ünï")
	if err == nil || !strings.Contains(err.Error(), `byte 0 ("\xc3")`) || strings.Contains(err.Error(), "Ã") {
		t.Fatalf("ValidateName(ünï): %v", err)
	}
	if err := redisauth.ValidateName("a>b"); err == nil || !strings.Contains(err.Error(), `byte 1 (">")`) {
		t.Fatalf("ValidateName(a>b): %v", err)
	}
}
