// ProseMirror ↔ Text mapping: a ProseMirror document and the Quill-shaped
// delta of a rich Text (../../crdt/RICH.md) stand for each other as
// follows. Every block ends with a "\n" whose attributes say what the block
// is, as in Quill:
//
//   paragraph                         "…\n"
//   heading (level n)                 "…\n" {header: n}
//   code block (language l)           one "\n" {"code-block": l, or true without a language} per line
//   blockquote                        {blockquote: true} on each of its blocks' "\n"
//   bullet / ordered list item        {list: "bullet" | "ordered", indent: depth} (indent 0 is left out)
//   block image                       {insert: {image: src}} followed by "\n"
//   hard break                        the character U+2028 (LINE SEPARATOR), with the marks of the break
//   inline image                      {insert: {image: src}}
//   bold, italic, underline, strike,  {bold: true}, {italic: true}, …, {link: href}
//   code, link marks
//   an image's alt and title          {alt: …, title: …} on the image
//
// A hard break is a character, not an embed: it is plain text everywhere
// else (toString, a textarea, an export), costs no msgpack value, and
// U+2028 never occurs in typed text. Both TipTap's names (bold, bulletList,
// codeBlock, …) and prosemirror-schema-basic/-list's names (strong,
// bullet_list, code_block, …) are understood.
//
// Anything else — another node or mark, an attribute with a value other
// than its default, a blockquote inside a list, a list item whose first
// child is not a paragraph — cannot be written to the Text and is refused
// with a SchemaError, never dropped. The other way, a Text may hold what
// the editor cannot show (a mark or block attribute of another client, an
// unknown embed): deltaToDoc refuses it too, or, given onUnsupported,
// reports it and shows the rest, keeping every position where it is (an
// unknown embed shows as U+FFFC), so that edits made in the editor still
// land where they belong and leave what it could not show untouched.
//
// Positions: ProseMirror counts a text's UTF-16 units and one per inline
// leaf, as the JS Text does, so a block's text length is its content size
// plus one for its "\n".

/** The character that stands for a hard break in the Text. */
export const HARD_BREAK = '\u2028';

/** The character shown for an embed the editor's schema cannot show. */
export const OBJECT_REPLACEMENT = '\ufffc';

/**
 * A SchemaError says that a document or a delta holds something the
 * mapping cannot carry; path tells where (e.g. "doc > bulletList > listItem").
 */
export class SchemaError extends Error {
  /**
   * @param {string} message
   * @param {string} [path]
   */
  constructor(message, path = '') {
    super(path ? `prosemirror: ${message} (at ${path})` : `prosemirror: ${message}`);
    this.name = 'SchemaError';
    this.path = path;
  }
}

/** The roles the mapping knows, with the node names that play them. */
const NODE_NAMES = {
  doc: ['doc'],
  text: ['text'],
  paragraph: ['paragraph'],
  heading: ['heading'],
  blockquote: ['blockquote'],
  codeBlock: ['codeBlock', 'code_block'],
  bulletList: ['bulletList', 'bullet_list'],
  orderedList: ['orderedList', 'ordered_list'],
  listItem: ['listItem', 'list_item'],
  hardBreak: ['hardBreak', 'hard_break'],
  image: ['image'],
};

/** The delta attribute of each mark role, with the mark names that play it. */
const MARK_NAMES = {
  bold: ['bold', 'strong'],
  italic: ['italic', 'em'],
  underline: ['underline'],
  strike: ['strike'],
  code: ['code'],
  link: ['link'],
};

/**
 * Node attributes the mapping carries (or, for a link's target, rel and
 * class, leaves to the editor's configuration); every other attribute must
 * hold its default.
 */
const CARRIED_ATTRS = {
  heading: ['level'],
  codeBlock: ['language'],
  image: ['src', 'alt', 'title'],
  link: ['href', 'target', 'rel', 'class'],
};

/** The block attributes of a line the mapping understands. */
const LINE_KEYS = new Set(['header', 'code-block', 'blockquote', 'list', 'indent']);

/** @type {WeakMap<object, Roles>} */
const rolesCache = new WeakMap();

/**
 * @typedef {{
 *   node: Map<string, string>, mark: Map<string, string>,
 *   nodes: Record<string, any>, marks: Record<string, any>
 * }} Roles
 */

/**
 * roles returns, for a schema, the role of each of its node and mark types
 * and the type that plays each role.
 * @param {import('prosemirror-model').Schema} schema
 * @returns {Roles}
 */
function roles(schema) {
  let r = rolesCache.get(schema);
  if (r) return r;
  r = { node: new Map(), mark: new Map(), nodes: {}, marks: {} };
  for (const [role, names] of Object.entries(NODE_NAMES)) {
    for (const name of names) {
      const t = schema.nodes[name];
      if (t && !r.nodes[role]) {
        r.nodes[role] = t;
        r.node.set(name, role);
      }
    }
  }
  for (const [role, names] of Object.entries(MARK_NAMES)) {
    for (const name of names) {
      const t = schema.marks[name];
      if (t && !r.marks[role]) {
        r.marks[role] = t;
        r.mark.set(name, role);
      }
    }
  }
  rolesCache.set(schema, r);
  return r;
}

/**
 * checkAttrs refuses a node or mark with an attribute the mapping does not
 * carry set to anything but its default.
 * @param {{type: any, attrs: Record<string, any>}} x
 * @param {string} role
 * @param {string} path
 */
function checkAttrs(x, role, path) {
  const carried = CARRIED_ATTRS[role] ?? [];
  for (const [name, spec] of Object.entries(x.type.attrs)) {
    if (carried.includes(name)) continue;
    const v = x.attrs[name];
    const def = spec.hasDefault ? spec.default : undefined;
    if (v === def || (v == null && def == null)) continue;
    if ((name === 'start' || name === 'order') && role === 'orderedList' && v === 1) continue;
    throw new SchemaError(`attribute ${name}=${JSON.stringify(v)} of ${x.type.name} is not carried by the Text`, path);
  }
}

/**
 * markAttrs returns the delta attributes of a set of marks.
 * @param {Roles} r
 * @param {readonly any[]} marks
 * @param {string} path
 */
function markAttrs(r, marks, path) {
  /** @type {Record<string, any>} */
  const a = {};
  for (const m of marks) {
    const role = r.mark.get(m.type.name);
    if (role === undefined) throw new SchemaError(`mark ${m.type.name} is not in the Text's schema`, path);
    checkAttrs(m, role, path);
    if (role === 'link') {
      if (typeof m.attrs.href !== 'string' || m.attrs.href === '') throw new SchemaError('a link without an href', path);
      a.link = m.attrs.href;
    } else {
      a[role] = true;
    }
  }
  return a;
}

/**
 * imageEmbed returns the delta op of an image node.
 * @param {any} node
 * @param {Record<string, any>} attrs mark attributes
 * @param {string} path
 */
function imageOp(node, attrs, path) {
  checkAttrs(node, 'image', path);
  const src = node.attrs.src;
  if (typeof src !== 'string' || src === '') throw new SchemaError('an image without a src', path);
  const a = { ...attrs };
  if (node.attrs.alt != null && node.attrs.alt !== '') a.alt = String(node.attrs.alt);
  if (node.attrs.title != null && node.attrs.title !== '') a.title = String(node.attrs.title);
  return Object.keys(a).length > 0 ? { insert: { image: src }, attributes: a } : { insert: { image: src } };
}

/**
 * A Unit is a stretch of the Text that one block stands for: its lines'
 * characters and "\n"s. pos is the block's position in the document, size
 * its nodeSize, length its length in the Text.
 * @typedef {{node: any, pos: number, size: number, length: number, role: string, attrs: Record<string, any>, path: string}} Unit
 */

/**
 * units calls fn with each block of doc that ends lines in the Text, in
 * order, with the block attributes its place gives it, checking the
 * structure on the way (but not the inline content: see unitOps).
 * @param {any} doc
 * @param {(u: Unit) => void} fn
 */
export function forEachUnit(doc, fn) {
  const r = roles(doc.type.schema);
  if (r.node.get(doc.type.name) !== 'doc') throw new SchemaError(`a document of type ${doc.type.name}`);
  walkBlocks(r, doc, 0, { blockquote: false, depth: -1, list: '' }, 'doc', fn);
}

/**
 * walkBlocks walks the block children of parent, whose content starts at
 * pos.
 * @param {Roles} r
 * @param {any} parent
 * @param {number} pos
 * @param {{blockquote: boolean, depth: number, list: string}} ctx
 * @param {string} path
 * @param {(u: Unit) => void} fn
 */
function walkBlocks(r, parent, pos, ctx, path, fn) {
  parent.forEach((node, offset) => {
    const at = pos + offset;
    const role = r.node.get(node.type.name);
    const here = `${path} > ${node.type.name}`;
    const lineAttrs = () => {
      /** @type {Record<string, any>} */
      const a = {};
      if (ctx.blockquote) a.blockquote = true;
      if (ctx.list !== '') {
        a.list = ctx.list;
        if (ctx.depth > 0) a.indent = ctx.depth;
      }
      return a;
    };
    switch (role) {
      case 'paragraph':
      case 'heading':
      case 'codeBlock': {
        checkAttrs(node, role, here);
        const a = lineAttrs();
        if (role === 'heading') {
          const level = node.attrs.level;
          if (!Number.isInteger(level) || level < 1 || level > 6) throw new SchemaError(`heading level ${level}`, here);
          a.header = level;
        }
        if (role === 'codeBlock') {
          const lang = node.attrs.language;
          a['code-block'] = typeof lang === 'string' && lang !== '' ? lang : true;
        }
        if (ctx.list !== '' && role !== 'paragraph') throw new SchemaError(`a ${node.type.name} in a list item`, here);
        fn({ node, pos: at, size: node.nodeSize, length: node.content.size + 1, role, attrs: a, path: here });
        return;
      }
      case 'image': {
        if (node.isInline) throw new SchemaError('an inline image among blocks', here);
        if (ctx.list !== '') throw new SchemaError('an image in a list item', here);
        fn({ node, pos: at, size: node.nodeSize, length: 2, role, attrs: lineAttrs(), path: here });
        return;
      }
      case 'blockquote': {
        checkAttrs(node, role, here);
        if (ctx.blockquote) throw new SchemaError('a blockquote inside a blockquote', here);
        if (ctx.list !== '') throw new SchemaError('a blockquote in a list item', here);
        walkBlocks(r, node, at + 1, { ...ctx, blockquote: true }, here, fn);
        return;
      }
      case 'bulletList':
      case 'orderedList': {
        checkAttrs(node, role, here);
        const list = role === 'bulletList' ? 'bullet' : 'ordered';
        node.forEach((item, itemOffset) => {
          const itemPath = `${here} > ${item.type.name}`;
          if (r.node.get(item.type.name) !== 'listItem') throw new SchemaError(`a ${item.type.name} in a list`, itemPath);
          checkAttrs(item, 'listItem', itemPath);
          const itemPos = at + 1 + itemOffset;
          item.forEach((child, childOffset, index) => {
            const childRole = r.node.get(child.type.name);
            const sub = { node: child, at: itemPos + 1 + childOffset };
            if (index === 0) {
              if (childRole !== 'paragraph') throw new SchemaError(`a list item starting with a ${child.type.name}`, itemPath);
              walkOne(r, sub, { blockquote: ctx.blockquote, depth: ctx.depth + 1, list }, itemPath, fn);
            } else if (childRole === 'bulletList' || childRole === 'orderedList') {
              walkOne(r, sub, { blockquote: ctx.blockquote, depth: ctx.depth + 1, list: '' }, itemPath, fn);
            } else {
              throw new SchemaError(`a ${child.type.name} after the first paragraph of a list item`, itemPath);
            }
          });
        });
        return;
      }
      default:
        throw new SchemaError(`node ${node.type.name} is not in the Text's schema`, here);
    }
  });
}

/**
 * walkOne walks a single block as walkBlocks walks a parent's children.
 * @param {Roles} r
 * @param {{node: any, at: number}} sub
 * @param {{blockquote: boolean, depth: number, list: string}} ctx
 * @param {string} path
 * @param {(u: Unit) => void} fn
 */
function walkOne(r, sub, ctx, path, fn) {
  walkBlocks(r, { forEach: (f) => f(sub.node, 0, 0) }, sub.at, ctx, path, fn);
}

/**
 * unitOps returns the delta ops of a unit: its inline content and its
 * "\n"s with their block attributes.
 * @param {Roles} r
 * @param {Unit} u
 * @returns {Array<{insert: any, attributes?: Record<string, any>}>}
 */
function unitOps(r, u) {
  const lineAttrs = u.attrs;
  const nl = Object.keys(lineAttrs).length > 0 ? { insert: '\n', attributes: lineAttrs } : { insert: '\n' };
  if (u.role === 'image') return [imageOp(u.node, {}, u.path), nl];
  /** @type {Array<{insert: any, attributes?: Record<string, any>}>} */
  const ops = [];
  u.node.forEach((child) => {
    const role = r.node.get(child.type.name);
    const here = `${u.path} > ${child.type.name}`;
    const a = markAttrs(r, child.marks, here);
    const attributes = Object.keys(a).length > 0 ? a : undefined;
    if (role === 'text') {
      if (child.text.includes('\n') && u.role !== 'codeBlock') throw new SchemaError('a line break inside a text', here);
      if (u.role === 'codeBlock') {
        // Each line of a code block ends with its own "\n", as in Quill.
        const parts = child.text.split('\n');
        parts.forEach((p, i) => {
          if (i > 0) ops.push({ ...nl });
          if (p !== '') ops.push(attributes ? { insert: p, attributes } : { insert: p });
        });
      } else {
        ops.push(attributes ? { insert: child.text, attributes } : { insert: child.text });
      }
    } else if (role === 'hardBreak') {
      checkAttrs(child, role, here);
      ops.push(attributes ? { insert: HARD_BREAK, attributes } : { insert: HARD_BREAK });
    } else if (role === 'image' && child.isInline) {
      ops.push(imageOp(child, a, here));
    } else {
      throw new SchemaError(`node ${child.type.name} is not in the Text's schema`, here);
    }
  });
  ops.push(nl);
  return ops;
}

/**
 * sameAttrs reports whether two attribute objects hold the same keys and
 * values (values compared as JSON).
 * @param {Record<string, any> | undefined} a
 * @param {Record<string, any> | undefined} b
 */
export function sameAttrs(a, b) {
  const ka = a ? Object.keys(a) : [];
  const kb = b ? Object.keys(b) : [];
  if (ka.length !== kb.length) return false;
  for (const k of ka) {
    if (!b || !(k in b)) return false;
    if (a[k] !== b[k] && JSON.stringify(a[k]) !== JSON.stringify(b[k])) return false;
  }
  return true;
}

/**
 * pushInsert appends an insert to ops, merged with the last one when both
 * are strings with the same attributes.
 * @param {any[]} ops
 * @param {{insert: any, attributes?: Record<string, any>}} op
 */
function pushInsert(ops, op) {
  const last = ops[ops.length - 1];
  if (
    last !== undefined &&
    typeof last.insert === 'string' &&
    typeof op.insert === 'string' &&
    sameAttrs(last.attributes, op.attributes)
  ) {
    ops[ops.length - 1] = last.attributes ? { insert: last.insert + op.insert, attributes: last.attributes } : { insert: last.insert + op.insert };
    return;
  }
  ops.push(op);
}

/**
 * docToDelta returns the Text delta a ProseMirror document stands for:
 * inserts only, adjacent inserts with equal attributes merged, as
 * Text.toDelta returns them. It throws a SchemaError for anything the
 * mapping cannot carry.
 * @param {import('prosemirror-model').Node} doc
 * @returns {Array<{insert: string | Record<string, any>, attributes?: Record<string, any>}>}
 */
export function docToDelta(doc) {
  const r = roles(doc.type.schema);
  const ops = [];
  forEachUnit(doc, (u) => {
    for (const op of unitOps(r, u)) pushInsert(ops, op);
  });
  return ops;
}

/**
 * A Line is one "\n"-ended line of a delta: its inline ops and the
 * attributes of its "\n".
 * @typedef {{ops: Array<{insert: any, attributes?: Record<string, any>}>, attrs: Record<string, any>}} Line
 */

/**
 * deltaLines splits a delta of inserts into lines. Content after the last
 * "\n" makes a last line without attributes.
 * @param {Array<{insert?: any, attributes?: Record<string, any>}>} delta
 * @returns {Line[]}
 */
function deltaLines(delta) {
  /** @type {Line[]} */
  const lines = [];
  let cur = [];
  for (const op of delta) {
    if (op.insert === undefined) throw new SchemaError(`a delta op that is not an insert: ${JSON.stringify(op)}`);
    if (typeof op.insert !== 'string') {
      cur.push(op);
      continue;
    }
    const parts = op.insert.split('\n');
    parts.forEach((p, i) => {
      if (i > 0) {
        lines.push({ ops: cur, attrs: op.attributes ?? {} });
        cur = [];
      }
      if (p !== '') cur.push(op.attributes ? { insert: p, attributes: op.attributes } : { insert: p });
    });
  }
  if (cur.length > 0) lines.push({ ops: cur, attrs: {} });
  return lines;
}

/**
 * deltaToDoc builds the ProseMirror document of schema that a Text delta
 * (inserts, as Text.toDelta returns) stands for. What the schema cannot
 * show throws a SchemaError, or, given onUnsupported, is reported to it and
 * left out of the document without moving any position (see the top of
 * this file).
 * @param {import('prosemirror-model').Schema} schema
 * @param {Array<{insert?: any, attributes?: Record<string, any>}>} delta
 * @param {{onUnsupported?: (err: SchemaError) => void}} [options]
 * @returns {import('prosemirror-model').Node}
 */
export function deltaToDoc(schema, delta, options = {}) {
  const r = roles(schema);
  const report =
    options.onUnsupported ??
    ((err) => {
      throw err;
    });
  const lines = deltaLines(delta).map((l, i) => normalizeLine(r, l, i, report));
  const content = buildBlocks(r, lines, report);
  if (content.length === 0) content.push(r.nodes.paragraph.create());
  return r.nodes.doc.create(null, content);
}

/**
 * A Block is a line made ready to build: the inline nodes of its text, its
 * kind and its container attributes.
 * @typedef {{inline: any[], text: string, kind: 'paragraph' | 'heading' | 'codeBlock' | 'image', level: number,
 *   language: string | null, blockquote: boolean, list: string, indent: number, image: any}} Block
 */

/**
 * normalizeLine turns a delta line into a Block, reporting what the schema
 * cannot show.
 * @param {Roles} r
 * @param {Line} line
 * @param {number} n the line's index, for messages
 * @param {(err: SchemaError) => void} report
 * @returns {Block}
 */
function normalizeLine(r, line, n, report) {
  const where = `line ${n + 1}`;
  const a = line.attrs;
  for (const k of Object.keys(a)) {
    if (!LINE_KEYS.has(k) && a[k] != null) report(new SchemaError(`block attribute ${k}=${JSON.stringify(a[k])} cannot be shown`, where));
  }
  /** @type {Block} */
  const b = { inline: [], text: '', kind: 'paragraph', level: 0, language: null, blockquote: false, list: '', indent: 0, image: null };
  if (a.blockquote != null && a.blockquote !== false) {
    if (r.nodes.blockquote) b.blockquote = true;
    else report(new SchemaError('a blockquote the schema has no node for', where));
  }
  if (a.list != null) {
    const t = a.list === 'bullet' ? r.nodes.bulletList : a.list === 'ordered' ? r.nodes.orderedList : undefined;
    if (t && r.nodes.listItem) {
      b.list = a.list;
      const ind = a.indent ?? 0;
      if (Number.isInteger(ind) && ind >= 0) b.indent = ind;
      else report(new SchemaError(`indent ${JSON.stringify(ind)}`, where));
    } else {
      report(new SchemaError(`list ${JSON.stringify(a.list)} cannot be shown`, where));
    }
  } else if (a.indent != null && a.indent !== 0) {
    report(new SchemaError(`indent ${JSON.stringify(a.indent)} outside a list cannot be shown`, where));
  }
  if (a['code-block'] != null && a['code-block'] !== false) {
    if (!r.nodes.codeBlock) report(new SchemaError('a code block the schema has no node for', where));
    else if (b.list !== '') report(new SchemaError('a code block in a list item cannot be shown', where));
    else {
      b.kind = 'codeBlock';
      const lang = a['code-block'];
      if (typeof lang === 'string' && lang !== '') {
        if (r.nodes.codeBlock.attrs.language) b.language = lang;
        else report(new SchemaError(`code block language ${JSON.stringify(lang)} the schema has no attribute for`, where));
      }
    }
  } else if (a.header != null && a.header !== false) {
    const level = a.header;
    if (!r.nodes.heading || !Number.isInteger(level) || level < 1 || level > 6) report(new SchemaError(`header ${JSON.stringify(level)} cannot be shown`, where));
    else if (b.list !== '') report(new SchemaError('a heading in a list item cannot be shown', where));
    else {
      b.kind = 'heading';
      b.level = level;
    }
  }
  const image = r.nodes.image;
  if (
    b.kind === 'paragraph' &&
    b.list === '' &&
    image &&
    !image.isInline &&
    line.ops.length === 1 &&
    isImage(line.ops[0].insert)
  ) {
    const img = imageNode(r, line.ops[0], where, report);
    if (img) {
      b.kind = 'image';
      b.image = img;
      return b;
    }
  }
  for (const op of line.ops) {
    if (b.kind === 'codeBlock') {
      if (op.attributes && Object.keys(op.attributes).length > 0) report(new SchemaError('marks in a code block cannot be shown', where));
      b.text += typeof op.insert === 'string' ? op.insert : OBJECT_REPLACEMENT;
      if (typeof op.insert !== 'string') report(new SchemaError(`embed ${JSON.stringify(op.insert)} in a code block cannot be shown`, where));
      continue;
    }
    const marks = marksOf(r, op.attributes, where, report);
    if (typeof op.insert === 'string') {
      const parts = op.insert.split(HARD_BREAK);
      parts.forEach((p, i) => {
        if (i > 0) {
          if (r.nodes.hardBreak) b.inline.push(r.nodes.hardBreak.create(null, null, marks));
          else {
            report(new SchemaError('a hard break the schema has no node for', where));
            b.inline.push(r.nodes.text.schema.text(HARD_BREAK, marks));
          }
        }
        if (p !== '') b.inline.push(r.nodes.text.schema.text(p, marks));
      });
    } else {
      const img = image && image.isInline && isImage(op.insert) ? imageNode(r, op, where, report) : null;
      if (img) b.inline.push(img.mark(marks));
      else {
        if (!isImage(op.insert) || !image || image.isInline) report(new SchemaError(`embed ${JSON.stringify(op.insert)} cannot be shown`, where));
        else report(new SchemaError('a block image inside a line of text cannot be shown', where));
        b.inline.push(r.nodes.text.schema.text(OBJECT_REPLACEMENT, marks));
      }
    }
  }
  return b;
}

/** isImage reports whether an embed value is an image. @param {any} v */
function isImage(v) {
  return v !== null && typeof v === 'object' && !Array.isArray(v) && typeof v.image === 'string' && Object.keys(v).length === 1;
}

/**
 * imageNode returns the image node of an embed op, or null (reported) if
 * its attributes cannot be shown.
 * @param {Roles} r
 * @param {{insert: any, attributes?: Record<string, any>}} op
 * @param {string} where
 * @param {(err: SchemaError) => void} report
 */
function imageNode(r, op, where, report) {
  const t = r.nodes.image;
  /** @type {Record<string, any>} */
  const attrs = { src: op.insert.image };
  for (const [k, v] of Object.entries(op.attributes ?? {})) {
    if ((k === 'alt' || k === 'title') && t.attrs[k]) attrs[k] = v;
    else if (!t.isInline || !MARK_NAMES[k]) {
      report(new SchemaError(`image attribute ${k}=${JSON.stringify(v)} cannot be shown`, where));
      return null;
    }
  }
  return t.create(attrs);
}

/**
 * marksOf returns the marks of a set of delta attributes, reporting those
 * the schema cannot show.
 * @param {Roles} r
 * @param {Record<string, any> | undefined} attrs
 * @param {string} where
 * @param {(err: SchemaError) => void} report
 */
function marksOf(r, attrs, where, report) {
  const marks = [];
  for (const [k, v] of Object.entries(attrs ?? {})) {
    if (v == null || v === false) continue;
    const t = r.marks[k];
    if (t === undefined) {
      if (k !== 'alt' && k !== 'title') report(new SchemaError(`mark ${k}=${JSON.stringify(v)} cannot be shown`, where));
      continue;
    }
    if (k === 'link') {
      if (typeof v !== 'string' || v === '') {
        report(new SchemaError(`link ${JSON.stringify(v)} cannot be shown`, where));
        continue;
      }
      marks.push(t.create({ href: v }));
    } else {
      marks.push(t.create());
    }
  }
  return r.nodes.text.schema.marks ? sortMarks(marks) : marks;
}

/** sortMarks orders marks by rank, as ProseMirror wants them. @param {any[]} marks */
function sortMarks(marks) {
  return marks.sort((a, b) => a.type.rank - b.type.rank);
}

/**
 * buildBlocks builds the block nodes of a run of lines: a blockquote for
 * each run of blockquote lines, lists for runs of list lines, one code
 * block for each run of code lines of one language.
 * @param {Roles} r
 * @param {Block[]} lines
 * @param {(err: SchemaError) => void} report
 */
function buildBlocks(r, lines, report) {
  const out = [];
  let i = 0;
  while (i < lines.length) {
    const b = lines[i];
    if (b.blockquote) {
      let j = i;
      while (j < lines.length && lines[j].blockquote) j++;
      const inner = lines.slice(i, j).map((l) => ({ ...l, blockquote: false }));
      out.push(r.nodes.blockquote.create(null, buildBlocks(r, inner, report)));
      i = j;
    } else if (b.list !== '') {
      let j = i;
      while (j < lines.length && lines[j].list !== '' && !lines[j].blockquote) j++;
      out.push(...buildLists(r, lines, i, j, 0));
      i = j;
    } else if (b.kind === 'codeBlock') {
      let j = i;
      const texts = [];
      while (j < lines.length && lines[j].kind === 'codeBlock' && !lines[j].blockquote && lines[j].list === '' && lines[j].language === b.language) {
        texts.push(lines[j].text);
        j++;
      }
      const s = texts.join('\n');
      const attrs = r.nodes.codeBlock.attrs.language ? { language: b.language } : null;
      out.push(r.nodes.codeBlock.create(attrs, s === '' ? null : r.nodes.text.schema.text(s)));
      i = j;
    } else {
      out.push(textblock(r, b));
      i++;
    }
  }
  return out;
}

/**
 * textblock builds the paragraph, heading or block image of a line.
 * @param {Roles} r
 * @param {Block} b
 */
function textblock(r, b) {
  if (b.kind === 'image') return b.image;
  if (b.kind === 'heading') return r.nodes.heading.create({ level: b.level }, b.inline);
  return r.nodes.paragraph.create(null, b.inline);
}

/**
 * buildLists builds the lists of lines[from:to], all list lines, at depth:
 * a line deeper than the one before it goes into that one's item (a
 * deeper jump is taken as one level), a change of list kind starts a new
 * list.
 * @param {Roles} r
 * @param {Block[]} lines
 * @param {number} from
 * @param {number} to
 * @param {number} depth
 */
function buildLists(r, lines, from, to, depth) {
  const out = [];
  let i = from;
  while (i < to) {
    const kind = lines[i].list;
    const items = [];
    while (i < to && lines[i].list === kind) {
      let j = i + 1;
      while (j < to && lines[j].indent > Math.max(depth, lines[i].indent)) j++;
      const para = lines[i].kind === 'image' ? r.nodes.paragraph.create(null, lines[i].image) : r.nodes.paragraph.create(null, lines[i].inline);
      items.push(r.nodes.listItem.create(null, [para, ...buildLists(r, lines, i + 1, j, depth + 1)]));
      i = j;
    }
    out.push((kind === 'bullet' ? r.nodes.bulletList : r.nodes.orderedList).create(null, items));
  }
  return out;
}

/**
 * changedRange returns the range where two documents differ, as
 * {start, endA, endB} (endA in a, endB in b), or null if they are equal.
 * @param {import('prosemirror-model').Node} a
 * @param {import('prosemirror-model').Node} b
 */
export function changedRange(a, b) {
  const start = a.content.findDiffStart(b.content);
  if (start == null) return null;
  let { a: endA, b: endB } = a.content.findDiffEnd(b.content);
  // Repeated content lets the end scan go past the start: move both ends
  // forward by as much.
  const overlap = start - Math.min(endA, endB);
  if (overlap > 0) {
    endA += overlap;
    endB += overlap;
  }
  return { start, endA, endB };
}

/**
 * unitsAround returns the units of doc that touch [from, to] and the Text
 * offset where the first of them starts.
 * @param {any} doc
 * @param {number} from
 * @param {number} to
 */
function unitsAround(doc, from, to) {
  /** @type {Unit[]} */
  const units = [];
  let offset = 0;
  forEachUnit(doc, (u) => {
    if (u.pos + u.size < from) offset += u.length;
    else if (u.pos <= to) units.push(u);
  });
  return { units, offset };
}

/**
 * chars spreads the ops of units into one entry per UTF-16 unit (an embed
 * is one entry).
 * @param {Roles} r
 * @param {Unit[]} units
 * @returns {Array<{c: any, a: Record<string, any> | undefined}>}
 */
function chars(r, units) {
  const out = [];
  for (const u of units) {
    for (const op of unitOps(r, u)) {
      if (typeof op.insert === 'string') {
        for (let i = 0; i < op.insert.length; i++) out.push({ c: op.insert[i], a: op.attributes });
      } else {
        out.push({ c: op.insert, a: op.attributes });
      }
    }
  }
  return out;
}

/** sameChar compares two chars entries' content. */
function sameChar(x, y) {
  if (typeof x.c === 'string' || typeof y.c === 'string') return x.c === y.c;
  return JSON.stringify(x.c) === JSON.stringify(y.c);
}

/** isHigh reports whether a chars entry is a high surrogate. */
function isHigh(x) {
  return typeof x.c === 'string' && x.c >= '\ud800' && x.c <= '\udbff';
}

/** isLow reports whether a chars entry is a low surrogate. */
function isLow(x) {
  return typeof x.c === 'string' && x.c >= '\udc00' && x.c <= '\udfff';
}

/**
 * attrChange returns the attributes that turn a into b (null removes a
 * key), or undefined if they are the same.
 * @param {Record<string, any> | undefined} a
 * @param {Record<string, any> | undefined} b
 */
function attrChange(a, b) {
  if (sameAttrs(a, b)) return undefined;
  /** @type {Record<string, any>} */
  const out = {};
  for (const k of Object.keys(a ?? {})) if (!b || !(k in b)) out[k] = null;
  for (const [k, v] of Object.entries(b ?? {})) {
    if (!a || !(k in a) || JSON.stringify(a[k]) !== JSON.stringify(v)) out[k] = v;
  }
  return out;
}

/**
 * pushRetain appends a retain of one entry with attribute changes, merged
 * with the last retain when the changes are the same.
 * @param {any[]} ops
 * @param {Record<string, any> | undefined} change
 */
function pushRetain(ops, change) {
  const last = ops[ops.length - 1];
  if (last !== undefined && last.retain !== undefined && sameAttrs(last.attributes, change)) {
    last.retain++;
    return;
  }
  ops.push(change ? { retain: 1, attributes: change } : { retain: 1 });
}

/**
 * diffDocs returns the Text delta (Quill retain/insert/delete ops with
 * attributes, in Text positions) that turns the Text of a into the Text of
 * b, or null if they stand for the same Text. Only the blocks around the
 * range where the documents differ are compared, and within them only
 * what differs is deleted and inserted: a change of marks or block
 * attributes is a retain with attributes, so that concurrent edits of the
 * same characters survive it. It throws a SchemaError if b holds what the
 * mapping cannot carry there.
 * @param {import('prosemirror-model').Node} a
 * @param {import('prosemirror-model').Node} b
 * @returns {Array<{retain?: number, insert?: any, delete?: number, attributes?: Record<string, any>}> | null}
 */
export function diffDocs(a, b) {
  const range = changedRange(a, b);
  if (range === null) return null;
  const r = roles(b.type.schema);
  const before = unitsAround(a, range.start, range.endA);
  const after = unitsAround(b, range.start, range.endB);
  const x = chars(r, before.units);
  const y = chars(r, after.units);
  let pre = 0;
  const max = Math.min(x.length, y.length);
  while (pre < max && sameChar(x[pre], y[pre])) pre++;
  // A surrogate pair is never split between kept and replaced.
  if (pre > 0 && pre < max && isHigh(x[pre - 1]) && (isLow(x[pre]) || isLow(y[pre]))) pre--;
  let suf = 0;
  while (suf < max - pre && sameChar(x[x.length - 1 - suf], y[y.length - 1 - suf])) suf++;
  if (suf > 0 && suf < max - pre && isLow(x[x.length - suf]) && (isHigh(x[x.length - 1 - suf]) || isHigh(y[y.length - 1 - suf]))) suf--;
  const ops = [];
  if (before.offset > 0) ops.push({ retain: before.offset });
  for (let i = 0; i < pre; i++) pushRetain(ops, attrChange(x[i].a, y[i].a));
  const removed = x.length - pre - suf;
  if (removed > 0) ops.push({ delete: removed });
  for (let i = pre; i < y.length - suf; i++) {
    const op = y[i].a ? { insert: y[i].c, attributes: y[i].a } : { insert: y[i].c };
    if (typeof op.insert === 'string') pushInsert(ops, op);
    else ops.push(op);
  }
  for (let i = 0; i < suf; i++) {
    pushRetain(ops, attrChange(x[x.length - suf + i].a, y[y.length - suf + i].a));
  }
  while (ops.length > 0 && ops[ops.length - 1].retain !== undefined && ops[ops.length - 1].attributes === undefined) ops.pop();
  return ops.length > 0 ? ops : null;
}
