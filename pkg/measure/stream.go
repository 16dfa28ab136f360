package measure

import (
	"errors"
	"io"
	"runtime"
	"sync"
)

// Visitor receives the entries of Stream in list order, on the caller's
// goroutine. Entries are valid only during the call.
type Visitor struct {
	// Select says whether e is in the reported view (nil: all are).
	Select func(e *Entry) (bool, error)
	// Emit is called for every entry after it was checked and replayed.
	Emit func(e *Entry, chk *EntryCheck, selected bool) error
}

// Stream reads r to its end and verifies every entry, like calling Add for
// each, but parses, hashes the template data and replays on different
// goroutines: the replay is a hash chain and must stay sequential, the
// template-data digests (the larger part of the work) need not. Memory is
// bounded by a few batches of entries. It returns the reader's error (nil
// at io.EOF) or the first error of the visitor.
func (v *Verifier) Stream(r Reader, vis Visitor) error {
	workers := min(runtime.GOMAXPROCS(0), 4)
	if workers < 2 {
		return v.streamSequential(r, vis)
	}
	const inFlight = 8
	free := make(chan *batch, inFlight)
	for i := 0; i < inFlight; i++ {
		free <- &batch{}
	}
	work := make(chan *batch, inFlight)
	ready := make(chan *batch, inFlight)
	quit := make(chan struct{})
	var wg sync.WaitGroup
	var needMu sync.Mutex
	need := func(logged Alg) []Alg {
		// needAlgs caches in v; guard it, it runs once per logged bank.
		needMu.Lock()
		defer needMu.Unlock()
		return append([]Alg(nil), v.needAlgs(logged)...)
	}
	for i := 0; i < workers; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var scratch []byte
			var algs []Alg
			last := AlgUnknown
			for b := range work {
				for j := range b.entries {
					e := &b.entries[j]
					if l := loggedAlg(e); l != last || algs == nil {
						algs, last = need(l), l
					}
					v.hash(e, algs, &b.hashes[j], &scratch)
				}
				close(b.done)
			}
		}()
	}
	// The reader goroutine copies entries out of the reader's buffers.
	go func() {
		defer close(ready)
		defer close(work)
		var carry *Entry
		for {
			var b *batch
			select {
			case b = <-free:
			case <-quit:
				return
			}
			b.reset()
			if carry != nil {
				b.add(carry)
				carry = nil
			}
			for len(b.entries) < batchEntries {
				e, err := r.Next()
				if err != nil {
					if !errors.Is(err, io.EOF) {
						b.err = err
					}
					b.last = true
					break
				}
				if !b.add(e) {
					// Still valid: Next is not called again before the
					// next batch takes it.
					carry = e
					break
				}
			}
			work <- b
			ready <- b
			if b.last {
				return
			}
		}
	}()

	var err error
	for b := range ready {
		<-b.done
		if err == nil {
			for j := range b.entries {
				if err = v.visit(&b.entries[j], &b.hashes[j], vis); err != nil {
					close(quit)
					break
				}
			}
			if err == nil && b.err != nil {
				err = b.err
			}
		}
		free <- b
	}
	wg.Wait()
	return err
}

func (v *Verifier) visit(e *Entry, h *dataHashes, vis Visitor) error {
	selected := true
	if vis.Select != nil {
		var err error
		if selected, err = vis.Select(e); err != nil {
			return err
		}
	}
	// v.chk, not a local: a pointer to a local passed to a func value
	// would be allocated per entry.
	v.chk = v.addHashed(e, h, selected)
	if vis.Emit != nil {
		return vis.Emit(e, &v.chk, selected)
	}
	return nil
}

func (v *Verifier) streamSequential(r Reader, vis Visitor) error {
	for {
		e, err := r.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		v.hash(e, v.needAlgs(loggedAlg(e)), &v.h, &v.scratch)
		if err := v.visit(e, &v.h, vis); err != nil {
			return err
		}
	}
}

// batch holds copies of consecutive entries. Its arena and fields never
// grow while entries point into them: an entry that does not fit starts the
// next batch.
type batch struct {
	entries []Entry
	hashes  []dataHashes
	digs    []Digest
	fields  []Field
	arena   []byte
	done    chan struct{}
	err     error
	last    bool
}

const (
	batchEntries = 512
	batchFields  = 4 * batchEntries
	batchBytes   = 256 << 10
)

func (b *batch) reset() {
	if b.arena == nil {
		b.arena = make([]byte, 0, batchBytes)
		b.fields = make([]Field, 0, batchFields)
		b.entries = make([]Entry, 0, batchEntries)
		b.hashes = make([]dataHashes, 0, batchEntries)
		b.digs = make([]Digest, 0, batchEntries)
	}
	b.entries, b.hashes, b.fields, b.arena, b.digs = b.entries[:0], b.hashes[:0], b.fields[:0], b.arena[:0], b.digs[:0]
	b.done = make(chan struct{})
	b.err, b.last = nil, false
}

// add copies e into b, or reports false when it does not fit (b not empty).
func (b *batch) add(e *Entry) bool {
	raw := e.raw
	if raw == nil {
		raw = e.templateData(nil)
	}
	size := len(raw)
	if len(e.Digests) > 0 {
		size += len(e.Digests[0].Sum)
	}
	if len(b.entries) == batchEntries || cap(b.fields)-len(b.fields) < len(e.Fields) || cap(b.arena)-len(b.arena) < size {
		if len(b.entries) > 0 {
			return false
		}
		// A single entry larger than the arena: give this batch room for it.
		b.arena = make([]byte, 0, max(batchBytes, size))
		b.fields = make([]Field, 0, max(batchFields, len(e.Fields)))
	}
	c := *e
	at := len(b.arena)
	b.arena = append(b.arena, raw...)
	cr := b.arena[at:len(b.arena):len(b.arena)]
	c.raw = cr
	if e.raw == nil {
		c.raw = nil // constructed entries hash their fields, as before
	}
	if len(e.Digests) > 0 {
		at := len(b.arena)
		b.arena = append(b.arena, e.Digests[0].Sum...)
		b.digs = append(b.digs, Digest{Alg: e.Digests[0].Alg, Sum: b.arena[at:len(b.arena):len(b.arena)]})
		c.Digests = b.digs[len(b.digs)-1 : len(b.digs) : len(b.digs)]
	}
	fat := len(b.fields)
	if e.Template == "ima" && len(e.Fields) == 2 {
		n := len(e.Fields[1].Data)
		b.fields = append(b.fields, Field{ID: e.Fields[0].ID, Data: cr[:legacyDigestLen:legacyDigestLen]},
			Field{ID: e.Fields[1].ID, Data: cr[legacyDigestLen : legacyDigestLen+n : legacyDigestLen+n]})
	} else {
		bo := e.Order().binary()
		p := 0
		for _, f := range e.Fields {
			n := int(bo.Uint32(cr[p:]))
			b.fields = append(b.fields, Field{ID: f.ID, Data: cr[p+4 : p+4+n : p+4+n]})
			p += 4 + n
		}
	}
	c.Fields = b.fields[fat:len(b.fields):len(b.fields)]
	b.entries = append(b.entries, c)
	// hash sets every used part: no need to zero 300 bytes per entry
	b.hashes = b.hashes[:len(b.hashes)+1]
	return true
}
