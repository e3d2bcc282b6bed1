// How the editor bindings draw another client's cursor: its name and
// colour come from that client's presence state, so they are checked and
// bounded here before they reach a label or a style.

/** The longest remote name drawn, in UTF-16 units: a label must not cover the text. */
export const MAX_NAME = 40;

/** Colours for clients that publish none (or an invalid one), picked by client ID. */
export const PALETTE = ['#e11d48', '#2563eb', '#16a34a', '#d97706', '#7c3aed', '#0891b2', '#db2777', '#65a30d'];

/**
 * paletteColor returns the palette colour of a client.
 * @param {number} clientID
 */
export function paletteColor(clientID) {
  return PALETTE[Math.abs(Math.floor(Number(clientID) || 0)) % PALETTE.length];
}

/**
 * safeColor returns color, in its six-digit form, when it is a CSS hex
 * colour, else a palette colour for the client: the colour comes from
 * another client and ends up in a style, so nothing else is let through.
 * @param {unknown} color
 * @param {number} clientID
 */
export function safeColor(color, clientID) {
  if (typeof color === 'string' && /^#(?:[0-9a-fA-F]{3}|[0-9a-fA-F]{6})$/.test(color)) {
    if (color.length === 4) return '#' + color[1] + color[1] + color[2] + color[2] + color[3] + color[3];
    return color;
  }
  return paletteColor(clientID);
}

/**
 * safeName returns the name a remote client published, trimmed to
 * MAX_NAME units, or a stand-in built from its client ID.
 * @param {unknown} name
 * @param {number} clientID
 */
export function safeName(name, clientID) {
  if (typeof name === 'string' && name.trim() !== '') {
    const s = name.trim();
    return s.length > MAX_NAME ? s.slice(0, MAX_NAME - 1) + '…' : s;
  }
  return 'Guest ' + String(clientID).slice(-4);
}
