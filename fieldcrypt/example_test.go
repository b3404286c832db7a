package fieldcrypt_test

import (
	"fmt"
	"log"
	"maps"
	"slices"

	"github.com/goodgo/rotation/fieldcrypt"
	"github.com/goodgo/rotation/secretenv"
)

// Two example keys (never use fixed keys outside examples).
const (
	oldKey = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="
	newKey = "gIGCg4SFhoeIiYqLjI2Oj5CRkpOUlZaXmJmam5ydnp8="
)

func Example() {
	// In a service: ring, err := fieldcrypt.LoadKeyringEnv()
	ring, err := fieldcrypt.LoadKeyring(secretenv.Map(map[string]string{
		"FIELD_ENCRYPTION_KEY": newKey,
	}))
	if err != nil {
		log.Fatal(err)
	}
	b := fieldcrypt.Binding{Table: "users", Column: "national_id", Row: "42"}
	sealed, err := ring.Encrypt(nil, []byte("079201001234"), b) // store in a bytea column
	if err != nil {
		log.Fatal(err)
	}
	plain, err := ring.Decrypt(nil, sealed, b)
	if err != nil {
		log.Fatal(err)
	}
	h, _ := fieldcrypt.ParseHeader(sealed, fieldcrypt.Binary)
	fmt.Println(string(plain), len(sealed), h.KeyID, h.Algorithm)
	// Output: 079201001234 62 8604f179c7d9235e XChaCha20-Poly1305
}

func ExampleKeyring_EncryptText() {
	ring, _ := fieldcrypt.NewKeyring(newKey)
	text, _ := ring.EncryptText(nil, []byte("a@example.com"), fieldcrypt.Binding{})
	fmt.Println(string(text[:16]) == string(ring.Primary().Prefix(fieldcrypt.Text)))
	plain, _ := ring.DecryptText(nil, text, fieldcrypt.Binding{})
	fmt.Println(string(plain))
	// Output:
	// true
	// a@example.com
}

// Rotation: values sealed under the old key are rewrapped under the new
// primary; the iterator works over any storage, here a map.
func ExampleKeyring_Reencrypt() {
	before, _ := fieldcrypt.NewKeyring(oldKey)
	store := map[string][]byte{}
	for _, id := range []string{"1", "2", "3"} {
		store[id], _ = before.Encrypt(nil, []byte("value "+id), fieldcrypt.Binding{})
	}
	store["4"] = nil // NULL stays NULL

	after, _ := fieldcrypt.NewKeyring(newKey, oldKey) // new primary, old still decrypts
	cells := func(yield func(fieldcrypt.Cell) bool) {
		for _, id := range slices.Sorted(maps.Keys(store)) {
			if !yield(fieldcrypt.Cell{Table: "t", Column: "c", Row: id, Value: store[id]}) {
				return
			}
		}
	}
	for res := range after.Reencrypt(cells) {
		if res.Outcome == fieldcrypt.Rewrapped {
			store[res.Row] = res.New // a real store compares-and-swaps on res.Value
		}
		fmt.Println(res.Row, res.Outcome, res.Err)
	}
	// Output:
	// 1 rewrapped <nil>
	// 2 rewrapped <nil>
	// 3 rewrapped <nil>
	// 4 null <nil>
}
