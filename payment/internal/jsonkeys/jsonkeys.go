// Package jsonkeys refuses JSON documents whose objects repeat a key, also
// up to case: encoding/json matches struct fields case-insensitively and
// lets the last duplicate win, while another JSON reader of the same signed
// body may take the first, so "amount" and "Amount" in one object could
// mean two amounts to two readers.
package jsonkeys

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
)

// ErrDuplicateKey: an object repeats a key, exactly or up to case.
var ErrDuplicateKey = errors.New("JSON object repeats a key (exactly or up to case)")

// Check walks the whole of b and returns an error wrapping ErrDuplicateKey
// when an object has two keys equal under Unicode case folding, or another
// error when b is not JSON. It does not judge anything else.
func Check(b []byte) error {
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	if err := value(d, 0); err != nil {
		return err
	}
	if _, err := d.Token(); err != io.EOF {
		return errors.New("data after the JSON value")
	}
	return nil
}

const maxDepth = 64

func value(d *json.Decoder, depth int) error {
	if depth > maxDepth {
		return fmt.Errorf("JSON nested deeper than %d", maxDepth)
	}
	t, err := d.Token()
	if err != nil {
		return err
	}
	switch t {
	case json.Delim('{'):
		var seen map[string]struct{}
		for d.More() {
			k, err := d.Token()
			if err != nil {
				return err
			}
			key, _ := k.(string)
			fold := strings.ToLower(strings.ToUpper(key))
			if _, dup := seen[fold]; dup {
				return fmt.Errorf("%w: %q", ErrDuplicateKey, key)
			}
			if seen == nil {
				seen = make(map[string]struct{}, 16)
			}
			seen[fold] = struct{}{}
			if err := value(d, depth+1); err != nil {
				return err
			}
		}
		_, err = d.Token()
		return err
	case json.Delim('['):
		for d.More() {
			if err := value(d, depth+1); err != nil {
				return err
			}
		}
		_, err = d.Token()
		return err
	}
	return nil
}
