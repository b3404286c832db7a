package secretenv

import "fmt"

// Slot is a secret's place in a staged rotation, the same in every package
// of this module (jwtkeys, fieldcrypt, payment):
//
//   - SlotNext (BASE_NEXT) is staged: it verifies or decrypts, never signs or
//     encrypts. A new secret goes here on every instance first.
//   - SlotCurrent (BASE) signs or encrypts, and verifies or decrypts.
//     fieldcrypt calls the key in this slot the primary key.
//   - SlotPrevious (BASE_PREVIOUS) verifies or decrypts only, until it is
//     retired.
//
// Its value is the name used in metric labels, JSON and reports. The empty
// Slot is no slot: what was not verified or is not loaded.
type Slot string

// The slots, in the order a secret moves through them.
const (
	SlotNext     Slot = "next"
	SlotCurrent  Slot = "current"
	SlotPrevious Slot = "previous"
)

// Slots lists the slots in order: next, current, previous.
var Slots = [...]Slot{SlotNext, SlotCurrent, SlotPrevious}

// String is the slot's name.
func (s Slot) String() string { return string(s) }

// Valid reports whether s is one of the three slots.
func (s Slot) Valid() bool { return s == SlotNext || s == SlotCurrent || s == SlotPrevious }

// Suffix is what the slot adds to a secret's base variable name: "_NEXT",
// "" or "_PREVIOUS" (JWT_SECRET_NEXT, JWT_SECRET, JWT_SECRET_PREVIOUS).
func (s Slot) Suffix() string {
	switch s {
	case SlotNext:
		return "_NEXT"
	case SlotPrevious:
		return "_PREVIOUS"
	}
	return ""
}

// ParseSlot returns the slot named name ("next", "current", "previous").
func ParseSlot(name string) (Slot, error) {
	if s := Slot(name); s.Valid() {
		return s, nil
	}
	return "", fmt.Errorf("secretenv: unknown slot %q (want next, current or previous)", name)
}
