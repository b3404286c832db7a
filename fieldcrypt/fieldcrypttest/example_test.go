package fieldcrypttest_test

import (
	"errors"
	"fmt"
	"testing"

	"github.com/goodgo/rotation/fieldcrypt"
	"github.com/goodgo/rotation/fieldcrypt/fieldcrypttest"
)

// A consumer's repository test: rows sealed under the old key still read
// back mid-rotation, and a value moved from another row is refused.
func Example() {
	t := &testing.T{} // in a real test: the test function's *testing.T
	rot := fieldcrypttest.NewRotation(t)
	repo := rot.Promoted(t) // the service's keyring while the re-encrypt job runs
	b := fieldcrypt.Binding{Table: "users", Column: "phone", Row: "42"}

	old := rot.Seal(t, rot.Old, []byte("0901234567"), fieldcrypt.Text, b)
	plain, err := repo.DecryptText(nil, old, b)
	fmt.Println(string(plain), err)

	for _, d := range rot.Damaged(t, []byte("0901234567"), fieldcrypt.Text, b)[:5] {
		_, err := repo.DecryptText(nil, d.Value, b)
		fmt.Printf("%s: refused=%v\n", d.Name, errors.Is(err, d.Err))
	}
	// Output:
	// 0901234567 <nil>
	// row moved from another row: refused=true
	// value of another column: refused=true
	// sealed without a binding: refused=true
	// unknown key: refused=true
	// plaintext: refused=true
}
