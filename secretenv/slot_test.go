package secretenv

import "testing"

func TestSlots(t *testing.T) {
	for _, tc := range []struct {
		s            Slot
		name, suffix string
	}{{SlotNext, "next", "_NEXT"}, {SlotCurrent, "current", ""}, {SlotPrevious, "previous", "_PREVIOUS"}} {
		if got := tc.s.String(); got != tc.name {
			t.Errorf("String() = %q, want %q", got, tc.name)
		}
		if got := tc.s.Suffix(); got != tc.suffix {
			t.Errorf("%s.Suffix() = %q, want %q", tc.s, got, tc.suffix)
		}
		if got, err := ParseSlot(tc.name); err != nil || got != tc.s {
			t.Errorf("ParseSlot(%q) = %q, %v", tc.name, got, err)
		}
	}
	for _, bad := range []string{"", "primary", "Current", "legacy"} {
		if _, err := ParseSlot(bad); err == nil {
			t.Errorf("ParseSlot(%q) accepted", bad)
		}
	}
	if Slot("").Valid() {
		t.Error("the empty slot is valid")
	}
}

func TestDirOf(t *testing.T) {
	dir := t.TempDir()
	if got, ok := DirOf(Dir(dir)); !ok || got != dir {
		t.Fatalf("DirOf(Dir) = %q, %v", got, ok)
	}
	snap, err := Dir(dir).(Snapshotter).Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	if got, ok := DirOf(snap); !ok || got != dir {
		t.Fatalf("DirOf(snapshot) = %q, %v", got, ok)
	}
	if _, ok := DirOf(Env()); ok {
		t.Fatal("DirOf(Env) is a directory")
	}
}
