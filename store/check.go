package store

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"os"
)

// bbolt's on-disk page format, version 2, as written by go.etcd.io/bbolt
// v1.3 and v1.4 (internal/common/page.go and meta.go there). The checker
// below reads it with bounds checks of its own, because bbolt trusts its
// file: a damaged page makes it read outside its memory map and crash the
// process, which recover cannot catch.
const (
	boltMagic         = 0xED0CDAED
	boltVersion       = 2
	pageHeaderSize    = 16 // id uint64, flags uint16, count uint16, overflow uint32
	elementSize       = 16 // branch: pos, ksize uint32, pgid uint64; leaf: flags, pos, ksize, vsize uint32
	bucketHeaderSize  = 16 // root pgid uint64, sequence uint64
	metaChecksumStart = 56 // the checksum covers the meta bytes before it
	branchPageFlag    = 0x01
	leafPageFlag      = 0x02
	freelistPageFlag  = 0x10
	bucketLeafFlag    = 0x01
	noFreelist        = ^uint64(0)
	minPageSize       = 512
	maxPageSize       = 1 << 24 // the largest page size bbolt itself probes for
	maxCheckDepth     = 64      // far deeper than any real tree of buckets and pages
)

// wholeFileLimit is the largest file checkFile reads in one piece; larger
// ones are read a page at a time, to bound the memory a check takes. A
// variable so that tests can exercise both ways.
var wholeFileLimit int64 = 32 << 20

// Errors of checkFile, as opposed to I/O errors reading the file.
var (
	// errCheck marks the errors that mean the file is damaged.
	errCheck = errors.New("damaged")
	// errNotBolt means neither meta page is valid: not a bbolt file.
	errNotBolt = errors.New("not a FlowState data file (no valid bbolt meta page)")
)

// boltMeta is the part of a meta page the checker needs.
type boltMeta struct {
	pageSize uint32
	root     uint64 // page of the root bucket
	freelist uint64
	pgid     uint64 // high-water mark: pages [0, pgid) exist
	txid     uint64
}

// checkFile checks that the bbolt file f of size bytes is safe to open:
// a valid meta page, a file long enough for every page it claims, and a
// tree of buckets and pages in which every page is in bounds, of the right
// type, referenced once, with elements inside the page and keys in
// order, and a free list of in-bounds pages that nothing references.
// It reads each page once, so it costs one pass over the data; it
// allocates one bit per page.
func checkFile(f io.ReaderAt, size int64) error {
	if size == 0 {
		return fmt.Errorf("%w: the file is empty", errCheck)
	}
	m, err := readMeta(f, size)
	if err != nil {
		return err
	}
	ps := int64(m.pageSize)
	if m.pgid < 2 || m.pgid > uint64(size/ps) {
		return fmt.Errorf("%w: truncated: the meta page claims %d pages of %d bytes, the file holds %d bytes", errCheck, m.pgid, ps, size)
	}
	var r pageReader = &fileReader{f: f, pageSize: ps}
	if size <= wholeFileLimit {
		// One read is far cheaper than a read per page on small files,
		// the common case.
		buf := make([]byte, m.pgid*uint64(ps))
		if _, err := f.ReadAt(buf, 0); err != nil && !errors.Is(err, io.EOF) {
			return err
		}
		r = &memReader{buf: buf, pageSize: ps}
	}
	c := &checker{r: r, hwm: m.pgid, seen: make([]uint64, (m.pgid+63)/64)}
	c.mark(0, 0)
	c.mark(1, 0)
	if err := c.bucketPage(m.root, 0); err != nil {
		return err
	}
	return c.freelist(m.freelist)
}

// readMeta returns the meta page bbolt would use: the valid one of the
// two with the higher transaction id.
func readMeta(f io.ReaderAt, size int64) (boltMeta, error) {
	var buf [pageHeaderSize + metaChecksumStart + 8]byte
	read := func(off int64) (boltMeta, bool) {
		if off+int64(len(buf)) > size {
			return boltMeta{}, false
		}
		if _, err := f.ReadAt(buf[:], off); err != nil {
			return boltMeta{}, false
		}
		return parseMeta(buf[pageHeaderSize:])
	}
	m0, ok0 := read(0)
	ps := int64(m0.pageSize)
	if !ok0 {
		// bbolt probes for the second meta page the same way.
		for ps = 1024; ps <= maxPageSize; ps *= 2 {
			if m, ok := read(ps); ok && int64(m.pageSize) == ps {
				break
			}
		}
		if ps > maxPageSize {
			return boltMeta{}, errNotBolt
		}
	}
	m1, ok1 := read(ps)
	if ok1 && int64(m1.pageSize) != ps {
		ok1 = false
	}
	switch {
	case ok0 && ok1 && m1.txid > m0.txid, !ok0:
		return m1, nil
	default:
		return m0, nil
	}
}

// parseMeta decodes and validates a meta page's body.
func parseMeta(b []byte) (boltMeta, bool) {
	le := binary.LittleEndian
	if le.Uint32(b[0:]) != boltMagic || le.Uint32(b[4:]) != boltVersion {
		return boltMeta{}, false
	}
	h := fnv.New64a()
	h.Write(b[:metaChecksumStart])
	if h.Sum64() != le.Uint64(b[metaChecksumStart:]) {
		return boltMeta{}, false
	}
	m := boltMeta{
		pageSize: le.Uint32(b[8:]),
		root:     le.Uint64(b[16:]),
		freelist: le.Uint64(b[32:]),
		pgid:     le.Uint64(b[40:]),
		txid:     le.Uint64(b[48:]),
	}
	if m.pageSize < minPageSize || m.pageSize > maxPageSize || m.pageSize&(m.pageSize-1) != 0 {
		return boltMeta{}, false
	}
	return m, true
}

// A pageReader returns the bytes of page id and its overflow pages.
type pageReader interface {
	page(id uint64, overflow uint32) ([]byte, error)
}

type memReader struct {
	buf      []byte
	pageSize int64
}

func (r *memReader) page(id uint64, overflow uint32) ([]byte, error) {
	start := int64(id) * r.pageSize
	return r.buf[start : start+(int64(overflow)+1)*r.pageSize], nil
}

type fileReader struct {
	f        io.ReaderAt
	pageSize int64
}

func (r *fileReader) page(id uint64, overflow uint32) ([]byte, error) {
	buf := make([]byte, (int64(overflow)+1)*r.pageSize)
	_, err := r.f.ReadAt(buf, int64(id)*r.pageSize)
	return buf, err
}

// checker walks the page tree, remembering which pages it has seen.
type checker struct {
	r    pageReader
	hwm  uint64
	seen []uint64 // one bit per page
}

func (c *checker) mark(id uint64, overflow uint32) bool {
	dup := false
	for p := id; p <= id+uint64(overflow); p++ {
		if c.seen[p/64]&(1<<(p%64)) != 0 {
			dup = true
		}
		c.seen[p/64] |= 1 << (p % 64)
	}
	return dup
}

// load reads page id after checking that it and its overflow lie inside
// the file, and that its header names it.
func (c *checker) load(id uint64) ([]byte, error) {
	if id < 2 || id >= c.hwm {
		return nil, fmt.Errorf("%w: page %d is out of bounds [2, %d)", errCheck, id, c.hwm)
	}
	head, err := c.r.page(id, 0)
	if err != nil {
		return nil, err
	}
	overflow := binary.LittleEndian.Uint32(head[12:])
	if uint64(overflow) >= c.hwm-id {
		return nil, fmt.Errorf("%w: page %d overflows the file by %d pages", errCheck, id, overflow)
	}
	if got := binary.LittleEndian.Uint64(head[0:]); got != id {
		return nil, fmt.Errorf("%w: page %d has the header of page %d", errCheck, id, got)
	}
	if c.mark(id, overflow) {
		return nil, fmt.Errorf("%w: page %d is referenced twice", errCheck, id)
	}
	if overflow == 0 {
		return head, nil
	}
	return c.r.page(id, overflow)
}

// bucketPage checks the tree rooted at page id.
func (c *checker) bucketPage(id uint64, depth int) error {
	if depth > maxCheckDepth {
		return fmt.Errorf("%w: page %d: the tree is deeper than %d", errCheck, id, maxCheckDepth)
	}
	p, err := c.load(id)
	if err != nil {
		return err
	}
	return c.node(p, id, depth, false)
}

// node checks one page image p (a file page, or an inline bucket's page
// held in its parent's value, which must be a leaf).
func (c *checker) node(p []byte, id uint64, depth int, inline bool) error {
	if len(p) < pageHeaderSize {
		return fmt.Errorf("%w: page %d: %d bytes, shorter than a page header", errCheck, id, len(p))
	}
	le := binary.LittleEndian
	flags, count := le.Uint16(p[8:]), int(le.Uint16(p[10:]))
	if pageHeaderSize+count*elementSize > len(p) {
		return fmt.Errorf("%w: page %d: %d elements do not fit in %d bytes", errCheck, id, count, len(p))
	}
	// bbolt asserts that a page has exactly one type flag.
	isBranch := flags == branchPageFlag && !inline
	if !isBranch && flags != leafPageFlag {
		return fmt.Errorf("%w: page %d: flags %#x are not a branch or leaf page", errCheck, id, flags)
	}
	var prev []byte
	for i := 0; i < count; i++ {
		e := int64(pageHeaderSize + i*elementSize)
		pos, ksize := int64(le.Uint32(p[e+4:])), int64(le.Uint32(p[e+8:]))
		vsize := int64(le.Uint32(p[e+12:]))
		if isBranch {
			pos, ksize, vsize = int64(le.Uint32(p[e:])), int64(le.Uint32(p[e+4:])), 0
		}
		if e+pos+ksize+vsize > int64(len(p)) {
			return fmt.Errorf("%w: page %d: element %d lies outside the page", errCheck, id, i)
		}
		key := p[e+pos : e+pos+ksize]
		if len(key) == 0 {
			return fmt.Errorf("%w: page %d: element %d has an empty key", errCheck, id, i)
		}
		if i > 0 && bytes.Compare(prev, key) >= 0 {
			return fmt.Errorf("%w: page %d: keys out of order at element %d", errCheck, id, i)
		}
		prev = key
		switch {
		case isBranch:
			if err := c.bucketPage(le.Uint64(p[e+8:]), depth+1); err != nil {
				return err
			}
		case le.Uint32(p[e:])&bucketLeafFlag != 0:
			if err := c.bucket(p[e+pos+ksize:e+pos+ksize+vsize], id, depth+1); err != nil {
				return err
			}
		}
	}
	if isBranch && count == 0 {
		return fmt.Errorf("%w: page %d: a branch page without elements", errCheck, id)
	}
	return nil
}

// bucket checks a bucket value: a header naming its root page, or root 0
// and an inline leaf page after the header.
func (c *checker) bucket(v []byte, parent uint64, depth int) error {
	if len(v) < bucketHeaderSize {
		return fmt.Errorf("%w: page %d: a bucket value of %d bytes", errCheck, parent, len(v))
	}
	root := binary.LittleEndian.Uint64(v)
	if root != 0 {
		return c.bucketPage(root, depth)
	}
	if depth > maxCheckDepth {
		return fmt.Errorf("%w: page %d: buckets nested deeper than %d", errCheck, parent, maxCheckDepth)
	}
	inline := v[bucketHeaderSize:]
	if len(inline) < pageHeaderSize || binary.LittleEndian.Uint16(inline[8:]) != leafPageFlag {
		return fmt.Errorf("%w: page %d: an inline bucket that is not a leaf page", errCheck, parent)
	}
	return c.node(inline, parent, depth, true)
}

// freelist checks the free-list page and that no free page is in use.
func (c *checker) freelist(id uint64) error {
	if id == noFreelist {
		return nil
	}
	p, err := c.load(id)
	if err != nil {
		return fmt.Errorf("free list: %w", err)
	}
	le := binary.LittleEndian
	if le.Uint16(p[8:]) != freelistPageFlag {
		return fmt.Errorf("%w: free list page %d has flags %#x", errCheck, id, le.Uint16(p[8:]))
	}
	start, count := pageHeaderSize, uint64(le.Uint16(p[10:]))
	if count == 0xFFFF {
		// A long list stores its length in its first element.
		if len(p) < pageHeaderSize+8 {
			return fmt.Errorf("%w: free list page %d is too short", errCheck, id)
		}
		count = le.Uint64(p[pageHeaderSize:])
		start += 8
	}
	if count > uint64(len(p)-start)/8 {
		return fmt.Errorf("%w: free list page %d: %d entries do not fit", errCheck, id, count)
	}
	for i := uint64(0); i < count; i++ {
		free := le.Uint64(p[start+int(i)*8:])
		if free < 2 || free >= c.hwm {
			return fmt.Errorf("%w: free list page %d: free page %d is out of bounds", errCheck, id, free)
		}
		if c.mark(free, 0) {
			return fmt.Errorf("%w: free list page %d: page %d is free and in use, or free twice", errCheck, id, free)
		}
	}
	return nil
}

// checkPath runs checkFile on the file at path.
func checkPath(f *os.File) error {
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	return checkFile(f, fi.Size())
}
