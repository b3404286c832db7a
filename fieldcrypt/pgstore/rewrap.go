package pgstore

// A batch's new values: the rewrap of every cell, and the UPDATE's
// arguments built from it.

import (
	"fmt"
	"strconv"

	"github.com/goodgo/rotation/fieldcrypt"
)

// rewrap is the result of rewrapping a batch: how many rows have something
// to write, and what was found.
type rewrap struct {
	changed int
	stats   batchStats
}

type batchStats struct {
	current, rewrapped int64
	failures           []Failure
}

// rewrapBatch computes the new value of every cell of b (nil when unchanged)
// and returns how many rows have something to write.
func (j *job) rewrapBatch(b *batch) rewrap {
	var st batchStats
	spans := b.spans[:0]
	defer func() { b.spans = spans }()
	b.out = b.out[:0]
	for r, id := range b.ids {
		for c, col := range j.t.Columns {
			bind := j.t.binding(col, id)
			start := len(b.out)
			out, status, err := j.ring.Rewrap(b.out, b.vals[c][r], col.Form, bind)
			switch status {
			case fieldcrypt.Rewrapped:
				b.out = out
				spans = append(spans, span{start, len(out) - start})
				st.rewrapped++
				continue
			case fieldcrypt.UpToDate:
				st.current++
			case fieldcrypt.Failed:
				st.failures = append(st.failures, Failure{Row: id, Column: col.Name, Err: err})
			}
			spans = append(spans, span{-1, 0})
		}
	}
	changed := 0
	for c := range j.t.Columns {
		b.news[c] = b.news[c][:0]
	}
	for r := range b.ids {
		any := false
		for c := range j.t.Columns {
			s := spans[r*len(j.t.Columns)+c]
			if s.off < 0 {
				b.news[c] = append(b.news[c], nil)
			} else {
				b.news[c] = append(b.news[c], b.out[s.off:s.off+s.n:s.off+s.n])
				any = true
			}
		}
		if any {
			changed++
		}
	}
	return rewrap{changed, st}
}

// updateArgs builds the UPDATE's arguments for rows with a rewrapped value
// (see prepare for their shape). An unchanged column is written back with
// the value read.
func (j *job) updateArgs(b *batch) ([]string, []any, error) {
	n := len(j.t.Columns)
	b.sendIDs = b.sendIDs[:0]
	for r, id := range b.ids {
		for c := 0; c < n; c++ {
			if b.news[c][r] != nil {
				b.sendIDs = append(b.sendIDs, id)
				break
			}
		}
	}
	var args []any
	if j.key.intKey {
		b.intIDs = b.intIDs[:0]
		for _, id := range b.sendIDs {
			v, err := strconv.ParseInt(id, 10, 64)
			if err != nil {
				return nil, nil, fmt.Errorf("pgstore: integer row key %q: %w", id, err)
			}
			b.intIDs = append(b.intIDs, v)
		}
		args = append(args, b.intIDs)
	} else {
		var err error
		if args, err = j.key.keyArgs(b.sendIDs); err != nil {
			return nil, nil, err
		}
	}
	old := j.opt.casValue
	if !old {
		b.sendX = b.sendX[:0]
		for r := range b.ids {
			if b.sends(r, n) {
				b.sendX = append(b.sendX, b.xmins[r])
			}
		}
		args = append(args, b.sendX)
	}
	if len(b.blobs) < n {
		b.blobs = make([]blobBuf, n)
	}
	for c, col := range j.t.Columns {
		var olds [][]byte
		if old {
			olds = make([][]byte, 0, len(b.sendIDs))
		}
		news := b.sendNews[:0]
		for r := range b.ids {
			if !b.sends(r, n) {
				continue
			}
			if old {
				olds = append(olds, b.vals[c][r])
			}
			nv := b.news[c][r]
			if nv == nil {
				nv = b.vals[c][r]
			}
			news = append(news, nv)
		}
		b.sendNews = news
		if col.Form == fieldcrypt.Text {
			if old {
				args = append(args, textArray(olds))
			}
			args = append(args, textArray(news))
			continue
		}
		if old {
			oo, ol, ob := blob(olds)
			no, nl, nb := blob(news)
			args = append(args, oo, ol, no, nl, ob, nb)
			continue
		}
		bb := &b.blobs[c]
		bb.fill(news)
		args = append(args, bb.offs, bb.lens, bb.cat)
	}
	return b.sendIDs, args, nil
}

// sends reports whether row r of b has a rewrapped value.
func (b *batch) sends(r, ncol int) bool {
	for c := 0; c < ncol; c++ {
		if b.news[c][r] != nil {
			return true
		}
	}
	return false
}

// blob concatenates vs and returns 1-based offsets and lengths (-1 for NULL).
func blob(vs [][]byte) (offs, lens []int32, cat []byte) {
	offs = make([]int32, len(vs))
	lens = make([]int32, len(vs))
	size := 0
	for _, v := range vs {
		size += len(v)
	}
	cat = make([]byte, 0, size)
	for i, v := range vs {
		offs[i] = int32(len(cat) + 1)
		if v == nil {
			lens[i] = -1
			continue
		}
		lens[i] = int32(len(v))
		cat = append(cat, v...)
	}
	return offs, lens, cat
}

// blobBuf is blob's result in buffers kept across batches.
type blobBuf struct {
	offs, lens []int32
	cat        []byte
}

// fill sets bb to blob(vs), reusing its buffers.
func (bb *blobBuf) fill(vs [][]byte) {
	if bb.cat == nil {
		bb.cat = []byte{} // a nil []byte would be sent as NULL
	}
	bb.offs, bb.lens, bb.cat = bb.offs[:0], bb.lens[:0], bb.cat[:0]
	for _, v := range vs {
		bb.offs = append(bb.offs, int32(len(bb.cat)+1))
		if v == nil {
			bb.lens = append(bb.lens, -1)
			continue
		}
		bb.lens = append(bb.lens, int32(len(v)))
		bb.cat = append(bb.cat, v...)
	}
}

// textArray turns raw text values into a text[] argument (nil is NULL).
func textArray(vs [][]byte) []*string {
	out := make([]*string, len(vs))
	for i, v := range vs {
		if v != nil {
			s := string(v)
			out[i] = &s
		}
	}
	return out
}
