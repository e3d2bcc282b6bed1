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

import { Fragment, Slice } from 'prosemirror-model';
import { Plugin, PluginKey, Selection } from 'prosemirror-state';
import { Decoration, DecorationSet } from 'prosemirror-view';
import { keymap } from 'prosemirror-keymap';
import { UndoManager } from './undo.js';
import { safeColor, safeName } from './cursorstyle.js';

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
      if (typeof v !== 'string' || !safeHref(v)) {
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

/** The schemes a link from the Text may have; others could run script. */
const LINK_SCHEMES = new Set(['http', 'https', 'mailto', 'tel']);

/**
 * safeHref reports whether a link's address, which any writer of the Text
 * chose, may be shown as a link: a relative address, or one of
 * LINK_SCHEMES. A schema's own link mark may render its href as it is
 * (prosemirror-schema-basic does), so "javascript:" from a peer must not
 * reach it.
 * @param {string} href
 */
function safeHref(href) {
  // Browsers drop tabs and newlines anywhere in a URL and spaces around it.
  const s = href.replace(/[\t\n\r]/g, '').trim();
  if (s === '' || /[\x00-\x1f\x7f]/.test(s)) return false;
  const m = /^([^/?#]*?):/.exec(s);
  return m === null || LINK_SCHEMES.has(m[1].toLowerCase());
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
  const r = roles(doc.type.schema);
  if (r.node.get(doc.type.name) !== 'doc') throw new SchemaError(`a document of type ${doc.type.name}`);
  /** @type {Unit[]} */
  const units = [];
  let offset = 0;
  // Blocks wholly before the range count by their cached length: typing
  // in a long document walks its top-level blocks, not their insides.
  doc.forEach((child, pos) => {
    if (pos + child.nodeSize < from) {
      offset += blockLength(r, child);
      return;
    }
    if (pos > to) return;
    walkBlocks(r, { forEach: (f) => f(child, 0, 0) }, pos, { blockquote: false, depth: -1, list: '' }, `doc`, (u) => {
      if (u.pos + u.size < from) offset += u.length;
      else if (u.pos <= to) units.push(u);
    });
  });
  return { units, offset };
}

/** The Text length of top-level blocks, by node: nodes never change, and a new document shares the untouched ones. */
const lengths = new WeakMap();

/**
 * blockLength returns the Text length of a top-level block.
 * @param {Roles} r
 * @param {any} node
 */
function blockLength(r, node) {
  let n = lengths.get(node);
  if (n === undefined) {
    n = 0;
    walkBlocks(r, { forEach: (f) => f(node, 0, 0) }, 0, { blockquote: false, depth: -1, list: '' }, 'doc', (u) => {
      n += u.length;
    });
    lengths.set(node, n);
  }
  return n;
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
 * split returns the lengths of the common prefix (at most maxPrefix) and
 * suffix of two chars arrays, never cutting a surrogate pair.
 * @param {any[]} x
 * @param {any[]} y
 * @param {number} maxPrefix
 */
function split(x, y, maxPrefix) {
  let pre = 0;
  const max = Math.min(x.length, y.length);
  const preMax = Math.min(max, maxPrefix);
  while (pre < preMax && sameChar(x[pre], y[pre])) pre++;
  if (pre > 0 && pre < max && isHigh(x[pre - 1]) && (isLow(x[pre]) || isLow(y[pre]))) pre--;
  let suf = 0;
  while (suf < max - pre && sameChar(x[x.length - 1 - suf], y[y.length - 1 - suf])) suf++;
  if (suf > 0 && suf < max - pre && isLow(x[x.length - suf]) && (isHigh(x[x.length - 1 - suf]) || isHigh(y[y.length - 1 - suf]))) suf--;
  return { pre, suf };
}

/**
 * diffDocs returns the Text delta (Quill retain/insert/delete ops with
 * attributes, in Text positions) that turns the Text of a into the Text of
 * b, or null if they stand for the same Text. Only the blocks around the
 * range where the documents differ are compared, and within them only
 * what differs is deleted and inserted: a change of marks or block
 * attributes is a retain with attributes, so that concurrent edits of the
 * same characters survive it. It throws a SchemaError if b holds what the
 * mapping cannot carry there. cursor, the caret's position in b (if
 * known), picks among changes that are equally small the one where the
 * user typed, as diffText does for a textarea.
 * @param {import('prosemirror-model').Node} a
 * @param {import('prosemirror-model').Node} b
 * @param {number} [cursor]
 * @returns {Array<{retain?: number, insert?: any, delete?: number, attributes?: Record<string, any>}> | null}
 */
export function diffDocs(a, b, cursor) {
  return diffDetailed(a, b, cursor)?.ops ?? null;
}

/**
 * diffDetailed is diffDocs, also returning the attributes of the character
 * before the inserted text in a (before), which tell applyTextDelta
 * whether the Text may give that text marks it must not have.
 * @param {import('prosemirror-model').Node} a
 * @param {import('prosemirror-model').Node} b
 * @param {number} [cursor]
 * @returns {{ops: any[], before: Record<string, any> | undefined} | null}
 */
function diffDetailed(a, b, cursor) {
  const range = changedRange(a, b);
  if (range === null) return null;
  const r = roles(b.type.schema);
  const before = unitsAround(a, range.start, range.endA);
  const after = unitsAround(b, range.start, range.endB);
  const x = chars(r, before.units);
  const y = chars(r, after.units);
  const free = split(x, y, Infinity);
  let { pre, suf } = free;
  if (cursor !== undefined && cursor >= 0) {
    // When several changes are as small (typing "a" into "aa"), the one
    // the user made ends at the caret for an insertion and starts there
    // for a deletion: the kept prefix cannot reach past that.
    const c = textOffset(b, cursor) - after.offset;
    const hinted = split(x, y, Math.max(0, c - Math.max(0, y.length - x.length)));
    // A new block (Enter at the end of one) goes after the "\n" of the
    // block it was made from, which keeps that block's attributes and
    // leaves the gap where someone else may be typing alone.
    let newline = false;
    for (let i = hinted.pre; i < y.length - hinted.suf && !newline; i++) newline = y[i].c === '\n';
    if (hinted.pre + hinted.suf === pre + suf && !newline) ({ pre, suf } = hinted);
  }
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
  return ops.length > 0 ? { ops, before: pre > 0 ? x[pre - 1].a ?? {} : before.offset === 0 ? {} : undefined } : null;
}

// ---------------------------------------------------------------------------
// Positions: a ProseMirror position and a Text offset.

/**
 * docLength returns the length of the Text a document stands for.
 * @param {import('prosemirror-model').Node} doc
 */
export function docLength(doc) {
  const r = roles(doc.type.schema);
  let n = 0;
  doc.forEach((child) => {
    n += blockLength(r, child);
  });
  return n;
}

/**
 * textOffset returns the Text offset of a position in doc: inside a block,
 * the offset of the character after it; between blocks, the offset of the
 * start of the next block (or the end).
 * @param {import('prosemirror-model').Node} doc
 * @param {number} pos
 */
export function textOffset(doc, pos) {
  const r = roles(doc.type.schema);
  if (r.node.get(doc.type.name) !== 'doc') throw new SchemaError(`a document of type ${doc.type.name}`);
  let offset = 0;
  let found = -1;
  // Blocks wholly before pos count by their cached length.
  doc.forEach((child, at) => {
    if (found >= 0) return;
    if (at + child.nodeSize <= pos) {
      offset += blockLength(r, child);
      return;
    }
    walkBlocks(r, { forEach: (f) => f(child, 0, 0) }, at, { blockquote: false, depth: -1, list: '' }, 'doc', (u) => {
      if (found >= 0) return;
      if (pos <= u.pos) {
        found = offset;
        return;
      }
      if (pos < u.pos + u.size) {
        found = u.role === 'image' ? offset + 1 : offset + Math.min(pos - u.pos - 1, u.node.content.size);
        return;
      }
      offset += u.length;
    });
  });
  return found >= 0 ? found : offset;
}

/**
 * docPosition returns the position in doc of a Text offset: inside the
 * block whose text holds it, or at the end of a block for the offset of
 * its "\n".
 * @param {import('prosemirror-model').Node} doc
 * @param {number} offset
 */
export function docPosition(doc, offset) {
  const r = roles(doc.type.schema);
  if (r.node.get(doc.type.name) !== 'doc') throw new SchemaError(`a document of type ${doc.type.name}`);
  let start = 0;
  let found = -1;
  let last = null;
  const n = doc.childCount;
  // Blocks wholly before offset count by their cached length; the last
  // block is walked in any case, for an offset past the end.
  doc.forEach((child, at, index) => {
    if (found >= 0) return;
    const len = blockLength(r, child);
    if (offset >= start + len && index < n - 1) {
      start += len;
      return;
    }
    walkBlocks(r, { forEach: (f) => f(child, 0, 0) }, at, { blockquote: false, depth: -1, list: '' }, 'doc', (u) => {
      if (found >= 0) return;
      last = u;
      if (offset < start + u.length) {
        found = u.role === 'image' ? (offset === start ? u.pos : u.pos + u.size) : u.pos + 1 + (offset - start);
        return;
      }
      start += u.length;
    });
  });
  if (found >= 0) return found;
  if (last === null) return 0;
  return last.role === 'image' ? last.pos + last.size : last.pos + last.size - 1;
}

// ---------------------------------------------------------------------------
// Remote changes: the document the Text stands for, kept by its events.

/**
 * A ShadowLine is one line of the Text as it is: its inline ops (with all
 * their attributes and embeds, whatever the schema shows), the attributes
 * of its "\n", its length in the Text with the "\n", and whether it has
 * one (only the Text's last line may lack it).
 * @typedef {{ops: Array<{insert: any, attributes?: Record<string, any>}>, attrs: Record<string, any>, len: number, nl: boolean}} ShadowLine
 */

/**
 * shadowLines splits a delta of inserts into ShadowLines.
 * @param {Array<{insert?: any, attributes?: Record<string, any>}>} delta
 * @returns {ShadowLine[]}
 */
function shadowLines(delta) {
  /** @type {ShadowLine[]} */
  const lines = [];
  let cur = [];
  let len = 0;
  for (const op of delta) {
    if (op.insert === undefined) throw new SchemaError(`a delta op that is not an insert: ${JSON.stringify(op)}`);
    if (typeof op.insert !== 'string') {
      cur.push(op);
      len++;
      continue;
    }
    const parts = op.insert.split('\n');
    for (let i = 0; i < parts.length; i++) {
      if (i > 0) {
        lines.push({ ops: cur, attrs: op.attributes ?? {}, len: len + 1, nl: true });
        cur = [];
        len = 0;
      }
      if (parts[i] !== '') {
        pushInsert(cur, op.attributes ? { insert: parts[i], attributes: op.attributes } : { insert: parts[i] });
        len += parts[i].length;
      }
    }
  }
  if (cur.length > 0) lines.push({ ops: cur, attrs: {}, len, nl: false });
  return lines;
}

/**
 * lineOps appends the ops of lines, "\n"s included, to ops and returns ops.
 * @param {any[]} ops
 * @param {ShadowLine[]} lines
 */
function lineOps(ops, lines) {
  for (const l of lines) {
    for (const op of l.ops) pushOp(ops, op);
    if (l.nl) pushOp(ops, Object.keys(l.attrs).length > 0 ? { insert: '\n', attributes: l.attrs } : { insert: '\n' });
  }
  return ops;
}

/**
 * pushOp appends an insert op to ops, text merged with the text before it
 * when their attributes are the same.
 * @param {any[]} ops
 * @param {{insert: any, attributes?: Record<string, any>}} op
 */
function pushOp(ops, op) {
  if (typeof op.insert === 'string') pushInsert(ops, op);
  else ops.push(op);
}

/**
 * withChanges returns an insert op with a retain's changes of attributes
 * made (null removes a key).
 * @param {{insert: any, attributes?: Record<string, any>}} op
 * @param {Record<string, any>} change
 */
function withChanges(op, change) {
  const a = { ...op.attributes };
  for (const [k, v] of Object.entries(change)) {
    if (v === null) delete a[k];
    else a[k] = v;
  }
  return Object.keys(a).length > 0 ? { insert: op.insert, attributes: a } : { insert: op.insert };
}

/**
 * composeInserts applies change (retains with or without attributes,
 * inserts and deletes, as a Text event's delta holds them) to base, a
 * delta of inserts, and returns the delta of inserts it makes, as Quill's
 * compose does; what follows the change's last op is kept. It throws a
 * RangeError for a change that reaches past base's end.
 * @param {Array<{insert: any, attributes?: Record<string, any>}>} base
 * @param {any[]} change
 */
function composeInserts(base, change) {
  const out = [];
  let i = 0;
  let off = 0;
  /** take passes the next n units of base to fn, piece by piece. */
  const take = (n, fn) => {
    while (n > 0) {
      const op = base[i];
      if (op === undefined) throw new RangeError('prosemirror: a change past the end of the text');
      const len = typeof op.insert === 'string' ? op.insert.length : 1;
      const k = Math.min(n, len - off);
      if (k === len) fn(op);
      else fn(op.attributes ? { insert: op.insert.slice(off, off + k), attributes: op.attributes } : { insert: op.insert.slice(off, off + k) });
      n -= k;
      off += k;
      if (off === len) {
        i++;
        off = 0;
      }
    }
  };
  const keep = (op) => pushOp(out, op);
  for (const c of change) {
    if (c.retain !== undefined) {
      const ch = c.attributes;
      take(c.retain, ch ? (op) => pushOp(out, withChanges(op, ch)) : keep);
    } else if (c.delete !== undefined) {
      take(c.delete, () => {});
    } else if (c.insert !== undefined && c.insert !== '') {
      pushOp(out, c.attributes && Object.keys(c.attributes).length > 0 ? { insert: c.insert, attributes: c.attributes } : { insert: c.insert });
    }
  }
  while (i < base.length) {
    const op = base[i];
    take((typeof op.insert === 'string' ? op.insert.length : 1) - off, keep);
  }
  return out;
}

/** The Text's lines each top-level block stands for, by node (nodes never change). */
const lineCounts = new WeakMap();

/**
 * blockLines returns how many lines of the Text a top-level block stands
 * for: one per textblock or block image, one per line of a code block.
 * @param {Roles} r
 * @param {any} node
 */
function blockLines(r, node) {
  let n = lineCounts.get(node);
  if (n === undefined) {
    n = 0;
    walkBlocks(r, { forEach: (f) => f(node, 0, 0) }, 0, { blockquote: false, depth: -1, list: '' }, 'doc', (u) => {
      n++;
      if (u.role === 'codeBlock') {
        const s = u.node.textContent;
        for (let k = s.indexOf('\n'); k >= 0; k = s.indexOf('\n', k + 1)) n++;
      }
    });
    lineCounts.set(node, n);
  }
  return n;
}

/**
 * groups reports whether a top-level block is one that gathers a run of
 * lines (a list, a blockquote, a code block), so that a line next to it
 * may join it.
 * @param {Roles} r
 * @param {any} node
 */
function groups(r, node) {
  const role = r.node.get(node.type.name);
  return role === 'bulletList' || role === 'orderedList' || role === 'blockquote' || role === 'codeBlock';
}

/** The most stale lines TextMirror builds again one by one, in place. */
const MAX_STALE_LINES = 16;

/**
 * A TextMirror holds the ProseMirror document a rich Text stands for —
 * deltaToDoc(schema, text.toDelta()), node for node — and keeps it up to
 * date from the Text's change events, each costing in proportion to the
 * lines it touches rather than to the document.
 *
 * It keeps the Text's lines (ShadowLines, with everything the schema
 * cannot show, so that nothing lost in showing is lost in updating), each
 * event composed into the lines it touches. The document is brought up to
 * date when asked for (doc()): from the first line any event touched since
 * to the last, with the blocks around them that such lines might join (a
 * list, a blockquote, a code block next to them), the top-level blocks are
 * built again from their lines, exactly as deltaToDoc builds them; the
 * other blocks are the same nodes as before. Lines are counted by index:
 * the lines after the last one touched are the same ones in the lines and
 * in the document. When the events changed only the text and marks inside
 * a few lines (no line made, joined or given other block attributes), the
 * structure stands and only those lines' paragraphs or headings are built
 * again, wherever they are: typing in a long list does not build the list.
 */
export class TextMirror {
  /**
   * @param {import('prosemirror-model').Schema} schema
   * @param {Array<{insert: any, attributes?: Record<string, any>}>} delta the Text's delta (toDelta)
   * @param {{onUnsupported?: (err: SchemaError) => void}} [options] as deltaToDoc's
   */
  constructor(schema, delta, options = {}) {
    this.schema = schema;
    this.options = options;
    this.reset(delta);
  }

  /**
   * reset takes the Text whole from its delta (toDelta).
   * @param {Array<{insert: any, attributes?: Record<string, any>}>} delta
   */
  reset(delta) {
    /** @type {ShadowLine[]} */
    this.lines = shadowLines(delta);
    this.length = this.lines.reduce((n, l) => n + l.len, 0);
    /** The document for the lines but those of the stale stretch. */
    this.current = deltaToDoc(this.schema, delta, this.options);
    /** The stale stretch: its first line (-1: none) and how many lines after it are not stale. */
    this.staleFrom = -1;
    this.staleTail = 0;
    /** The stale lines when no event since the document changed the lines' structure, else null. @type {Set<number> | null} */
    this.staleLines = null;
  }

  /**
   * applyEvent takes the delta of a Text event (the change from the text
   * before the transaction to the text after) into the lines.
   * @param {any[]} delta
   */
  applyEvent(delta) {
    let k = 0;
    let a0 = 0;
    if (delta.length > 0 && delta[0].retain !== undefined && delta[0].attributes === undefined) {
      a0 = delta[0].retain;
      k = 1;
    }
    if (k === delta.length) return;
    let a1 = a0;
    let grow = 0;
    for (let j = k; j < delta.length; j++) {
      const op = delta[j];
      if (op.retain !== undefined) a1 += op.retain;
      else if (op.delete !== undefined) {
        a1 += op.delete;
        grow -= op.delete;
      } else grow += typeof op.insert === 'string' ? op.insert.length : 1;
    }
    if (a1 > this.length) throw new RangeError(`prosemirror: an event reaching ${a1} in a text of length ${this.length}`);
    const lines = this.lines;
    const n = lines.length;
    // l0: the line holding a0 (an insert at the end of a last line
    // without "\n" goes into it); [l0, l1): the lines the change touches.
    let l0 = 0;
    let s0 = 0;
    while (l0 < n && s0 + lines[l0].len <= a0 && !(l0 === n - 1 && !lines[l0].nl && s0 + lines[l0].len === a0)) s0 += lines[l0++].len;
    let l1 = l0;
    let s1 = s0;
    while (l1 < n && (s1 < a1 || l1 === l0)) s1 += lines[l1++].len;
    const change = a0 > s0 ? [{ retain: a0 - s0 }, ...delta.slice(k)] : delta.slice(k);
    const ops = composeInserts(lineOps([], lines.slice(l0, l1)), change);
    // A deleted "\n" joins the next line to the last one touched.
    const ends = () => {
      const last = ops[ops.length - 1];
      return last !== undefined && typeof last.insert === 'string' && last.insert.endsWith('\n');
    };
    while (l1 < n && !ends()) lineOps(ops, [lines[l1++]]);
    const fresh = shadowLines(ops);
    // Only the inside of lines changed: as many lines, each ending as before.
    let inside = fresh.length === l1 - l0;
    for (let j = 0; inside && j < fresh.length; j++) {
      inside = fresh[j].nl === lines[l0 + j].nl && sameAttrs(fresh[j].attrs, lines[l0 + j].attrs);
    }
    if (fresh.length < 5000) lines.splice(l0, l1 - l0, ...fresh);
    else this.lines = [...lines.slice(0, l0), ...fresh, ...lines.slice(l1)];
    this.length += grow;
    if (this.staleFrom < 0) {
      this.staleFrom = l0;
      this.staleTail = n - l1;
      this.staleLines = new Set();
    } else {
      this.staleFrom = Math.min(this.staleFrom, l0);
      this.staleTail = Math.min(this.staleTail, n - l1);
    }
    if (this.staleLines !== null && inside && this.staleLines.size + (l1 - l0) <= MAX_STALE_LINES) {
      for (let j = l0; j < l1; j++) this.staleLines.add(j);
    } else {
      this.staleLines = null;
    }
  }

  /**
   * patchLines returns the document with the paragraphs and headings of
   * the stale lines built again, or null if one of them is something else
   * (a code line, a block image) or would become something else: then the
   * blocks around the stale stretch are built again.
   * @param {Roles} r
   * @param {Set<number>} stale
   */
  patchLines(r, stale) {
    const old = this.current;
    const wanted = [...stale].sort((a, b) => a - b);
    /** @type {Array<{pos: number, size: number, node: any}>} */
    const patches = [];
    const report =
      this.options.onUnsupported ??
      ((err) => {
        throw err;
      });
    let w = 0;
    let line = 0;
    let ok = true;
    old.forEach((child, at) => {
      if (!ok || w === wanted.length) return;
      const count = blockLines(r, child);
      if (line + count <= wanted[w]) {
        line += count;
        return;
      }
      walkBlocks(r, { forEach: (f) => f(child, 0, 0) }, at, { blockquote: false, depth: -1, list: '' }, 'doc', (u) => {
        if (!ok || w === wanted.length) return;
        if (u.role === 'codeBlock') {
          const s = u.node.textContent;
          let lines = 1;
          for (let k = s.indexOf('\n'); k >= 0; k = s.indexOf('\n', k + 1)) lines++;
          if (line + lines > wanted[w]) ok = false;
          line += lines;
          return;
        }
        if (line === wanted[w]) {
          const b = u.role === 'image' ? null : normalizeLine(r, this.lines[line], line, report);
          if (b === null || (b.kind !== 'paragraph' && b.kind !== 'heading')) ok = false;
          else patches.push({ pos: u.pos, size: u.size, node: textblock(r, b) });
          w++;
        }
        line++;
      });
    });
    if (!ok || w !== wanted.length) return null;
    let doc = old;
    for (let i = patches.length - 1; i >= 0; i--) {
      const p = patches[i];
      doc = doc.replace(p.pos, p.pos + p.size, new Slice(Fragment.from(p.node), 0, 0));
    }
    return doc;
  }

  /**
   * doc returns the document the Text stands for now.
   * @returns {import('prosemirror-model').Node}
   */
  doc() {
    if (this.staleFrom < 0) return this.current;
    const r = roles(this.schema);
    const lines = this.lines;
    const old = this.current;
    const from = this.staleFrom;
    const tail = this.staleTail;
    const stale = this.staleLines;
    // The stale stretch is forgotten once the document is built: a build
    // that throws (a SchemaError without onUnsupported) leaves it stale.
    const built = (doc) => {
      this.current = doc;
      this.staleFrom = -1;
      this.staleLines = null;
      return doc;
    };
    if (stale !== null && lines.length > 0) {
      const patched = this.patchLines(r, stale);
      if (patched !== null) return built(patched);
    }
    // An empty Text shows one empty paragraph, a line the Text does not
    // have: built whole, from the lines (as small as the change).
    if (lines.length === 0 || (old.childCount === 1 && old.firstChild.content.size === 0 && old.firstChild.type === r.nodes.paragraph)) {
      return built(deltaToDoc(this.schema, lineOps([], lines), this.options));
    }
    // The top-level blocks [c0, c1) holding the stale lines of old, and
    // the line where each starts.
    const starts = [];
    let total = 0;
    old.forEach((child) => {
      starts.push(total);
      total += blockLines(r, child);
    });
    starts.push(total);
    const end = total - tail; // the stale stretch of old ends at line end
    let c0 = 0;
    while (c0 < old.childCount && starts[c0 + 1] <= from) c0++;
    let c1 = c0;
    while (c1 < old.childCount && starts[c1] < end) c1++;
    // A changed first or last line may join the list, blockquote or code
    // block next to it; lines inside a block do not change its neighbours.
    if (c0 > 0 && starts[c0] === from && groups(r, old.child(c0 - 1))) c0--;
    if (c1 < old.childCount && starts[c1] === end && groups(r, old.child(c1))) c1++;
    const first = starts[c0];
    const last = starts[c1] + (lines.length - total); // the lines of the new blocks: [first, last)
    const report =
      this.options.onUnsupported ??
      ((err) => {
        throw err;
      });
    const blocks = [];
    for (let i = first; i < last; i++) blocks.push(normalizeLine(r, lines[i], i, report));
    const kids = [];
    for (let i = 0; i < c0; i++) kids.push(old.child(i));
    kids.push(...buildBlocks(r, blocks, report));
    for (let i = c1; i < old.childCount; i++) kids.push(old.child(i));
    return built(old.type.create(old.attrs, kids));
  }

  /**
   * adopt replaces the document with an equal one (the editor's, after a
   * remote transaction), so that the two share their nodes and compare
   * fast.
   * @param {import('prosemirror-model').Node} doc
   */
  adopt(doc) {
    if (this.staleFrom < 0) this.current = doc;
  }
}

/**
 * remoteTransaction returns the transaction that makes an editor state
 * show target, the document its Text stands for after a change made
 * elsewhere: the smallest replace of the range where they differ, left
 * out of the history and keeping the selection and the stored marks (or,
 * when restoring, an undo or redo, with the selection after the change),
 * or null if the state shows target already.
 * @param {import('prosemirror-state').EditorState} state
 * @param {import('prosemirror-model').Node} target
 * @param {{restoring?: boolean}} [options]
 */
export function remoteTransaction(state, target, options = {}) {
  const range = changedRange(state.doc, target);
  if (range === null) return null;
  let tr = state.tr.replace(range.start, range.endA, target.slice(range.start, range.endB));
  if (!tr.doc.eq(target)) tr = state.tr.replaceWith(0, state.doc.content.size, target.content);
  // Marks chosen for the next typed text (Mod-b on an empty selection)
  // survive a remote change.
  if (state.storedMarks) tr.setStoredMarks(state.storedMarks);
  if (options.restoring) {
    const end = Math.min(tr.mapping.map(range.endA), tr.doc.content.size);
    tr.setSelection(Selection.near(tr.doc.resolve(end), -1));
  }
  tr.setMeta(flowstateSyncKey, { remote: true });
  tr.setMeta('addToHistory', false);
  return tr;
}

// ---------------------------------------------------------------------------
// The binding: a ProseMirror plugin that keeps an editor and a Text in sync.

/** The sync plugin's key; its state is the binding's shared objects. */
export const flowstateSyncKey = new PluginKey('flowstateSync');

/** The cursor plugin's key; its state is the remote cursors' decorations. */
export const flowstateCursorKey = new PluginKey('flowstateCursors');

/**
 * isRemoteTransaction reports whether a transaction is one the binding
 * dispatched for a change of the Text made elsewhere (another client, or
 * an undo).
 * @param {import('prosemirror-state').Transaction} tr
 */
export function isRemoteTransaction(tr) {
  return tr.getMeta(flowstateSyncKey)?.remote === true;
}

/**
 * applyTextDelta makes the changes of a delta of Text positions in text:
 * through text.applyDelta where the Text has it, else with insert,
 * insertEmbed, delete and format, inside one Doc transaction. There,
 * inserted text may take marks that grow over it (bold typed after bold);
 * to give it exactly the delta's attributes, the Text's delta is read
 * after the inserts, unless hint.before tells that the character before
 * them has no attributes and the inserts have none either.
 * @param {any} text
 * @param {any[]} delta
 * @param {{before?: Record<string, any>}} [hint]
 */
export function applyTextDelta(text, delta, hint = {}) {
  if (typeof text.applyDelta === 'function') {
    text.applyDelta(delta);
    return;
  }
  text.doc.transact(() => {
    let pos = 0;
    /** @type {Array<[number, number, Record<string, any> | undefined]>} */
    const inserted = [];
    for (const op of delta) {
      if (op.retain !== undefined) {
        for (const [k, v] of Object.entries(op.attributes ?? {})) text.format(pos, op.retain, k, v);
        pos += op.retain;
      } else if (op.delete !== undefined) {
        text.delete(pos, op.delete);
      } else if (typeof op.insert === 'string') {
        text.insert(pos, op.insert);
        inserted.push([pos, op.insert.length, op.attributes]);
        pos += op.insert.length;
      } else {
        text.insertEmbed(pos, op.insert);
        inserted.push([pos, 1, op.attributes]);
        pos += 1;
      }
    }
    if (inserted.length === 0) return;
    const plain = (a) => a === undefined || Object.keys(a).length === 0;
    if (hint.before !== undefined && plain(hint.before) && inserted.every(([, , a]) => plain(a))) return;
    // Inserted text takes the marks that grow over it; it must have
    // exactly the attributes of the delta.
    const have = attributesAt(text.toDelta());
    for (const [at, n, want] of inserted) {
      for (let i = at; i < at + n; i++) {
        const a = have(i);
        for (const k of new Set([...Object.keys(a ?? {}), ...Object.keys(want ?? {})])) {
          const w = want?.[k] ?? null;
          if (JSON.stringify(a?.[k] ?? null) !== JSON.stringify(w)) text.format(i, 1, k, w);
        }
      }
    }
  });
}

/**
 * attributesAt returns a function giving the attributes at each offset of
 * a delta of inserts.
 * @param {Array<{insert: any, attributes?: Record<string, any>}>} delta
 */
function attributesAt(delta) {
  const ends = [];
  let n = 0;
  for (const op of delta) {
    n += typeof op.insert === 'string' ? op.insert.length : 1;
    ends.push(n);
  }
  return (i) => {
    let lo = 0;
    let hi = ends.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (ends[mid] <= i) lo = mid + 1;
      else hi = mid;
    }
    return delta[lo]?.attributes;
  };
}

/**
 * The sync plugin's view: it carries local changes into the Text and the
 * Text's other changes into the editor.
 */
class SyncView {
  /**
   * @param {import('prosemirror-view').EditorView} view
   * @param {any} text
   * @param {{undoManager: any, onError: (err: Error) => void}} shared
   */
  constructor(view, text, shared) {
    this.view = view;
    this.text = text;
    this.shared = shared;
    /** The document the Text stands for, as the editor last agreed with it. */
    this.synced = view.state.doc;
    /** Set while the binding edits the Text, so that its observer ignores the binding's own edits. */
    this.applying = false;
    /** The target of the remote transaction being dispatched, or null. */
    this.remoteTarget = null;
    /** What the Text holds that the editor cannot show, reported once each. */
    this.reported = new Set();
    this.destroyed = false;
    const report = (err) => {
      if (this.reported.has(err.message)) return;
      this.reported.add(err.message);
      this.shared.onError(err);
    };
    /** The document the Text stands for, kept by the Text's events. */
    this.mirror = new TextMirror(view.state.schema, text.toDelta(), { onUnsupported: report });
    this.unobserve = text.observe((ev) => {
      try {
        this.mirror.applyEvent(ev.delta);
      } catch (err) {
        // An event the lines cannot take (none is known): the Text is
        // read whole instead.
        this.shared.onError(err);
        this.mirror.reset(text.toDelta());
      }
      this.onText();
    });
    // The Text is the truth: an editor that shows something else is made
    // to show it once the view is up (a view cannot dispatch while it is
    // being made); edits made before then are lost with the rest of its
    // content. An editor that shows the Text already (an empty one on an
    // empty Text) takes edits at once.
    this.pending = false;
    if (!this.mirror.doc().eq(view.state.doc)) {
      this.pending = true;
      queueMicrotask(() => {
        this.pending = false;
        if (!this.destroyed) this.pull();
      });
    }
  }

  /** onText takes a change of the Text made elsewhere into the editor. */
  onText() {
    if (this.applying || this.destroyed || this.pending) return;
    this.pull();
  }

  /**
   * pull makes the editor show the Text in the smallest transaction that
   * does, left out of the undo history and keeping the selection where it
   * was, or (after an undo or redo) right after the change. The Text's
   * document comes from the mirror, which its events keep: only the
   * blocks they touched are built again.
   */
  pull() {
    // Typing the browser has put in the DOM but ProseMirror has not read
    // yet would be read against the changed document, at the wrong place:
    // it becomes a transaction of its own first (ProseMirror's internal
    // domObserver, as other bindings use it).
    this.view.domObserver?.flush?.();
    const state = this.view.state;
    const target = this.mirror.doc();
    const tr = remoteTransaction(state, target, { restoring: this.shared.restoring });
    if (tr === null) {
      this.synced = state.doc;
      return;
    }
    this.mirror.adopt(tr.doc);
    this.remoteTarget = tr.doc;
    try {
      this.view.dispatch(tr);
    } finally {
      this.remoteTarget = null;
    }
  }

  /**
   * update runs after every editor state change: what changed besides the
   * binding's own remote transactions is a local edit for the Text.
   * @param {import('prosemirror-view').EditorView} view
   */
  update(view) {
    const doc = view.state.doc;
    if (this.remoteTarget !== null) {
      // Plugins may append transactions to a remote one: what they
      // changed is local.
      this.synced = this.remoteTarget;
    }
    if (doc === this.synced || this.pending) return;
    let diff;
    try {
      diff = diffDetailed(this.synced, doc, view.state.selection.head);
    } catch (err) {
      // filterTransaction refuses such changes; one got through (a
      // transaction dispatched with filtering off): the editor goes back
      // to the Text.
      this.shared.onError(err);
      this.synced = doc;
      queueMicrotask(() => !this.destroyed && this.pull());
      return;
    }
    this.synced = doc;
    if (diff === null) return;
    const delta = diff.ops;
    this.applying = true;
    try {
      this.text.doc.transact(() => {
        const want = docLength(doc) - deltaLength(delta);
        // The last line of a Text written elsewhere may lack its "\n";
        // the editor's last block has one.
        if (this.text.length === want - 1) {
          const len = this.text.length;
          applyTextDelta(this.text, len > 0 ? [{ retain: len }, { insert: '\n' }] : [{ insert: '\n' }]); // no empty retain: applyDelta refuses it
        }
        applyTextDelta(this.text, delta, { before: diff.before });
      });
    } catch (err) {
      this.shared.onError(err);
      queueMicrotask(() => !this.destroyed && this.pull());
    } finally {
      this.applying = false;
    }
    if (this.text.length !== docLength(doc)) queueMicrotask(() => !this.destroyed && this.pull());
  }

  destroy() {
    this.destroyed = true;
    this.unobserve();
  }
}

/**
 * deltaLength returns how much a delta changes a text's length.
 * @param {any[]} delta
 */
function deltaLength(delta) {
  let n = 0;
  for (const op of delta) {
    if (op.delete !== undefined) n -= op.delete;
    else if (op.insert !== undefined) n += typeof op.insert === 'string' ? op.insert.length : 1;
  }
  return n;
}

/**
 * flowstateSync returns the ProseMirror plugin that binds an editor to a
 * rich Text: each local transaction becomes the smallest Text delta for
 * what it changed (one Doc transaction), each change of the Text made
 * elsewhere becomes the smallest editor transaction, left out of the
 * editor's history. A local transaction the Text cannot carry is refused
 * and reported to onError. The Text is the truth: the editor's first
 * content is replaced by the Text's right after the view starts.
 * Remote changes come through the Text's events, which carry changes of
 * formatting too: provider plays no part here (flowstatePlugins takes its
 * presence).
 * @param {any} text
 * @param {{provider?: any, undoManager?: any, onError?: (err: Error) => void}} [options]
 */
export function flowstateSync(text, options = {}) {
  const shared = {
    undoManager: options.undoManager ?? new UndoManager(text),
    onError: options.onError ?? ((err) => console.error(err)),
    /** Set while undo or redo runs, so that the selection follows the change. */
    restoring: false,
  };
  return new Plugin({
    key: flowstateSyncKey,
    state: {
      init: () => shared,
      apply: (_tr, value) => value,
    },
    filterTransaction(tr, state) {
      if (!tr.docChanged || isRemoteTransaction(tr)) return true;
      try {
        diffDocs(state.doc, tr.doc);
        return true;
      } catch (err) {
        if (!(err instanceof SchemaError)) throw err;
        shared.onError(err);
        return false;
      }
    },
    view: (view) => new SyncView(view, text, shared),
  });
}

/**
 * undo is a ProseMirror command that undoes the last local step in the
 * Text (with the binding's UndoManager): only this editor's edits are
 * taken back, never another client's.
 * @type {import('prosemirror-state').Command}
 */
export function undo(state, dispatch) {
  return restore(state, dispatch, 'undo');
}

/** redo is a command that redoes the last undone step. @type {import('prosemirror-state').Command} */
export function redo(state, dispatch) {
  return restore(state, dispatch, 'redo');
}

/**
 * restore runs undo or redo.
 * @param {import('prosemirror-state').EditorState} state
 * @param {((tr: any) => void) | undefined} dispatch
 * @param {'undo' | 'redo'} which
 */
function restore(state, dispatch, which) {
  const shared = flowstateSyncKey.getState(state);
  if (!shared) return false;
  const um = shared.undoManager;
  if (which === 'undo' ? !um.canUndo() : !um.canRedo()) return false;
  if (!dispatch) return true;
  shared.restoring = true;
  try {
    return which === 'undo' ? um.undo() : um.redo();
  } finally {
    shared.restoring = false;
  }
}

/**
 * flowstateKeymap binds Mod-z to undo and Shift-Mod-z and Mod-y to redo.
 */
export function flowstateKeymap() {
  return keymap({ 'Mod-z': undo, 'Shift-Mod-z': redo, 'Mod-y': redo });
}

// ---------------------------------------------------------------------------
// Remote cursors through presence.

/**
 * caret draws a remote client's caret with its name above it; the name is
 * set as text, never markup, since it is remote input.
 * @param {string} color
 * @param {string} name
 * @param {number} clientID
 */
function caret(color, name, clientID) {
  const el = document.createElement('span');
  el.className = 'fs-pm-caret';
  el.setAttribute('aria-hidden', 'true');
  el.dataset.client = String(clientID);
  el.style.cssText = `position:relative;border-left:2px solid ${color};margin-left:-1px;margin-right:-1px;pointer-events:none;`;
  const label = document.createElement('span');
  label.className = 'fs-pm-caret-label';
  label.style.cssText =
    `position:absolute;left:-2px;bottom:100%;padding:0 4px;border-radius:3px 3px 3px 0;color:#fff;` +
    `font:11px/1.4 system-ui,sans-serif;white-space:nowrap;user-select:none;background-color:${color};`;
  label.textContent = name;
  el.appendChild(label);
  return el;
}

/**
 * cursorDecorations resolves the cursors the remote clients publish for
 * text into decorations of doc.
 * @param {any} text
 * @param {any} presence
 * @param {import('prosemirror-model').Node} doc
 */
function cursorDecorations(text, presence, doc) {
  const decorations = [];
  const size = doc.content.size;
  for (const [clientID, state] of presence.states) {
    const cursor = state?.cursor;
    if (cursor == null || typeof cursor !== 'object' || cursor.text !== text.name) continue;
    let anchor, head;
    try {
      anchor = text.absolutePosition(cursor.anchor);
      head = text.absolutePosition(cursor.head);
    } catch {
      continue; // a malformed position from a remote client draws nothing
    }
    if (anchor == null || head == null) continue;
    const a = Math.max(0, Math.min(docPosition(doc, anchor), size));
    const h = Math.max(0, Math.min(docPosition(doc, head), size));
    const color = safeColor(state.color, clientID);
    const name = safeName(state.name, clientID);
    if (a !== h) {
      decorations.push(
        Decoration.inline(Math.min(a, h), Math.max(a, h), { class: 'fs-pm-selection', style: `background-color: ${color}33` }),
      );
    }
    const $h = doc.resolve(h);
    if ($h.parent.isTextblock && $h.parent.content.size === 0 && $h.depth > 0) {
      // In an empty block the caret is drawn on the block, not put in it:
      // beside a widget there, Chromium puts typed text where ProseMirror
      // does not read it (in an empty code block every key was lost).
      decorations.push(
        Decoration.node($h.before(), $h.after(), {
          class: 'fs-pm-caret-block',
          style: `box-shadow: inset 2px 0 0 ${color}`,
          title: name,
          'data-client': String(clientID),
        }),
      );
      continue;
    }
    decorations.push(
      Decoration.widget(h, () => caret(color, name, clientID), { key: `fs-caret-${clientID}-${color}-${name}`, side: 10 }),
    );
  }
  return DecorationSet.create(doc, decorations);
}

/**
 * flowstateCursors returns the ProseMirror plugin that publishes the
 * editor's selection as the `cursor` field of the local presence state
 * (`{text: text.name, anchor, head}`, CRDT-anchored relative positions,
 * the same as the CodeMirror and textarea bindings publish) and draws the
 * cursors and selections the other clients publish for the same Text,
 * with their `name` and `color`.
 * @param {any} text
 * @param {any} presence
 */
export function flowstateCursors(text, presence) {
  return new Plugin({
    key: flowstateCursorKey,
    state: {
      init: (_config, state) => cursorDecorations(text, presence, state.doc),
      apply(tr, value, _old, state) {
        // Remote cursors are CRDT-anchored: resolving them again after a
        // remote change keeps them exact. Local changes have not reached
        // the Text yet when this runs, so those are mapped.
        if (isRemoteTransaction(tr) || tr.getMeta(flowstateCursorKey)) return cursorDecorations(text, presence, state.doc);
        return tr.docChanged ? value.map(tr.mapping, tr.doc) : value;
      },
    },
    props: {
      decorations: (state) => flowstateCursorKey.getState(state),
    },
    view(view) {
      let destroyed = false;
      let publishing = false;
      const refresh = () => {
        if (destroyed) return;
        // New carets redraw the text around them: typing not read yet
        // from the DOM is read first, or the redraw would drop it.
        view.domObserver?.flush?.();
        view.dispatch(view.state.tr.setMeta(flowstateCursorKey, true));
      };
      const onChange = () => refresh();
      const off = presence.on('change', onChange);
      const publish = () => {
        const { doc, selection } = view.state;
        const len = text.length;
        const offset = (pos) => Math.min(textOffset(doc, pos), len);
        const empty = selection.empty;
        // A caret sticks to the character before it, so that text others
        // type at the same place goes after it; a selection's ends stick
        // to the selected characters.
        const assoc = (pos) => (pos === selection.from && !empty ? 0 : -1);
        const cursor = {
          text: text.name,
          anchor: text.relativePosition(offset(selection.anchor), assoc(selection.anchor)),
          head: text.relativePosition(offset(selection.head), assoc(selection.head)),
        };
        const prev = presence.local?.cursor;
        if (prev && JSON.stringify(prev) === JSON.stringify(cursor)) return;
        presence.setLocal({ ...(presence.local ?? {}), cursor });
      };
      return {
        update(view, prev) {
          if (view.state.selection.eq(prev.selection) && view.state.doc === prev.doc) return;
          if (publishing) return;
          // Published after the update, when the sync plugin has carried
          // the change into the Text.
          publishing = true;
          queueMicrotask(() => {
            publishing = false;
            if (!destroyed) publish();
          });
        },
        destroy() {
          destroyed = true;
          if (typeof off === 'function') off();
          else presence.off?.('change', onChange);
          if (presence.local?.cursor != null) {
            const { cursor: _, ...rest } = presence.local;
            presence.setLocal(rest);
          }
        },
      };
    },
  });
}

/**
 * flowstatePlugins returns the plugins that bind a ProseMirror editor to a
 * rich Text: flowstateSync, flowstateKeymap (undo and redo of local edits
 * only; leave prosemirror-history out) unless keymap is false, and, given a
 * presence (the provider's by default), flowstateCursors.
 * @param {any} text
 * @param {{provider?: any, presence?: any, undoManager?: any, onError?: (err: Error) => void, keymap?: boolean}} [options]
 */
export function flowstatePlugins(text, options = {}) {
  const plugins = [flowstateSync(text, options)];
  if (options.keymap !== false) plugins.push(flowstateKeymap());
  const presence = options.presence ?? options.provider?.presence;
  if (presence) plugins.push(flowstateCursors(text, presence));
  return plugins;
}
