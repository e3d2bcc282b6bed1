// The update format (FORMAT.md §4): encoding a document's clocks into an
// update, and decoding an update into plain records (Go: update.go).

import { KIND_MAP, KIND_SKIP, KIND_TEXT, RICH_EMBED, RICH_END, RICH_NONE, RICH_START } from './item.js';
import { MAX_CLOCK } from './id.js';
import { DecodeError } from './errors.js';
import { Reader, VarReader, Writer, compareCodePoints, decodeUtf8, unitsOf, utf8Length } from './codec.js';

/**
 * FORMAT_VERSION is the first element of every update that holds no rich
 * content; RICH_VERSION that of one that does (crdt/RICH.md §R6), written
 * with compact marks (format version 3). Version 2 is still read.
 */
export const FORMAT_VERSION = 1;
export const RICH_VERSION = 3;

/** The greatest operand of a compact mark record (format version 3). */
const MAX_OPERAND = 2 ** 53 - 1;

/** The most UTF-8 bytes of a type name (FORMAT.md §2.4). */
export const MAX_NAME_BYTES = 1024;

// Record kinds (FORMAT.md §4.3): bits 1–2 of a long header.
const REC_TEXT = 0;
const REC_MAP = 1;
const REC_SKIP = 2;
const REC_PARENT = 3;
// Encoder-side kinds of the rich records, which version 2 writes as map
// headers with a non-zero payload (RICH.md §R6): the payload's low two
// bits are these minus RICH_BASE.
const REC_START = 4;
const REC_END = 5;
const REC_EMBED = 6;
const RICH_BASE = 3;

// Origin modes of a text record (FORMAT.md §4.4).
const LEFT_NONE = 0; // the start of the text
const LEFT_DELTA = 1; // same client, clock − delta
const LEFT_EXPLICIT = 2; // client index and clock
const LEFT_PREV = 3; // same client, clock − 1
const RIGHT_NONE = 0; // the end of the text
const RIGHT_AFTER_L = 1; // left.client, left.clock + 1
const RIGHT_DELTA = 2; // same client, clock − delta
const RIGHT_EXPLICIT = 3; // client index and clock

const TYPE_TEXT = 0;
const TYPE_MAP = 1;

/** Decoded lets go of arrays longer than this when released. */
const RELEASE_ABOVE = 1024;
const EMPTY = new Uint8Array(0);

/**
 * header returns low + m·2^bits, as a number while that is exact and as a
 * BigInt past 2^53 (only a record of a 2^46-long run gets there).
 */
function header(low, bits, m) {
  const v = m * 2 ** bits + low;
  if (v <= Number.MAX_SAFE_INTEGER) return v;
  return (BigInt(m) << BigInt(bits)) | BigInt(low);
}

// ---------------------------------------------------------------------------
// Encoding

/** EncRec is one record gathered for an encoded block. */
class EncRec {
  constructor(kind, clock, n, typ, lc, lk, rc, rk, entry) {
    this.kind = kind;
    this.clock = clock;
    this.n = n;
    /** the Text or SharedMap of a text or map record */
    this.typ = typ;
    this.lc = lc;
    this.lk = lk;
    this.rc = rc;
    this.rk = rk;
    this.entry = entry;
    /** A start anchor's record in version 3: 0 (two records), 8 (a compact mark) or 12 (one with continuation). */
    this.cm = 0;
    /** A compact mark's index in the mark table. */
    this.ki = 0;
  }
}

/*
 * An encoder keeps the room it grew (records, column and output buffers)
 * so that a keystroke's update allocates nothing. A snapshot grows it to
 * the snapshot's size, and every document takes snapshots: so an encoder
 * keeps small room only, and large room goes to one spare shared by every
 * document, which the next large encode (Doc.diff) takes. The process
 * keeps one snapshot's room, not one per document, and a repeated
 * snapshot still finds it ready (as the Go encoder does).
 */
const KEPT_RECS = 1024; // records an encoder keeps
const KEPT_BYTES = 32 << 10; // bytes of each buffer it keeps

/** @type {{recs: EncRec[], w: Writer, col: Writer, tw: Writer} | null} */
let spare = null;

/**
 * An Encoder gathers blocks and delete ranges, then writes the update.
 * Client and type tables are sorted, so equal documents encode to equal
 * bytes. It may be reused after finish.
 */
/** roomSize is about the bytes an encoder's room holds (an EncRec is some 100). */
function roomSize(room) {
  return room.recs.length * 100 + room.w.buf.length + room.col.buf.length + room.tw.buf.length;
}

export class Encoder {
  constructor() {
    this.blocks = [];
    /**
     * recs[0, nRecs) are the gathered records; the EncRec objects beyond
     * are kept for reuse, since every local edit encodes an update.
     * @type {EncRec[]}
     */
    this.recs = [];
    this.nRecs = 0;
    /** @type {number[]} the client table of the update being written */
    this.clients = [];
    /** @type {any[]} the type table of the update being written */
    this.types = [];
    /**
     * tw holds the UTF-8 of the live text of the blocks' records, in
     * order, written as the blocks are gathered (joining a string per run
     * was a tenth of a large document's snapshot).
     */
    this.tw = new Writer(64);
    /**
     * only is the document's one Text while a Doc with no other gathers
     * blocks, else null: every text item is then of it, and reading it
     * from each item's leaf was a cache miss per run of a large snapshot
     * (Go's encoder.only).
     * @type {any}
     */
    this.only = null;
    /** @type {Array<{c: import('./item.js').ClientState, ranges: number[]}>} */
    this.deletes = [];
    this.w = new Writer(256);
    this.col = new Writer(64);
  }

  /**
   * addBlock adds the changes of client c from clock on.
   * @param {import('./item.js').ClientState} c
   * @param {number} clock
   */
  addBlock(c, clock) {
    this.gather(c, clock, null);
  }

  /**
   * addWholeBlock adds all of client c's changes and returns its deleted
   * ranges, merged, flat [start, end, …]: a snapshot walks each client's
   * items once, not once for the block and again for the delete set.
   * @param {import('./item.js').ClientState} c
   * @returns {number[]}
   */
  addWholeBlock(c) {
    const dels = [];
    this.gather(c, 0, dels);
    return dels;
  }

  /** gather adds the changes of c from clock on, and with dels (clock 0 only) c's deleted ranges to dels. */
  gather(c, clock, dels) {
    const tw = this.tw;
    const b = { c, clock, from: this.nRecs, to: 0, textFrom: tw.pos, textTo: 0 };
    this.blocks.push(b);
    // Heads are in clock order and each chain covers the clocks up to the
    // next head: walking them in turn needs no lookup per head.
    const heads = c.heads;
    for (let k = c.search(clock); k < heads.length; k++) {
      for (let it = heads[k]; it !== null; it = it.next) {
        if (dels !== null && it.deleted) appendDeleted(dels, it);
        if (it.clock + it.length > clock) this.add(b, it, clock > it.clock ? clock - it.clock : 0);
      }
    }
    b.to = this.nRecs;
    b.textTo = tw.pos;
  }

  /** add appends the clocks of it from offset off to block b, cut as FORMAT.md §4.5 says. */
  add(b, it, off) {
    const clock = it.clock + off;
    const n = it.length - off;
    const last = this.nRecs > b.from ? this.recs[this.nRecs - 1] : null;
    switch (it.kind) {
      case KIND_TEXT: {
        const t = this.only ?? it.leaf.t;
        if (it.rich !== RICH_NONE) {
          // One record per anchor or embed, with what it carries in entry:
          // the Mark of a start anchor, the value of a live embed.
          let kind = REC_START;
          let entry = it.entry;
          if (it.rich === RICH_END) {
            kind = REC_END;
            entry = null;
          } else if (it.rich === RICH_EMBED) {
            kind = REC_EMBED;
            if (it.deleted) entry = null;
          }
          this.push(kind, clock, 1, t, it.leftClient, it.leftClock, it.rightClient, it.rightClock, entry);
          return;
        }
        let lc = it.leftClient;
        let lk = it.leftClock;
        if (off > 0) {
          lc = it.client;
          lk = clock - 1;
        }
        if (!it.deleted) {
          let s = it.content;
          if (off > 0) s = s.slice(s.length === it.length ? off : unitsOf(s, 0, off));
          this.tw.utf8(s, utf8Length(s));
        }
        if (
          last !== null &&
          last.kind === REC_TEXT &&
          last.typ === t &&
          last.clock + last.n === clock &&
          lc === it.client &&
          lk === clock - 1 &&
          last.rc === it.rightClient &&
          last.rk === it.rightClock
        ) {
          last.n += n;
          return;
        }
        this.push(REC_TEXT, clock, n, t, lc, lk, it.rightClient, it.rightClock, null);
        return;
      }
      case KIND_MAP:
        this.push(REC_MAP, clock, 1, it.entry.map, null, 0, null, 0, it.entry);
        return;
      case KIND_SKIP:
        if (last !== null && last.kind === REC_SKIP) {
          last.n += n;
          return;
        }
        this.push(REC_SKIP, clock, n, null, null, 0, null, 0, null);
    }
  }

  /** push appends a record, reusing an EncRec of an earlier update. */
  push(kind, clock, n, typ, lc, lk, rc, rk, entry) {
    if (this.nRecs === this.recs.length) {
      this.recs.push(new EncRec(kind, clock, n, typ, lc, lk, rc, rk, entry));
    } else {
      const r = this.recs[this.nRecs];
      r.kind = kind;
      r.clock = clock;
      r.n = n;
      r.typ = typ;
      r.lc = lc;
      r.lk = lk;
      r.rc = rc;
      r.rk = rk;
      r.entry = entry;
    }
    this.nRecs++;
  }

  /** clientIdx returns the index of client id in the sorted client table. */
  clientIdx(id) {
    const clients = this.clients;
    if (clients[0] === id) return 0;
    let lo = 0;
    let hi = clients.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (clients[mid] < id) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** addClient adds id to the client table, kept sorted and unique. */
  addClient(id) {
    const a = this.clients;
    let i = a.length;
    // Insertion from the end: the table is tiny, and mostly arrives sorted.
    while (i > 0 && a[i - 1] > id) i--;
    if (i > 0 && a[i - 1] === id) return;
    if (i === a.length) a.push(id);
    else a.splice(i, 0, id);
  }

  /**
   * addDeletes adds client c's deleted ranges, flat [start, end, …],
   * sorted and merged.
   */
  addDeletes(c, ranges) {
    if (ranges.length > 0) this.deletes.push({ c, ranges });
  }

  /**
   * finish writes the update, returns it and resets the encoder.
   * @returns {Uint8Array}
   */
  finish() {
    // Tables: every client and type the update mentions, sorted.
    const clients = (this.clients = []);
    const types = (this.types = []);
    let version = FORMAT_VERSION;
    for (const b of this.blocks) this.addClient(b.c.id);
    for (let i = 0; i < this.nRecs; i++) {
      const r = this.recs[i];
      if (r.kind >= REC_START) version = RICH_VERSION;
      if (r.typ !== null && (types.length === 0 || types[types.length - 1] !== r.typ) && !types.includes(r.typ)) {
        types.push(r.typ);
      }
      if (r.lc !== null) this.addClient(r.lc.id);
      if (r.rc !== null) this.addClient(r.rc.id);
    }
    for (const d of this.deletes) this.addClient(d.c.id);
    if (types.length > 1) {
      types.sort((a, b) => a.typeKind - b.typeKind || compareCodePoints(a.name, b.name));
    }

    const kinds = version === RICH_VERSION ? this.compactMarks() : null;

    const w = this.w;
    const col = this.col;
    w.pos = 0;
    w.byte(kinds === null ? 0x95 : 0x96);
    w.byte(version);
    w.arrayLen(types.length);
    for (const t of types) {
      w.byte(0x92);
      w.byte(t.typeKind);
      w.str(t.name);
    }
    w.arrayLen(clients.length);
    for (const c of clients) w.uint(c);
    w.arrayLen(this.deletes.length);
    let bi = 0;
    for (const d of this.deletes) {
      col.pos = 0;
      let prev = 0;
      let rs = d.ranges;
      if (kinds !== null) {
        // Blocks and delete entries are both in ascending client order.
        while (bi < this.blocks.length && this.blocks[bi].c.id < d.c.id) bi++;
        if (bi < this.blocks.length && this.blocks[bi].c === d.c) rs = this.bridge(rs, this.blocks[bi]);
      }
      for (let k = 0; k < rs.length; k += 2) {
        col.varint(rs[k] - prev);
        col.varint(rs[k + 1] - rs[k]);
        prev = rs[k + 1];
      }
      w.byte(0x92);
      w.uint(this.clientIdx(d.c.id));
      w.binHeader(col.pos);
      w.copy(col);
    }
    w.arrayLen(this.blocks.length);
    for (const b of this.blocks) {
      col.pos = 0;
      let cur = -1;
      let entries = 0;
      for (let i = b.from; i < b.to; i++) {
        const r = this.recs[i];
        if (r.kind !== REC_SKIP) {
          const ti = types.length === 1 ? 0 : types.indexOf(r.typ);
          if (ti !== cur) {
            cur = ti;
            col.varint(7 + ti * 8); // parent
          }
        }
        let used = 0; // the records after r that this one consumed
        if (r.kind === REC_TEXT) this.textRec(col, b.c, r);
        else if (r.kind === REC_START && r.cm > 0) used = this.markRec(col, r, this.recs[i + 1], this.recs[i + 2]);
        else if (r.kind === REC_MAP) {
          col.byte(3);
          entries++;
        } else if (r.kind === REC_SKIP) col.varint(header(5, 3, r.n - 1));
        else {
          this.richRec(col, b.c, r);
          if (r.kind !== REC_END) entries++;
        }
        // Drop the references to the document (the EncRec objects are
        // kept), but the entries that the loop below still writes.
        for (let k = i; k <= i + used; k++) {
          const q = this.recs[k];
          q.typ = q.lc = q.rc = null;
          if (q.kind !== REC_MAP && q.kind !== REC_EMBED && !(q.kind === REC_START && q.cm === 0)) q.entry = null;
        }
        i += used;
      }
      w.byte(0x95);
      w.uint(this.clientIdx(b.c.id));
      w.uint(b.clock);
      w.binHeader(col.pos);
      w.copy(col);
      w.strHeader(b.textTo - b.textFrom);
      w.bytes(this.tw.buf.subarray(b.textFrom, b.textTo));
      w.arrayLen(entries);
      if (entries > 0) this.entries(w, b);
    }
    if (kinds !== null) {
      w.arrayLen(kinds.length);
      for (const m of kinds) {
        w.byte(m.value === null ? 0x92 : 0x93);
        w.str(m.key);
        w.uint(m.expand);
        if (m.value !== null) w.bytes(m.value);
      }
    }
    this.nRecs = 0;
    this.blocks = [];
    this.tw.pos = 0;
    if (this.deletes.length > 0) this.deletes = [];
    const out = w.take();
    if (this.recs.length > KEPT_RECS || w.buf.length > KEPT_BYTES || col.buf.length > KEPT_BYTES || this.tw.buf.length > KEPT_BYTES) {
      this.shed();
    }
    return out;
  }

  /**
   * entries writes the entries element's items of block b (FORMAT.md §4.8,
   * RICH.md) and drops the records' references to them.
   */
  entries(w, b) {
    for (let i = b.from; i < b.to; i++) {
      const r = this.recs[i];
      const e = r.entry;
      r.entry = null;
      if (r.kind === REC_START && r.cm === 0) {
        // [key], or [key, value]
        w.byte(e.value === null ? 0x91 : 0x92);
        w.str(e.key);
        if (e.value !== null) w.bytes(e.value);
      } else if (r.kind === REC_EMBED) {
        // [value], or [] once deleted
        if (e === null) w.byte(0x90);
        else {
          w.byte(0x91);
          w.bytes(e);
        }
      } else if (r.kind === REC_MAP) {
        w.byte(e.deleted ? 0x92 : 0x93);
        w.str(e.key);
        w.uint(e.seq);
        if (!e.deleted) w.bytes(e.value);
      }
    }
  }

  /** shed gives this encoder's room to the spare, or drops it if the spare holds more. */
  shed() {
    const room = { recs: this.recs, w: this.w, col: this.col, tw: this.tw };
    if (spare === null || roomSize(spare) < roomSize(room)) spare = room;
    this.recs = [];
    this.w = new Writer(256);
    this.col = new Writer(64);
    this.tw = new Writer(64);
  }

  /** adopt takes the spare's room, if any, before a large encode. */
  adopt() {
    const room = spare;
    spare = null;
    if (room === null) return;
    if (room.recs.length > this.recs.length) this.recs = room.recs;
    if (room.w.buf.length > this.w.buf.length) this.w = room.w;
    if (room.col.buf.length > this.col.buf.length) this.col = room.col;
    if (room.tw.buf.length > this.tw.buf.length) this.tw = room.tw;
  }

  /** textRec appends the header and operands of a text record (FORMAT.md §4.3–4.4). */
  textRec(col, c, r) {
    const lm = leftMode(c, r);
    const rm = rightMode(c, r);
    if (lm === LEFT_DELTA && (rm === RIGHT_AFTER_L || rm === RIGHT_DELTA)) {
      // The short form: by far the most common shape of a run.
      col.varint(header(rm === RIGHT_DELTA ? 2 : 0, 2, r.n - 1));
    } else {
      col.varint(header(1 + lm * 8 + rm * 32, 7, r.n - 1));
    }
    this.origins(col, r, lm, rm);
  }

  /**
   * richRec appends a start anchor, end anchor or embed record (RICH.md
   * §R6): a map header whose payload holds the kind, the origin modes and
   * a start anchor's expand rule, then the origins, then a start anchor's
   * seq.
   */
  richRec(col, c, r) {
    const lm = leftMode(c, r);
    const rm = rightMode(c, r);
    let p = r.kind - RICH_BASE + lm * 4 + rm * 16;
    if (r.kind === REC_START) p += r.entry.expand * 64;
    col.varint(3 + p * 8);
    this.origins(col, r, lm, rm);
    if (r.kind === REC_START) col.varint(r.entry.seq);
  }

  /**
   * compactMarks chooses, for every start anchor, the records it is written
   * as (r.cm: 0 for the two records of version 2, else the compact mark's
   * payload, 8 or 12 with the next text record implied), by the canonical
   * rule of format version 3, and returns the mark table: the kinds of the
   * compact marks, sorted, each once, with each mark's index in r.ki.
   */
  compactMarks() {
    const recs = this.recs;
    const cs = [];
    for (const b of this.blocks) {
      const c = b.c;
      let seq = 0; // of the block's last start anchor
      for (let i = b.from; i < b.to; i++) {
        const s = recs[i];
        if (s.kind !== REC_START) continue;
        const k = s.clock;
        const e = recs[i + 1];
        s.cm = 0;
        if (
          i + 1 < b.to &&
          e.kind === REC_END &&
          e.clock === k + 1 && // in the same Text, or it would have been dropped (RICH.md §R3)
          s.lc === c &&
          s.lk < k &&
          s.rc === c &&
          s.rk < k &&
          e.lc === c &&
          e.lk <= k &&
          (e.rc === null || (e.rc === c && e.rk <= k)) &&
          s.entry.seq === seq + 1 &&
          k - s.lk < 2 ** 49 && // A, B and e fit in 53 bits
          zigzag(e.lk - s.rk) < 2 ** 51 &&
          zigzag(s.rk - s.lk - 1) <= MAX_OPERAND
        ) {
          // With continuation when the text record after the mark goes on
          // where the one before it stopped.
          const p = recs[i - 1];
          const t = recs[i + 2];
          s.cm =
            i > b.from &&
            i + 2 < b.to &&
            p.kind === REC_TEXT &&
            t.kind === REC_TEXT &&
            p.typ === s.typ &&
            t.typ === s.typ &&
            t.lc === c &&
            t.lk === p.clock + p.n - 1 &&
            t.rc === p.rc &&
            (p.rc === null || t.rk === p.rk)
              ? 12
              : 8;
          cs.push(s);
        }
        seq = s.entry.seq;
      }
    }
    cs.sort((a, b) => compareKinds(a.entry, b.entry));
    const kinds = [];
    for (const s of cs) {
      if (kinds.length === 0 || compareKinds(kinds[kinds.length - 1], s.entry) !== 0) kinds.push(s.entry);
      s.ki = kinds.length - 1;
    }
    return kinds;
  }

  /**
   * markRec appends the compact mark of start anchor s, end anchor e and,
   * with continuation, the implied text record t, and returns how many
   * records after s it stands for.
   */
  markRec(col, s, e, t) {
    const k = s.clock;
    const sr = s.rk === s.lk + 1 ? 0 : 1;
    const q = Math.min(s.ki, 7);
    const erm = e.rc === null ? 0 : e.rk === e.lk + 1 ? 1 : 2;
    col.varint(3 + s.cm * 8);
    col.varint((k - s.lk) * 16 + sr * 8 + q);
    if (q === 7) col.varint(s.ki - 7);
    if (sr === 1) col.varint(zigzag(s.rk - s.lk - 1));
    col.varint(zigzag(e.lk - s.rk) * 4 + erm);
    if (erm === 2) col.varint(k + 1 - e.rk);
    if (s.cm === 8) return 1;
    col.varint(t.n - 1);
    return 2;
  }

  /**
   * bridge returns delete ranges rs (flat, of block b's client) with every
   * two ranges merged whose gap holds only anchors of b (format version 3):
   * the update's delete set then skips no anchor of its own.
   */
  bridge(rs, b) {
    const recs = this.recs;
    const out = [rs[0], rs[1]];
    let i = b.from;
    for (let k = 2; k < rs.length; k += 2) {
      let x = out[out.length - 1];
      while (i < b.to && recs[i].clock + recs[i].n <= x) i++;
      while (x < rs[k] && i < b.to && recs[i].clock === x && (recs[i].kind === REC_START || recs[i].kind === REC_END)) {
        x++;
        i++;
      }
      if (x === rs[k]) out[out.length - 1] = rs[k + 1];
      else out.push(rs[k], rs[k + 1]);
    }
    return out;
  }

  /** origins appends the origin operands of a record with modes lm and rm. */
  origins(col, r, lm, rm) {
    if (lm === LEFT_DELTA) col.varint(r.clock - r.lk);
    else if (lm === LEFT_EXPLICIT) {
      col.varint(this.clientIdx(r.lc.id));
      col.varint(r.lk);
    }
    if (rm === RIGHT_DELTA) col.varint(r.clock - r.rk);
    else if (rm === RIGHT_EXPLICIT) {
      col.varint(this.clientIdx(r.rc.id));
      col.varint(r.rk);
    }
  }
}

/** leftMode chooses the left origin mode of record r of client c (FORMAT.md §4.4). */
function leftMode(c, r) {
  if (r.lc === null) return LEFT_NONE;
  if (r.lc === c && r.lk + 1 === r.clock) return LEFT_PREV;
  if (r.lc === c && r.lk < r.clock) return LEFT_DELTA;
  return LEFT_EXPLICIT;
}

/** rightMode chooses the right origin mode of record r of client c (FORMAT.md §4.4). */
function rightMode(c, r) {
  if (r.rc === null) return RIGHT_NONE;
  if (r.lc !== null && r.rc === r.lc && r.rk === r.lk + 1) return RIGHT_AFTER_L;
  if (r.rc === c && r.rk < r.clock) return RIGHT_DELTA;
  return RIGHT_EXPLICIT;
}

/** zigzag maps x to 2x for x ≥ 0, −2x − 1 below (format version 3). */
function zigzag(x) {
  return x >= 0 ? 2 * x : -2 * x - 1;
}

/** unzigzag inverts zigzag. */
function unzigzag(z) {
  return z % 2 === 0 ? z / 2 : -(z + 1) / 2;
}

/**
 * compareKinds orders mark kinds (Marks, or entries of a mark table) as
 * the mark table lists them: by key bytes, expand rule, removal first,
 * then value bytes.
 */
function compareKinds(a, b) {
  const x = a.value;
  const y = b.value;
  const c = compareCodePoints(a.key, b.key) || a.expand - b.expand || (x !== null) - (y !== null);
  if (c !== 0 || x === null) return c;
  for (let i = 0; i < x.length && i < y.length; i++) if (x[i] !== y[i]) return x[i] - y[i];
  return x.length - y.length;
}

// ---------------------------------------------------------------------------
// Decoding

/**
 * A Record is one decoded change: a text run (split where the update's
 * delete set starts or stops deleting it), a map entry, or a skip.
 */
export class Record {
  constructor(kind, clock, length, typ) {
    this.init(kind, clock, length, typ);
  }

  /** init makes the record a fresh one, as the constructor does (Decoded reuses records). */
  init(kind, clock, length, typ) {
    this.kind = kind;
    this.clock = clock;
    this.length = length;
    this.typ = typ; // index in Decoded.types
    this.hasLeft = false;
    this.leftClient = 0; // origins are IDs: client ID numbers, not states
    this.leftClock = 0;
    this.hasRight = false;
    this.rightClient = 0;
    this.rightClock = 0;
    /** @type {string | null} text of the run, null when it arrives deleted */
    this.content = null;
    /** @type {string | null} */
    this.key = null;
    this.seq = 0;
    /** @type {Uint8Array | null} */
    this.value = null;
    this.del = false;
    /** A text record's kind: RICH_NONE (code points), or an embed or an anchor (RICH.md). */
    this.rich = RICH_NONE;
    /** A start anchor's expand rule: 0 (none) or 1 (after). */
    this.expand = 0;
    /** What the record counts against MAX_PENDING_BYTES while it waits. */
    this.cost = 0;
    /** Resolved when integrated. */
    this.text = null;
    this.map = null;
  }

  /** piece makes p a copy of this text record for the part starting at clock, and returns it. */
  piece(p, clock, length, content) {
    p.init(KIND_TEXT, clock, length, this.typ);
    p.hasLeft = this.hasLeft;
    p.leftClient = this.leftClient;
    p.leftClock = this.leftClock;
    p.hasRight = this.hasRight;
    p.rightClient = this.rightClient;
    p.rightClock = this.rightClock;
    p.content = content;
    return p;
  }
}

/**
 * Decoded is an update decoded into plain values. A Doc reuses one for
 * every update it applies (its arrays, and the entries of types, deletes
 * and blocks, are overwritten in place), so that applying a keystroke's
 * update allocates little more than its records: the counts nTypes,
 * nClients, nDeletes, nRanges, nBlocks and nRecs say how much of each array
 * holds this update.
 */
export class Decoded {
  constructor() {
    /** @type {Array<{kind: number, name: string, text: any, map: any}>} */
    this.types = [];
    this.nTypes = 0;
    /** @type {number[]} */
    this.clients = [];
    this.nClients = 0;
    /** @type {Array<{client: number, from: number, to: number}>} ranges[from, to) as flat pairs */
    this.deletes = [];
    this.nDeletes = 0;
    /** @type {number[]} delete ranges, flat [start, end, …] */
    this.ranges = [];
    this.nRanges = 0;
    /** @type {Array<{client: number, from: number, to: number, start: number, end: number, textType: number}>} */
    this.blocks = [];
    this.nBlocks = 0;
    /** @type {Record[]} */
    this.recs = [];
    this.nRecs = 0;
    /** The update's format version: FORMAT_VERSION, 2 or RICH_VERSION. */
    this.version = FORMAT_VERSION;
    /** The clock of the last explicit origin read (explicitID). */
    this.idClock = 0;
    /** A record to copy a text record into while it is cut into pieces. */
    this.whole = new Record(KIND_TEXT, 0, 0, -1);
    this.reader = new Reader(EMPTY);
    this.vr = new VarReader(EMPTY, 0, 0);
  }

  /**
   * release lets go of the last update's bytes, and of its arrays if they
   * grew large, as a snapshot's do. Otherwise the arrays stay with their
   * records, which the next update reuses (takeRecord), and the type
   * entries keep their names and the Text or Map resolved for them: the
   * next update nearly always names the same ones.
   */
  release() {
    if (this.nRecs > RELEASE_ABOVE) this.recs = [];
    if (this.nBlocks > RELEASE_ABOVE) this.blocks = [];
    if (this.nRanges > RELEASE_ABOVE) this.ranges = [];
    if (this.nDeletes > RELEASE_ABOVE) this.deletes = [];
    if (this.nClients > RELEASE_ABOVE) this.clients = [];
    if (this.nTypes > RELEASE_ABOVE) this.types = [];
    this.nTypes = this.nClients = this.nDeletes = this.nRanges = this.nBlocks = this.nRecs = 0;
    this.reader.buf = EMPTY;
    this.vr.buf = EMPTY;
  }

  /**
   * textTypeOf returns the type of the text record of this update holding
   * (client, clock), -1 if the record holding it is not a text record, and
   * -2 if the update does not hold it.
   */
  textTypeOf(client, clock) {
    // Blocks are sorted by client and records by clock: validation asks
    // once per record, so both are binary searches.
    const i = searchClient(this.blocks, this.nBlocks, client);
    if (i === this.nBlocks) return -2;
    const b = this.blocks[i];
    if (b.client !== client || clock < b.start || clock >= b.end) return -2;
    if (b.textType >= 0) return b.textType;
    let lo = b.from;
    let hi = b.to - 1;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const r = this.recs[mid];
      if (r.clock + r.length > clock) hi = mid;
      else lo = mid + 1;
    }
    const r = this.recs[lo];
    return r.kind === KIND_TEXT ? r.typ : -1;
  }
}

/**
 * takeRecord returns a fresh record for the next element of u.recs: the one
 * a previous update left in that element when there is one, which saves
 * allocating a record per keystroke. The caller stores it there (Doc.apply
 * takes out of u.recs the records it keeps, those that wait as pending).
 */
function takeRecord(u, kind, clock, length, typ) {
  const r = u.recs[u.nRecs];
  if (r === undefined || r === null) return new Record(kind, clock, length, typ);
  r.init(kind, clock, length, typ);
  return r;
}

/**
 * appendDeleted appends the clocks of it, a deleted item that follows the
 * ranges of out (flat [start, end, …]) in clock order, merging it into the
 * last range it touches.
 * @param {number[]} out
 * @param {import('./item.js').Item} it
 */
export function appendDeleted(out, it) {
  const n = out.length;
  if (n > 0 && out[n - 1] === it.clock) out[n - 1] += it.length;
  else out.push(it.clock, it.clock + it.length);
}

/**
 * searchClient returns the index of the first of the n first elements of
 * a, sorted by their client field, whose client is not below client (n if
 * none).
 * @param {Array<{client: number}>} a
 * @param {number} n
 * @param {number} client
 */
function searchClient(a, n, client) {
  let lo = 0;
  let hi = n;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (a[mid].client < client) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/**
 * decodeUpdate decodes an update (FORMAT.md §4), checking every rule a
 * decoder must enforce; it throws a DecodeError at the first violation.
 * It decodes into u when given (which must not be in use: see Decoded).
 * @param {Uint8Array} b
 * @param {Decoded} [u]
 * @returns {Decoded}
 */
export function decodeUpdate(b, u = new Decoded()) {
  const r = u.reader;
  r.buf = b;
  r.pos = 0;
  const n = r.arrayLen();
  if (n !== 5 && n !== 6) throw r.error(`an update is an array of 5 or 6 elements, not ${n}`);
  const v = r.uint(2 ** 32);
  if (v < FORMAT_VERSION || v > RICH_VERSION) throw r.error(`unsupported format version ${v}`);
  if (n !== (v === RICH_VERSION ? 6 : 5)) throw r.error(`an update of version ${v} is an array of ${v === RICH_VERSION ? 6 : 5} elements, not ${n}`);
  u.version = v;
  // Types.
  const nt = r.arrayLen();
  const types = u.types;
  for (let i = 0; i < nt; i++) {
    r.tuple(2, 'a type [kind, name]');
    const kind = r.uint(TYPE_MAP);
    // The entry this Decoded held at i keeps its name string and resolved
    // type when the update names the same type there again.
    const old = i < types.length ? types[i] : null;
    const name = old !== null && old.kind === kind && sameASCII(r, old.name) ? old.name : r.str();
    if (name.length > MAX_NAME_BYTES / 3 && utf8Length(name) > MAX_NAME_BYTES) {
      throw r.error(`type name longer than ${MAX_NAME_BYTES} bytes`);
    }
    if (i > 0) {
      const p = types[i - 1];
      if (p.kind > kind || (p.kind === kind && compareCodePoints(p.name, name) >= 0)) throw r.error('types not sorted');
    }
    if (old === null) types.push({ kind, name, text: null, map: null });
    else if (old.name !== name || old.kind !== kind) {
      old.kind = kind;
      old.name = name;
      old.text = null;
      old.map = null;
    }
    u.nTypes = i + 1;
  }
  // Clients.
  const nc = r.arrayLen();
  const clients = u.clients;
  for (let i = 0; i < nc; i++) {
    const c = r.clientID();
    if (i > 0 && c <= clients[i - 1]) throw r.error('clients not in ascending order');
    clients[i] = c;
    u.nClients = i + 1;
  }
  // Deletes.
  const nd = r.arrayLen();
  const ranges = u.ranges;
  for (let i = 0; i < nd; i++) {
    r.tuple(2, 'a delete entry [client, ranges]');
    const client = clientAt(u, r);
    if (i > 0 && client <= u.deletes[i - 1].client) throw r.error('delete entries not in ascending client order');
    const len = r.raw(false);
    const vr = u.vr;
    vr.reset(b, r.pos - len, r.pos);
    const from = u.nRanges;
    let prev = 0;
    while (vr.more()) {
      const gap = vr.next(MAX_CLOCK);
      const ln = vr.next(MAX_CLOCK);
      if (ln === 0 || (u.nRanges > from && gap === 0)) throw vr.error('empty or unmerged delete range');
      // Compared before adding: past 2^53 a sum of numbers rounds, and
      // could come out at 2^53 exactly.
      if (gap > MAX_CLOCK - prev || ln > MAX_CLOCK - (prev + gap)) throw vr.error('delete range past 2^53');
      const start = prev + gap;
      ranges[u.nRanges++] = start;
      ranges[u.nRanges++] = start + ln;
      prev = start + ln;
    }
    if (u.nRanges === from) throw r.error('delete entry with no ranges');
    if (i < u.deletes.length) {
      const d = u.deletes[i];
      d.client = client;
      d.from = from;
      d.to = u.nRanges;
    } else u.deletes.push({ client, from, to: u.nRanges });
    u.nDeletes = i + 1;
  }
  // Blocks.
  const nb = r.arrayLen();
  for (let i = 0; i < nb; i++) decodeBlock(u, r, b, i);
  if (v === RICH_VERSION) decodeKinds(u, r, b);
  r.end();
  return u;
}

/**
 * sameASCII reports whether the str at r's position holds exactly the
 * ASCII string s, and if so moves r past it: then the caller can take s
 * instead of decoding a copy. Anything else (another length, non-ASCII, no
 * str header of one byte) answers false without moving r, and the caller
 * decodes as usual.
 */
function sameASCII(r, s) {
  const b = r.buf;
  const p = r.pos;
  if (p >= b.length || s.length > 31 || b[p] !== (0xa0 | s.length) || b.length - p - 1 < s.length) return false;
  for (let i = 0; i < s.length; i++) {
    const c = b[p + 1 + i];
    if (c >= 0x80 || c !== s.charCodeAt(i)) return false;
  }
  r.pos = p + 1 + s.length;
  return true;
}

/** clientAt reads an index into the clients table and returns that client. */
function clientAt(u, r) {
  const ci = r.uint(u.nClients);
  if (ci >= u.nClients) throw r.error(`client index ${ci} out of range`);
  return u.clients[ci];
}

/**
 * explicitID reads an explicit origin (client index, clock): it returns
 * the client and leaves the clock in u.idClock.
 */
function explicitID(u, vr) {
  const ci = vr.next(u.nClients);
  if (ci >= u.nClients) throw vr.error('client index out of range');
  u.idClock = vr.next(MAX_CLOCK - 1);
  return u.clients[ci];
}

/** big turns a BigInt field of a header into a number, or Infinity past 2^53. */
function big(x) {
  return x <= 2n ** 53n ? Number(x) : Infinity;
}

/** decodeBlock decodes block i (FORMAT.md §4.2). */
function decodeBlock(u, r, b, i) {
  r.tuple(5, 'a block [client, clock, records, text, entries]');
  const client = clientAt(u, r);
  if (i > 0 && client <= u.blocks[i - 1].client) throw r.error('blocks not in ascending client order');
  let clock = r.uint(MAX_CLOCK);
  const colLen = r.raw(false);
  const colStart = r.pos - colLen;
  const textLen = r.raw(true);
  const textBase = r.pos - textLen;
  const text = decodeUtf8(b, textBase, r.pos);
  if (text === null) throw new DecodeError(textBase, 'string is not valid UTF-8');
  // Without surrogate pairs, code points and UTF-16 units agree.
  const bmp = text.length === textLen || !/[\ud800-\udbff]/.test(text);
  let nEntries = r.arrayLen();
  // This update's deletions of the block's client cut its text records.
  // Delete entries are sorted by client: a scan per block would cost
  // blocks × entries.
  let dFrom = 0;
  let dTo = 0;
  const dx = searchClient(u.deletes, u.nDeletes, client);
  const d = dx < u.nDeletes ? u.deletes[dx] : undefined;
  if (d !== undefined && d.client === client) {
    dFrom = d.from;
    dTo = d.to;
  }
  let di = dFrom; // the first delete range that may overlap the next record
  let tpos = 0; // UTF-16 offset of the next content in text
  const vr = u.vr;
  vr.reset(b, colStart, colStart + colLen);
  const recs = u.recs;
  const ranges = u.ranges;
  const from = u.nRecs;
  let typ = -1;
  const types = u.types;
  let seq = 0; // of the block's last start anchor
  // The text record just decoded, its first piece if the delete set cut
  // it, and its last clock: a compact mark's implied text record goes on
  // from it.
  let last = null;
  let lastClock = 0;
  while (vr.more()) {
    const h = vr.raw();
    const prev = last;
    last = null;
    let lm;
    let rm;
    let n;
    let implied = null;
    if (typeof h === 'number' ? h % 2 === 0 : (h & 1n) === 0n) {
      lm = LEFT_DELTA;
      if (typeof h === 'number') {
        rm = h % 4 === 2 ? RIGHT_DELTA : RIGHT_AFTER_L;
        n = (h - (h % 4)) / 4 + 1;
      } else {
        rm = (h & 2n) !== 0n ? RIGHT_DELTA : RIGHT_AFTER_L;
        n = big((h >> 2n) + 1n);
      }
    } else {
      let kind;
      let p;
      if (typeof h === 'number') {
        kind = ((h % 8) - 1) / 2;
        p = (h - (h % 8)) / 8;
      } else {
        kind = Number((h >> 1n) & 3n);
        p = big(h >> 3n);
      }
      if (kind === REC_PARENT) {
        if (p >= types.length) throw vr.error(`type index ${p} out of range`);
        typ = p;
        continue;
      }
      if (kind === REC_SKIP) {
        if (p >= MAX_CLOCK - clock) throw vr.error('clock past 2^53'); // clock + p + 1 > 2^53, without rounding
        const sn = p + 1;
        const skip = takeRecord(u, KIND_SKIP, clock, sn, -1); // before nRecs moves
        recs[u.nRecs++] = skip;
        clock += sn;
        continue;
      }
      if (kind === REC_MAP && p !== 0 && u.version > FORMAT_VERSION) {
        if (typ < 0 || types[typ].kind !== TYPE_TEXT) throw vr.error('rich text record outside a text');
        if (p % 4 !== 0 || u.version < RICH_VERSION) {
          while (di < dTo && ranges[di + 1] <= clock) di += 2;
          const dead = di < dTo && ranges[di] <= clock;
          const rec = decodeRich(u, vr, r, b, p, clock, typ, client, dead, nEntries);
          if (rec.rich !== RICH_END) nEntries--;
          if (rec.rich === RICH_START) seq = rec.seq;
          recs[u.nRecs++] = rec;
          clock++;
          continue;
        }
        // A compact mark (format version 3).
        if (p !== 8 && p !== 12) throw vr.error(`reserved record payload ${p}`);
        if (seq >= MAX_CLOCK) throw vr.error('seq past 2^53');
        decodeMark(u, vr, clock, typ, client, ++seq);
        clock += 2;
        if (p === 8) continue;
        if (prev === null) throw vr.error('a continued mark not right after a text record');
        n = vr.next(MAX_CLOCK - 1) + 1;
        implied = prev;
      } else if (kind === REC_MAP) {
        if (p !== 0) throw vr.error('bad map record header');
        if (typ < 0 || types[typ].kind !== TYPE_MAP) throw vr.error('map record outside a map');
        if (nEntries === 0) throw r.error('fewer entries than map records');
        nEntries--;
        const rec = decodeEntry(r, b, clock, typ);
        if (clock >= MAX_CLOCK) throw vr.error('clock past 2^53');
        recs[u.nRecs++] = rec;
        clock++;
        continue;
      } else {
        // A long text header: p = lm | rm<<2 | (n−1)<<4.
        if (typeof h === 'number') {
          lm = p % 4;
          rm = ((p - lm) / 4) % 4;
          n = (p - (p % 16)) / 16 + 1;
        } else {
          const pb = h >> 3n;
          lm = Number(pb & 3n);
          rm = Number((pb >> 2n) & 3n);
          n = big((pb >> 4n) + 1n);
        }
        if (lm === LEFT_DELTA && (rm === RIGHT_AFTER_L || rm === RIGHT_DELTA)) {
          throw vr.error('long text header for a short-form record');
        }
      }
    }
    // A text record.
    if (typ < 0 || types[typ].kind !== TYPE_TEXT) throw vr.error('text record outside a text');
    if (n > MAX_CLOCK - clock) throw vr.error('clock past 2^53');
    let rec = takeRecord(u, KIND_TEXT, clock, n, typ);
    if (implied !== null) {
      rec.hasLeft = true;
      rec.leftClient = client;
      rec.leftClock = lastClock;
      rec.hasRight = implied.hasRight;
      rec.rightClient = implied.rightClient;
      rec.rightClock = implied.rightClock;
    } else decodeOrigins(u, vr, lm, rm, rec, client);
    last = rec; // the first piece keeps the right origin
    lastClock = clock + n - 1;
    // Split the run where this update's delete set starts or stops
    // deleting it; only the live parts carry text (FORMAT.md §4.6).
    const end = clock + n;
    while (di < dTo && ranges[di + 1] <= clock) di += 2;
    if (di >= dTo || ranges[di] >= end) {
      // The usual case: no deletion touches the record.
      const k = bmp ? (tpos + n <= text.length ? n : -1) : unitsOf(text, tpos, n);
      if (k < 0) throw new DecodeError(textBase, 'text shorter than its records');
      rec.content = text.slice(tpos, tpos + k);
      tpos += k;
      recs[u.nRecs++] = rec;
    } else {
      // The pieces take the elements of recs from rec's on: rec is copied out first.
      rec = rec.piece(u.whole, clock, n, null);
      let first = true;
      for (let k = clock; k < end; ) {
        let stop;
        let content = null;
        if (di < dTo && ranges[di] <= k) {
          stop = Math.min(end, ranges[di + 1]);
          if (ranges[di + 1] === stop) di += 2; // used up; a range reaching past the record serves the next one too
        } else {
          stop = di < dTo ? Math.min(end, ranges[di]) : end;
          const m = stop - k;
          const units = bmp ? (tpos + m <= text.length ? m : -1) : unitsOf(text, tpos, m);
          if (units < 0) throw new DecodeError(textBase, 'text shorter than its records');
          content = text.slice(tpos, tpos + units);
          tpos += units;
        }
        const part = rec.piece(takeRecord(u, KIND_TEXT, k, stop - k, typ), k, stop - k, content);
        if (!first) {
          part.hasLeft = true;
          part.leftClient = client;
          part.leftClock = k - 1;
        }
        first = false;
        recs[u.nRecs++] = part;
        k = stop;
      }
    }
    clock = end;
  }
  if (nEntries !== 0) throw r.error('more entries than map records');
  if (tpos !== text.length) throw new DecodeError(textBase, 'text longer than its records');
  const to = u.nRecs;
  if (from === to) throw r.error('block with no records');
  let textType = recs[from].kind === KIND_TEXT ? recs[from].typ : -1;
  for (let k = from + 1; k < to && textType >= 0; k++) {
    if (recs[k].kind !== KIND_TEXT || recs[k].typ !== textType) textType = -1;
  }
  if (i < u.blocks.length) {
    const bl = u.blocks[i];
    bl.client = client;
    bl.from = from;
    bl.to = to;
    bl.start = recs[from].clock;
    bl.end = clock;
    bl.textType = textType;
  } else u.blocks.push({ client, from, to, start: recs[from].clock, end: clock, textType });
  u.nBlocks = i + 1;
}

/**
 * decodeOrigins reads the origin operands of modes lm and rm into rec, a
 * record of client (FORMAT.md §4.4).
 */
function decodeOrigins(u, vr, lm, rm, rec, client) {
  const clock = rec.clock;
  if (lm === LEFT_PREV || lm === LEFT_DELTA) {
    let delta = 1;
    if (lm === LEFT_DELTA) {
      delta = vr.next(clock);
      if (delta === 0) throw vr.error('zero origin delta');
    }
    if (delta > clock) throw vr.error('origin before clock 0');
    rec.hasLeft = true;
    rec.leftClient = client;
    rec.leftClock = clock - delta;
  } else if (lm === LEFT_EXPLICIT) {
    rec.leftClient = explicitID(u, vr);
    rec.hasLeft = true;
    rec.leftClock = u.idClock;
  }
  if (rm === RIGHT_AFTER_L) {
    if (!rec.hasLeft) throw vr.error('right origin relative to a missing left origin');
    rec.hasRight = true;
    rec.rightClient = rec.leftClient;
    rec.rightClock = rec.leftClock + 1;
  } else if (rm === RIGHT_DELTA) {
    const delta = vr.next(clock);
    if (delta === 0) throw vr.error('zero origin delta');
    rec.hasRight = true;
    rec.rightClient = client;
    rec.rightClock = clock - delta;
  } else if (rm === RIGHT_EXPLICIT) {
    rec.rightClient = explicitID(u, vr);
    rec.hasRight = true;
    rec.rightClock = u.idClock;
  }
  if (
    (rec.hasLeft && rec.leftClient === client && rec.leftClock >= clock) ||
    (rec.hasRight && rec.rightClient === client && rec.rightClock >= clock)
  ) {
    throw vr.error('origin not before the record');
  }
}

/**
 * decodeRich decodes a start anchor, end anchor or embed record of header
 * payload p (RICH.md §R6) of client at clock, in text type typ, taking its
 * element of the entries (nEntries are left) from r; dead says whether
 * this update's delete set covers the clock.
 * @returns {Record}
 */
function decodeRich(u, vr, r, b, p, clock, typ, client, dead, nEntries) {
  const sub = p % 4;
  const lm = (p >> 2) & 3;
  const rm = (p >> 4) & 3;
  const ex = (p >> 6) & 3;
  if (p >= 256 || sub === 0) throw vr.error('bad rich record header');
  if (sub !== REC_START - RICH_BASE && ex !== 0) throw vr.error('expand rule on a record other than a start anchor');
  if (ex > 1) throw vr.error(`reserved expand rule ${ex}`);
  if (clock >= MAX_CLOCK) throw vr.error('clock past 2^53');
  const rec = takeRecord(u, KIND_TEXT, clock, 1, typ);
  rec.rich = [0, RICH_START, RICH_END, RICH_EMBED][sub];
  rec.expand = ex;
  decodeOrigins(u, vr, lm, rm, rec, client);
  if (rec.rich === RICH_START) {
    if (dead && u.version < RICH_VERSION) throw vr.error('deleted anchor');
    const seq = vr.next(MAX_CLOCK);
    if (seq === 0) throw vr.error('start anchor with seq 0');
    rec.seq = seq;
  } else if (rec.rich === RICH_END) {
    if ((dead && u.version < RICH_VERSION) || clock === 0) throw vr.error('end anchor deleted or at clock 0');
    return rec;
  }
  if (nEntries === 0) throw r.error('fewer entries than map and rich records');
  const k = r.arrayLen();
  if (rec.rich === RICH_START) {
    if (k !== 1 && k !== 2) throw r.error('a start anchor entry is [key] or [key, value]');
    rec.key = r.str();
    if (k === 2) {
      const off = r.value();
      // A copy: the caller may reuse its buffer. msgpack nil is a removal.
      if (r.pos - off !== 1 || b[off] !== 0xc0) rec.value = b.slice(off, r.pos);
    }
  } else {
    if ((k !== 0 && k !== 1) || dead !== (k === 0)) throw r.error('an embed entry is [value], or [] when deleted');
    if (k === 1) {
      const off = r.value();
      rec.value = b.slice(off, r.pos);
      rec.content = '\uFFFC';
    }
  }
  return rec;
}

/**
 * decodeMark reads the operands of a compact mark of client at clock k, in
 * text type typ (format version 3), up to the continuation's length, and
 * adds its start anchor, of the given seq, and its end anchor to u.recs.
 */
function decodeMark(u, vr, k, typ, client, seq) {
  if (k > MAX_CLOCK - 2) throw vr.error('clock past 2^53');
  const a = vr.next(MAX_OPERAND);
  const q = a % 8;
  const d = Math.floor(a / 16);
  const s = Math.floor(a / 8) % 2;
  const x = q === 7 ? 7 + vr.next(MAX_OPERAND) : q;
  const rs = k - d + 1 + (s === 1 ? unzigzag(vr.next(MAX_OPERAND)) : 0);
  if (d === 0 || d > k || (s === 0 && d === 1) || rs < 0 || rs >= k) throw vr.error('bad origins of a start anchor');
  const bo = vr.next(MAX_OPERAND);
  const erm = bo % 4;
  if (erm === 3) throw vr.error('reserved end right mode 3');
  const j = rs + unzigzag((bo - erm) / 4);
  const er = erm === 0 ? -1 : erm === 1 ? j + 1 : k + 1 - vr.next(MAX_OPERAND);
  if (j < 0 || j > k || er > k || (erm === 2 && er < 0)) throw vr.error('bad origins of an end anchor');
  const st = anchor(u, k, typ, RICH_START, client, k - d, rs);
  st.seq = seq;
  st.key = x; // the kind's index, until the mark table is read (decodeKinds)
  anchor(u, k + 1, typ, RICH_END, client, j, er);
}

/** anchor adds to u.recs an anchor of client at clock with origins (client, lk) and (client, rk), none if rk < 0. */
function anchor(u, clock, typ, rich, client, lk, rk) {
  const r = takeRecord(u, KIND_TEXT, clock, 1, typ);
  r.rich = rich;
  r.hasLeft = true;
  r.leftClient = client;
  r.leftClock = lk;
  if (rk >= 0) {
    r.hasRight = true;
    r.rightClient = client;
    r.rightClock = rk;
  }
  return (u.recs[u.nRecs++] = r);
}

/**
 * decodeKinds reads the mark table of a version 3 update and gives the
 * start anchors of its compact marks their key, value and expand rule.
 */
function decodeKinds(u, r, b) {
  const n = r.arrayLen();
  const kinds = [];
  for (let i = 0; i < n; i++) {
    const k = r.arrayLen();
    if (k !== 2 && k !== 3) throw r.error('a mark kind is [key, expand, value?]');
    const m = { key: r.str(), expand: r.uint(MAX_CLOCK), value: null };
    if (m.expand > 1) throw r.error(`reserved expand rule ${m.expand}`);
    if (k === 3) {
      const off = r.value();
      if (r.pos - off === 1 && b[off] === 0xc0) throw r.error('a mark kind of value nil');
      m.value = b.slice(off, r.pos);
    }
    if (i > 0 && compareKinds(kinds[i - 1], m) >= 0) throw r.error('mark kinds not in ascending order');
    kinds.push(m);
  }
  for (let i = 0; i < u.nRecs; i++) {
    const st = u.recs[i];
    if (typeof st.key !== 'number') continue; // not a compact mark's start anchor
    const m = kinds[st.key];
    if (m === undefined) throw r.error(`mark kind ${st.key} out of range`);
    st.key = m.key;
    st.value = m.value;
    st.expand = m.expand;
  }
}

/** decodeEntry reads the entries element of map record at clock (FORMAT.md §4.8). */
function decodeEntry(r, b, clock, typ) {
  const k = r.arrayLen();
  if (k !== 2 && k !== 3) throw r.error('a map entry is [key, seq] or [key, seq, value]');
  const key = r.str();
  const seq = r.uint(MAX_CLOCK);
  const rec = new Record(KIND_MAP, clock, 1, typ);
  rec.key = key;
  rec.seq = seq;
  rec.del = k === 2;
  if (k === 3) {
    const off = r.value();
    rec.value = b.slice(off, r.pos); // a copy: the caller may reuse its buffer
  }
  return rec;
}
